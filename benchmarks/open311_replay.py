"""Replay Los Angeles' MyLA311 records against POST /open311/v2/requests.json as a foreign feed.

    .venv/bin/python benchmarks/open311_replay.py [--records FILE] [--limit N] [--keep]

A fresh SQLite database with Beijing's reference data (places, units, categories, deadline policies, routing
rules) and one API key, the real app in process (Starlette's TestClient: every request goes through the ASGI
app, its middleware and the Open311 router; no server exceptions are raised into the client, so a 5xx would
be counted as one). Two passes over the same records:

1. **as sent**: what LA's own feed would POST: its service codes (type_id 1..12), its WGS84 coordinates, its
   street address and the type's name as the description. Beijing offers none of those services and every point
   is 10,000 km away, so each record should get the spec's error list saying both (404 unknown service_code,
   400 outside the jurisdiction) and no ticket. Then the same with the services mapped (below) but LA's own
   coordinates: 400 outside the jurisdiction, each.
2. **mapped**: the same records after a translation a city would configure for a partner feed: each LA type to a
   Beijing leaf category (e.g. Bulky Items -> 环境卫生, Single Streetlight -> 基础设施, Water Waste -> 自来水供应
   with its required attributes), and each point moved by the affine map of the records' bounding box onto a box
   of central Beijing (lat 39.78..40.08, long 116.18..116.58, WGS84). The street address is dropped (it names no
   place in Beijing); the Idempotency-Key is LA's SR number, so a second run files nothing twice. Each record
   should become a ticket (in the dispatcher's queue: a point alone places it in a district, not a street).

It prints the counts per pass: tickets, errors by status and by reason, 5xx (must be 0), and the rate.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RECORDS = ROOT.parent / "shared" / "data" / "open311" / "records"
BEIJING_BOX = (39.78, 40.08, 116.18, 116.58)  # lat min, lat max, long min, long max (WGS84), inside the city
# LA type_id -> (Beijing leaf category name, attributes it needs); 12 Feedback has no counterpart.
MAPPING: dict[str, tuple[str, dict[str, str]]] = {
    "1": ("城管执法", {"attribute[ISSUE]": "other"}),  # Graffiti
    "2": ("生活无着人员救助", {}),  # Homeless Encampment
    "3": ("环境卫生", {}),  # Animal Remains
    "4": ("环境卫生", {}),  # Bulky Items
    "5": ("环境卫生", {}),  # Electronic Waste
    "6": ("环境卫生", {}),  # Illegal Dumping
    "7": ("环境卫生", {}),  # Metal/Appliances
    "8": ("基础设施", {}),  # Single Streetlight
    "9": ("基础设施", {}),  # Multiple Streetlights
    "10": ("自来水供应", {"attribute[SCOPE]": "area", "attribute[DANGER]": "no"}),  # Water Waste
    "11": ("其他", {}),  # Other: 城乡建设 / 城市建设和市政管理 / 其他
}


def seed(url: str) -> None:
    from jiesu import migrate
    from jiesu.clock import FixedClock
    from jiesu.db import make_engine, make_sessionmaker, unit_of_work
    from jiesu.permissions import SYSTEM
    from jiesu.places import service as places
    from jiesu.routing import service as routing
    from jiesu.taxonomy import service as taxonomy
    from jiesu.units import service as units

    engine = make_engine(url)
    migrate.upgrade(engine)
    clock = FixedClock(datetime(2024, 1, 1, tzinfo=UTC))
    with unit_of_work(make_sessionmaker(engine)) as s:
        places.import_gazetteer(s, SYSTEM)
        units.bootstrap(s, SYSTEM)
        taxonomy.import_tree(s, SYSTEM)
        taxonomy.seed_default_policies(s, SYSTEM, clock)
        routing.seed_default_rules(s, SYSTEM, clock)
    engine.dispose()


def reason(description: str) -> str:
    if "not a service" in description:
        return "unknown service_code"
    if "outside the jurisdiction" in description:
        return "outside the jurisdiction (lat/long)"
    if "location is required" in description:
        return "no location"
    return description[:80]


def run(client, key: str, rows: list[dict], forms) -> dict:
    statuses: Counter = Counter()
    reasons: Counter = Counter()
    tickets = 0
    started = time.perf_counter()
    for row in rows:
        form, headers = forms(row)
        r = client.post("/open311/v2/requests.json", data={"api_key": key, **form}, headers=headers)
        statuses[r.status_code] += 1
        if r.status_code == 200:
            tickets += 1
        elif r.status_code < 500:
            for error in r.json():
                reasons[f"{error['code']} {reason(error['description'])}"] += 1
    seconds = time.perf_counter() - started
    return {"tickets": tickets, "statuses": statuses, "reasons": reasons, "seconds": seconds}


def report(title: str, rows: int, out: dict) -> None:
    fivexx = sum(n for s, n in out["statuses"].items() if s >= 500)
    print(f"== {title}: {rows} records in {out['seconds']:.1f} s ({rows / out['seconds']:.0f}/s)")
    print(f"   tickets: {out['tickets']}   errors: {rows - out['tickets']}   5xx: {fivexx}")
    print("   HTTP statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(out["statuses"].items())))
    for text, n in out["reasons"].most_common():
        print(f"   error {text}: {n}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=Path, default=RECORDS / "la311_service_requests_2020_sample.csv")
    parser.add_argument("--limit", type=int, default=0, help="replay only the first N records")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if not args.records.exists():
        print(f"no records at {args.records} (they are in the project's shared data)", file=sys.stderr)
        return 2
    with open(args.records.parent / "la311_types.csv", encoding="utf-8") as f:
        types = {r["type_id"]: r for r in csv.DictReader(f)}
    with open(args.records, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if args.limit:
        rows = rows[:args.limit]

    folder = Path(tempfile.mkdtemp(prefix="jiesu-open311-replay-"))
    url = f"sqlite:///{folder / 'replay.db'}"
    print(f"benchmarks/open311_replay.py, {datetime.now(UTC).isoformat(timespec='seconds')}: {len(rows)} LA 311 "
          f"records from {args.records.name}; a fresh SQLite database in {folder}")
    seed(url)

    from fastapi.testclient import TestClient
    from sqlalchemy import func, select

    from jiesu.app import create_app
    from jiesu.clock import SystemClock
    from jiesu.config import Settings
    from jiesu.db import make_engine, make_sessionmaker, unit_of_work
    from jiesu.open311 import service as open311
    from jiesu.permissions import SYSTEM
    from jiesu.taxonomy.models import Category
    from jiesu.tickets.models import Ticket

    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as s:
        _, key = open311.create_key(s, SYSTEM, SystemClock(), "la311-feed", "benchmarks/open311_replay.py")
        codes = {}
        for type_id, (name, _attrs) in MAPPING.items():
            stmt = select(Category.code).where(Category.name == name, Category.level == 3)
            if name == "其他":
                stmt = stmt.where(Category.path == "城乡建设/城市建设和市政管理/其他")
            codes[type_id] = s.scalar(stmt)
    app = create_app(Settings(var_dir=folder, secret_key="replay", database_url=url), engine=engine)

    def as_sent(row: dict) -> tuple[dict, dict]:
        kind = types.get(row["type_id"], {})
        return ({"service_code": row["type_id"], "lat": row["latitude"], "long": row["longitude"],
                 "address_string": row["address"], "description": kind.get("type_name", "")}, {})

    lats = [float(r["latitude"]) for r in rows]
    lngs = [float(r["longitude"]) for r in rows]
    box = (min(lats), max(lats), min(lngs), max(lngs))

    def moved(value: float, low: float, high: float, to_low: float, to_high: float) -> float:
        return to_low + (value - low) / ((high - low) or 1) * (to_high - to_low)

    def mapped(row: dict) -> tuple[dict, dict]:
        kind = types.get(row["type_id"], {})
        lat = moved(float(row["latitude"]), box[0], box[1], BEIJING_BOX[0], BEIJING_BOX[1])
        lng = moved(float(row["longitude"]), box[2], box[3], BEIJING_BOX[2], BEIJING_BOX[3])
        name, attrs = MAPPING.get(row["type_id"], (None, {}))
        form = {"service_code": codes.get(row["type_id"]) or f"la-{row['type_id']}", "lat": f"{lat:.6f}",
                "long": f"{lng:.6f}", "account_id": row["srnumber"],
                "description": f"{kind.get('type_name', '')}: {kind.get('description', '').strip()} "
                               f"(MyLA311 {row['srnumber']}, {row['address']})", **attrs}
        return form, {"Idempotency-Key": f"la311-{row['srnumber']}"}

    with TestClient(app, raise_server_exceptions=False) as client:
        first = run(client, key, rows, as_sent)
        report("as sent (LA's service codes and coordinates)", len(rows), first)
        def services_only(row: dict) -> tuple[dict, dict]:
            form, _headers = mapped(row)
            return form | {"lat": row["latitude"], "long": row["longitude"]}, {}

        half = run(client, key, rows, services_only)
        report("services mapped, LA's own coordinates", len(rows), half)
        second = run(client, key, rows, mapped)
        report("mapped (LA types -> Beijing categories, points moved into central Beijing)", len(rows), second)
        again = run(client, key, rows[:200], mapped)
        print(f"== mapped again, first 200 (Idempotency-Key = SR number): {again['tickets']} answers, "
              f"{sum(n for s, n in again['statuses'].items() if s >= 500)} 5xx")
    with unit_of_work(make_sessionmaker(engine)) as s:
        made = s.scalar(select(func.count()).select_from(Ticket))
        manual = s.scalar(select(func.count()).select_from(Ticket)
                          .where(Ticket.manual_review.is_(True)))
    print(f"tickets in the database: {made} ({manual} in the dispatcher's manual queue)")
    engine.dispose()
    if not args.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    bad = sum(n for out in (first, half, second, again) for s, n in out["statuses"].items() if s >= 500)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
