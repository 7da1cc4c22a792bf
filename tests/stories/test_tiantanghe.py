"""天堂河: an old complex in 大兴区天宫院街道 that called the hotline about once a day (leaking roofs, cold flats, damp
walls, parking, broken lanes) for a year. The night the city looks, the miner finds it a hot spot; the centre makes it
a renovation project owned by 天宫院街道, with the brief's works as milestones; the calls fall to what its neighbours
make; four months on the effect report measures the fall against comparable complexes that had no project (a
difference in differences), naming them.

A small city built through the real services: tickets filed as the operator files them, each under a clock set to
its moment; the miner, the project and the effect report as the supervisor runs them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from random import Random

import pytest
from sqlalchemy import select

from jiesu.clock import FixedClock
from jiesu.demo.texts import CHARGING, DAMP, HEAT, LEAK, PARKING, ROAD, fill
from jiesu.hotspots import projects
from jiesu.hotspots import service as hotspots
from jiesu.hotspots.models import HotSpot
from jiesu.permissions import Actor, Role
from jiesu.taxonomy.models import Category, RequestType
from jiesu.tickets import service as tickets
from jiesu.tickets.models import Channel
from tests.stories import bj

TIANTANGHE = "110115010002"  # 天堂河社区 (天宫院街道, 大兴区)
TIANGONGYUAN = "110115010000"  # 天宫院街道: owns the project
# Comparable old complexes of the same district with the same troubles at an ordinary rate, and no project.
NEIGHBOURS = {"110115010001": "海子角", "110115010003": "海子角东里", "110115010007": "矿林庄",
              "110115010008": "天宫院", "110115009001": "双河北里", "110115009003": "团河"}
# Background: other districts' calls, about e-bike charging and the same troubles now and then.
ELSEWHERE = {"110105001024": "南郎家园", "110108001001": "翠微路", "110102001004": "府右街南",
             "110106001001": "翠林一里"}

FIRST = bj("2024-03-01 00:00")
WORKS = bj("2025-04-10 09:00")  # the renovation starts (the works month, April, counts in neither period)
LAST = bj("2025-08-14 12:00")  # the report is read in August: May, June and July after
BEFORE_PER_DAY, AFTER_PER_DAY, NEIGHBOUR_PER_DAY = 0.8, 0.1, 0.1
ABOUT = ("漏水", "暖气", "渗水", "发霉", "潮湿", "停车", "楼顶", "屋顶", "防水", "路面")  # words its title may use
MIX = ((LEAK, 30), (HEAT, 25), (DAMP, 20), (PARKING, 15), (ROAD, 10))

OPERATOR = Actor(username="op-tth", role=Role.operator)
SUPERVISOR = Actor(username="sup-tth", role=Role.supervisor)


def heating(at: datetime) -> bool:
    d = at.date()
    return (d.month, d.day) >= (11, 15) or (d.month, d.day) <= (3, 15)


def times(rng: Random, per_day: float, start: datetime, end: datetime) -> list[datetime]:
    """Calls at `per_day` in [start, end), in the daytime (07:00-21:00 Beijing)."""
    days = (end - start).days
    out = []
    for _ in range(round(per_day * days)):
        day = start + timedelta(days=rng.randrange(days))
        at = day.replace(hour=7, minute=0) + timedelta(minutes=rng.randrange(14 * 60))
        if start <= at < end:
            out.append(at)
    return out


def problem(rng: Random, at: datetime):
    mix = [(p, w) for p, w in MIX if p is not HEAT or heating(at)]
    return rng.choices([p for p, _ in mix], weights=[w for _, w in mix])[0]


def file_calls(session, settings, calls: list[tuple[datetime, str, object, str]], codes: dict[str, str]) -> None:
    """File each (at, community, problem, complex name) as the operator types it, under a clock at its moment."""
    clock = FixedClock(FIRST)
    rng = Random(7)
    for at, community, prob, name in sorted(calls, key=lambda c: c[0]):
        title, template = rng.choice(prob.texts)
        clock.set(at.astimezone(UTC))
        tickets.create_request(session, OPERATOR, clock, settings, tickets.NewRequest(
            text=fill(template, name, rng), title=title, request_type=RequestType.complaint,
            channel=Channel.hotline, address=f"{name}小区", area_code=community,
            contact_name="王女士", contact_phone=f"139{rng.randrange(10**8):08d}", category_code=codes[prob.category]))


def calls_between(rng: Random, start: datetime, end: datetime, tiantanghe_per_day: float) -> list:
    out = [(at, TIANTANGHE, problem(rng, at), "天堂河") for at in times(rng, tiantanghe_per_day, start, end)]
    for code, name in NEIGHBOURS.items():
        out += [(at, code, problem(rng, at), name) for at in times(rng, NEIGHBOUR_PER_DAY, start, end)]
    for code, name in ELSEWHERE.items():
        out += [(at, code, CHARGING, name) for at in times(rng, 0.05, start, end)]
        out += [(at, code, problem(rng, at), name) for at in times(rng, 0.05, start, end)]
    return out


@pytest.fixture
def codes(session) -> dict[str, str]:
    return dict(session.execute(select(Category.path, Category.code).where(Category.level == 3)).all())


def test_tiantanghe_found_renovated_and_measured(session, settings, codes):
    rng = Random(18)
    file_calls(session, settings, calls_between(rng, FIRST, WORKS, BEFORE_PER_DAY), codes)

    # The night before the works: the nightly miner finds 天堂河 above what its history and its peers expect.
    night = FixedClock(bj("2025-04-10 02:00").astimezone(UTC))
    mined = hotspots.mine(session, SUPERVISOR, night, settings)
    assert mined.found >= 1
    spot = session.scalar(select(HotSpot).where(HotSpot.place_code == TIANTANGHE))
    assert spot is not None, [h.place_code for h in session.scalars(select(HotSpot))]
    assert spot.label.value in ("persistent", "intensifying"), spot.label
    assert any(word in spot.title for word in ABOUT), spot.title  # what the calls were about
    assert spot.status.value == "open" and spot.observed >= 50

    # That morning the centre makes it a renovation project owned by the street.
    clock = FixedClock(WORKS.astimezone(UTC))
    project = projects.create_project(session, SUPERVISOR, clock, settings, projects.NewProject(
        owner=TIANGONGYUAN, title="天堂河小区老旧小区综合整治", hotspot_id=spot.id,
        plan="外墙保温约5.2万平方米，楼顶防水约1.7万平方米，道路修整约1.3万平方米，新增路灯181盏",
        started_on=WORKS.date()))
    projects.step(session, SUPERVISOR, clock, project.id, "start")
    for title, due in (("楼顶防水", 28), ("新增路灯", 42), ("外墙保温", 56), ("道路修整", 90)):
        projects.milestone(session, SUPERVISOR, clock, project.id, title, WORKS.date() + timedelta(days=due))
    session.refresh(spot)
    assert spot.status.value == "project"

    # Afterwards 天堂河 calls about as often as its neighbours; they go on as before.
    file_calls(session, settings, calls_between(rng, WORKS, LAST, AFTER_PER_DAY), codes)
    report = projects.effect(session, SUPERVISOR, settings, FixedClock(LAST.astimezone(UTC)), project.id)
    assert report.place_code == TIANTANGHE and report.start_month == "2025-04"
    assert report.after_months == ["2025-05", "2025-06", "2025-07"] and len(report.before_months) == 12
    e = report.effect
    assert e is not None, report.note
    assert e.before > 15 and e.after < 6  # about 24 a month before, 3 after
    assert e.effect < -15 and e.percent is not None and e.percent < -0.6
    names = {p.name for p in report.comparison}
    assert any(n.startswith(tuple(NEIGHBOURS.values())) for n in names), names
    assert TIANTANGHE not in {p.code for p in report.comparison}
    assert "−" in e.formula() and f"{e.effect:+.2f}" in e.formula()
    assert date(2025, 4, 10) == report.started_on
