"""How fast tickets come in: over HTTP, through the service layer, and as raw INSERTs of the same rows.

    .venv/bin/python benchmarks/intake.py [--n 2000] [--clients 16] [--workers 2] [--engine sqlite|postgresql|both]

For each database (a fresh SQLite file in WAL mode, or a throwaway PostgreSQL from tests/pg.py) it seeds
the reference data, makes an operator and a token, and then creates tickets in three ways:

(a) HTTP: `--clients` threads on loopback send `POST /api/v1/requests` (each with its own Idempotency-Key)
    to uvicorn serving the app with `--workers` processes (benchmarks/serve_app.py, as `jiesu serve
    --no-clock`), as fast as they are answered. The suggestion is left to smart dispatch's worker (the API's
    default): first with no worker running; then the worker (routing.run_suggestions) drains that backlog in
    this process; then `?suggest=now` (the suggestion inside the intake) for a quarter as many; then the
    intake again while `jiesu clock` runs beside it as the production shape's worker, with the backlog it
    leaves and how long it takes to catch up. tickets/s counts the 201s only; p50/p99 are the clients'
    latencies; answers that were not 201 (e.g. 503 "database busy") are counted apart.
(b) service: `routing.service.create_request` in a loop in this process, as the API calls it: one commit
    per ticket, then one per `--batch` tickets; and with the suggestion made inside it.
(c) raw INSERT: the rows one intake writes (contact, request, counter update, ticket, create event) as SQL
    strings on the driver's connection in the same database, one commit per ticket, then per `--batch`.

The requests are the shipped corpus's messages (--same-text: one text every time, the duplicate search's
worst case), all in one street. It prints tickets/s for each, the ratio of each to the raw INSERT with a
commit per ticket (the same unit of durability as one intake), the data size, the engine and the machine.
Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.pg and tests.conftest, run from anywhere

from sqlalchemy import Engine, func, insert, select, text  # noqa: E402

from jiesu.clock import SystemClock  # noqa: E402
from jiesu.config import Settings  # noqa: E402
from jiesu.db import make_engine, make_sessionmaker, unit_of_work  # noqa: E402
from jiesu.intake import service as intake  # noqa: E402
from jiesu.permissions import SYSTEM  # noqa: E402
from jiesu.places.models import Area  # noqa: E402
from jiesu.routing import service as routing  # noqa: E402
from jiesu.taxonomy.models import RequestType  # noqa: E402
from jiesu.tickets import service  # noqa: E402
from jiesu.tickets.models import Channel, Request, Ticket, TicketCounter  # noqa: E402
from jiesu.units import users  # noqa: E402
from jiesu.units.models import Role  # noqa: E402

AREA = "110115009000"  # 大兴区观音寺街道
BODY = {"text": "首座御园小区有群租房，一套房住了二十多人，楼道堆满杂物，存在消防隐患，希望有关部门尽快处理。",
        "request_type": "complaint", "channel": "hotline", "title": "群租房扰民", "address": "大兴区观音寺街道首座御园",
        "area_code": AREA, "contact_name": "张先生", "contact_phone": "13800000000"}


def bodies(same_text: bool) -> list[bytes]:
    """The JSON bodies the clients send, in turn: by default the shipped corpus's messages (附件3, localised to
    观音寺街道) with the same address, area and a varying phone, so that smart dispatch meets varied texts
    in one busy street; with --same-text, BODY every time (the worst case for the duplicate search)."""
    if same_text:
        return [json.dumps(BODY, ensure_ascii=False).encode()]
    from jiesu.data.teddy import load_corpus, localise

    out = []
    for i, m in enumerate(load_corpus().hot[:1000]):
        body = {**BODY, "text": localise(m.text, "大兴区", "观音寺街道")[:4000],
                "title": localise(m.title, "大兴区", "观音寺街道")[:200], "contact_phone": f"1380000{i:04d}"}
        out.append(json.dumps(body, ensure_ascii=False).encode())
    return out


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]



# --- the databases ---------------------------------------------------------------------------------

@dataclass
class Database:
    engine_name: str
    url: str
    note: str
    stop: object = None  # a callable that removes it

    def close(self) -> None:
        if self.stop:
            self.stop()


def sqlite_database(tmp: Path) -> Database:
    path = tmp / "bench.db"
    return Database("sqlite", f"sqlite:///{path}", "SQLite file, WAL, synchronous=NORMAL (the app's settings)")


def postgresql_database(durable: bool) -> Database:
    from tests import pg

    server = pg.start()
    note = "PostgreSQL from tests/pg.py: fsync=off, synchronous_commit=off (the test suite's throwaway settings)"
    if durable:
        # tests/pg.py trades durability for speed, which is right for tests and wrong for a benchmark of
        # acknowledged tickets: restart the same cluster with PostgreSQL's defaults (fsync and synchronous commit on).
        opts = f"-p {server.port} -k {server.root} -c listen_addresses=127.0.0.1 -c max_connections=100"
        r = server._run(server.bindir / "pg_ctl", "-D", server.root / "data", "-o", opts, "-l", server.root / "log",
                        "-w", "-t", "60", "restart")
        if r.returncode != 0:
            server.stop()
            raise SystemExit(f"could not restart PostgreSQL with fsync on: {r.stderr}")
        note = "PostgreSQL, throwaway cluster, fsync=on, synchronous_commit=on (PostgreSQL's defaults)"
    version = subprocess.run([str(server.bindir / "postgres"), "--version"], capture_output=True, text=True).stdout
    return Database("postgresql", server.create_database("bench"), f"{note}; {version.strip()}", server.stop)


def prepare(db: Database) -> tuple[Engine, str, users.User]:
    """Migrate and seed (Beijing's places, the units, the categories, the policies); an operator and a token."""
    from tests.conftest import seed_reference_data

    engine = make_engine(db.url)
    seed_reference_data(engine)
    clock = SystemClock()
    with unit_of_work(make_sessionmaker(engine)) as s:
        user = users.create(s, SYSTEM, clock, username="bench-operator", password="bench-password-1",
                            role=Role.operator)
        token, _ = users.issue_token(s, clock, user, name="benchmark")
    return engine, token, user


def data_size(engine: Engine) -> str:
    with engine.connect() as c:
        counts = {t.__tablename__: c.scalar(select(func.count()).select_from(t)) for t in (Area, Request, Ticket)}
    from jiesu.units.models import Unit

    with engine.connect() as c:
        counts["units"] = c.scalar(select(func.count()).select_from(Unit))
    return ", ".join(f"{v} {k}" for k, v in counts.items())


# --- (a) HTTP ----------------------------------------------------------------------------------------

@dataclass
class HttpResult:
    n: int
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, 201s only
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return self.statuses.get("201", 0)


def stop_process(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Uvicorn:
    def __init__(self, db: Database, workers: int, var_dir: Path, log: Path) -> None:
        from tests.pg import free_port

        self.port = free_port()
        env = {**os.environ, "JIESU_DATABASE_URL": db.url, "JIESU_VAR_DIR": str(var_dir),
               "JIESU_SECRET_KEY": "benchmark"}
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "serve_app:create", "--app-dir", str(ROOT / "benchmarks"),
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers), "--no-access-log",
             "--log-level", "warning"], env=env, cwd=var_dir, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"uvicorn exited with {self.proc.returncode}: see {log}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/api/v1/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit(f"uvicorn did not answer in 60 s: see {log}")

    def stop(self) -> None:
        stop_process(self.proc, 20)
        self.log.close()


def http_run(port: int, token: str, n: int, clients: int, prefix: str, texts: list[bytes],
             path: str = "/api/v1/requests") -> HttpResult:
    result = HttpResult(n=n, seconds=0.0)
    lock = threading.Lock()
    counter = iter(range(n))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies, statuses = [], {}
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}",
                       "Idempotency-Key": f"{prefix}-{i}"}
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body=texts[i % len(texts)], headers=headers)
                response = conn.getresponse()
                response.read()
                status = str(response.status)
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            elapsed = time.perf_counter() - t0
            statuses[status] = statuses.get(status, 0) + 1
            if status == "201":
                latencies.append(elapsed)
        conn.close()
        with lock:
            result.latencies.extend(latencies)
            for k, v in statuses.items():
                result.statuses[k] = result.statuses.get(k, 0) + v

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - t0
    return result


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the server (uvicorn and its workers), the database's processes, this
    process (the clients) and the whole machine (busy, of all CPUs), from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, str, float]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            raw = (d / "stat").read_text()
        except OSError:
            continue
        name, rest = raw[raw.index("(") + 1:raw.rindex(")")], raw[raw.rindex(")") + 2:].split()
        stats[int(d.name)] = (int(rest[1]), name, (int(rest[11]) + int(rest[12])) / tick)
    server = {server_pid}
    for _ in range(4):  # uvicorn -> workers (-> their helpers)
        server |= {pid for pid, (ppid, _, _) in stats.items() if ppid in server}
    out = {"server": sum(stats[p][2] for p in server if p in stats),
           "database": sum(cpu for pid, (_, name, cpu) in stats.items() if name in ("postgres", "postmaster")),
           "clients": stats.get(os.getpid(), (0, "", 0.0))[2]}
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    idle = int(fields[3]) + int(fields[4])
    out["machine"] = (sum(int(f) for f in fields[:8]) - idle) / tick
    return out


class PgActivity:
    """Samples pg_stat_activity every 50 ms while the HTTP run goes: what the server's backends are doing."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.samples, self.counts = engine, 0, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        query = text("SELECT state, coalesce(wait_event_type || ':' || wait_event, 'CPU') AS w, "
                     "left(regexp_replace(query, '\\s+', ' ', 'g'), 40) AS q FROM pg_stat_activity "
                     "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                     "AND backend_type = 'client backend'")
        with self.engine.connect() as c:
            while not self._stop.wait(0.05):
                self.samples += 1
                for state, wait, q in c.execute(query):
                    if state == "idle":
                        continue
                    key = f"{state}, {wait}" + (f", {q}" if state == "active" else "")
                    self.counts[key] = self.counts.get(key, 0) + 1
                c.rollback()

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join()
        top = sorted(self.counts.items(), key=lambda kv: -kv[1])[:6]
        return [f"    {n / max(self.samples, 1):5.2f}  {k}" for k, n in top]


# --- (b) the service layer ----------------------------------------------------------------------------

def service_run(engine: Engine, user: users.User, settings: Settings, n: int, batch: int, texts: list[bytes],
                now: bool) -> float:
    """Seconds to create n tickets with intake.create_request as the API does (the suggestion left to the
    worker, or with `now` made inside the intake), committing every `batch` tickets."""
    sessions = make_sessionmaker(engine)
    actor, clock = users.actor_of(user), SystemClock()
    news = [service.NewRequest(**{**b, "request_type": RequestType(b["request_type"]),
                                  "channel": Channel(b["channel"])}) for b in (json.loads(t) for t in texts)]
    t0 = time.perf_counter()
    done = 0
    while done < n:
        with unit_of_work(sessions, write=True) as s:
            for _ in range(min(batch, n - done)):
                intake.create_request(s, actor, clock, settings, news[done % len(news)], now=now)
                done += 1
    return time.perf_counter() - t0


def drain_run(engine: Engine, settings: Settings) -> tuple[int, float]:
    """(suggestions made, seconds): smart dispatch's worker (routing.run_suggestions, what the clock and
    `jiesu serve` run) on every ticket still waiting for its suggestion, in this process."""
    t0 = time.perf_counter()
    done = 0
    while n := routing.run_suggestions(make_sessionmaker(engine), SystemClock(), settings):  # 1,000 per pass
        done += n
    return done, time.perf_counter() - t0


class Worker:
    """`jiesu clock` in its own process (the production shape's worker): its smart-dispatch loop makes the
    suggestions while the intake runs."""

    def __init__(self, db: Database, var_dir: Path, log: Path) -> None:
        env = {**os.environ, "JIESU_DATABASE_URL": db.url, "JIESU_VAR_DIR": str(var_dir),
               "JIESU_SECRET_KEY": "benchmark", "JIESU_SUGGEST_INTERVAL": "0.5"}
        self.log = log.open("wb")
        self.proc = subprocess.Popen([str(Path(sys.executable).parent / "jiesu"), "clock", "--interval", "3600"],
                                     env=env, cwd=var_dir, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        stop_process(self.proc, 60)
        self.log.close()


def pending(engine: Engine) -> int:
    with engine.connect() as c:
        return c.scalar(select(func.count()).select_from(Ticket).where(Ticket.suggest_pending.is_(True)))


# --- (c) raw INSERT of the same rows -----------------------------------------------------------------------

def raw_run(engine: Engine, user: users.User, n: int, batch: int, day: str) -> float:
    """Seconds to write the rows n intakes write (a contact, a request, the day's counter updated in place as
    next_number does, a ticket and its create event) with SQL strings on the driver's own connection: the
    database's share of an intake, with as little Python as possible. One commit per `batch` tickets."""
    sqlite = engine.dialect.name == "sqlite"
    q = "?" if sqlite else "%s"

    def sql(text: str) -> str:
        return text.replace("?", q)

    def stamp(t: datetime):  # what UTCDateTime stores: naive UTC on SQLite, timestamptz on PostgreSQL
        return t.replace(tzinfo=None) if sqlite else t

    with engine.connect() as c:
        area_id, district = c.execute(select(Area.id, Area.district_code).where(Area.code == AREA)).one()
        c.execute(insert(TicketCounter).values(day=day, last=0))
        c.commit()
    payload = json.dumps({"channel": "hotline", "type": "complaint"})
    contact_sql = sql("INSERT INTO contacts (name, phone, created_at) VALUES (?, ?, ?) RETURNING id")
    request_sql = sql("INSERT INTO requests (text, title, request_type, channel, address, area_id, contact_id, "
                      "anonymous, no_callback, urgency, outcome, created_at, created_by) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id")
    counter_sql = sql("UPDATE ticket_counters SET last = last + 1 WHERE day = ? RETURNING last")
    ticket_sql = sql("INSERT INTO tickets (number, request_id, state, urgency, area_id, district_code, created_at, "
                     "dispatch_by, sign_overdue, reply_overdue, escalated, extensions, reopened, callback_due, "
                     "version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id")
    event_sql = sql("INSERT INTO ticket_events (ticket_id, seq, at, actor, role, action, from_state, to_state, "
                    "reason, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        t0 = time.perf_counter()
        done = 0
        while done < n:
            if sqlite:
                cur.execute("BEGIN")  # the app's connections run SQLite in autocommit and begin explicitly
            for _ in range(min(batch, n - done)):
                now = stamp(datetime.now(UTC))
                cur.execute(contact_sql, (BODY["contact_name"], BODY["contact_phone"], now))
                contact_id = cur.fetchone()[0]
                cur.execute(request_sql, (BODY["text"], BODY["title"], "complaint", "hotline", BODY["address"],
                                          area_id, contact_id, False, False, "normal", "ticket", now, user.username))
                request_id = cur.fetchone()[0]
                cur.execute(counter_sql, (day,))
                last = cur.fetchone()[0]
                cur.execute(ticket_sql, (f"{day}-{last:06d}", request_id, "new", "normal", area_id, district, now,
                                         now + timedelta(hours=2), False, False, False, 0, 0, False, 1))
                ticket_id = cur.fetchone()[0]
                cur.execute(event_sql, (ticket_id, 1, now, user.username, "operator", "create", None, "new", "",
                                        payload))
                done += 1
            raw.commit()
        elapsed = time.perf_counter() - t0
        cur.close()
    finally:
        raw.close()
    return elapsed


# --- the profile ---------------------------------------------------------------------------------------------

IDLE_LEAVES = ("Condition.wait", "EpollSelector.select", "Thread.join", "Event.wait")
DB_WAIT_LEAVES = ("Connection.wait", "BaseCursor._send_query_prepared", "DefaultDialect.do_execute",
                  "DefaultDialect.do_commit")


def summarize_profile(path: Path, top: int = 12) -> list[str]:
    """py-spy's collapsed stacks, as shares of the samples in which a worker was busy: waiting on the database
    (the leaf is the driver's call) or running Python, and the busiest functions of jiesu (inclusive)."""
    busy = db_wait = 0
    inclusive: dict[str, int] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n, frames = int(count), stack.split(";")
        if frames[-1].startswith(IDLE_LEAVES):
            continue
        busy += n
        db_wait += n if frames[-1].startswith(DB_WAIT_LEAVES) else 0
        for name in {f.split(":")[0] + ")" for f in frames if "(jiesu/" in f}:
            inclusive[name] = inclusive.get(name, 0) + n
    if not busy:
        return ["   (no samples)"]
    lines = [f"   busy samples {busy}: {100 * db_wait / busy:.0f}% in a database call, "
             f"{100 * (busy - db_wait) / busy:.0f}% Python; busiest jiesu functions (inclusive):"]
    for name, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"   {100 * n / busy:5.1f}%  {name}")
    return lines


# --- the run ---------------------------------------------------------------------------------------------

def run_engine(db: Database, args: argparse.Namespace, tmp: Path) -> dict:
    engine, token, user = prepare(db)
    settings = Settings(var_dir=tmp, database_url=db.url, secret_key="benchmark")
    if not (tmp / "models" / "current.json").exists():  # every intake gets smart dispatch's suggestion, in full
        from jiesu.routing import classifier

        classifier.train(settings)
    out: dict = {"engine": db.engine_name, "database": db.note}
    texts = bodies(args.same_text)
    n_now = max(1, args.n // 4)
    try:
        server = Uvicorn(db, args.workers, tmp, tmp / f"uvicorn-{db.engine_name}.log")
        try:
            http_run(server.port, token, min(200, args.n), args.clients, f"warm-{uuid.uuid4().hex[:6]}", texts)
            profile = None
            if args.profile:
                py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
                profile = subprocess.Popen(
                    [py_spy, "record", "--format", "raw", "--rate", "200", "--nonblocking", "--subprocesses", "-o",
                     str(tmp / f"pyspy-{db.engine_name}.txt"), "--pid", str(server.proc.pid)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1)
            sampler = PgActivity(engine) if db.engine_name == "postgresql" else None
            cpu0 = cpu_seconds(server.proc.pid)
            out["http"] = http_run(server.port, token, args.n, args.clients, f"bench-{uuid.uuid4().hex[:6]}", texts)
            cpu1 = cpu_seconds(server.proc.pid)
            out["cpu"] = {k: cpu1[k] - cpu0[k] for k in cpu0}
            if sampler:
                out["pg_activity"] = sampler.stop()
            if profile:
                profile.send_signal(signal.SIGINT)
                profile.wait(timeout=60)
                out["profile"] = tmp / f"pyspy-{db.engine_name}.txt"
            if args.http_only:
                return out
            out["drain"] = drain_run(engine, settings)
            out["http_now"] = http_run(server.port, token, n_now, args.clients, f"now-{uuid.uuid4().hex[:6]}", texts,
                                       "/api/v1/requests?suggest=now")
            worker = Worker(db, tmp, tmp / f"worker-{db.engine_name}.log")
            try:
                time.sleep(3)  # its imports and the model loaded
                out["http_worker"] = http_run(server.port, token, args.n, args.clients,
                                              f"worker-{uuid.uuid4().hex[:6]}", texts)
                out["backlog"] = pending(engine)
                t0 = time.perf_counter()
                while pending(engine) and time.perf_counter() - t0 < 600:
                    time.sleep(0.2)
                out["catch_up"] = time.perf_counter() - t0
            finally:
                worker.stop()
        finally:
            server.stop()
        out["service_1"] = service_run(engine, user, settings, args.n, 1, texts, now=False)
        out["service_b"] = service_run(engine, user, settings, args.n, args.batch, texts, now=False)
        out["service_now"] = service_run(engine, user, settings, n_now, 1, texts, now=True)
        drain_run(engine, settings)
        out["raw_1"] = raw_run(engine, user, args.n, 1, "raw1")
        out["raw_b"] = raw_run(engine, user, args.n, args.batch, "rawb")
        out["size"] = data_size(engine)
    finally:
        engine.dispose()
    return out


def report(r: dict, args: argparse.Namespace) -> None:
    n, h = args.n, r["http"]
    if args.http_only:
        print(f"\n== {r['engine']}: {r['database']}")
        print(f"   HTTP POST /api/v1/requests ({args.clients} clients, {args.workers} workers), suggestion later "
              f"{h.ok / h.seconds:8.0f} /s (--http-only: nothing else measured)")
        report_http(r, h)
        return
    n_now = max(1, n // 4)
    raw_rate = n / r["raw_1"]
    hn, hw = r["http_now"], r["http_worker"]
    suggested, drain_s = r["drain"]
    rows = [
        (f"HTTP POST /api/v1/requests ({args.clients} clients, {args.workers} workers), suggestion later",
         h.ok / h.seconds),
        ("  the same while `jiesu clock` makes the suggestions beside it", hw.ok / hw.seconds),
        (f"HTTP POST /api/v1/requests?suggest=now ({n_now} tickets)", hn.ok / hn.seconds),
        ("smart dispatch's worker, in process (suggestions/s)", suggested / drain_s if drain_s else float("nan")),
        ("intake.create_request, suggestion later, commit per ticket", n / r["service_1"]),
        (f"intake.create_request, suggestion later, commit per {args.batch}", n / r["service_b"]),
        (f"intake.create_request, suggestion now, commit per ticket ({n_now})", n_now / r["service_now"]),
        ("raw INSERT of the same rows, commit per ticket", raw_rate),
        (f"raw INSERT of the same rows, commit per {args.batch}", n / r["raw_b"]),
    ]
    print(f"\n== {r['engine']}: {r['database']}")
    print(f"   {n} tickets per way; data after the run: {r['size']}")
    for label, rate in rows:
        print(f"   {label:<78} {rate:8.0f} /s   x{rate / raw_rate:5.2f} of raw")
    print(f"   worker beside the intake: {r['backlog']} tickets still waiting for their suggestion when the intake "
          f"ended, all suggested {r['catch_up']:.1f} s later; {hw.ok} x 201"
          + (f", not 201: { {k: v for k, v in hw.statuses.items() if k != '201'} }" if hw.ok != hw.n else ""))
    print(f"   suggest=now latency p50 {percentile(hn.latencies, 50) * 1000:.1f} ms, "
          f"p99 {percentile(hn.latencies, 99) * 1000:.1f} ms; {hn.ok} x 201")
    report_http(r, h)


def report_http(r: dict, h: HttpResult) -> None:
    lat = h.latencies
    others = {k: v for k, v in h.statuses.items() if k != "201"}
    print(f"   HTTP (suggestion later) latency p50 {percentile(lat, 50) * 1000:.1f} ms, "
          f"p99 {percentile(lat, 99) * 1000:.1f} ms, "
          f"max {max(lat, default=float('nan')) * 1000:.1f} ms; {h.ok} x 201"
          + (f", not 201: {others}" if others else "") + f" in {h.seconds:.2f} s")
    if r.get("cpu") and h.ok:
        cpu = r["cpu"]
        print(f"   CPU per ticket over HTTP: server {cpu['server'] / h.ok * 1000:.2f} ms, database "
              f"{cpu['database'] / h.ok * 1000:.2f} ms, clients {cpu['clients'] / h.ok * 1000:.2f} ms; machine "
              f"busy {cpu['machine'] / h.seconds / (os.cpu_count() or 1):.0%} of {os.cpu_count()} CPUs")
    if r.get("pg_activity"):
        print("   backends not idle during the HTTP run (average per pg_stat_activity sample; state, wait, query):")
        print("\n".join(r["pg_activity"]))
    if r.get("profile"):
        print(f"   py-spy profile of the workers during the HTTP run (collapsed stacks): {r['profile']}")
        print("\n".join(summarize_profile(r["profile"])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="tickets per way (default 2000)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (default 2)")
    parser.add_argument("--batch", type=int, default=100, help="tickets per commit in the batched runs")
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-fast", action="store_true",
                        help="keep tests/pg.py's fsync=off, synchronous_commit=off instead of PostgreSQL's defaults")
    parser.add_argument("--profile", action="store_true", help="py-spy the uvicorn workers during the HTTP run")
    parser.add_argument("--same-text", action="store_true", help="send BODY every time instead of the corpus's "
                        "messages (the duplicate search's worst case)")
    parser.add_argument("--http-only", action="store_true", help="measure the HTTP intake only (suggestion later, "
                        "no worker): the quick loop while working on it")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, profiles)")
    args = parser.parse_args()

    import fastapi
    import sqlalchemy
    import uvicorn

    print(f"benchmarks/intake.py, {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the start; "
          f"Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, FastAPI {fastapi.__version__}, "
          f"uvicorn {uvicorn.__version__}")
    texts = bodies(args.same_text)
    print(f"load: {args.clients} client threads in this process on loopback (they share the CPUs with the server), "
          f"HTTP/1.1 keep-alive, {len(texts)} different JSON requests of {sum(map(len, texts)) // len(texts)} bytes "
          "on average, each with contact and area (one street); 200 warm-up requests first")
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    tmp = Path(tempfile.mkdtemp(prefix="jiesu-bench-"))
    try:
        for name in engines:
            sub = tmp / name
            sub.mkdir()
            db = sqlite_database(sub) if name == "sqlite" else postgresql_database(durable=not args.pg_fast)
            try:
                report(run_engine(db, args, sub), args)
            finally:
                db.close()
    finally:
        if args.keep or args.profile:
            print(f"\nlogs and profiles kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
