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
BEFORE_PER_DAY = 1.0  # 天堂河 before the works: about 365 a year
NEIGHBOUR_PER_DAY = 0.12  # each neighbour, and 天堂河 once renovated: a call every week or so
CHARGING_PER_DAY = 0.4
SURGE_CALLS, SURGE_HOURS, SURGE_ENDS = 12, 3.0, 1.5  # the burst: calls, over hours, ending hours before now
MAX_SHARE = 0.15  # of the tickets asked for


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


Instants = Callable[[Random, int, datetime, datetime], list[datetime]]  # n times in [a, b), the hotline's rhythm


def heating_season(day: date) -> bool:
    """Beijing heats from 15 November to 15 March."""
    return (day.month, day.day) >= (11, 15) or (day.month, day.day) <= (3, 15)


def plan(rng: Random, now: datetime, days: int, tickets: int, tz: ZoneInfo, instants: Instants,
         complexes: dict[str, tuple[str, str]], topic_places: list[str]) -> Story:
    """The story's calls over the `days` before `now`, when the demo is big enough for it (else an empty Story).
    `complexes`: community code -> (its street's code, the complex's name: 天堂河小区) for the communities the city
    has; `topic_places`: the communities the topic's calls come from (spread over the city)."""
    if tickets < MIN_TICKETS or days < MIN_DAYS or TIANTANGHE not in complexes:
        return Story()
    start = now - timedelta(days=days)
    after_days = min(max(0.35 * days, 2.0), 42.0)
    works = now - timedelta(days=after_days)
    before_days = days - after_days
    # scaled down together when the window would make the story more than its share of the tickets
    wanted = {"tiantanghe_before": max(BEFORE_PER_DAY, 10 / before_days) * before_days,
              "tiantanghe_after": NEIGHBOUR_PER_DAY * after_days,
              "neighbours": NEIGHBOUR_PER_DAY * days * sum(c in complexes for c in NEIGHBOURS),
              "topic": max(8.0, CHARGING_PER_DAY * days)}
    scale = min(1.0, (MAX_SHARE * tickets - SURGE_CALLS) / sum(wanted.values()))
    n = {k: round(v * scale) for k, v in wanted.items()}
    story = Story(works_start=works)

    def add(at: datetime, community: str, street: str, problem: Problem, **kw) -> None:
        title, template = rng.choice(problem.texts)
        story.calls.append(Call(at, street, community, problem, title,
                                fill(template, complexes[community][1], rng), **kw))

    street_of = {code: street for code, (street, _) in complexes.items()}
    by_key = {p.key: p for p in TIANTANGHE_PROBLEMS}

    def problem_on(at: datetime, weights: dict[str, int]) -> Problem:
        keys = [k for k in weights if k != "暖气不热" or heating_season(at.astimezone(tz).date())]
        return by_key[rng.choices(keys, weights=[weights[k] for k in keys])[0]]

    for at in instants(rng, n["tiantanghe_before"], start, works):
        add(at, TIANTANGHE, TIANGONGYUAN, problem_on(at, TIANTANGHE_MIX))
    for at in instants(rng, n["tiantanghe_after"], works, now):
        add(at, TIANTANGHE, TIANGONGYUAN, problem_on(at, TIANTANGHE_MIX))
    neighbours = [c for c in NEIGHBOURS if c in complexes]
    for at in instants(rng, n["neighbours"], start, now):
        c = rng.choice(neighbours)
        add(at, c, street_of[c], problem_on(at, TIANTANGHE_MIX))
    if SURGE_COMMUNITY in complexes:
        burst_end = now - timedelta(hours=SURGE_ENDS)
        burst_start = burst_end - timedelta(hours=SURGE_HOURS)
        for i in range(SURGE_CALLS):
            # most calls in the first hour, when the water stops; then the stragglers
            at = burst_start + timedelta(hours=SURGE_HOURS) * rng.betavariate(1.2, 2.5)
            add(at, SURGE_COMMUNITY, SURGE_STREET, BURST_MAIN, emergency=i % 3 == 0)
    topic_places = [c for c in topic_places if c in complexes]
    for at in instants(rng, n["topic"] if topic_places else 0, start, now):
        c = rng.choice(topic_places)
        add(at, c, street_of[c], CHARGING)
    story.calls.sort(key=lambda c: c.at)
    story.counts = n | {"surge": SURGE_CALLS if SURGE_COMMUNITY in complexes else 0}
    return story


__all__ = ["MILESTONES", "TIANGONGYUAN", "TIANTANGHE", "Call", "Story", "plan"]
