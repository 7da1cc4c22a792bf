"""The scheduler: every capability's periodic work, run by one loop (`jiesu clock`, or a thread inside
`jiesu serve`).

Capabilities register their jobs at wiring time (jiesu.wiring); the scheduler knows none of them. A pass runs
each job in the order it was registered (the ticket steps first: a reply that just became overdue is
escalated in the same pass), each in transactions of its own, and sums what they did into one report. A job
that also needs to run more often than the pass (smart dispatch's worker, every second) gets a thread of its
own, at a lower CPU priority when it asks for one.

"Clock" is the time source (jiesu.clock); this module is what runs on it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from jiesu.clock import Clock
from jiesu.config import Settings

log = logging.getLogger("jiesu.clock")

DEFAULT_INTERVAL = 60.0
SKIPPED = "skipped"  # a count every job may report: another runner or a user got there first


@dataclass(frozen=True)
class Pass:
    """What a job gets for one run: fresh transactions from `sessions`, the time, and how much to take at
    once (`batch`, None for the job's own default)."""

    sessions: sessionmaker[Session]
    clock: Clock
    settings: Settings
    batch: int | None = None
    stop: threading.Event | None = None


@dataclass(frozen=True)
class Job:
    """A capability's periodic work. `run` does one pass and returns what it did under the names in `counts`
    (and, optionally, `skipped` and `more`)."""

    name: str
    counts: tuple[str, ...]
    run: Callable[[Pass], Mapping[str, int]]
    # Also run in a thread of its own, every `worker_interval(settings)` seconds, niced by `worker_nice`.
    worker_interval: Callable[[Settings], float] | None = None
    worker_nice: int = 0


class RunReport:
    """What one pass did, job by job, counted under the names the jobs registered (in their order)."""

    def __init__(self, names: Sequence[str], at: datetime | None = None, **counts: int) -> None:
        self._counts: dict[str, int] = {n: 0 for n in names if n != SKIPPED}
        self._counts[SKIPPED] = 0
        self.more = False
        self.at = at
        for name, n in counts.items():
            self._set(name, n)

    def _set(self, name: str, n: int) -> None:
        if name not in self._counts:
            raise KeyError(f"no job registered the count {name!r}")
        self._counts[name] = n

    def __getattr__(self, name: str) -> int:
        counts = self.__dict__.get("_counts")
        if counts is not None and name in counts:
            return counts[name]
        raise AttributeError(name)

    @property
    def done(self) -> int:
        return sum(n for name, n in self._counts.items() if name != SKIPPED)

    def record(self, counts: Mapping[str, int]) -> None:
        for name, n in counts.items():
            if name == "more":
                self.more = self.more or bool(n)
            else:
                self._set(name, self._counts.get(name, 0) + n)

    def add(self, other: RunReport) -> None:
        self.record(other.counts())
        self.more = other.more
        self.at = self.at or other.at

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def line(self) -> str:
        return ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in self._counts.items())


class Scheduler:
    def __init__(self, jobs: Sequence[Job]) -> None:
        self.jobs = tuple(jobs)
        self.names = tuple(n for job in self.jobs for n in job.counts)

    def report(self, at: datetime | None = None, **counts: int) -> RunReport:
        return RunReport(self.names, at, **counts)

    def run_once(self, sessions: sessionmaker[Session], clock: Clock, settings: Settings, *,
                 batch: int | None = None) -> RunReport:
        """One pass: every job once, in the order they were registered."""
        report = self.report(at=clock.now())
        work = Pass(sessions, clock, settings, batch)
        for job in self.jobs:
            report.record(job.run(work))
        return report

    def run_loop(self, sessions: sessionmaker[Session], clock: Clock, settings: Settings, *, interval: float,
                 stop: threading.Event, on_tick: Callable[[RunReport], None] | None = None,
                 batch: int | None = None) -> None:
        """run_once every `interval` seconds until `stop` is set. A failed pass (the database away) is logged
        and tried again at the next interval; it never ends the loop."""
        while not stop.is_set():
            started = time.monotonic()
            try:
                report = self.run_once(sessions, clock, settings, batch=batch)
            except Exception:
                log.exception("clock tick failed; next try in %g s", interval)
            else:
                if on_tick is not None:
                    on_tick(report)
            stop.wait(max(0.0, interval - (time.monotonic() - started)))

    def worker_threads(self, sessions: sessionmaker[Session], clock: Clock, settings: Settings,
                       stop: threading.Event) -> list[threading.Thread]:
        """A daemon thread (not started) for each job that runs on its own besides the pass."""
        return [threading.Thread(target=worker_loop, name=f"jiesu-{job.name}", daemon=True,
                                 args=(job, Pass(sessions, clock, settings, stop=stop)))
                for job in self.jobs if job.worker_interval is not None]


def _lower_priority(nice: int) -> None:
    """Nice this thread (on Linux, setpriority on a thread id applies to that thread only); best effort."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (AttributeError, OSError, PermissionError) as exc:
        log.debug("worker keeps its priority: %s", exc)


def worker_loop(job: Job, work: Pass) -> None:
    """A job on its own every `worker_interval` seconds until `work.stop` is set. Errors are logged and tried
    again; they never end the loop. The thread is niced when the job asks (Linux lets one thread be niced):
    when the machine is busy, answering requests comes first and the worker catches up after."""
    assert job.worker_interval is not None and work.stop is not None
    if job.worker_nice:
        _lower_priority(job.worker_nice)
    interval = job.worker_interval(work.settings)
    while not work.stop.is_set():
        try:
            counts = job.run(work)
        except Exception:
            log.exception("%s worker failed; next try in %g s", job.name, interval)
        else:
            if any(counts.get(n) for n in job.counts):
                log.info("%s: %s", job.name, ", ".join(f"{n} {counts.get(n, 0)}" for n in job.counts))
        work.stop.wait(interval)


def log_tick(report: RunReport) -> None:
    level = logging.INFO if report.done or report.skipped else logging.DEBUG
    log.log(level, "clock tick at %s: %s", report.at.isoformat() if report.at else "-", report.line())


class JobRunner:
    """The scheduler inside `jiesu serve`: the pass every `interval` seconds in a daemon thread, and each
    job's own worker in another, started and stopped with the app."""

    def __init__(self, scheduler: Scheduler, sessions: sessionmaker[Session], clock: Clock, settings: Settings, *,
                 interval: float = DEFAULT_INTERVAL, batch: int | None = None,
                 on_tick: Callable[[RunReport], None] | None = log_tick) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=scheduler.run_loop, name="jiesu-clock", daemon=True, args=(sessions, clock, settings),
            kwargs={"interval": interval, "stop": self._stop, "on_tick": on_tick, "batch": batch})
        self._workers = scheduler.worker_threads(sessions, clock, settings, self._stop)

    def start(self) -> None:
        self._thread.start()
        for worker in self._workers:
            worker.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        for thread in (self._thread, *self._workers):
            if thread.is_alive():
                thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()
