"""How long the topic of the month's ranking and a project's effect take on a year of tickets, and whether the
effect finds an injected fall.

    .venv/bin/python benchmarks/projects.py                  # 200,000 tickets over 19 months, SQLite
    .venv/bin/python benchmarks/projects.py --tickets 1000000
    .venv/bin/python benchmarks/projects.py --db /tmp/p.db   # keep the seeded file; a second run reuses it

A fresh SQLite file gets Beijing's places, units and categories; tickets are inserted in bulk over 19 months,
spread over every community, each with its words (Request.terms, as smart dispatch keeps them) from a small
vocabulary per first-level category, and a reached callback for one in three (a fifth of them unhappy). One
community gets 30 leak tickets a month more until the works month, then 3: the project's effect should be close
to −27 a month. Prints the seconds of `topic_candidates` (one SELECT, the themes, the score) and of `effect` (one
GROUP BY over place × month), the top five candidates and the effect with its formula.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import sessionmaker

from jiesu import migrate
from jiesu.callback.models import Callback, CallbackChannel, Resolution, Satisfaction
from jiesu.clock import FixedClock
from jiesu.config import Settings
from jiesu.db import make_engine, unit_of_work
from jiesu.hotspots import projects
from jiesu.hotspots.models import Project
from jiesu.hotspots.rules import ProjectStatus
from jiesu.permissions import SYSTEM
from jiesu.places import service as places
from jiesu.places.models import Area, AreaLevel
from jiesu.taxonomy import service as taxonomy
from jiesu.taxonomy.models import Category, RequestType, Urgency
from jiesu.tickets.models import Channel, Outcome, Request, Ticket
from jiesu.tickets.rules import TicketState
from jiesu.units import service as units
from jiesu.units.models import Unit

NOW = datetime(2024, 9, 30, 2, 0, tzinfo=UTC)
FIRST = datetime(2023, 3, 1, tzinfo=UTC)
START = date(2024, 3, 10)
PLACE = "110115010002"  # 天堂河社区, 天宫院街道, 大兴区
VOCAB = {0: ["漏水", "暖气", "墙面", "发霉", "停车", "车位", "路面", "破损", "物业"],
         1: ["噪音", "施工", "夜间", "扰民"], 2: ["油烟", "餐馆", "排放", "异味"],
         3: ["公交", "线路", "站台", "班次"], 4: ["工资", "拖欠", "社保", "合同"]}
COMMON = ["小区", "居民", "楼下", "附近", "每天"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--db", type=Path, help="a SQLite file to keep (seeded when it does not exist)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="jiesu-projects-") as tmp:
        path = args.db or Path(tmp) / "bench.db"
        fresh = not path.exists()
        engine = make_engine(f"sqlite:///{path}")
        migrate.upgrade(engine)
        sessions = sessionmaker(bind=engine)
        settings = Settings(var_dir=Path(tmp), secret_key="bench", database_url=str(engine.url))
        clock = FixedClock(NOW)
        if fresh:
            with unit_of_work(sessions) as s:
                places.import_gazetteer(s, SYSTEM)
                units.bootstrap(s, SYSTEM)
                taxonomy.import_tree(s, SYSTEM)
            t0 = time.perf_counter()
            with unit_of_work(sessions) as s:
                n = seed(s, rng, args.tickets)
            print(f"seeded {n:,} tickets in {time.perf_counter() - t0:.1f} s")
        with sessions() as s:
            t0 = time.perf_counter()
            found = projects.topic_candidates(s, SYSTEM, settings, clock, 12, 20)
            ranked = time.perf_counter() - t0
            print(f"topic_candidates over {found.tickets:,} tickets ({found.months[0]}..{found.months[-1]}): "
                  f"{ranked:.2f} s")
            for i, c in enumerate(found.items[:5], start=1):
                print(f"  {i}. {c.title}: score {c.score}, {c.tickets} tickets, {c.streets} streets, "
                      f"{c.districts} districts, evenness {c.evenness:.2f}, {c.months_present}/{c.months} months, "
                      f"dissatisfaction {c.dissatisfaction:.1%}" if c.dissatisfaction is not None else "")
            place = s.scalar(select(Area).where(Area.code == PLACE))
            root = s.scalar(select(Category).where(Category.level == 1).order_by(Category.code))
            owner = s.scalar(select(Unit.code).where(Unit.code == place.street_code))
            project = Project(title="整治", owner_unit_id=s.scalar(select(Unit.id).where(Unit.code == owner)),
                              area_id=place.id, category_id=root.id, keywords="", started_on=START,
                              status=ProjectStatus.underway, created_at=NOW, created_by="bench")
            s.add(project)
            s.flush()  # rolled back at the end: a second run measures the same
            t0 = time.perf_counter()
            r = projects.effect(s, SYSTEM, settings, clock, project.id)
            took = time.perf_counter() - t0
            print(f"effect at {place.name} ({place.code}): {took:.2f} s; {r.effect.formula()}; interval "
                  f"{r.effect.low:+.2f} to {r.effect.high:+.2f}; comparison places: "
                  f"{', '.join(p.name for p in r.comparison)}")
        engine.dispose()


def seed(s, rng: random.Random, n: int) -> int:
    communities = list(s.execute(select(Area.id, Area.district_code).where(Area.level == AreaLevel.community)))
    roots = list(s.scalars(select(Category.id).where(Category.level == 1).order_by(Category.code)))[:len(VOCAB)]
    weights = [rng.paretovariate(1.5) for _ in communities]  # some communities call much more than others
    place = s.scalar(select(Area).where(Area.code == PLACE))
    span = (NOW - FIRST).total_seconds()
    rows = []
    for _ in range(n):
        aid, district = rng.choices(communities, weights)[0]
        c = rng.choices(range(len(roots)), [5, 2, 2, 1, 1])[0]
        rows.append((aid, district, c, FIRST + timedelta(seconds=rng.random() * span)))
    for k in range(19):  # the project's place: 30 leaks a month more until the works month (15), 3 after
        y, m = divmod(2023 * 12 + 2 + k, 12)
        month = datetime(y, m + 1, 1, 4, tzinfo=UTC)
        if month > NOW:
            break
        extra = 30 if (y, m + 1) < (2024, 3) else 15 if (y, m + 1) == (2024, 3) else 3
        rows += [(place.id, place.district_code, 0, month + timedelta(days=i % 27)) for i in range(extra)]
    number = 0
    for i in range(0, len(rows), 20_000):
        chunk = rows[i:i + 20_000]
        reqs = [{"text": "", "title": "", "request_type": RequestType.complaint, "channel": Channel.hotline,
                 "address": "", "area_id": aid, "urgency": Urgency.normal, "category_id": roots[c],
                 "outcome": Outcome.ticket, "created_at": at, "created_by": "bench",
                 "terms": " ".join(rng.sample(VOCAB[c], 2) + rng.sample(COMMON, 1))} for aid, _, c, at in chunk]
        ids = list(s.scalars(insert(Request).returning(Request.id, sort_by_parameter_order=True), reqs))
        tickets = []
        for rid, (aid, district, c, at) in zip(ids, chunk, strict=True):
            number += 1
            tickets.append({"number": f"B-{number:08d}", "request_id": rid, "state": TicketState.closed,
                            "category_id": roots[c], "urgency": Urgency.normal, "area_id": aid,
                            "district_code": district, "created_at": at, "dispatch_by": at, "dispatched_at": at})
        tids = list(s.scalars(insert(Ticket).returning(Ticket.id, sort_by_parameter_order=True), tickets))
        s.execute(insert(Callback), [
            {"ticket_id": tid, "round": 0, "attempt": 1, "at": t["created_at"], "agent": "b",
             "channel": CallbackChannel.phone, "reached": True, "contacted": True, "resolution": Resolution.resolved,
             "satisfaction": Satisfaction.unsatisfied if rng.random() < 0.2 else Satisfaction.satisfied,
             "comment": ""} for tid, t in zip(tids, tickets, strict=True) if rng.random() < 1 / 3])
    return len(rows)


if __name__ == "__main__":
    main()
