"""The root's running commands: `jiesu serve` (the API and the pages, and the job runner unless --no-clock)
and `jiesu clock` (the scheduler's jobs, in a process of its own). Both read their jobs from jiesu.wiring."""

from __future__ import annotations

import copy
import logging
import re
import signal
import threading
from typing import Annotated, Any

import typer

from jiesu import revisions, wiring
from jiesu.clock import SystemClock
from jiesu.config import get_settings
from jiesu.db import make_engine, make_sessionmaker
from jiesu.scheduler import JobRunner, RunReport
from jiesu.shell import console, fail

# A credential some clients put in the query string (Open311's api_key, chiefly): kept out of the logs.
SECRET_PARAMS = re.compile(r"(?i)((?:^|[?&;])(?:api_key|api%5fkey|access_token|token|password)=)[^&;\s\"]*")


class RedactSecrets(logging.Filter):
    """Blanks the value of a credential in a logged URL (uvicorn's access line logs the path with its query
    string): `?api_key=abc` is written `?api_key=***`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(SECRET_PARAMS.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str) and not record.args:
            record.msg = SECRET_PARAMS.sub(r"\1***", record.msg)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging, with RedactSecrets on its handlers (the access log's and the others'). A dictConfig:
    each worker process of `--workers N` sets it up again from this."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_secrets"] = {"()": f"{__name__}.RedactSecrets"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_secrets")
    return config


def serve(host: Annotated[str | None, typer.Option()] = None,
          port: Annotated[int | None, typer.Option(min=1, max=65535)] = None,
          run_clock: Annotated[bool, typer.Option(
              "--clock/--no-clock", help="run the ticket clock in this process (production: --no-clock on every "
                                         "web process and one `jiesu clock`)")] = True,
          clock_interval: Annotated[float, typer.Option(min=1, help="seconds between clock ticks")] = 60.0,
          workers: Annotated[int, typer.Option(min=1, max=64, help="web worker processes (one per CPU serves "
                                                                   "the most; the clock runs once, beside them)")]
          = 1) -> None:
    """Serve the API and the pages (and, unless --no-clock, tick the ticket clock)."""
    # Imported here, not above: the web app (FastAPI, the pages) and uvicorn cost the other commands' start.
    import uvicorn

    from jiesu.app import create_app

    settings = get_settings()
    engine = make_engine(settings.effective_database_url)
    if not revisions.is_current(engine)[0]:
        raise fail("the database schema is not current: run `jiesu db upgrade` (or `make demo`)")
    host, port = host or settings.host, port or settings.port
    console.print(f"Jiesu at http://{host}:{port}/  (API docs: http://{host}:{port}/docs)")
    if run_clock:
        logging.getLogger("jiesu.clock").setLevel(logging.INFO)
        console.print(f"the ticket clock ticks every {clock_interval:g} s in this process (--no-clock to leave "
                      "it to `jiesu clock`)")
    if workers == 1:
        uvicorn.run(create_app(settings, engine=engine, clock_interval=clock_interval if run_clock else None),
                    host=host, port=port, log_level="info", log_config=log_config())
        return
    # Several processes: each worker makes its app from the same JIESU_* environment, without a clock; the clock
    # ticks once, in this supervising process.
    runner = None
    if run_clock:
        runner = JobRunner(wiring.scheduler(), make_sessionmaker(engine), SystemClock(), settings,
                           interval=clock_interval)
        runner.start()
    try:
        uvicorn.run("jiesu.app:create_worker_app", factory=True, workers=workers, host=host, port=port,
                    log_level="info", log_config=log_config())
    finally:
        if runner is not None:
            runner.stop()


def clock_command(
    interval: Annotated[float, typer.Option(min=1, help="seconds between ticks")] = 60.0,
    once: Annotated[bool, typer.Option("--once", help="tick once (until the backlog is done) and exit")] = False,
    batch: Annotated[int | None, typer.Option(min=1, max=10000, help="tickets per transaction "
                                                                     "[default: 500; 200 on SQLite]")] = None,
) -> None:
    """The ticket clock: mark overdue signs and replies, escalate, queue callbacks, close tickets whose
    citizen wants no callback; and smart dispatch's worker, which makes the suggestions intake left for later
    (every JIESU_SUGGEST_INTERVAL seconds). Safe to run beside `jiesu serve` and beside another `jiesu clock`.
    Stops cleanly on SIGTERM or Ctrl-C (the tick under way finishes)."""
    settings = get_settings()
    scheduler = wiring.scheduler()
    engine = make_engine(settings.effective_database_url)
    try:
        if not revisions.is_current(engine)[0]:
            raise fail("the database schema is not current: run `jiesu db upgrade` first")
        sessions = make_sessionmaker(engine)
        tz = settings.tz

        def say(report: RunReport) -> None:
            at = report.at.astimezone(tz).isoformat(timespec="seconds") if report.at else "-"
            console.print(f"{at} tick: {report.line()}", highlight=False, soft_wrap=True)

        if once:
            say(scheduler.run_once(sessions, SystemClock(), settings, batch=batch))
            return
        stop = threading.Event()
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, lambda *_: stop.set())
        console.print(f"clock started: a tick every {interval:g} s on "
                      f"{engine.url.render_as_string(hide_password=True)}", highlight=False, soft_wrap=True)
        workers = scheduler.worker_threads(sessions, SystemClock(), settings, stop)
        for worker in workers:
            worker.start()
        try:
            scheduler.run_loop(sessions, SystemClock(), settings, interval=interval, stop=stop, on_tick=say,
                               batch=batch)
        finally:
            stop.set()
            for worker in workers:
                worker.join(30)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        console.print("clock stopped")
    finally:
        engine.dispose()
