"""How fast the public page (/public) answers with a million tickets: p50/p95 of the city, one district, one street
and the districts' GeoJSON, served by the app in this process.

    .venv/bin/python benchmarks/public_pages.py                  # 1,000,000 tickets of 2023, SQLite
    .venv/bin/python benchmarks/public_pages.py --quick          # 20,000 tickets, 100 requests a page
    .venv/bin/python benchmarks/public_pages.py --n 200000 --requests 300 --engine postgresql
    .venv/bin/python benchmarks/pages.py --public [same options] # the same, from the pages benchmark

The data: a fresh SQLite file (or a throwaway PostgreSQL from tests/pg.py) with the reference data, and `--n`
tickets of 2023 with their callbacks imported THROUGH THE HISTORY IMPORTER (benchmarks/import.py's generator, as
benchmarks/assessment.py does). Then, as the clock would at each month's close: the assessment's rollup of every
month of 2023 and the public rollup of each (both timed), and the latest replies copied. The app is
jiesu.app.create_app on that database with its clock fixed at 10 January 2024 (December 2023 is the last closed
month), called through Starlette's TestClient (no network): `--warmup` requests, then `--requests` timed ones per
page, as an anonymous visitor without If-None-Match (every answer rendered in full). Goal: p95 under 100 ms.
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

from jiesu.assessment import service as assessment  # noqa: E402
from jiesu.clock import FixedClock  # noqa: E402
from jiesu.config import Settings  # noqa: E402
from jiesu.db import make_sessionmaker, unit_of_work  # noqa: E402
from jiesu.intake.history import importer  # noqa: E402
from jiesu.permissions import SYSTEM  # noqa: E402
from jiesu.public import service as public  # noqa: E402
from jiesu.public.models import PublicFigure, PublicReply  # noqa: E402


def _bench_import():
    spec = importlib.util.spec_from_file_location("bench_import", ROOT / "benchmarks" / "import.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_import"] = module
    spec.loader.exec_module(module)
    return module


bench = _bench_import()
CLOCK = FixedClock(datetime(2024, 1, 10, 4, 0, tzinfo=UTC))  # 12:00 in Beijing; every month of 2023 has closed
MONTHS = [f"2023-{m:02d}" for m in range(1, 13)]


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
        mem_s = f"{mem / 1024 / 1024:.1f} GB RAM"
    except (OSError, StopIteration):
        mem_s = "? RAM"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{cpu}, {os.cpu_count()} CPUs, {mem_s}, {platform.platform()}, load average {load}"


def seed(engine, settings: Settings, n: int) -> None:
    t0 = time.perf_counter()
    with Session(engine) as s:
        rows = bench.generate(s, n, seed=2023)
    with unit_of_work(make_sessionmaker(engine)) as s:
        report = importer.import_tickets(s, SYSTEM, CLOCK, settings, rows, commit=s.commit)
    seconds = time.perf_counter() - t0
    print(f"   import: {report.loaded:,} tickets of 2023 through the history importer in {seconds:.1f} s "
          f"({report.loaded / seconds:,.0f}/s)")


def rollups(engine, settings: Settings) -> None:
    sessions = make_sessionmaker(engine)
    t0 = time.perf_counter()
    for m in MONTHS:
        with unit_of_work(sessions) as s:
            assessment.rollup(s, settings, CLOCK, m)
    t1 = time.perf_counter()
    per_month = []
    for m in MONTHS:
        with unit_of_work(sessions) as s:
            a = time.perf_counter()
            public.rollup(s, settings, CLOCK, m)
            per_month.append(time.perf_counter() - a)
    with unit_of_work(sessions) as s:
        a = time.perf_counter()
        replies = public.refresh_replies(s, settings, CLOCK)
        replies_s = time.perf_counter() - a
        figures = s.scalar(select(func.count()).select_from(PublicFigure))
        kept = s.scalar(select(func.count()).select_from(PublicReply))
    print(f"   assessment rollup of 12 months: {t1 - t0:.1f} s; public rollup: {sum(per_month):.1f} s "
          f"(a month {statistics.median(per_month):.2f} s median, {max(per_month):.2f} s max) -> {figures:,} rows; "
          f"latest replies copied: {replies} in {replies_s * 1000:.0f} ms ({kept} kept)")


def busiest(engine) -> tuple[str, str]:
    with Session(engine) as s:
        f = PublicFigure
        district = s.scalar(select(f.key).where(f.level == "district", f.period == "2023-12")
                            .order_by(f.received.desc()).limit(1))
        street = s.scalar(select(f.key).where(f.level == "street", f.parent == district, f.period == "2023-12")
                          .order_by(f.received.desc()).limit(1))
    return district, street


def timed(client, path: str, warmup: int, requests: int) -> tuple[float, float, float, int]:
    for _ in range(warmup):
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        r = client.get(path)
        times.append(time.perf_counter() - t0)
        assert r.status_code == 200
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
    return statistics.median(times), p95, times[-1], len(r.content)


def run_engine(db, args: argparse.Namespace, tmp: Path) -> None:
    from fastapi.testclient import TestClient

    from jiesu.app import create_app

    engine = bench.prepare(db)
    settings = Settings(var_dir=tmp, database_url=db.url, secret_key="benchmark")
    try:
        print(f"\n== {db.name}: {db.note}")
        seed(engine, settings, args.n)
        print(f"   data: {bench.data_size(engine)}")
        rollups(engine, settings)
        district, street = busiest(engine)
        app = create_app(settings, engine=engine, clock=CLOCK)
        pages = {"city": "/public", "district": f"/public/{district}", "street": f"/public/{district}/{street}",
                 "geojson": "/public/districts.geojson"}
        with TestClient(app) as client:
            print(f"   {args.requests} timed requests a page after {args.warmup} warm-up, anonymous, full answers:")
            worst = 0.0
            for name, path in pages.items():
                p50, p95, top, size = timed(client, path, args.warmup, args.requests)
                worst = max(worst, p95)
                print(f"      {name:<9} {path:<42} p50 {p50 * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms  "
                      f"max {top * 1000:7.1f} ms  {size / 1024:7.1f} KiB")
        print(f"   goal p95 < 100 ms: {'met' if worst < 0.1 else 'NOT met'} (worst p95 {worst * 1000:.1f} ms)")
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="tickets of 2023 (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="20,000 tickets, 100 requests a page")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.requests = 20_000, 100

    import fastapi
    import sqlalchemy

    print(f"benchmarks/public_pages.py, {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"machine: {machine()}; Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
          f"FastAPI {fastapi.__version__}")
    print(f"data: {args.n:,} tickets over 2023 with ~90 % callback answers; engine {args.engine}")
    tmp = Path(tempfile.mkdtemp(prefix="jiesu-bench-public-"))
    try:
        db = bench.sqlite_database(tmp) if args.engine == "sqlite" else bench.postgresql_database(True)
        try:
            run_engine(db, args, tmp)
        finally:
            db.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
