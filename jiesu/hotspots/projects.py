"""The topic of the month (每月一题) and proactive projects (治理项目), with their measured effect.

Topic candidates are computed, not stored: the last months' tickets, read with one SELECT, grouped by first-level
category × a keyword theme from their words, ranked by rules.SCORE_FORMULA. An adopted topic is stored with its
month, lead department and units; its tickets are the category's whose words hold a keyword, counted per month.

A project comes from a hot spot (one place, one category: the hot spot becomes `project`) or a topic (a theme,
city-wide). Its effect is a difference in differences: the place's monthly tickets before and after the start
against the k places of the same level with the nearest volume before (the same district first) that had no
project in the category, from one GROUP BY over place × month (rules.did).

Services take (session, actor, ...), check permission, raise domain errors; only the boundary commits.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Select, and_, case, func, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from jiesu.assessment import rules as periods
from jiesu.callback.models import Callback, Satisfaction
from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.errors import (
    CategoryNotFound,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TransitionNotAllowed,
    UnitNotFound,
)
from jiesu.hotspots import rules
from jiesu.hotspots import service as hotspots
from jiesu.hotspots.models import (
    HotSpot,
    Project,
    ProjectEvent,
    ProjectMilestone,
    ProjectTicket,
    ProjectUpdate,
    Topic,
    TopicUnit,
)
from jiesu.hotspots.rules import ProjectStatus, ProjectStep, TopicStatus
from jiesu.permissions import Actor, Permission, require
from jiesu.places.models import Area, AreaLevel
from jiesu.routing import text as routing_text
from jiesu.routing.rules import tokens_of
from jiesu.taxonomy.models import Category
from jiesu.tickets.models import Request, Ticket
from jiesu.tickets.rules import TicketState
from jiesu.units.models import UNIT_BOUND_ROLES, Unit, UnitKind

MAX_KEYWORDS, MAX_KEYWORD = 5, 32
MAX_TITLE, MAX_TEXT = 200, 4000
MAX_LINKS = 200
TOPIC_BEFORE = 6  # months shown before a topic's month


class TopicNotFound(NotFound):
    code = "topic_not_found"


class ProjectNotFound(NotFound):
    code = "project_not_found"


# --- shared reads -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Roots:
    """The first-level categories, and which one each category falls under."""

    roots: list[Category]
    index_of: dict[int, int]  # category id -> index into roots (-1: none)

    def ids_under(self, root: Category) -> list[int]:
        i = self.roots.index(root)
        return [cid for cid, r in self.index_of.items() if r == i]


def _roots(session: Session) -> Roots:
    cats = list(session.scalars(select(Category).order_by(Category.code)))
    roots = [c for c in cats if c.level == 1]
    by_code = {r.code: i for i, r in enumerate(roots)}
    return Roots(roots, {c.id: by_code.get(c.code.split(".")[0], -1) for c in cats})


def _root(roots: Roots, text: str, field_name: str = "category") -> Category:
    """A first-level category by its name or code."""
    text = (text or "").strip()
    for r in roots.roots:
        if text in (r.name, r.code):
            return r
    raise CategoryNotFound(f"no first-level category {text!r} (give its name, e.g. 城乡建设, or code)",
                           field=field_name)


def _month_labels(last: str, count: int) -> list[str]:
    return [periods.shift(last, i - count + 1) for i in range(count)]


def _starts(months: list[str], tz: ZoneInfo) -> list[datetime]:
    """The UTC start of each month, and the end of the last."""
    return [periods.window(m, tz)[0] for m in months] + [periods.window(months[-1], tz)[1]]


def _month_index(column, starts: list[datetime]):
    """Which month of `starts` an instant falls in, as plain SQL (a CASE over the boundaries), so that the
    GROUP BY runs the same on every engine."""
    n = len(starts) - 1
    return case(*[(column < starts[i + 1], i) for i in range(max(n - 1, 1))], else_=n - 1)


def _callbacks(since: datetime):
    """Per ticket: the callbacks that reached the citizen, and how many of them were answered 不满意 (a ticket
    created since `since` is called back after it, so older callbacks are not read)."""
    return (select(Callback.ticket_id.label("ticket_id"), func.count().label("reached"),
                   func.sum(case((Callback.satisfaction == Satisfaction.unsatisfied, 1), else_=0))
                   .label("unsatisfied"))
            .where(Callback.reached.is_(True), Callback.at >= since).group_by(Callback.ticket_id).subquery())


def _like_escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _keywords_match(keywords: list[str]):
    """A request whose words hold any of the keywords (its text, for the requests kept without words)."""
    if not keywords:
        return None
    padded = literal(" ") + func.coalesce(Request.terms, "") + literal(" ")
    said = Request.title + literal(" ") + Request.text
    return or_(*[or_(padded.like(f"% {_like_escape(k)} %", escape="\\"),
                     and_(Request.terms.is_(None), said.like(f"%{_like_escape(k)}%", escape="\\")))
                 for k in keywords])


def _keywords(raw: list[str] | str | None) -> list[str]:
    words = raw.split() if isinstance(raw, str) else [w for k in (raw or []) for w in k.split()]
    words = sorted(set(words))
    if len(words) > MAX_KEYWORDS:
        raise InvalidInput(f"at most {MAX_KEYWORDS} keywords", field="keywords")
    if any(len(w) > MAX_KEYWORD for w in words):
        raise InvalidInput(f"a keyword is at most {MAX_KEYWORD} characters", field="keywords")
    return words


def _text(value: str | None, name: str, *, required: bool = False, limit: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(f"{name} is required", field=name)
    if len(value) > limit:
        raise InvalidInput(f"{name} is at most {limit} characters", field=name)
    return value


def _unit(session: Session, code: str | None, field_name: str) -> Unit:
    code = (code or "").strip()
    unit = session.scalar(select(Unit).where(Unit.code == code)) if code else None
    if unit is None:
        raise UnitNotFound(f"no unit with code {code!r}", field=field_name)
    return unit


def theme_title(category: str, keywords: list[str]) -> str:
    """城乡建设 · 停车、车位: how a theme reads (the category alone when it has no keywords)."""
    return f"{category} · {'、'.join(keywords)}" if keywords else category


def _is_unit_member(actor: Actor) -> bool:
    return actor.role in UNIT_BOUND_ROLES


def _month(text: str | None, field_name: str = "month") -> str:
    try:
        periods.parse_period(text or "")
    except ValueError as exc:
        raise InvalidInput(str(exc), field=field_name) from None
    return (text or "").strip()


def _event(session: Session, clock: Clock, actor: Actor, action: str, *, project: Project | None = None,
           topic: Topic | None = None, from_status: str | None = None, to_status: str | None = None,
           reason: str = "") -> None:
    session.add(ProjectEvent(project_id=project.id if project else None, topic_id=topic.id if topic else None,
                             at=clock.now(), actor=actor.username, action=action, from_status=from_status,
                             to_status=to_status, reason=reason))


# --- topic candidates -------------------------------------------------------------------------------------

@dataclass
class CandidateView:
    key: str  # "<category code>:<keyword>": what `adopt` takes back
    category_code: str
    category: str
    keyword: str
    title: str  # 城乡建设 · 停车
    tickets: int
    streets: int
    districts: int
    evenness: float
    months_present: int
    months: int
    reached: int
    unsatisfied: int
    dissatisfaction: float | None
    score: float
    parts: dict[str, float]
    monthly: list[int]
    adopted: list[str]  # the months it was adopted for


@dataclass
class Candidates:
    months: list[str]
    tickets: int  # in the window
    formula: str
    items: list[CandidateView]


def topic_candidates(session: Session, actor: Actor, settings: Settings, clock: Clock, months: int = 12,
                     limit: int = 20) -> Candidates:
    """City-wide problems over the last `months` months (this one included), best first."""
    require(actor, Permission.project_manage)
    if not 1 <= months <= 36:
        raise InvalidInput("months must be between 1 and 36", field="months")
    if not 1 <= limit <= 200:
        raise InvalidInput("limit must be between 1 and 200", field="limit")
    tz = settings.tz
    labels = _month_labels(periods.period_of(clock.now(), tz), months)
    starts = _starts(labels, tz)
    roots = _roots(session)
    cb = _callbacks(starts[0])
    said = case((Request.terms.is_(None), Request.title + literal(" ") + Request.text), else_=None)
    rows = session.execute(
        select(Ticket.category_id, Area.street_code, Ticket.district_code, _month_index(Ticket.created_at, starts),
               Request.terms, said, func.coalesce(cb.c.reached, 0), func.coalesce(cb.c.unsatisfied, 0))
        .join(Request, Request.id == Ticket.request_id)
        .outerjoin(Area, Area.id == Ticket.area_id)
        .outerjoin(cb, cb.c.ticket_id == Ticket.id)
        .where(Ticket.created_at >= starts[0], Ticket.created_at < starts[-1], Ticket.state != TicketState.merged)
    ).all()
    unsaid = [i for i, r in enumerate(rows) if r[4] is None]
    cut = iter(routing_text.segment_many(rows[i][5] or "" for i in unsaid)) if unsaid else iter(())
    terms = [frozenset(r[4].split()) if r[4] is not None else frozenset(tokens_of(next(cut))) for r in rows]
    streets = {c: i for i, c in enumerate(sorted({r[1] for r in rows if r[1]}))}
    districts = {c: i for i, c in enumerate(sorted({r[2] for r in rows if r[2]}))}
    facts = rules.TicketFacts(
        category=np.fromiter((roots.index_of.get(r[0], -1) if r[0] is not None else -1 for r in rows), np.int32,
                             len(rows)),
        street=np.fromiter((streets.get(r[1], -1) for r in rows), np.int32, len(rows)),
        district=np.fromiter((districts.get(r[2], -1) for r in rows), np.int32, len(rows)),
        month=np.fromiter((int(r[3]) for r in rows), np.int32, len(rows)),
        reached=np.fromiter((int(r[6]) for r in rows), np.int32, len(rows)),
        unsatisfied=np.fromiter((int(r[7]) for r in rows), np.int32, len(rows)),
        terms=terms)
    ranked = rules.rank_topics(facts, len(roots.roots), len(streets), len(districts), months,
                               exclude={r.name for r in roots.roots})[:limit]
    adopted: dict[tuple[int, str], list[str]] = {}
    for cid, kw, month in session.execute(select(Topic.category_id, Topic.keywords, Topic.month)
                                          .order_by(Topic.month)):
        adopted.setdefault((cid, kw), []).append(month)
    items = []
    for c in ranked:
        root = roots.roots[c.category]
        items.append(CandidateView(
            key=f"{root.code}:{c.keyword}", category_code=root.code, category=root.name, keyword=c.keyword,
            title=theme_title(root.name, c.keyword.split()), tickets=c.tickets, streets=c.streets,
            districts=c.districts,
            evenness=round(c.evenness, 3), months_present=c.months_present, months=c.months, reached=c.reached,
            unsatisfied=c.unsatisfied, dissatisfaction=c.dissatisfaction, score=c.score,
            parts={k: round(v, 3) for k, v in c.parts.items()}, monthly=c.monthly,
            adopted=adopted.get((root.id, c.keyword), [])))
    return Candidates(months=labels, tickets=len(rows), formula=rules.SCORE_FORMULA, items=items)


# --- topics -----------------------------------------------------------------------------------------------

def _topic_query() -> Select:
    return select(Topic).options(joinedload(Topic.category), joinedload(Topic.lead_unit),
                                 selectinload(Topic.units).joinedload(TopicUnit.unit))


def adopt(session: Session, actor: Actor, clock: Clock, settings: Settings, *, month: str, category: str,
          keywords: list[str] | str | None, lead: str, units: list[str] | None = None, title: str | None = None,
          note: str | None = None, score: float | None = None) -> Topic:
    """A supervisor adopts a theme for a month with its lead department (a unit of kind department) and the
    units involved. The same theme twice in one month is a Conflict."""
    require(actor, Permission.project_manage)
    month = _month(month)
    root = _root(_roots(session), category)
    words = _keywords(keywords)
    lead_unit = _unit(session, lead, "lead")
    if lead_unit.kind != UnitKind.department:
        raise InvalidInput(f"the lead must be a city department (委办局), not {lead_unit.name}", field="lead")
    involved: list[Unit] = []
    for code in dict.fromkeys(c.strip() for c in (units or []) if c.strip()):
        u = _unit(session, code, "units")
        if u.id != lead_unit.id:
            involved.append(u)
    theme = " ".join(words)
    title = _text(title, "title", limit=MAX_TITLE) or theme_title(root.name, words)
    taken = session.scalar(select(Topic.id).where(Topic.month == month, Topic.category_id == root.id,
                                                  Topic.keywords == theme))
    if taken is not None:
        raise Conflict(f"{title} is already the topic of {month} (topic {taken})", field="month")
    topic = Topic(month=month, title=title, category_id=root.id, keywords=theme, lead_unit_id=lead_unit.id,
                  status=TopicStatus.adopted, score=score, note=_text(note, "note"), created_at=clock.now(),
                  created_by=actor.username, units=[TopicUnit(unit_id=u.id) for u in involved])
    try:
        with session.begin_nested():
            session.add(topic)
            session.flush()
    except IntegrityError:
        raise Conflict(f"{title} is already the topic of {month}", field="month") from None
    _event(session, clock, actor, "adopt", topic=topic, to_status=TopicStatus.adopted)
    session.flush()
    return session.scalars(_topic_query().where(Topic.id == topic.id)).one()


def close_topic(session: Session, actor: Actor, clock: Clock, topic_id: int, reason: str = "") -> Topic:
    require(actor, Permission.project_manage)
    topic = session.scalars(_topic_query().where(Topic.id == topic_id)).one_or_none()
    if topic is None:
        raise TopicNotFound(f"no topic {topic_id}", field="id")
    if topic.status != TopicStatus.adopted:
        raise Conflict(f"topic {topic_id} is already closed", field="status")
    topic.status, topic.closed_at = TopicStatus.closed, clock.now()
    _event(session, clock, actor, "close", topic=topic, from_status=TopicStatus.adopted, to_status=TopicStatus.closed,
           reason=_text(reason, "reason"))
    session.flush()
    return topic


def _visible_topics(actor: Actor, q: Select) -> Select:
    if _is_unit_member(actor):
        q = q.where(or_(Topic.lead_unit_id == actor.unit_id,
                        Topic.id.in_(select(TopicUnit.topic_id).where(TopicUnit.unit_id == actor.unit_id))))
    return q


def list_topics(session: Session, actor: Actor, status: TopicStatus | None = None) -> list[Topic]:
    """The adopted topics, newest month first (a unit: those it leads or takes part in)."""
    require(actor, Permission.project_read)
    q = _visible_topics(actor, _topic_query())
    if status is not None:
        q = q.where(Topic.status == status)
    return list(session.scalars(q.order_by(Topic.month.desc(), Topic.id.desc())))


def get_topic(session: Session, actor: Actor, topic_id: int) -> Topic:
    require(actor, Permission.project_read)
    topic = session.scalars(_visible_topics(actor, _topic_query()).where(Topic.id == topic_id)).one_or_none()
    if topic is None:
        raise TopicNotFound(f"no topic {topic_id}", field="id")
    return topic


@dataclass
class Monthly:
    """A theme's tickets month by month (with the callbacks' dissatisfaction)."""

    months: list[str]
    tickets: list[int]
    dispatched: list[int]
    reached: list[int]
    unsatisfied: list[int]

    @property
    def dissatisfaction(self) -> list[float | None]:
        return [u / r if r else None for u, r in zip(self.unsatisfied, self.reached, strict=True)]


def _monthly(session: Session, tz: ZoneInfo, months: list[str], category_ids: list[int], keywords: list[str],
             place=None) -> Monthly:
    """One GROUP BY month over the theme's tickets (optionally at one place)."""
    starts = _starts(months, tz)
    cb = _callbacks(starts[0])
    month = _month_index(Ticket.created_at, starts).label("m")
    q = (select(month, func.count(), func.sum(case((Ticket.dispatched_at.is_not(None), 1), else_=0)),
                func.sum(func.coalesce(cb.c.reached, 0)), func.sum(func.coalesce(cb.c.unsatisfied, 0)))
         .select_from(Ticket).join(Request, Request.id == Ticket.request_id)
         .outerjoin(cb, cb.c.ticket_id == Ticket.id)
         .where(Ticket.created_at >= starts[0], Ticket.created_at < starts[-1], Ticket.state != TicketState.merged,
                Ticket.category_id.in_(category_ids))
         .group_by(month))
    match = _keywords_match(keywords)
    if match is not None:
        q = q.where(match)
    if place is not None:
        q = place(q)
    out = Monthly(months, [0] * len(months), [0] * len(months), [0] * len(months), [0] * len(months))
    for m, n, d, r, u in session.execute(q):
        out.tickets[m], out.dispatched[m], out.reached[m], out.unsatisfied[m] = int(n), int(d or 0), int(r or 0), \
            int(u or 0)
    return out


@dataclass
class TopicView:
    topic: Topic
    series: Monthly
    before_mean: float | None  # tickets a month before the topic's month
    after_mean: float | None  # from its month on (the current month counted as far as it has run)
    projects: list[Project]


def topic_detail(session: Session, actor: Actor, settings: Settings, clock: Clock, topic_id: int,
                 before: int = TOPIC_BEFORE) -> TopicView:
    topic = get_topic(session, actor, topic_id)
    now = periods.period_of(clock.now(), settings.tz)
    first = periods.shift(topic.month, -before)
    count = min(max(_span(first, now) + 1, before + 1), before + 36)  # at most three years after its month
    labels = _month_labels(periods.shift(first, count - 1), count)
    series = _monthly(session, settings.tz, labels, _roots(session).ids_under(topic.category), topic.keywords.split())
    i = labels.index(topic.month)
    pre, post = series.tickets[:i], [n for m, n in zip(labels[i:], series.tickets[i:], strict=True) if m <= now]
    projects = list(session.scalars(_project_query().where(Project.topic_id == topic.id).order_by(Project.id)))
    return TopicView(topic, series, float(np.mean(pre)) if pre else None, float(np.mean(post)) if post else None,
                     projects)


def _span(first: str, last: str) -> int:
    (y1, m1), (y2, m2) = periods.parse_period(first), periods.parse_period(last)
    return (y2 * 12 + m2) - (y1 * 12 + m1)


# --- projects ---------------------------------------------------------------------------------------------

def _project_query() -> Select:
    return select(Project).options(joinedload(Project.owner_unit), joinedload(Project.area),
                                   joinedload(Project.category), joinedload(Project.topic))


def _visible_projects(actor: Actor, q: Select) -> Select:
    if _is_unit_member(actor):
        q = q.where(Project.owner_unit_id == actor.unit_id)
    return q


def _load(session: Session, actor: Actor, project_id: int) -> Project:
    require(actor, Permission.project_read)
    project = session.scalars(_visible_projects(actor, _project_query()).where(Project.id == project_id)) \
        .one_or_none()
    if project is None:
        raise ProjectNotFound(f"no project {project_id}", field="id")
    return project


@dataclass(frozen=True)
class NewProject:
    owner: str
    title: str
    hotspot_id: int | None = None
    topic_id: int | None = None
    plan: str = ""
    budget: str = ""
    started_on: date | None = None


def create_project(session: Session, actor: Actor, clock: Clock, settings: Settings, new: NewProject) -> Project:
    """A project from a hot spot (its place and category; the hot spot becomes `project`) or from a topic (its
    theme, city-wide)."""
    require(actor, Permission.project_manage)
    if (new.hotspot_id is None) == (new.topic_id is None):
        raise InvalidInput("give a hot spot or a topic (one of them)", field="hotspot")
    title = _text(new.title, "title", required=True, limit=MAX_TITLE)
    owner = _unit(session, new.owner, "owner")
    started_on = new.started_on or clock.now().astimezone(settings.tz).date()
    if not date(2000, 1, 1) <= started_on <= date(2199, 12, 31):
        raise InvalidInput("started_on is out of range", field="started_on")
    project = Project(title=title, owner_unit_id=owner.id, plan=_text(new.plan, "plan"),
                      budget=_text(new.budget, "budget"), started_on=started_on, status=ProjectStatus.planned,
                      created_at=clock.now(), created_by=actor.username, keywords="")
    if new.topic_id is not None:
        topic = session.scalar(select(Topic).where(Topic.id == new.topic_id))
        if topic is None:
            raise TopicNotFound(f"no topic {new.topic_id}", field="topic")
        project.topic_id, project.category_id, project.keywords = topic.id, topic.category_id, topic.keywords
    else:
        spot = session.scalar(select(HotSpot).where(HotSpot.id == new.hotspot_id))
        if spot is None:
            raise NotFound(f"no hot spot {new.hotspot_id}", field="hotspot")
        project.hotspot_id, project.area_id, project.category_id = spot.id, spot.area_id, spot.category_id
    session.add(project)
    session.flush()
    if project.hotspot_id is not None:  # the hot spot becomes 已立项, in this transaction (or neither happens)
        hotspots.to_project(session, actor, clock, project.hotspot_id, project.id)
    _event(session, clock, actor, "create", project=project, to_status=ProjectStatus.planned)
    session.flush()
    return _load(session, actor, project.id)


def list_projects(session: Session, actor: Actor, status: ProjectStatus | None = None) -> list[Project]:
    require(actor, Permission.project_read)
    q = _visible_projects(actor, _project_query())
    if status is not None:
        q = q.where(Project.status == status)
    return list(session.scalars(q.order_by(Project.id.desc())))


def step(session: Session, actor: Actor, clock: Clock, project_id: int, step_name: ProjectStep | str,
         reason: str = "") -> Project:
    """planned → underway → done; planned/underway → cancelled with a reason. Each move an event."""
    require(actor, Permission.project_manage)
    try:
        the_step = ProjectStep(step_name)
    except ValueError:
        raise InvalidInput(f"step is one of {', '.join(s.value for s in ProjectStep)}", field="step") from None
    project = _load(session, actor, project_id)
    t = rules.project_transition(project.status, the_step)
    if t is None:
        raise TransitionNotAllowed(f"a {rules.PROJECT_STATUS_LABELS[project.status]} project cannot "
                                   f"{the_step.value}", field="step")
    reason = _text(reason, "reason", required=t.needs_reason)
    before = project.status
    project.status = t.target
    if t.target == ProjectStatus.cancelled:
        project.reason = reason
    if t.target == ProjectStatus.done:
        project.percent = 100
    _event(session, clock, actor, the_step.value, project=project, from_status=before, to_status=t.target,
           reason=reason)
    session.flush()
    return project


def _may_report(actor: Actor, project: Project) -> None:
    """Progress is reported by the centre's supervisors or by the owner unit's own staff."""
    if _is_unit_member(actor) and actor.unit_id == project.owner_unit_id:
        return
    require(actor, Permission.project_manage)


def _open(project: Project) -> None:
    if project.status in (ProjectStatus.done, ProjectStatus.cancelled):
        raise TransitionNotAllowed(f"project {project.id} is {rules.PROJECT_STATUS_LABELS[project.status]}",
                                   field="status")


def add_update(session: Session, actor: Actor, clock: Clock, project_id: int, text: str, percent: int) -> ProjectUpdate:
    project = _load(session, actor, project_id)
    _may_report(actor, project)
    _open(project)
    text = _text(text, "text", required=True)
    if not isinstance(percent, int) or not 0 <= percent <= 100:
        raise InvalidInput("percent is a whole number from 0 to 100", field="percent")
    update = ProjectUpdate(project_id=project.id, at=clock.now(), by=actor.username, text=text, percent=percent)
    session.add(update)
    project.percent = percent
    _event(session, clock, actor, "update", project=project, reason=f"{percent}%")
    session.flush()
    return update


def milestone(session: Session, actor: Actor, clock: Clock, project_id: int, title: str, due_on: date,
              done_on: date | None = None) -> ProjectMilestone:
    """Add a milestone, or (the same title again) move its due date and mark it done."""
    project = _load(session, actor, project_id)
    _may_report(actor, project)
    title = _text(title, "title", required=True, limit=MAX_TITLE)
    if done_on is not None and done_on < project.started_on:
        raise InvalidInput("done_on is before the project started", field="done_on")
    found = session.scalar(select(ProjectMilestone).where(ProjectMilestone.project_id == project.id,
                                                          ProjectMilestone.title == title))
    if found is None:
        found = ProjectMilestone(project_id=project.id, title=title, due_on=due_on, done_on=done_on,
                                 created_at=clock.now())
        session.add(found)
    else:
        found.due_on, found.done_on = due_on, done_on if done_on is not None else found.done_on
    _event(session, clock, actor, "milestone", project=project, reason=title)
    session.flush()
    return found


def link_tickets(session: Session, actor: Actor, clock: Clock, project_id: int, numbers: list[str]) -> int:
    """Link tickets by number; a number already linked is skipped. Returns how many were added."""
    require(actor, Permission.project_manage)
    project = _load(session, actor, project_id)
    numbers = list(dict.fromkeys(n.strip() for n in numbers if n and n.strip()))
    if not numbers or len(numbers) > MAX_LINKS:
        raise InvalidInput(f"give 1 to {MAX_LINKS} ticket numbers", field="numbers")
    found = dict(session.execute(select(Ticket.number, Ticket.id).where(Ticket.number.in_(numbers))).all())
    missing = [n for n in numbers if n not in found]
    if missing:
        raise InvalidInput(f"no ticket {', '.join(missing[:5])}", field="numbers")
    have = set(session.scalars(select(ProjectTicket.ticket_id).where(ProjectTicket.project_id == project.id)))
    new = [found[n] for n in numbers if found[n] not in have]
    for tid in new:
        session.add(ProjectTicket(project_id=project.id, ticket_id=tid, added_at=clock.now(),
                                  added_by=actor.username))
    if new:
        _event(session, clock, actor, "link", project=project, reason=str(len(new)))
    session.flush()
    return len(new)


@dataclass
class ProjectView:
    project: Project
    milestones: list[ProjectMilestone]
    updates: list[ProjectUpdate]
    events: list[ProjectEvent]
    linked: list[tuple[str, datetime, str]]  # explicit links: number, created_at, state
    place_tickets: list[tuple[str, datetime, str]]  # the place and category's latest tickets
    place_ticket_count: int  # since `months` before the start


def project_detail(session: Session, actor: Actor, settings: Settings, project_id: int,
                   recent: int = 20) -> ProjectView:
    project = _load(session, actor, project_id)
    milestones = list(session.scalars(select(ProjectMilestone).where(ProjectMilestone.project_id == project.id)
                                      .order_by(ProjectMilestone.due_on, ProjectMilestone.id)))
    updates = list(session.scalars(select(ProjectUpdate).where(ProjectUpdate.project_id == project.id)
                                   .order_by(ProjectUpdate.at.desc(), ProjectUpdate.id.desc())))
    events = list(session.scalars(select(ProjectEvent).where(ProjectEvent.project_id == project.id)
                                  .order_by(ProjectEvent.id)))
    linked = [tuple(r) for r in session.execute(
        select(Ticket.number, Ticket.created_at, Ticket.state).join(ProjectTicket, ProjectTicket.ticket_id == Ticket.id)
        .where(ProjectTicket.project_id == project.id).order_by(Ticket.created_at.desc()))]
    since = periods.window(periods.shift(_start_month(project), -rules.DEFAULT_MONTHS), settings.tz)[0]
    theme = _theme_filter(session, project)
    count = session.scalar(theme(select(func.count()).select_from(Ticket)).where(Ticket.created_at >= since)) or 0
    place = [tuple(r) for r in session.execute(
        theme(select(Ticket.number, Ticket.created_at, Ticket.state).select_from(Ticket))
        .where(Ticket.created_at >= since).order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(recent))]
    return ProjectView(project, milestones, updates, events, linked, place, int(count))


def _start_month(project: Project) -> str:
    return f"{project.started_on.year:04d}-{project.started_on.month:02d}"


# --- where a project's tickets are -------------------------------------------------------------------------

PLACE_LEVELS = (AreaLevel.community, AreaLevel.street, AreaLevel.district, AreaLevel.complex)


def _place_key(level: AreaLevel):
    """(the key of the place at `level` a ticket counts for, the filter to tickets at that level or below).
    A complex's tickets count for its community; the parent is joined as `parent_area`."""
    parent = aliased(Area, name="parent_area")
    if level == AreaLevel.community:
        return (case((Area.level == AreaLevel.complex, parent.code), else_=Area.code),
                Area.level.in_((AreaLevel.community, AreaLevel.complex)), parent)
    if level == AreaLevel.street:
        return Area.street_code, Area.street_code.is_not(None), None
    if level == AreaLevel.district:
        return Ticket.district_code, Ticket.district_code.is_not(None), None
    return Area.code, Area.level == AreaLevel.complex, None


def _theme_filter(session: Session, project: Project):
    """A function adding to a SELECT over tickets: the project's category (and keywords), and its place."""
    ids = _roots(session).ids_under(project.category)
    words = project.keywords.split()
    area = project.area

    def apply(q: Select) -> Select:
        q = q.join(Request, Request.id == Ticket.request_id).where(Ticket.category_id.in_(ids),
                                                                   Ticket.state != TicketState.merged)
        match = _keywords_match(words)
        if match is not None:
            q = q.where(match)
        if area is not None:
            key, at_level, parent = _place_key(area.level)
            q = q.join(Area, Area.id == Ticket.area_id)
            if parent is not None:
                q = q.outerjoin(parent, parent.id == Area.parent_id)
            q = q.where(at_level, key == area.code)
        return q

    return apply


# --- effect -----------------------------------------------------------------------------------------------

@dataclass
class PlaceChange:
    code: str
    name: str
    district: str
    before: float  # tickets a month
    after: float
    change: float
    placebo: float | None  # its effect against the other comparison places


@dataclass
class EffectReport:
    project_id: int
    title: str
    place_code: str | None
    place_name: str | None
    level: str | None
    category: str
    keywords: str
    started_on: date
    start_month: str  # the works month: counted in neither period
    months: list[str]  # the series' months, oldest first
    before_months: list[str]
    after_months: list[str]
    project_series: list[int]
    comparison_series: list[float | None]  # the comparison places' mean per month
    project_dissatisfaction: list[float | None]
    comparison: list[PlaceChange]
    effect: rules.Effect | None
    dissatisfaction: rules.Effect | None  # on the shares not satisfied, before vs after (no months: one value each)
    note: str
    k: int
    formula: str = rules.EFFECT_FORMULA
    extra: dict = field(default_factory=dict)

    def chart(self) -> dict:
        """What the effect chart draws: the months, the project's series and the comparison places' mean."""
        return {"months": self.months, "project": self.project_series, "comparison": self.comparison_series,
                "start_month": self.start_month, "before": self.before_months, "after": self.after_months}

    def to_dict(self) -> dict:
        def eff(e: rules.Effect | None) -> dict | None:
            if e is None:
                return None
            return {"before": e.before, "after": e.after, "change": e.change,
                    "comparison_before": e.comparison_before, "comparison_after": e.comparison_after,
                    "comparison_change": e.comparison_change, "effect": e.effect, "percent": e.percent,
                    "low": e.low, "high": e.high, "places": e.places, "formula": e.formula()}

        return {"project_id": self.project_id, "title": self.title, "place_code": self.place_code,
                "place_name": self.place_name, "level": self.level, "category": self.category,
                "keywords": self.keywords, "started_on": self.started_on.isoformat(),
                "start_month": self.start_month, "k": self.k, "formula": self.formula, "note": self.note,
                "effect": eff(self.effect), "dissatisfaction": eff(self.dissatisfaction),
                "chart": self.chart(), "project_dissatisfaction": self.project_dissatisfaction,
                "comparison": [vars(p) for p in self.comparison]}


def effect(session: Session, actor: Actor, settings: Settings, clock: Clock, project_id: int,
           months: int = rules.DEFAULT_MONTHS, k: int = rules.DEFAULT_K) -> EffectReport:
    """The project's effect on its place's tickets (and dissatisfaction) as a difference in differences."""
    if not 1 <= months <= 36:
        raise InvalidInput("months must be between 1 and 36", field="months")
    if not 1 <= k <= 50:
        raise InvalidInput("k must be between 1 and 50", field="k")
    project = _load(session, actor, project_id)
    tz = settings.tz
    start = _start_month(project)
    last_full = periods.shift(periods.period_of(clock.now(), tz), -1)
    first = periods.shift(start, -months)
    end = start if last_full <= start else min(last_full, periods.shift(start, months))
    labels = _month_labels(end, _span(first, end) + 1)
    si = months  # the works month's index
    li = min(_span(first, last_full), len(labels) - 1)  # the last full month's (below si: none after yet)
    before_i, after_i = rules.month_windows(si, li, months)
    # Months before the first ticket the city has are no months of zero tickets: they are left out.
    earliest = session.scalar(select(func.min(Ticket.created_at)))
    if earliest is not None:
        first_month = periods.period_of(earliest, tz)
        before_i = [i for i in before_i if labels[i] >= first_month]
    base = dict(project_id=project.id, title=project.title, category=project.category.name,
                keywords=project.keywords, started_on=project.started_on, start_month=start, months=labels,
                before_months=[labels[i] for i in before_i], after_months=[labels[i] for i in after_i], k=k)
    ids = _roots(session).ids_under(project.category)
    words = project.keywords.split()
    area = project.area
    if area is None:  # a topic's project: its theme city-wide, before and after; no place to compare with
        series = _monthly(session, tz, labels, ids, words)
        return EffectReport(**base, place_code=None, place_name=None, level=None,
                            project_series=series.tickets, comparison_series=[None] * len(labels),
                            project_dissatisfaction=series.dissatisfaction, comparison=[], effect=None,
                            dissatisfaction=None,
                            note="城市范围的每月一题项目没有可比的未实施地点：只给出实施前后的月度变化，不计算双重差分",
                            extra=_before_after(series.tickets, before_i, after_i))
    counts, reached, unsat, district_of = _place_months(session, tz, labels, ids, words, area.level)
    others = _other_project_places(session, project)
    n = len(labels)
    mine = counts.get(area.code, np.zeros(n, np.int64))
    pre = {c: float(v[before_i].mean()) for c, v in counts.items()
           if c != area.code and c not in others and before_i}
    chosen = rules.nearest(float(mine[before_i].mean()) if before_i else 0.0, pre, k,
                           preferred={c for c in pre if district_of.get(c) == area.district_code})
    names = {code: name for code, name in session.execute(select(Area.code, Area.name)
                                                            .where(Area.code.in_(chosen)))} if chosen else {}
    eff = rules.did(mine[before_i].tolist(), mine[after_i].tolist(),
                    {c: (counts[c][before_i].tolist(), counts[c][after_i].tolist()) for c in chosen}) \
        if before_i and after_i else None
    shares = {}
    for c in chosen:
        rb, ra = reached[c][before_i].sum(), reached[c][after_i].sum()
        if rb and ra:
            shares[c] = ([unsat[c][before_i].sum() / rb], [unsat[c][after_i].sum() / ra])
    my_r, my_u = reached.get(area.code, np.zeros(n, np.int64)), unsat.get(area.code, np.zeros(n, np.int64))
    dis = None
    if before_i and after_i and my_r[before_i].sum() and my_r[after_i].sum():
        dis = rules.did([my_u[before_i].sum() / my_r[before_i].sum()], [my_u[after_i].sum() / my_r[after_i].sum()],
                        shares)
    placebo = dict(zip(chosen, eff.placebo, strict=True)) if eff is not None and eff.placebo else {}
    comparison = [PlaceChange(code=c, name=names.get(c, c), district=district_of.get(c, ""),
                              before=float(counts[c][before_i].mean()) if before_i else 0.0,
                              after=float(counts[c][after_i].mean()) if after_i else 0.0,
                              change=(float(counts[c][after_i].mean()) - float(counts[c][before_i].mean()))
                              if before_i and after_i else 0.0, placebo=placebo.get(c))
                  for c in chosen]
    mean_series = [float(np.mean([counts[c][i] for c in chosen])) if chosen else None for i in range(n)]
    note = ""
    if not before_i:
        note = "开工前没有工单数据的月份：不计算效果"
    elif not after_i:
        note = "开工当月之后还没有完整的月份：暂不计算效果"
    elif not chosen:
        note = "没有可比较的未实施项目地点：不计算双重差分"
    return EffectReport(**base, place_code=area.code, place_name=area.name, level=area.level.value,
                        project_series=mine.astype(int).tolist(), comparison_series=mean_series,
                        project_dissatisfaction=[u / r if r else None for u, r in zip(my_u.tolist(), my_r.tolist(),
                                                                                         strict=True)],
                        comparison=comparison, effect=eff, dissatisfaction=dis, note=note)


def _before_after(series: list[int], before_i: list[int], after_i: list[int]) -> dict:
    b = float(np.mean([series[i] for i in before_i])) if before_i else None
    a = float(np.mean([series[i] for i in after_i])) if after_i else None
    return {"before": b, "after": a, "change": a - b if a is not None and b is not None else None}


def _place_months(session: Session, tz: ZoneInfo, labels: list[str], ids: list[int], words: list[str],
                  level: AreaLevel):
    """Every place of the level: tickets, reached and unsatisfied callbacks per month, from one GROUP BY."""
    starts = _starts(labels, tz)
    key, at_level, parent = _place_key(level)
    month = _month_index(Ticket.created_at, starts).label("m")
    place = key.label("place")
    cb = _callbacks(starts[0])
    q = (select(place, Area.district_code, month, func.count(), func.sum(func.coalesce(cb.c.reached, 0)),
                func.sum(func.coalesce(cb.c.unsatisfied, 0)))
         .select_from(Ticket).join(Request, Request.id == Ticket.request_id).join(Area, Area.id == Ticket.area_id))
    if parent is not None:
        q = q.outerjoin(parent, parent.id == Area.parent_id)
    q = (q.outerjoin(cb, cb.c.ticket_id == Ticket.id)
         .where(Ticket.created_at >= starts[0], Ticket.created_at < starts[-1], Ticket.state != TicketState.merged,
                Ticket.category_id.in_(ids), at_level)
         .group_by(place, Area.district_code, month))
    match = _keywords_match(words)
    if match is not None:
        q = q.where(match)
    n = len(labels)
    counts: dict[str, np.ndarray] = {}
    reached: dict[str, np.ndarray] = {}
    unsat: dict[str, np.ndarray] = {}
    district_of: dict[str, str] = {}
    for code, district, m, c, r, u in session.execute(q):
        if code is None:
            continue
        for table, v in ((counts, c), (reached, r), (unsat, u)):
            table.setdefault(code, np.zeros(n, np.int64))[m] += int(v or 0)
        district_of[code] = district or ""
    return counts, reached, unsat, district_of


def _other_project_places(session: Session, project: Project) -> set[str]:
    """The places that had a project of their own in the category: no comparison for this one."""
    return set(session.scalars(select(Area.code).join(Project, Project.area_id == Area.id)
                               .where(Project.category_id == project.category_id, Project.id != project.id,
                                      Project.status != ProjectStatus.cancelled)))


# --- Excel ------------------------------------------------------------------------------------------------

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def effect_xlsx(report: EffectReport, generated_at: datetime | None = None, tz: ZoneInfo | None = None) -> bytes:
    """The effect as a workbook: the summary with the formula written out, the monthly series (the project and
    the comparison places' mean), and the comparison places."""
    from openpyxl import Workbook  # noqa: PLC0415 - only the export needs it
    from openpyxl.chart import LineChart, Reference
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    bold, head = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    ws = wb.active
    ws.title = "效果汇总"
    place = report.place_name or "全市"
    ws.append([f"治理项目效果评估：{report.title}"])
    ws["A1"].font = Font(size=14, bold=True)
    rows: list[tuple[str, object]] = [
        ("项目编号", report.project_id), ("地点", f"{place}（{report.place_code or '—'}）"),
        ("问题类别", f"{report.category}{' · ' + report.keywords if report.keywords else ''}"),
        ("开工日期", report.started_on.isoformat()), ("开工当月（不计入前后）", report.start_month),
        ("实施前月份", f"{report.before_months[0]} 至 {report.before_months[-1]}" if report.before_months else "—"),
        ("实施后月份", f"{report.after_months[0]} 至 {report.after_months[-1]}" if report.after_months else "—"),
        ("对照地点数", len(report.comparison)), ("公式", report.formula)]
    e = report.effect
    if e is not None:
        rows += [("本项目实施前月均", round(e.before, 2)), ("本项目实施后月均", round(e.after, 2)),
                 ("对照地点实施前月均", round(e.comparison_before, 2)),
                 ("对照地点实施后月均", round(e.comparison_after, 2)),
                 ("效果（件/月）", round(e.effect, 2)),
                 ("相对效果", e.percent if e.percent is not None else "—"),
                 ("区间（安慰剂）", f"{e.low:+.2f} 至 {e.high:+.2f}" if e.low is not None else "—（对照地点不足2个）"),
                 ("计算", e.formula())]
    else:
        rows.append(("效果", report.note or "—"))
    if report.dissatisfaction is not None:
        rows.append(("不满意率的双重差分（百分点）", round(100 * report.dissatisfaction.effect, 1)))
    if generated_at is not None:
        rows.append(("生成时间", generated_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if tz else
                     generated_at.isoformat()))
    for label, value in rows:
        ws.append([label, value])
        ws.cell(ws.max_row, 1).font = bold
        if label == "相对效果" and isinstance(value, float):
            ws.cell(ws.max_row, 2).number_format = "0.0%"
        ws.cell(ws.max_row, 2).alignment = Alignment(wrap_text=True, vertical="top")
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 26, 90

    ws = wb.create_sheet("月度序列")
    ws.append(["月份", "阶段", f"{place} 工单量", "对照地点平均工单量", f"{place} 不满意率"])
    for i, c in enumerate(ws[1], start=1):
        c.font, c.fill = bold, head
        ws.column_dimensions[get_column_letter(i)].width = 18
    for i, m in enumerate(report.months):
        phase = "实施前" if m in report.before_months else "实施后" if m in report.after_months else \
            "开工当月" if m == report.start_month else ""
        cmp = report.comparison_series[i]
        ws.append([m, phase, report.project_series[i], round(cmp, 2) if cmp is not None else None,
                   report.project_dissatisfaction[i]])
        ws.cell(ws.max_row, 5).number_format = "0.0%"
    ws.freeze_panes = "A2"
    if report.months:  # the effect chart, as the page draws it: the place against the comparison places' mean
        chart = LineChart()
        chart.title, chart.y_axis.title, chart.height, chart.width = "月度工单量", "件", 9, 22
        last = len(report.months) + 1
        chart.add_data(Reference(ws, min_col=3, max_col=4, min_row=1, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=last))
        ws.add_chart(chart, "G2")

    ws = wb.create_sheet("对照地点")
    ws.append(["代码", "名称", "所属区", "实施前月均", "实施后月均", "变化", "安慰剂效果"])
    for i, c in enumerate(ws[1], start=1):
        c.font, c.fill = bold, head
        ws.column_dimensions[get_column_letter(i)].width = 16 if i != 2 else 30
    for p in report.comparison:
        ws.append([p.code, p.name, p.district, round(p.before, 2), round(p.after, 2), round(p.change, 2),
                   round(p.placebo, 2) if p.placebo is not None else None])
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def check_visible(actor: Actor) -> None:
    """Whether the actor may read topics and projects at all (the pages ask before drawing a board)."""
    if actor.role is None:
        raise PermissionDenied("log in to see topics and projects")
    require(actor, Permission.project_read)
