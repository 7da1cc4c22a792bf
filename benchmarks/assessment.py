"""How fast a month's ranking is at a city's scale: one month's full ranking over a year of a million tickets.

    .venv/bin/python benchmarks/assessment.py [--n 1000000] [--big 1750000] [--engine sqlite|postgresql|both]
    .venv/bin/python benchmarks/assessment.py --quick      # 50,000 tickets, no big month: about a minute

For each database (a fresh SQLite file, or a throwaway PostgreSQL from tests/pg.py with PostgreSQL's durable
defaults unless --pg-fast) it seeds the reference data and generates `--n` tickets of 2023 with their
callbacks (about 90 % have one) THROUGH THE HISTORY IMPORTER (jiesu.intake.history, rows made in memory by
benchmarks/import.py's generator, a commit per batch): so the facts the ranking reads are the ones the
importer writes. It prints how long that took. Then, for `--month` (default 2023-06):

- one month's full ranking, `assessment.service.ranking(session, SYSTEM, settings, clock, month, level)`,
  read live from the facts (prefer_rollup=False) at each level (street, district, department): best and
  median of `--runs` runs, each in a fresh session;
- a month without facts: what every ranking costs, whatever the month holds;
- the rollup of that month (`assessment.service.rollup`), timed (the month before is rolled up too: a ranking
  shows last month's composite beside each row), and the same rankings read from the kept rollup;
- the check that the live and the rolled-up rankings give identical rows (keys, counts, rates, ranks).

The estimate for a Beijing year (21 M tickets, 1.75 M a month): `--big` tickets (default 1.75 M; 0 to skip)
are imported into one more month, March 2024, created in its first 18 days so that their callbacks fall in
it too, and that month's rankings are timed: a measured figure at Beijing's monthly size, not an
extrapolation (a smaller --big is scaled per ticket, and says so). Without --big the live time is extrapolated
from the month measured: a month without facts (what every ranking costs) plus the measured time per fact,
times the facts of a Beijing month; the output says EXTRAPOLATED.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from jiesu.assessment import rules  # noqa: E402
from jiesu.assessment import service as assessment  # noqa: E402
from jiesu.assessment.models import RateCell, RateFact  # noqa: E402
from jiesu.clock import FixedClock  # noqa: E402
from jiesu.config import Settings  # noqa: E402
from jiesu.db import make_sessionmaker, unit_of_work  # noqa: E402
from jiesu.intake.history import importer  # noqa: E402
from jiesu.permissions import SYSTEM  # noqa: E402


def _bench_import():
    """benchmarks/import.py (a module named `import` cannot be imported by name): its generator and databases."""
    spec = importlib.util.spec_from_file_location("bench_import", ROOT / "benchmarks" / "import.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_import"] = module
    spec.loader.exec_module(module)
    return module


bench = _bench_import()
CLOCK = FixedClock(datetime(2025, 1, 1, tzinfo=UTC))  # every month of 2023 and 2024-03 has ended
BIG_MONTH, BIG_START, BIG_DAYS = "2024-03", datetime(2024, 3, 1), 18  # noqa: DTZ001 - local wall time
BEIJING_YEAR, BEIJING_MONTH = 21_000_000, 1_750_000
EMPTY_MONTH = "2022-06"  # before every generated ticket


def load(engine, settings: Settings, n: int, *, start: datetime | None = None, days: int | None = None,
         first: int = 0, seed: int = 2023) -> tuple[importer.ImportReport, float]:
    """n generated tickets through the importer; seconds for all of it (generating the rows included)."""
    t0 = time.perf_counter()
    with Session(engine) as s:
        rows = bench.generate(s, n, seed=seed, start=start, days=days, first=first)
    with unit_of_work(make_sessionmaker(engine)) as s:
        report = importer.import_tickets(s, SYSTEM, CLOCK, settings, rows, commit=s.commit)
    return report, time.perf_counter() - t0


def facts_in(engine, month: str) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(RateFact).where(RateFact.period == month)) or 0


def timed_ranking(engine, settings: Settings, month: str, level: str, live: bool, runs: int):
    """Best and median seconds of `runs` rankings, each in a fresh session (nothing cached in it); the last one."""
    times, out = [], None
    sessions = make_sessionmaker(engine)
    for _ in range(runs):
        with sessions() as s:
            t0 = time.perf_counter()
            out = assessment.ranking(s, SYSTEM, settings, CLOCK, month, level, prefer_rollup=not live)
            times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), out


def rows_of(ranking) -> list[tuple]:
    return [(r.key, r.name, r.group, r.district, r.counts, r.rates, r.unreachable, r.upheld_returns,
             r.excluded_category, r.rank, r.rank_in_district, r.previous, r.bottom) for r in ranking.rows]


def month_report(engine, settings: Settings, month: str, runs: int, label: str) -> dict:
    """Live and rolled-up rankings of one month at each level, the rollup timed, and the rows compared."""
    n_facts = facts_in(engine, month)
    print(f"   {label} {month}: {n_facts:,} facts")
    out = {"facts": n_facts}
    live_rows = {}
    for level in assessment.LEVELS:
        best, median, ranking = timed_ranking(engine, settings, month, level, True, runs)
        assert ranking.source == "facts"
        live_rows[level] = rows_of(ranking)
        out[("live", level)] = best
        print(f"      live from the facts   {level:<10} best {best * 1000:8.1f} ms  median {median * 1000:8.1f} ms  "
              f"({len(ranking.rows)} rows ranked)")
    with unit_of_work(make_sessionmaker(engine)) as s:
        t0 = time.perf_counter()
        cells = assessment.rollup(s, settings, CLOCK, month)
        rollup_seconds = time.perf_counter() - t0
        # A ranking shows last month's composite beside each row: as in production, past months are kept too.
        assessment.rollup(s, settings, CLOCK, rules.shift(month, -1))
    out["rollup"] = rollup_seconds
    print(f"      rollup of the month: {rollup_seconds * 1000:,.0f} ms -> {cells:,} cells kept (and the month before "
          "rolled up, as a ranking reads it too)")
    same = True
    for level in assessment.LEVELS:
        best, median, ranking = timed_ranking(engine, settings, month, level, False, runs)
        assert ranking.source == "rollup"
        out[("rollup", level)] = best
        identical = rows_of(ranking) == live_rows[level]
        same &= identical
        print(f"      from the kept rollup  {level:<10} best {best * 1000:8.1f} ms  median {median * 1000:8.1f} ms  "
              f"rows identical to live: {'yes' if identical else 'NO'}")
    out["same"] = same
    return out


def run_engine(db, args: argparse.Namespace, tmp: Path) -> None:
    engine = bench.prepare(db)
    settings = Settings(var_dir=tmp, database_url=db.url, secret_key="benchmark")
    try:
        print(f"\n== {db.name}: {db.note}")
        report, seconds = load(engine, settings, args.n)
        print(f"   generation: {report.loaded:,} tickets of 2023, {report.callbacks:,} with callbacks, through the "
              f"importer in {seconds:.1f} s ({report.loaded / seconds:,.0f} tickets/s, rows generated in memory; "
              f"{report.connections} writing connection(s))")
        with Session(engine) as s:
            cells = s.scalar(select(func.count()).select_from(RateCell)) or 0
        print(f"   data: {bench.data_size(engine)}; {cells} cells kept before")
        empty, _, _ = timed_ranking(engine, settings, EMPTY_MONTH, "street", True, args.runs)
        print(f"   a month without facts ({EMPTY_MONTH}), street ranking: {empty * 1000:.1f} ms: what a ranking costs "
              "whatever the month holds (units, places and formulas loaded, two months' cells aggregated)")
        small = month_report(engine, settings, args.month, args.runs, "month")
        if args.big:
            report, seconds = load(engine, settings, args.big, start=BIG_START, days=BIG_DAYS, first=args.n,
                                   seed=2024)
            print(f"   a Beijing month: {report.loaded:,} more tickets created 1-18 March 2024, through the importer "
                  f"in {seconds:.1f} s ({report.loaded / seconds:,.0f} tickets/s)")
            big = month_report(engine, settings, BIG_MONTH, args.runs, "the big month")
            live = big[("live", "street")]
            how = f"MEASURED on a month of {report.loaded:,} tickets, {big['facts']:,} facts"
            if report.loaded < BEIJING_MONTH * 0.98:
                per_ticket = max(live - empty, 0.0) / max(report.loaded, 1)
                live = empty + per_ticket * BEIJING_MONTH
                how += f", its time per ticket scaled to {BEIJING_MONTH:,} tickets"
        else:
            per_fact = max(small[("live", "street")] - empty, 0.0) / max(small["facts"], 1)
            beijing_facts = BEIJING_MONTH * small["facts"] * 12 / max(args.n, 1)  # this data's facts a ticket
            live = empty + per_fact * beijing_facts
            big = small
            how = (f"EXTRAPOLATED: the empty month's {empty * 1000:.0f} ms + {per_fact * 1e6:.2f} us a fact as "
                   f"measured on {small['facts']:,} facts, for {beijing_facts:,.0f} facts; run with --big to "
                   "measure it")
        print(f"   Beijing year ({BEIJING_YEAR / 1e6:.0f} M tickets, {BEIJING_MONTH / 1e6:.2f} M a month): "
              f"a month's street ranking read live {live:.2f} s ({how}); from the kept rollup "
              f"{big[('rollup', 'street')] * 1000:.1f} ms; the rollup itself {big['rollup']:.1f} s once a month")
        print(f"   goal <= 0.3 s at 1 M tickets; at {args.n:,}: month {args.month} live "
              f"{small[('live', 'street')]:.3f} s, from the rollup {small[('rollup', 'street')]:.3f} s; live and "
              "rollup rows identical at every level: "
              f"{'yes' if small['same'] and big['same'] else 'NO'}")
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="tickets of 2023 (default 1,000,000)")
    parser.add_argument("--big", type=int, default=BEIJING_MONTH,
                        help="tickets imported into one more month to time a Beijing-sized month (0: extrapolate)")
    parser.add_argument("--quick", action="store_true", help="50,000 tickets and no big month: about a minute")
    parser.add_argument("--month", default="2023-06", help="the month ranked (YYYY-MM, in 2023)")
    parser.add_argument("--runs", type=int, default=5, help="rankings timed per figure (best and median)")
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-fast", action="store_true", help="keep tests/pg.py's fsync=off settings")
    args = parser.parse_args()
    if args.quick:
        args.n, args.big = 50_000, 0

    import psycopg
    import sqlalchemy

    print(f"benchmarks/assessment.py, {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the start; Python {platform.python_version()}, "
          f"SQLAlchemy {sqlalchemy.__version__}, psycopg {psycopg.__version__}")
    print(f"data: {args.n:,} tickets over 2023 (+ {args.big:,} in {BIG_MONTH}), texts from the shipped corpus, "
          f"about 90 % with callback answers; ranking of {args.month}, best/median of {args.runs} runs")
    tmp = Path(tempfile.mkdtemp(prefix="jiesu-bench-assess-"))
    try:
        for name in (["sqlite", "postgresql"] if args.engine == "both" else [args.engine]):
            sub = tmp / name
            sub.mkdir()
            db = bench.sqlite_database(sub) if name == "sqlite" else bench.postgresql_database(not args.pg_fast)
            try:
                run_engine(db, args, sub)
            finally:
                db.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
