"""The demo's proactive-governance story (issue 18), as calls the simulator makes among its other tickets.

- 天堂河社区 (大兴区天宫院街道): an old complex that called several times a week about leaking roofs, cold flats, damp
  walls, parking and broken lanes (the brief: 300-400 dispatches a year), until a renovation started some weeks
  before the present; after it, about as many calls as its neighbours make.
- Four neighbouring complexes of the same street with the same troubles at a steady, ordinary rate: the places the
  project's effect is measured against.
- 观音寺南里: parking calls rising these six weeks, a new hot spot left open on the board.
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

from jiesu.demo.texts import BURST_MAIN, CHARGING, PARKING, TIANTANGHE_MIX, TIANTANGHE_PROBLEMS, Problem, fill

TIANTANGHE = "110115010002"  # 天堂河社区
TIANGONGYUAN = "110115010000"  # 天宫院街道: the project's owner
NEIGHBOURS = ("110115010001", "110115010003", "110115010007", "110115010008")  # 海子角, 海子角东里, 矿林庄, 天宫院
SURGE_STREET, SURGE_COMMUNITY = "110115009000", "110115009001"  # 观音寺街道双河北里社区
MILESTONES = (("外墙保温", "外墙保温约5.2万平方米"), ("楼顶防水", "楼顶防水约1.7万平方米"),
              ("道路修整", "道路修整约1.3万平方米"), ("新增路灯", "新增路灯181盏"))

MIN_TICKETS, MIN_DAYS = 300, 7  # below these the story would crowd out the city (and the small tests' invariants)
# The story reaches back HISTORY_DAYS whatever the window: 天堂河's twelve whole months before the works month and
# the months after it, as the effect report (monthly means) needs, and the weeks of data the surge scan's baseline
# and the miner's history need. Its calls before the window come on top of the tickets asked for.
HISTORY_DAYS, MONTHS_AFTER = 480, 3
BEFORE_PER_DAY = 1.0  # 天堂河 before the works: about 365 a year
AFTER_PER_DAY = 0.08  # 天堂河 once renovated: a call every other week or so
NEIGHBOUR_PER_DAY = 0.06  # each neighbour: ordinary for an old complex, not a hot spot of its own
RISING = ("110115009005", 42, 0.12, 0.7)  # 观音寺南里: parking, these 6 weeks, from this many a day to this many
CHARGING_PER_DAY, TOPIC_DAYS = 0.25, 365  # all year round, as the topic candidates (the last 12 months) weigh it
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


def works_start(now: datetime, tz: ZoneInfo) -> datetime:
    """When 天堂河's renovation started: the 10th, 08:00 local, of the month MONTHS_AFTER before this one (whole
    months after it for the effect)."""
    local = now.astimezone(tz)
    month = local.year * 12 + local.month - 1 - MONTHS_AFTER
    return datetime(month // 12, month % 12 + 1, 10, 8, tzinfo=tz).astimezone(now.tzinfo)


def _days(a: datetime, b: datetime) -> float:
    return max(0.0, (b - a) / timedelta(days=1))


def plan(rng: Random, now: datetime, days: int, tickets: int, tz: ZoneInfo, instants: Instants,
         complexes: dict[str, tuple[str, str]], topic_places: list[str]) -> Story:
    """The story's calls, when the demo is big enough for it (else an empty Story): back to HISTORY_DAYS before
    `now` (or the window, when longer). `complexes`: community code -> (its street's code, the complex's name:
    天堂河小区) for the communities the city has; `topic_places`: the communities the topic's calls come from."""
    if tickets < MIN_TICKETS or days < MIN_DAYS or TIANTANGHE not in complexes:
        return Story()
    window = now - timedelta(days=days)
    start = min(window, now - timedelta(days=HISTORY_DAYS))
    works = works_start(now, tz)
    rising, rise_days, slow, fast = RISING
    rise, half = now - timedelta(days=rise_days), now - timedelta(days=rise_days / 2)
    neighbours = [c for c in NEIGHBOURS if c in complexes]
    # (rate a day, from, to) of each part
    parts = {"tiantanghe_before": (BEFORE_PER_DAY, start, works),
             "tiantanghe_after": (AFTER_PER_DAY, works, now),
             "neighbours": (NEIGHBOUR_PER_DAY * len(neighbours), start, now),
             "rising_slow": (slow if rising in complexes else 0.0, rise, half),
             "rising_fast": (fast if rising in complexes else 0.0, half, now),
             "topic": (CHARGING_PER_DAY if topic_places else 0.0, now - timedelta(days=TOPIC_DAYS), now)}
    wanted = {k: rate * _days(a, b) for k, (rate, a, b) in parts.items()}
    inside = {k: wanted[k] * _days(max(a, window), b) / (_days(a, b) or 1) for k, (_, a, b) in parts.items()}
    # Scaled down together when the window's share of them would be more than MAX_SHARE of the tickets.
    scale = min(1.0, (MAX_SHARE * tickets - SURGE_CALLS) / (sum(inside.values()) or 1))
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

    def each(part: str) -> list[datetime]:
        _, a, b = parts[part]
        return instants(rng, n[part], a, b)

    for at in each("tiantanghe_before") + each("tiantanghe_after"):
        add(at, TIANTANGHE, problem_on(at))
    for at in each("neighbours"):
        add(at, rng.choice(neighbours), problem_on(at))
    for at in each("rising_slow") + each("rising_fast"):
        add(at, rising, PARKING)
    if SURGE_COMMUNITY in complexes:
        burst_end = now - timedelta(hours=SURGE_ENDS)
        burst_start = burst_end - timedelta(hours=SURGE_HOURS)
        for i in range(SURGE_CALLS):
            # most calls in the first hour, when the water stops; then the stragglers
            at = burst_start + timedelta(hours=SURGE_HOURS) * rng.betavariate(1.2, 2.5)
            add(at, SURGE_COMMUNITY, BURST_MAIN, emergency=i % 3 == 0)
    topic_places = [c for c in topic_places if c in complexes]
    for at in each("topic"):
        add(at, rng.choice(topic_places), CHARGING)
    story.calls.sort(key=lambda c: c.at)
    story.counts = n | {"surge": SURGE_CALLS if SURGE_COMMUNITY in complexes else 0}
    story.before_window = sum(c.at < window for c in story.calls)
    return story


__all__ = ["MILESTONES", "TIANGONGYUAN", "TIANTANGHE", "Call", "Story", "plan"]
