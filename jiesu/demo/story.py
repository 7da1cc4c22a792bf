"""The demo's proactive-governance story (issue 18), as calls the simulator makes among its other tickets.

- 天堂河社区 (大兴区天宫院街道): an old complex that called several times a week about leaking roofs, cold flats, damp
  walls, parking and broken lanes (the brief: 300-400 dispatches a year), until a renovation started some weeks
  before the present; after it, about as many calls as its neighbours make.
- Four neighbouring complexes of the same street with the same troubles at a steady, ordinary rate: the places the
  project's effect is measured against.
- A water main bursting in 观音寺街道双河北里 an hour or two before the present: a dozen calls in three hours.
- A city-wide recurrent problem (electric bikes with nowhere to charge) all through the window: the topic of the
  month the seed adopts.

Only times, places and texts are decided here; the simulator files and lives the calls like any other ticket."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from random import Random
from zoneinfo import ZoneInfo

from jiesu.demo.texts import BURST_MAIN, CHARGING, TIANTANGHE_MIX, TIANTANGHE_PROBLEMS, Problem, fill

TIANTANGHE = "110115010002"  # 天堂河社区
TIANGONGYUAN = "110115010000"  # 天宫院街道: the project's owner
NEIGHBOURS = ("110115010001", "110115010003", "110115010007", "110115010008")  # 海子角, 海子角东里, 矿林庄, 天宫院
SURGE_STREET, SURGE_COMMUNITY = "110115009000", "110115009001"  # 观音寺街道双河北里社区
MILESTONES = (("外墙保温", "外墙保温约5.2万平方米"), ("楼顶防水", "楼顶防水约1.7万平方米"),
              ("道路修整", "道路修整约1.3万平方米"), ("新增路灯", "新增路灯181盏"))

MIN_TICKETS, MIN_DAYS = 300, 7  # below these the story would crowd out the city (and the small tests' invariants)
# A demo of two months or more gets the whole story: 天堂河's year before the works and the months after them,
# as the effect report (monthly means, months before and after) needs, whatever the window; its calls before
# the window come on top of the tickets asked for. A shorter demo tells it within its window.
LONG_DAYS, HISTORY_DAYS, MONTHS_AFTER = 60, 480, 3  # 480: the twelve months before the works month, whole
BEFORE_PER_DAY = 1.0  # 天堂河 before the works: about 365 a year
NEIGHBOUR_PER_DAY = 0.12  # each neighbour, and 天堂河 once renovated: a call every week or so
CHARGING_PER_DAY = 0.4
SURGE_CALLS, SURGE_HOURS, SURGE_ENDS = 12, 3.0, 1.5  # the burst: calls, over hours, ending hours before now
MAX_SHARE = 0.15  # of the tickets asked for, in the window


@dataclass
class Call:
    at: datetime
    street: str  # street code
    community: str  # community code
    problem: Problem
    title: str
    text: str
    emergency: bool = False


@dataclass
class Story:
    calls: list[Call] = field(default_factory=list)
    works_start: datetime | None = None  # when 天堂河's renovation started
    counts: dict[str, int] = field(default_factory=dict)  # calls by part: tiantanghe_before, ... surge, topic
    before_window: int = 0  # calls before the window asked for: on top of the tickets asked for


Instants = Callable[[Random, int, datetime, datetime], list[datetime]]  # n times in [a, b), the hotline's rhythm


def heating_season(day: date) -> bool:
    """Beijing heats from 15 November to 15 March."""
    return (day.month, day.day) >= (11, 15) or (day.month, day.day) <= (3, 15)


def works_start(now: datetime, days: int, tz: ZoneInfo) -> datetime:
    """When 天堂河's renovation started: in a long demo the 10th, 08:00 local, of the month MONTHS_AFTER before
    this one (full months after it for the effect); in a short one 35 % of the window before now."""
    if days < LONG_DAYS:
        return now - timedelta(days=min(max(0.35 * days, 2.0), 42.0))
    local = now.astimezone(tz)
    month = local.year * 12 + local.month - 1 - MONTHS_AFTER
    return datetime(month // 12, month % 12 + 1, 10, 8, tzinfo=tz).astimezone(now.tzinfo)


def plan(rng: Random, now: datetime, days: int, tickets: int, tz: ZoneInfo, instants: Instants,
         complexes: dict[str, tuple[str, str]], topic_places: list[str]) -> Story:
    """The story's calls, when the demo is big enough for it (else an empty Story): in the `days` before `now`,
    and in a long demo 天堂河's and its neighbours' history back to HISTORY_DAYS before now.
    `complexes`: community code -> (its street's code, the complex's name: 天堂河小区) for the communities the city
    has; `topic_places`: the communities the topic's calls come from (spread over the city)."""
    if tickets < MIN_TICKETS or days < MIN_DAYS or TIANTANGHE not in complexes:
        return Story()
    window = now - timedelta(days=days)
    start = now - timedelta(days=max(days, HISTORY_DAYS)) if days >= LONG_DAYS else window
    works = works_start(now, days, tz)
    after_days = (now - works) / timedelta(days=1)
    before_days = (works - start) / timedelta(days=1)
    neighbours = [c for c in NEIGHBOURS if c in complexes]
    wanted = {"tiantanghe_before": max(BEFORE_PER_DAY, 10 / before_days) * before_days,
              "tiantanghe_after": NEIGHBOUR_PER_DAY * after_days,
              "neighbours": NEIGHBOUR_PER_DAY * (now - start) / timedelta(days=1) * len(neighbours),
              "topic": max(8.0, CHARGING_PER_DAY * days)}
    # Scaled down together when the window's share of them would be more than MAX_SHARE of the tickets.
    inside = {k: v * min(1.0, days / ((now - start) / timedelta(days=1))) for k, v in wanted.items()}
    inside["topic"], inside["tiantanghe_after"] = wanted["topic"], wanted["tiantanghe_after"]
    inside["tiantanghe_before"] = max(0.0, (works - window) / timedelta(days=1)) * BEFORE_PER_DAY
    scale = min(1.0, (MAX_SHARE * tickets - SURGE_CALLS) / sum(inside.values()))
    n = {k: round(v * scale) for k, v in wanted.items()}
    story = Story(works_start=works)

    def add(at: datetime, community: str, problem: Problem, **kw) -> None:
        title, template = rng.choice(problem.texts)
        street, name = complexes[community]
        story.calls.append(Call(at, street, community, problem, title, fill(template, name, rng), **kw))

    by_key = {p.key: p for p in TIANTANGHE_PROBLEMS}

    def problem_on(at: datetime) -> Problem:
        keys = [k for k in TIANTANGHE_MIX if k != "暖气不热" or heating_season(at.astimezone(tz).date())]
        return by_key[rng.choices(keys, weights=[TIANTANGHE_MIX[k] for k in keys])[0]]

    for at in instants(rng, n["tiantanghe_before"], start, works):
        add(at, TIANTANGHE, problem_on(at))
    for at in instants(rng, n["tiantanghe_after"], works, now):
        add(at, TIANTANGHE, problem_on(at))
    for at in instants(rng, n["neighbours"] if neighbours else 0, start, now):
        add(at, rng.choice(neighbours), problem_on(at))
    if SURGE_COMMUNITY in complexes:
        burst_end = now - timedelta(hours=SURGE_ENDS)
        burst_start = burst_end - timedelta(hours=SURGE_HOURS)
        for i in range(SURGE_CALLS):
            # most calls in the first hour, when the water stops; then the stragglers
            at = burst_start + timedelta(hours=SURGE_HOURS) * rng.betavariate(1.2, 2.5)
            add(at, SURGE_COMMUNITY, BURST_MAIN, emergency=i % 3 == 0)
    topic_places = [c for c in topic_places if c in complexes]
    for at in instants(rng, n["topic"] if topic_places else 0, window, now):
        add(at, rng.choice(topic_places), CHARGING)
    story.calls.sort(key=lambda c: c.at)
    story.counts = n | {"surge": SURGE_CALLS if SURGE_COMMUNITY in complexes else 0}
    story.before_window = sum(c.at < window for c in story.calls)
    return story


__all__ = ["MILESTONES", "TIANGONGYUAN", "TIANTANGHE", "Call", "Story", "plan"]
