"""How fast history comes in: `jiesu tickets import`'s bulk path (jiesu.intake.history) on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/import.py [--n 200000] [--engine sqlite|postgresql|both] [--batch 5000] [--repeat 3]

It generates `--n` realistic historical tickets of 2023 in time order, as an old system exports them (texts from the
shipped Teddy Cup corpus with their places made Beijing's; streets, communities, units and categories from the
seeded reference data; places as codes, names or both, units as codes or names, categories as codes or paths, types
and states in English or Chinese; a morning peak; about 90 % with callback answers, a few open or withdrawn), writes
them to a temporary CSV, and then, for each database (a fresh SQLite file in WAL mode, or a throwaway PostgreSQL
from tests/pg.py restarted with PostgreSQL's durable defaults unless --pg-fast), seeds the reference data and times:

(a) a dry run: every row read and checked and its number looked up, nothing written: the Python share;
(b) the import as `jiesu tickets import` runs it, a commit every `--batch` tickets: tickets/s end to end (read +
    check + write), `--repeat` times into fresh databases (best, median, worst: the machine is shared);
(c) the same file again: everything skipped as imported before;
(d) PostgreSQL: one more import into a fresh database with the foreign keys checked row by row, as for a role
    that may not set session_replication_role.

The header gives the data size, the machine and the versions. Not a test: nothing is asserted beyond the counts.
`generate` is shared with benchmarks/assessment.py.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import itertools
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.pg and tests.conftest, run from anywhere

from sqlalchemy import Engine, func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from jiesu.clock import SystemClock  # noqa: E402
from jiesu.config import Settings  # noqa: E402
from jiesu.db import make_engine, make_sessionmaker, unit_of_work  # noqa: E402
from jiesu.intake.history import importer  # noqa: E402
from jiesu.permissions import SYSTEM  # noqa: E402
from jiesu.places.models import Area, AreaLevel  # noqa: E402
from jiesu.taxonomy.models import Category  # noqa: E402
from jiesu.units.models import Unit, UnitKind  # noqa: E402

YEAR = 2023
DISTRICT_WEIGHTS = {  # resident population by district (2020 census, 10,000 people), as the demo uses
    "东城区": 70.9, "西城区": 110.6, "朝阳区": 345.2, "丰台区": 201.9, "石景山区": 56.8, "海淀区": 313.3,
    "门头沟区": 39.3, "房山区": 131.3, "通州区": 184.0, "顺义区": 132.4, "昌平区": 226.9, "大兴区": 199.4,
    "怀柔区": 44.1, "平谷区": 45.7, "密云区": 52.8, "延庆区": 34.6,
}
HOUR_WEIGHTS = (0.3, 0.2, 0.15, 0.1, 0.1, 0.2, 0.5, 1.2, 2.5, 3.5, 3.6, 3.0,
                2.0, 2.4, 2.9, 2.8, 2.6, 2.2, 1.6, 1.4, 1.3, 1.0, 0.7, 0.5)
LABEL_DEPARTMENTS = {"城乡建设": ("zj", "cgzf", "cgw"), "环境保护": ("sthj", "cgzf"), "交通运输": ("jt", "gajg"),
                     "劳动和社会保障": ("rs", "ybj"), "商贸旅游": ("scjg", "whly"), "卫生计生": ("wjw", "scjg"),
                     "教育文体": ("jw", "whly")}
TYPES = (("complaint", 30), ("投诉", 10), ("help", 20), ("求助", 8), ("report", 8), ("inquiry", 12),
         ("suggestion", 6), ("建议", 3), ("praise", 3))
REPLIES = ("已联系诉求人，问题已解决", "已责成物业公司限期整改，并安排专人跟踪",
           "已联合城管执法队现场处置，问题已整改完毕", "已向诉求人详细解释相关政策及办理流程",
           "已协调相关部门现场核实处理", "已督促经营者整改，并告知投诉渠道")
COMMENTS = ("", "", "", "", "市民表示满意", "处理及时", "希望加强后续巡查", "问题仍未彻底解决")
POOL = 20_000  # (message, street) pairs whose texts are localised once; rows draw from them


@dataclass(frozen=True)
class Street:
    code: str
    name: str
    district: str  # its name
    district_code: str
    unit_name: str
    communities: tuple[str, ...]


def _weighted(pairs) -> tuple[list, list[float]]:
    items, weights = zip(*pairs, strict=True)
    return list(items), list(itertools.accumulate(weights))


def reference(session: Session):
    """The streets (with their units and communities), department branches and categories of the seeded city."""
    districts = dict(session.execute(select(Area.code, Area.name).where(Area.level == AreaLevel.district)).all())
    communities: dict[str, list[str]] = defaultdict(list)
    for code, street in session.execute(select(Area.code, Area.street_code).where(Area.level == AreaLevel.community)):
        communities[street].append(code)
    names = Counter(name for (name,) in session.execute(select(Unit.name)))
    # A unit by its name only where no other unit has it (八里庄街道办事处 is two): else by its code.
    streets = [Street(code, name, districts[d], d, uname if names[uname] == 1 else code, tuple(communities[code]))
               for code, name, d, uname in
               session.execute(select(Area.code, Area.name, Area.district_code, Unit.name)
                               .join(Unit, Unit.code == Area.code)
                               .where(Area.level == AreaLevel.street, Unit.kind == UnitKind.street)
                               .order_by(Area.code))
               if d in districts]
    branches = {code for (code,) in session.execute(select(Unit.code).where(Unit.kind == UnitKind.department_branch))}
    leaves: dict[str, list[tuple[str, str]]] = defaultdict(list)
    cats = session.execute(select(Category.code, Category.path, Category.level)).all()
    for code, path, level in cats:
        if level == 3:
            leaves[path.split("/")[0]].append((code, path))
    return streets, branches, leaves


def _texts(streets: list[Street], rng: Random) -> list[tuple[str, str, str, Street]]:
    """POOL (text, title, label, street) with the corpus's places replaced by the street's."""
    from jiesu.data.teddy import load_corpus, localise

    corpus = load_corpus()
    messages = [m for label in LABEL_DEPARTMENTS for m in corpus.labelled.get(label, ())]
    by_district: dict[str, list[Street]] = defaultdict(list)
    for s in streets:
        by_district[s.district].append(s)
    names, cum = _weighted((d, DISTRICT_WEIGHTS.get(d, 50.0)) for d in by_district)
    out = []
    for _ in range(POOL):
        m = rng.choice(messages)
        street = rng.choice(by_district[rng.choices(names, cum_weights=cum)[0]])
        out.append((localise(m.text, street.district, street.name), localise(m.title, street.district, street.name),
                    m.label, street))
    return out


def generate(session: Session, n: int, *, seed: int = 2023, start: datetime | None = None, days: int | None = None,
             first: int = 0) -> Iterator[dict]:
    """n historical tickets as importer rows (strings, as a CSV holds them), created over `days` days from
    `start` (local wall time; default: the year YEAR), numbered from `first`. A callback comes at most about
    12 days after the ticket was created. The reference data is read now, the rows made as they are taken."""
    rng = Random(seed)
    streets, branches, leaves = reference(session)
    pool = _texts(streets, rng)
    start = start or datetime(YEAR, 1, 1)  # noqa: DTZ001 - local wall time, as an old system writes it
    span_days = days or (start.replace(year=start.year + 1) - start).days
    return _rows(rng, n, first, pool, branches, leaves, start, span_days)


def _rows(rng: Random, n: int, first: int, pool: list, branches: set[str], leaves: dict, start: datetime,
          span_days: int) -> Iterator[dict]:
    types, type_cum = _weighted(TYPES)
    hours = list(itertools.accumulate(HOUR_WEIGHTS))
    fmt = "%Y-%m-%d %H:%M:%S"
    rand, choice = rng.random, rng.choice
    # In time order, as an old system exports its tickets (by number, and numbers follow time): seconds from
    # `start`, busier in the day, sorted.
    offsets = sorted(int(rand() * span_days) * 86400 + bisect.bisect(hours, rand() * hours[-1]) * 3600
                     + int(rand() * 3600) for _ in range(n))
    for i, offset in zip(range(first, first + n), offsets, strict=True):
        text, title, label, street = pool[int(rand() * POOL)]
        created = start + timedelta(seconds=offset)
        row = {"number": f"{created:%Y%m%d}{i:08d}", "created_at": created.strftime(fmt), "text": text,
               "title": title, "request_type": types[bisect.bisect(type_cum, rand() * type_cum[-1])]}
        r = rand()
        if r < 0.55:
            row["street_code"] = street.code
        elif r < 0.75 and street.communities:
            row["community_code"] = choice(street.communities)
            if r < 0.65:
                row["street_code"] = street.code
        elif r < 0.85:
            row["district_code"], row["street_code"] = street.district_code, street.code
        else:
            row["place"] = street.district + street.name
        r = rand()
        if r < 0.75:
            row["unit"] = street.code
        elif r < 0.80:
            row["unit"] = street.unit_name
        else:
            key = choice(LABEL_DEPARTMENTS[label])
            branch = f"{key}-{street.district_code[:6]}"
            row["unit"] = branch if branch in branches else street.code
        code, path = choice(leaves[label])
        row["category"] = code if rand() < 0.8 else path
        r = rand()
        row["urgency"] = "emergency" if r < 0.03 else "complex" if r < 0.05 else "normal"
        dispatched = created + timedelta(minutes=10 + int(rand() * 110))
        signed = dispatched + timedelta(minutes=int(rand() * 120))
        replied = signed + timedelta(hours=2 + int(rand() * 200))
        row["dispatched_at"], row["signed_at"] = dispatched.strftime(fmt), signed.strftime(fmt)
        r = rand()
        if r < 0.02:  # withdrawn while handled
            row["state"] = "withdrawn" if r < 0.01 else "已撤回"
            row["closed_at"] = (signed + timedelta(hours=int(rand() * 48))).strftime(fmt)
            yield row
            continue
        if r < 0.03:  # still open when the old system was switched off
            row["state"] = "handling"
            yield row
            continue
        row["replied_at"] = replied.strftime(fmt)
        if rand() < 0.3:
            row["reply"] = choice(REPLIES)
        callback = replied + timedelta(hours=4 + int(rand() * 60))
        row["state"] = "closed" if rand() < 0.9 else "已办结"
        row["closed_at"] = callback.strftime(fmt)
        if rand() < 0.92:  # ~90 % of all tickets carry callback answers
            row["callback_at"] = callback.strftime(fmt)
            if rand() < 0.06:
                row["callback_reached"] = "false"
            else:
                row["callback_reached"] = "true"
                row["callback_contacted"] = "true" if rand() < 0.96 else "false"
                r = rand()
                row["callback_resolution"] = "resolved" if r < 0.86 else "partly" if r < 0.93 else "unresolved"
                r = rand()
                row["callback_satisfaction"] = ("satisfied" if r < 0.84 else "basically" if r < 0.94
                                                else "unsatisfied")
                row["callback_comment"] = choice(COMMENTS)
        yield row


def write_csv(rows: Iterator[dict], path: Path) -> int:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=importer.COLUMNS, extrasaction="raise")
        writer.writeheader()
        n = 0
        for row in rows:
            writer.writerow(row)
            n += 1
    return n


# --- the databases ---------------------------------------------------------------------------------

@dataclass
class Database:
    name: str
    url: str
    note: str
    stop: object = None
    create: object = None  # another database on the same server, by name

    def close(self) -> None:
        if self.stop:
            self.stop()


def sqlite_database(tmp: Path) -> Database:
    return Database("sqlite", f"sqlite:///{tmp / 'bench.db'}", "SQLite file, WAL, synchronous=NORMAL (the app's "
                    f"settings), SQLite {__import__('sqlite3').sqlite_version}")


def postgresql_database(durable: bool) -> Database:
    """A throwaway cluster from tests/pg.py; by default restarted with PostgreSQL's own fsync and synchronous
    commit (tests/pg.py turns them off), as benchmarks/intake.py does."""
    from tests import pg

    server = pg.start()
    note = "PostgreSQL from tests/pg.py: fsync=off, synchronous_commit=off, full_page_writes=off"
    if durable:
        opts = f"-p {server.port} -k {server.root} -c listen_addresses=127.0.0.1 -c max_connections=50"
        r = server._run(server.bindir / "pg_ctl", "-D", server.root / "data", "-o", opts, "-l", server.root / "log",
                        "-w", "-t", "60", "restart")
        if r.returncode != 0:
            server.stop()
            raise SystemExit(f"could not restart PostgreSQL with fsync on: {r.stderr}")
        note = "PostgreSQL, throwaway cluster, PostgreSQL's defaults (fsync, synchronous_commit, full_page_writes on)"
    version = subprocess.run([str(server.bindir / "postgres"), "--version"], capture_output=True, text=True).stdout
    return Database("postgresql", server.create_database("bench"), f"{note}; {version.strip()}", server.stop,
                    server.create_database)


def prepare(db: Database) -> Engine:
    """Migrate and seed; on PostgreSQL a CHECKPOINT after, so that the seeding's WAL is not the import's."""
    from sqlalchemy import text

    from tests.conftest import seed_reference_data

    engine = make_engine(db.url)
    seed_reference_data(engine)
    if engine.dialect.name == "postgresql":
        with engine.connect() as c:
            c.execute(text("CHECKPOINT"))
    return engine


def fresh(db: Database, tmp: Path, name: str) -> Database:
    """Another empty database like `db`: on the same PostgreSQL server, or a new SQLite file."""
    if db.name == "postgresql":
        return Database(db.name, db.create(name), db.note)
    return Database(db.name, f"sqlite:///{tmp / (name + '.db')}", db.note)


def data_size(engine: Engine) -> str:
    from jiesu.assessment.models import RateFact, SignFact
    from jiesu.callback.models import Callback
    from jiesu.tickets.models import Ticket, TicketEvent

    with engine.connect() as c:
        counts = {t.__tablename__: c.scalar(select(func.count()).select_from(t))
                  for t in (Area, Unit, Category, Ticket, TicketEvent, Callback, RateFact, SignFact)}
    return ", ".join(f"{v:,} {k}" for k, v in counts.items())


def run_import(engine: Engine, settings: Settings, path: Path, batch: int, **kw) -> importer.ImportReport:
    """The import as `jiesu tickets import` runs it: a session on the engine, a commit per batch."""
    with unit_of_work(make_sessionmaker(engine)) as s:
        return importer.import_tickets(s, SYSTEM, SystemClock(), settings, path, batch=batch, commit=s.commit, **kw)


def line(label: str, seconds: float, n: int, unit: str, note: str = "") -> str:
    return f"   {label:<52} {seconds:7.2f} s {n / seconds:9,.0f} {unit}" + (f"  {note}" if note else "")


def run_engine(db: Database, path: Path, rows: int, args: argparse.Namespace, tmp: Path) -> None:
    settings = Settings(var_dir=tmp, database_url=db.url, secret_key="benchmark")
    print(f"\n== {db.name}: {db.note}")
    engine = prepare(db)
    try:
        dry = run_import(engine, settings, path, args.batch, dry_run=True)
        report = run_import(engine, settings, path, args.batch)
        again = run_import(engine, settings, path, args.batch)
        size = data_size(engine)
    finally:
        engine.dispose()
    reports = [report]
    for k in range(2, args.repeat + 1):  # the same import into fresh databases: this machine is shared
        engine = prepare(fresh(db, tmp, f"bench{k}"))
        try:
            reports.append(run_import(engine, settings, path, args.batch))
        finally:
            engine.dispose()
    print(f"   data after the import: {size}")
    print(line("dry run: read + check + numbers looked up, no write", dry.seconds, dry.read, "rows/s",
               f"(reading + checking alone: {dry.parse_seconds:.2f} s, {dry.read / dry.parse_seconds:,.0f}/s)"))
    rates = sorted(r.loaded / r.seconds for r in reports)
    spread = (f"<- end to end; best of {len(rates)} imports into fresh databases (median "
              f"{statistics.median(rates):,.0f}, worst {rates[0]:,.0f})" if len(rates) > 1 else "<- end to end")
    best = max(reports, key=lambda r: r.loaded / r.seconds)
    print(line(f"import, commit every {args.batch:,}", best.seconds, best.loaded, "tickets/s", spread))
    if db.name == "postgresql":
        print(f"      writing on {best.connections} connection(s), reference checks {best.reference_checks}, in "
              f"threads beside the reading; reading + checking {best.parse_seconds:.2f} s, writers busy "
              f"{best.write_seconds:.2f} s (numbers looked up, ids, COPY, commits)")
    else:
        print(f"      writing between batches in the reading thread: reading + checking {best.parse_seconds:.2f}"
              f" s, writing {best.write_seconds:.2f} s (numbers looked up, ids, executemany, commits)")
    print(f"      {report.line()}; {report.callbacks:,} callbacks and facts, {report.signs:,} sign facts; facts in "
          f"{len(report.periods)} months (their kept rollups dropped)")
    print(line("the same file again: nothing to add", again.seconds, again.read, "rows/s", f"({again.line()})"))
    if any(r.loaded + r.rejected != rows for r in reports) or again.loaded or again.skipped_existing != report.loaded:
        print("   !! unexpected counts")
    if db.name == "postgresql" and not args.skip_per_row:
        # A role that may not set session_replication_role: PostgreSQL checks each foreign key of each row.
        engine = prepare(fresh(db, tmp, "bench_per_row"))
        try:
            per_row = run_import(engine, settings, path, args.batch, batched_references=False)
            print(line("import into a fresh database, reference checks per row", per_row.seconds, per_row.loaded,
                       "tickets/s", "(a role without SET on session_replication_role)"))
        finally:
            engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="tickets to generate (default 200,000)")
    parser.add_argument("--batch", type=int, default=importer.DEFAULT_BATCH, help="tickets per commit")
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-fast", action="store_true", help="keep tests/pg.py's fsync=off settings")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--repeat", type=int, default=3, help="imports into fresh databases (best and median)")
    parser.add_argument("--skip-per-row", action="store_true",
                        help="PostgreSQL: skip the import with per-row reference checks")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (the CSV)")
    args = parser.parse_args()

    import psycopg
    import sqlalchemy

    print(f"benchmarks/import.py, {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the start; Python {platform.python_version()}, "
          f"SQLAlchemy {sqlalchemy.__version__}, psycopg {psycopg.__version__} ({psycopg.pq.__impl__})")
    tmp = Path(tempfile.mkdtemp(prefix="jiesu-bench-import-"))
    try:
        ref = tmp / "reference.db"
        engine = make_engine(f"sqlite:///{ref}")
        from tests.conftest import seed_reference_data

        seed_reference_data(engine)
        path = tmp / "history.csv"
        t0 = time.perf_counter()
        with Session(engine) as s:
            rows = write_csv(generate(s, args.n, seed=args.seed), path)
        engine.dispose()
        size = path.stat().st_size
        print(f"data: {rows:,} tickets of {YEAR} generated and written to CSV in {time.perf_counter() - t0:.1f} s: "
              f"{size / 1e6:,.0f} MB, {size / rows:,.0f} bytes a row (texts from the shipped corpus); "
              f"batch {args.batch:,}")
        for name in (["sqlite", "postgresql"] if args.engine == "both" else [args.engine]):
            sub = tmp / name
            sub.mkdir()
            db = sqlite_database(sub) if name == "sqlite" else postgresql_database(durable=not args.pg_fast)
            try:
                run_engine(db, path, rows, args, sub)
            finally:
                db.close()
    finally:
        if args.keep:
            print(f"\nkept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
