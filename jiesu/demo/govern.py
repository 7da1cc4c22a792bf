"""After the demo's tickets, what the centre did with them (issue 18): the miner run the night the 天堂河 works began
(in a long demo), the renovation project created from 天堂河's hot spot with its milestones and progress, last night's
mining and this hour's surge scan, and the topic of the month adopted. All through the real services, as the
demo's supervisor, each step under a clock set to when it happened."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from jiesu.clock import FixedClock
from jiesu.config import Settings
from jiesu.db import unit_of_work
from jiesu.demo import story as tale
from jiesu.errors import DomainError
from jiesu.hotspots import projects
from jiesu.hotspots import service as hotspots
from jiesu.hotspots.models import HotSpot
from jiesu.hotspots.rules import HotSpotStatus, HotSpotStep
from jiesu.permissions import Actor, Role
from jiesu.places.models import Area
from jiesu.taxonomy.models import Category

SessionFactory = Callable[[], Session]
SUPERVISOR = Actor(username="demo-supervisor", role=Role.supervisor)

PROJECT_TITLE = "天堂河小区老旧小区综合整治"
PROJECT_PLAN = ("对天堂河小区实施综合整治：外墙保温约5.2万平方米，楼顶防水约1.7万平方米，道路修整约1.3万平方米，"
                "新增路灯181盏。施工前入户告知、错峰施工，施工期间设专人接听居民诉求，做到施工不扰民、不新增诉求。")
PROJECT_BUDGET = "市区两级老旧小区综合整治资金，按工程量据实结算"
# (milestone, days after the start it is due); done a few days early when that is before the present
MILESTONE_DUE = (("楼顶防水（约1.7万平方米）", 28), ("新增路灯（181盏）", 42), ("外墙保温（约5.2万平方米）", 56),
                 ("道路修整（约1.3万平方米）", 100))
UPDATES = ((14, 20, "楼顶防水开工，顶层住户已逐户入户查看，雨天停工并提前告知"),
           (35, 45, "楼顶防水全部完工并闭水试验合格；新增路灯开始安装"),
           (60, 70, "外墙保温施工完成，新增路灯181盏全部点亮；道路修整分段施工，保留消防通道和临时停车位"))
# the demo's recurrent problem, as its candidates name it
TOPIC_WORDS = ("充电", "充电桩", "电动车", "电动自行车", "飞线")
TOPIC_TITLE = "电动自行车充电难"
TOPIC_LEAD, TOPIC_UNITS = "cgw", ("zj", "ga")  # 市城市管理委 leads, with 住建 and 公安 (fire safety)


@dataclass
class GovernReport:
    hotspots: int = 0  # hot spots kept after last night's run
    tiantanghe: str = ""  # its hot spot: label and title
    surges: list[str] = field(default_factory=list)
    project: int | None = None
    topic: str = ""
    effect: str = ""
    notes: list[str] = field(default_factory=list)  # what could not be done, and why


def _clock(settings: Settings, day: date, hour: int) -> FixedClock:
    return FixedClock(datetime(day.year, day.month, day.day, hour, tzinfo=settings.tz))


def _street_covered(session: Session, clock: FixedClock) -> None:
    """The street's own hot spot, when the miner found one, is 天堂河's calls counted one level up: the supervisor
    dismisses it, saying so, and the board shows the project once."""
    street = session.scalar(select(HotSpot).where(HotSpot.place_code == tale.TIANGONGYUAN,
                                                  HotSpot.status == HotSpotStatus.open))
    if street is not None:
        hotspots.act(session, SUPERVISOR, clock, street.id, HotSpotStep.dismiss.value,
                     "街道热点来自天堂河社区的诉求，已随天堂河小区老旧小区综合整治项目立项")


def _tiantanghe(session: Session) -> HotSpot | None:
    """天堂河's hot spot: the community's own, else its street's (the miner may find it one level up)."""
    spots = {h.place_code: h for h in session.scalars(
        select(HotSpot).where(HotSpot.place_code.in_((tale.TIANTANGHE, tale.TIANGONGYUAN))))}
    return spots.get(tale.TIANTANGHE) or spots.get(tale.TIANGONGYUAN)


def _project(session: Session, settings: Settings, clock: FixedClock, spot: HotSpot, works: datetime,
             now: datetime) -> int:
    start = works.astimezone(settings.tz).date()
    project = projects.create_project(session, SUPERVISOR, clock, settings, projects.NewProject(
        owner=tale.TIANGONGYUAN, title=PROJECT_TITLE, hotspot_id=spot.id, plan=PROJECT_PLAN, budget=PROJECT_BUDGET,
        started_on=start))
    projects.step(session, SUPERVISOR, clock, project.id, "start")
    if spot.place_code != tale.TIANGONGYUAN:
        _street_covered(session, clock)
    today = now.astimezone(settings.tz).date()
    for title, due in MILESTONE_DUE:
        due_on = start + timedelta(days=due)
        done = due_on - timedelta(days=3)
        projects.milestone(session, SUPERVISOR, clock, project.id, title, due_on,
                           done if done < today and done >= start else None)
    for days, percent, text in UPDATES:
        at = works + timedelta(days=days)
        if at < now:
            clock.set(at)
            projects.add_update(session, SUPERVISOR, clock, project.id, text, percent)
    return project.id


def _topic(session: Session, settings: Settings, clock: FixedClock) -> str:
    """The supervisor adopts e-bike charging as this month's topic: the ranked candidate that names it, else the
    theme itself (category and keyword), with where it ranks."""
    found = projects.topic_candidates(session, SUPERVISOR, settings, clock, months=12, limit=200)
    ranked = [c for c in found.items if c.keyword in TOPIC_WORDS]
    pick = ranked[0] if ranked else None
    month = clock.now().astimezone(settings.tz).strftime("%Y-%m")
    category = pick.category_code if pick else session.scalar(
        select(Category.code).where(Category.level == 1, Category.name == "城乡建设"))
    if category is None:
        return ""
    keyword = pick.keyword if pick else TOPIC_WORDS[0]
    topic = projects.adopt(session, SUPERVISOR, clock, settings, month=month, category=category, keywords=[keyword],
                           lead=TOPIC_LEAD, units=list(TOPIC_UNITS), title=TOPIC_TITLE,
                           note="全市多区多街道全年持续反映，纳入本月每月一题", score=pick.score if pick else None)
    rank = (f"candidate {found.items.index(pick) + 1} of {len(found.items)}: {pick.tickets} tickets, "
            f"{pick.streets} streets, score {pick.score}" if pick else "not among the ranked candidates")
    return f"{topic.month} {topic.title} ({topic.category.name} · {topic.keywords}; {rank})"


def govern(factory: SessionFactory, now: datetime, settings: Settings, story: tale.Story) -> GovernReport:
    """Mine, scan, make the project and adopt the topic, each in its own unit of work. A step the data does not
    allow (no 天堂河 hot spot found in a short demo, no candidate) is noted, not raised."""
    report = GovernReport()
    works = story.works_start
    tz = settings.tz
    today = now.astimezone(tz).date()
    project_made = False
    if works is not None:
        # The night the works began, the clock's miner found 天堂河; the centre made it a project that morning.
        works_day = works.astimezone(tz).date()
        with unit_of_work(factory) as session:
            hotspots.mine(session, SUPERVISOR, _clock(settings, works_day, 2), settings)
            spot = _tiantanghe(session)
            if spot is not None:
                report.project = _project(session, settings, FixedClock(works), spot, works, now)
                project_made = True
    with unit_of_work(factory) as session:
        mined = hotspots.mine(session, SUPERVISOR, _clock(settings, today, 2) if now.astimezone(tz).hour >= 2
                              else FixedClock(now), settings)
        report.hotspots = len(mined.hotspots)
    with unit_of_work(factory) as session:
        scanned = hotspots.scan(session, SUPERVISOR, FixedClock(now), settings)
        report.surges = [f"{s.title} @ {s.place_code}: {s.observed} in {s.window_hours} h, expected {s.expected:.2f}, "
                         f"p={s.p_value:.2g}" for s in scanned.raised]
    with unit_of_work(factory) as session:
        spot = _tiantanghe(session)
        if spot is None:
            report.notes.append("the miner found no hot spot at 天堂河: no project")
        else:
            name = session.scalar(select(Area.name).where(Area.id == spot.area_id))
            report.tiantanghe = f"{name}: {spot.label.value}, {spot.observed} tickets, {spot.title}"
            if not project_made and works is not None:
                report.project = _project(session, settings, FixedClock(now), spot, works, now)
    if report.project is not None:
        with unit_of_work(factory) as session:
            try:
                effect = projects.effect(session, SUPERVISOR, settings, FixedClock(now), report.project)
                report.effect = (f"{effect.effect.formula()}; against {', '.join(p.name for p in effect.comparison)}"
                                 if effect.effect is not None else effect.note)
            except DomainError as exc:
                report.notes.append(f"no effect yet: {exc.message}")
    with unit_of_work(factory) as session:
        try:
            report.topic = _topic(session, settings, FixedClock(now))
        except DomainError as exc:
            report.notes.append(f"no topic adopted: {exc.message}")
    return report


__all__ = ["GovernReport", "govern"]
