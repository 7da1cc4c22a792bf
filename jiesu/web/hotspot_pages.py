"""The pages of proactive governance (主动治理): the supervisor's board (/hotspots) with the map, the surges to
acknowledge, the hot spots, the topics of the month and the projects; a hot spot's page, a surge's page, the
topics (/topics) and a project's page with its effect chart and Excel report. A street or a department sees the
same board narrowed to its area (the service decides what each actor sees), without the supervisors' buttons.

Each handler calls the same service functions as the API and the CLI (jiesu/hotspots/service.py,
jiesu/hotspots/projects.py); pictures are plain SVG computed in web/hotspot_charts.py.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jiesu.api.deps import ActorDep, ClockDep, SessionDep, SettingsDep
from jiesu.api.security import require_form_token
from jiesu.assessment import rules as periods
from jiesu.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from jiesu.hotspots import projects, rules
from jiesu.hotspots import service as hotspots
from jiesu.hotspots.models import HotSpotTicket
from jiesu.hotspots.rules import (
    Effect,
    HotSpotLabel,
    HotSpotStatus,
    ProjectStatus,
    ProjectStep,
    SurgeStatus,
    TopicStatus,
)
from jiesu.limits import MAX_CODE, MAX_REASON, MAX_TEXT, MAX_TITLE, MAX_UNIT_CODE
from jiesu.permissions import Actor, Permission, Role, can
from jiesu.places.models import Area, AreaLevel
from jiesu.public import service as public
from jiesu.taxonomy import service as taxonomy
from jiesu.tickets.models import Request as TicketRequest
from jiesu.tickets.models import Ticket
from jiesu.units import service as units
from jiesu.units.models import Unit, UnitKind
from jiesu.web import hotspot_charts as charts
from jiesu.web import pages

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_form_token)])

BOARD_LIMIT = 200  # hot spots listed (and drawn) on the board: the highest scores
TICKETS_SHOWN = 100  # tickets listed on a hot spot's or a surge's page
SURGES_SHOWN = 50  # surges waiting on the board
HANDLED_SHOWN = 10  # the latest surges looked at: those among them already handled are listed below
CANDIDATES_SHOWN = 3  # topic candidates on the board (all of them on /topics)
CANDIDATES_TTL = 600.0  # seconds the process keeps the ranked candidates: a year of tickets changes slowly
MAX_UNITS_LISTED = 500  # units offered in a form's list
MAX_ID = 2**31 - 1
MAP_TTL = 300.0  # seconds the process keeps the districts' drawing
_map_lock = threading.Lock()

# What the pages say after a step (sentences: the catalogue translates them).
NOTICES = {"acknowledged": "已确认突发", "surge_dismissed": "已排除突发", "watch": "已加入关注",
           "unwatch": "已取消关注", "dismiss": "已排除热点", "reopen": "热点已重新打开", "adopted": "已立题",
           "created": "治理项目已创建", "update": "已记录进展", "start": "项目已开始实施", "finish": "项目已完成",
           "cancel": "项目已撤销", "milestone": "已添加里程碑", "milestone_done": "里程碑已完成"}


# --- the map -------------------------------------------------------------------------------------

def _frame(request: Request, session: Session) -> charts.Frame:
    """The districts' drawing and projection, kept per process for MAP_TTL (the shapes change with an import)."""
    state = request.app.state
    kept = getattr(state, "hotspot_map", None)
    if kept is not None and time.monotonic() - kept[0] < MAP_TTL:
        return kept[1]
    with _map_lock:
        doc, names = public.district_shapes(session)
        f = charts.frame({feat["id"]: feat["geometry"] for feat in doc["features"]}, names)
        state.hotspot_map = (time.monotonic(), f)
    return f


def _positions(session: Session, ids: list[int]) -> dict[int, tuple[float | None, float | None]]:
    """The mean position of each hot spot's linked tickets that have one (one GROUP BY)."""
    if not ids:
        return {}
    rows = session.execute(select(HotSpotTicket.hotspot_id, func.avg(TicketRequest.lng), func.avg(TicketRequest.lat))
                           .join(Ticket, Ticket.id == HotSpotTicket.ticket_id)
                           .join(TicketRequest, TicketRequest.id == Ticket.request_id)
                           .where(HotSpotTicket.hotspot_id.in_(ids), TicketRequest.lng.is_not(None),
                                  TicketRequest.lat.is_not(None))
                           .group_by(HotSpotTicket.hotspot_id))
    return {hid: (lng, lat) for hid, lng, lat in rows}


def _points(session: Session, f: charts.Frame, rows: list[HotSpotView],
            focus: set[str] | None = None) -> tuple[list[charts.Point], charts.View]:
    """The hot spots as points on the map, and the part of the map to show: the whole city, or the districts in
    `focus` (a filter, a hot spot's own page, a unit's area). Sizes are kept on screen whatever the zoom."""
    mean = _positions(session, [r.id for r in rows])
    placed = []
    for r in sorted(rows, key=lambda r: -r.tickets):  # the big ones first: the small stay clickable on top
        at = charts.place_point(f, mean.get(r.id), r.centre, r.district_code)
        if at is not None:
            placed.append((r, at))
    shown = charts.view(f, focus or set(), [(x, y) for _r, (x, y, _e) in placed]) if focus else charts.view(f, set())
    most = max((r.tickets for r in rows), default=0)
    out = []
    for r, (x, y, exact) in placed:
        colour = charts.LABEL_COLOURS.get(r.label, "#667085")
        title = f"{r.title or r.category} · {r.place} · {r.tickets}"
        out.append(charts.Point(r.id, x, y, round(charts.radius(r.tickets, most) * shown.zoom, 2), colour, r.label,
                                title, exact))
    return charts.spread(out, shown.zoom), shown


# --- rows the templates show ---------------------------------------------------------------------

@dataclass
class HotSpotView:
    id: int
    area_id: int
    title: str
    place: str
    place_code: str
    district: str
    district_code: str
    street_code: str
    category: str
    label: str
    status: str
    tickets: int
    score: float
    observed: int
    expected: float
    p_value: float
    first_day: date
    last_day: date
    series: list[int]
    project_id: int | None
    centre: tuple[float | None, float | None]


def hotspot_view(r: hotspots.HotSpotRow, districts: dict[str, str]) -> HotSpotView:
    h = r.spot
    try:
        series = [int(v) for v in json.loads(h.series or "[]")]
    except (ValueError, TypeError):
        series = []
    return HotSpotView(h.id, h.area_id, h.title, r.place, h.place_code, districts.get(h.district_code, ""),
                       h.district_code, h.street_code, r.category, h.label.value, h.status.value, h.tickets, h.score,
                       h.observed, h.expected, h.p_value, h.first_day, h.last_day, series, h.project_id,
                       (r.lng, r.lat))


@dataclass
class SurgeView:
    id: int
    title: str
    place: str
    district: str
    category: str
    status: str
    observed: int
    expected: float
    p_value: float
    window_hours: int
    first_at: datetime
    last_at: datetime
    raised_at: datetime
    tickets: int


def surge_view(r: hotspots.HotSpotRow, districts: dict[str, str]) -> SurgeView:
    s = r.spot
    return SurgeView(s.id, s.title, r.place, districts.get(s.district_code, ""), r.category, s.status.value,
                     s.observed, s.expected, s.p_value, s.window_hours, s.first_at, s.last_at, s.raised_at, s.tickets)


def brief(t: hotspots.LinkedTicket, width: int = 50) -> str:
    text = (t.title or t.text or "").strip()
    return text if len(text) <= width else text[:width] + "…"


def one(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def prob(p: float | None) -> str:
    """A probability as a person reads it: 0.0004 → 1/2500, never 0."""
    if p is None:
        return "—"
    if p < 1e-6:
        return "< 1/1,000,000"
    if p < 0.01:
        return f"1/{round(1 / p):,}"
    return f"{p:.2f}"


def _common(settings, actor: Actor) -> dict:
    return {"local": pages.local_time(settings.tz), "one": one, "prob": prob, "colours": charts.LABEL_COLOURS,
            "brief": brief, "district_url": lambda code: pages.url_with("/hotspots", {"district": code}),
            "manage": can(actor.role, Permission.hotspot_manage)}


def _guard(request: Request, session: Session, actor: Actor) -> Response | None:
    if actor.role is None:
        return RedirectResponse(pages.login_url(pages.here(request)), status_code=303)
    if not can(actor.role, Permission.hotspot_read):
        return pages.error_page(request, actor, 403, session=session, message="无权查看主动治理")
    return None


def _managing(actor: Actor) -> bool:
    return can(actor.role, Permission.hotspot_manage)


def _back(value: str, default: str) -> str:
    """Where a form's `next` sends the browser: a path of this site, else `default`."""
    target = pages.local_path(value)
    return target if target and target != "/" else default


def _district_names(session: Session, actor: Actor) -> dict[str, str]:
    return {d.code: d.name for d in pages.district_list(session, actor)}


# --- the board -----------------------------------------------------------------------------------

@dataclass
class Filters:
    status: str = ""
    label: str = ""
    district: str = ""
    category: str = ""

    def params(self) -> dict[str, str]:
        return {"status": self.status, "label": self.label, "district": self.district, "category": self.category}


def _filters(status: str, label: str, district: str, category: str, districts: dict[str, str],
             categories: dict[str, str]) -> Filters:
    """The board's filters, checked: a value that is none of the choices is refused naming its field."""
    if status not in ("", *HotSpotStatus):
        raise InvalidInput("status is one of " + ", ".join(HotSpotStatus), field="status")
    if label not in ("", *HotSpotLabel):
        raise InvalidInput("label is one of " + ", ".join(HotSpotLabel), field="label")
    if district and district not in districts:
        raise InvalidInput("district is a district's code", field="district")
    if category and category not in categories:
        raise InvalidInput("category is a first-level category's code", field="category")
    return Filters(status, label, district, category)


def _categories(session: Session, actor: Actor) -> dict[str, str]:
    return {c.code: c.name for c in taxonomy.list_categories(session, actor, level=1)}


@router.get("/hotspots", response_class=HTMLResponse)
def board(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
          status: str = "", label: str = "", district: str = "", category: str = "") -> Response:
    refused = _guard(request, session, actor)
    if refused is not None:
        return refused
    names, cats = _district_names(session, actor), _categories(session, actor)
    try:
        f = _filters(status[:16], label[:16], district[:MAX_CODE], category[:MAX_CODE], names, cats)
    except InvalidInput as exc:
        return pages.error_page(request, actor, 422, session=session, field=exc.field)
    found = hotspots.list_hotspots(session, actor, status=f.status or None, label=f.label or None,
                                   district=f.district or None, category=f.category or None, limit=BOARD_LIMIT)
    rows = [hotspot_view(r, names) for r in found.rows]
    raised = hotspots.list_surges(session, actor, status=SurgeStatus.raised.value, limit=SURGES_SHOWN)
    surges = [surge_view(r, names) for r in raised.rows]
    # the last ones handled, so that a surge just acknowledged is still found (newest first, whatever status)
    handled = [surge_view(r, names) for r in hotspots.list_surges(session, actor, limit=HANDLED_SHOWN).rows
               if r.spot.status != SurgeStatus.raised]
    frame = _frame(request, session)
    scope = _scope(session, actor)
    focus = {f.district} if f.district else ({scope.district} if scope.district else set()) | {
        r.district_code for r in rows} if scope else None
    points, shown = _points(session, frame, rows, focus)
    show_topics = can(actor.role, Permission.project_read)
    adopted, candidates, going = [], [], []
    if show_topics:
        adopted, candidates, going = _board_topics_and_projects(request.app.state, session, actor, clock, settings)
    counts = {"raised": raised.total, "topics": len(adopted),
              "open": sum(1 for r in rows if r.status == HotSpotStatus.open),
              "projects": len(going)}
    return pages.render(
        request, "hotspots_board.html", actor, session=session, **{
            **_common(settings, actor),
            "district_url": lambda code: pages.url_with("/hotspots", {**f.params(), "district": code})},
        hotspots=rows, total=found.total, surges=surges, handled=handled, map=frame, points=points, view=shown, f=f,
        statuses=list(HotSpotStatus), labels=list(HotSpotLabel),
        districts=[{"code": c, "name": n} for c, n in names.items()],
        categories=[{"code": c, "name": n} for c, n in cats.items()], show_topics=show_topics, adopted=adopted,
        candidates=candidates, projects=going, counts=counts, scope=scope,
        base_path="/hotspots", back=pages.url_with("/hotspots", f.params()),
        notice=NOTICES.get(request.query_params.get("done", "")))


@dataclass(frozen=True)
class Scope:
    unit: str
    district: str  # the district of the unit's area ("" for a city-wide unit): the map shows it


def _scope(session: Session, actor: Actor) -> Scope | None:
    """The area a unit's member sees (the service narrows every list to it), None for those who see the city."""
    if actor.role in (Role.supervisor, Role.admin, Role.dispatcher) or actor.unit_id is None:
        return None
    row = session.execute(select(Unit.name, Area.code, Area.level, Area.district_code)
                          .outerjoin(Area, Area.id == Unit.area_id).where(Unit.id == actor.unit_id)).first()
    if row is None:
        return None
    name, code, level, district = row
    return Scope(name, code if level == AreaLevel.district else district or "")


def _kept_candidates(state, month: str) -> projects.Candidates | None:
    kept = getattr(state, "topic_candidates", None)
    if kept is None or kept[1] != month or time.monotonic() - kept[0] > CANDIDATES_TTL:
        return None
    return kept[2]


def _candidates(state, session: Session, actor: Actor, settings, clock) -> projects.Candidates:
    """The ranked candidates (a read of a year of tickets: about a second on the demo, more on a big city), kept
    per process for CANDIDATES_TTL and dropped when this process adopts one."""
    month = periods.period_of(clock.now(), settings.tz)
    kept = _kept_candidates(state, month)
    if kept is None:
        kept = projects.topic_candidates(session, actor, settings, clock)
        state.topic_candidates = (time.monotonic(), month, kept)
    return kept


def _board_topics_and_projects(request_state, session: Session, actor: Actor, clock,
                               settings) -> tuple[list, list, list]:
    """This month's adopted topics, the best few candidates (for those who adopt them), and the projects not yet
    finished; a unit's member sees the topics and projects its unit takes part in (the service narrows them)."""
    month = periods.period_of(clock.now(), settings.tz)
    adopted = [t for t in projects.list_topics(session, actor, TopicStatus.adopted) if t.month == month]
    candidates = []
    if can(actor.role, Permission.project_manage):
        kept = _kept_candidates(request_state, month)  # never ranked here: /topics ranks, the board shows
        candidates = kept.items[:CANDIDATES_SHOWN] if kept else []
    going = [p for p in projects.list_projects(session, actor)
             if p.status in (ProjectStatus.planned, ProjectStatus.underway)]
    return adopted, candidates, going


# --- a hot spot ----------------------------------------------------------------------------------

def week_labels(last_day: date, n: int) -> list[str]:
    """The weeks of a series of n weekly counts ending with the week of `last_day`, each as the month/day of its
    first day."""
    return [(last_day - timedelta(days=7 * (n - 1 - i) + 6)).strftime("%m/%d") for i in range(n)]


def _hotspot_page(request: Request, session: Session, actor: Actor, settings, hotspot_id: int,
                  status_code: int = 200, error: str | None = None, field: str | None = None) -> Response:
    names = _district_names(session, actor)
    try:
        d = hotspots.get_hotspot(session, actor, hotspot_id, limit=TICKETS_SHOWN)
    except NotFound:
        return pages.error_page(request, actor, 404, session=session)
    h = hotspot_view(d.row, names)
    frame = _frame(request, session)
    points, shown = _points(session, frame, [h], {h.district_code})
    return pages.render(
        request, "hotspots_hotspot.html", actor, status_code, session=session, **_common(settings, actor), h=h,
        tickets=d.tickets, linked=d.linked, map=frame, points=points, view=shown,
        trend=charts.bars(h.series, week_labels(h.last_day, len(h.series))),
        steps=hotspots.steps_for(actor, "hotspot", h.status), events=d.events, step_labels=STEP_LABELS,
        error=error, field=field, notice=NOTICES.get(request.query_params.get("done", "")))


@router.get("/hotspots/{hotspot_id}", response_class=HTMLResponse)
def hotspot_page(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
                 hotspot_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
    refused = _guard(request, session, actor)
    if refused is not None:
        return refused
    return _hotspot_page(request, session, actor, settings, hotspot_id)


# The steps as the buttons and the history say them (the catalogue translates them).
STEP_LABELS = {"watch": "关注", "unwatch": "取消关注", "dismiss": "排除", "reopen": "重新打开", "project": "立项",
               "found": "发现", "raised": "发现", "acknowledge": "确认"}
HOTSPOT_ERRORS = {"reason": "排除须填写原因", "status": "状态已变化，请刷新后重试", "step": "不支持此操作"}


def _refused_step(exc: DomainError) -> str:
    return HOTSPOT_ERRORS.get(exc.field or "", "无法完成此操作，请刷新后重试")


@router.post("/hotspots/{hotspot_id}/{step}", response_class=HTMLResponse)
def hotspot_step(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                 hotspot_id: Annotated[int, Path(ge=1, le=MAX_ID)], step: str,
                 reason: Annotated[str, Form(max_length=MAX_REASON)] = "") -> Response:
    refused = _guard(request, session, actor)
    if refused is not None:
        return refused
    step = step[:16]
    try:
        with session.begin_nested():  # a refusal half-way leaves nothing behind
            hotspots.act(session, actor, clock, hotspot_id, step, reason, kind="hotspot")
    except NotFound:
        return pages.error_page(request, actor, 404, session=session)
    except PermissionDenied:
        return pages.error_page(request, actor, 403, session=session, message="无权处理热点")
    except DomainError as exc:
        return _hotspot_page(request, session, actor, settings, hotspot_id, exc.status, error=_refused_step(exc),
                             field=exc.field)
    return RedirectResponse(f"/hotspots/{hotspot_id}?done={step}", status_code=303)


# --- a surge -------------------------------------------------------------------------------------

def _surge_page(request: Request, session: Session, actor: Actor, settings, surge_id: int, status_code: int = 200,
                error: str | None = None, field: str | None = None) -> Response:
    names = _district_names(session, actor)
    try:
        d = hotspots.get_surge(session, actor, surge_id, limit=TICKETS_SHOWN)
    except NotFound:
        return pages.error_page(request, actor, 404, session=session)
    return pages.render(
        request, "hotspots_surge.html", actor, status_code, session=session, **_common(settings, actor),
        s=surge_view(d.row, names), tickets=d.tickets, linked=d.linked, events=d.events, step_labels=STEP_LABELS,
        error=error, field=field, notice=NOTICES.get(request.query_params.get("done", "")),
        back=f"/surges/{surge_id}")


@router.get("/surges/{surge_id}", response_class=HTMLResponse)
def surge_page(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
               surge_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
    refused = _guard(request, session, actor)
    if refused is not None:
        return refused
    return _surge_page(request, session, actor, settings, surge_id)


SURGE_DONE = {"acknowledge": "acknowledged", "dismiss": "surge_dismissed"}


@router.post("/surges/{surge_id}/{step}", response_class=HTMLResponse)
def surge_step(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
               surge_id: Annotated[int, Path(ge=1, le=MAX_ID)], step: str,
               reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
               back: Annotated[str, Form(alias="next", max_length=pages.MAX_NEXT)] = "") -> Response:
    refused = _guard(request, session, actor)
    if refused is not None:
        return refused
    step = step[:16]
    try:
        with session.begin_nested():
            hotspots.act(session, actor, clock, surge_id, step, reason, kind="surge")
    except NotFound:
        return pages.error_page(request, actor, 404, session=session)
    except PermissionDenied:
        return pages.error_page(request, actor, 403, session=session, message="无权处理突发")
    except DomainError as exc:
        return _surge_page(request, session, actor, settings, surge_id, exc.status, error=_refused_step(exc),
                           field=exc.field)
    return RedirectResponse(_with_done(_back(back, f"/surges/{surge_id}"), SURGE_DONE.get(step, ""))
                            + f"#surge-{surge_id}", status_code=303)


def _with_done(target: str, done: str) -> str:
    """`target` (a path of this site, maybe with its query) with done=… added: the page it leads to says what
    was done."""
    parts = urlsplit(target)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "done"] + [("done", done)]
    return pages.url_with(parts.path, query)


# --- topics of the month -------------------------------------------------------------------------

TOPIC_ERRORS = {"month": "请填写立题月份（YYYY-MM），同一题目同一月份只能立一次",
                "lead": "请选择牵头部门（市级委办局）", "units": "参与单位有误", "category": "请选择候选题目",
                "candidate": "请选择候选题目", "title": "题目名称过长"}
TOPIC_SERIES_MONTHS = 12  # months of each adopted topic's series on /topics
TOPICS_SHOWN = 12  # adopted topics with their series


def _units_of(session: Session, actor: Actor, *kinds: UnitKind) -> list[Unit]:
    out: list[Unit] = []
    for kind in kinds:
        found, _total = units.list_units(session, actor, kind=kind, active=True, limit=MAX_UNITS_LISTED)
        out += found
    return out


@dataclass
class Series:
    """A monthly series drawn as bars, with its numbers."""

    months: list[str]
    tickets: list[int]
    chart: charts.Bars


def _series(months: list[str], tickets: list[int]) -> Series:
    return Series(months, tickets, charts.bars(tickets, [m[2:] for m in months]))


def _topics_page(request: Request, session: Session, actor: Actor, clock, settings, status_code: int = 200,
                 error: str | None = None, field: str | None = None, posted: dict | None = None) -> Response:
    manage = can(actor.role, Permission.project_manage)
    candidates = _candidates(request.app.state, session, actor, settings, clock) if manage else None
    adopted = []
    for t in projects.list_topics(session, actor)[:TOPICS_SHOWN]:
        view = projects.topic_detail(session, actor, settings, clock, t.id)
        keep = view.series.months[-TOPIC_SERIES_MONTHS:]
        adopted.append({"topic": t, "view": view, "series": _series(keep, view.series.tickets[-len(keep):])})
    month = periods.period_of(clock.now(), settings.tz)
    return pages.render(
        request, "hotspots_topics.html", actor, status_code, session=session, **_common(settings, actor),
        candidates=candidates, adopted=adopted, manage_projects=manage, month=month,
        leads=_units_of(session, actor, UnitKind.department) if manage else [],
        others=_units_of(session, actor, UnitKind.department, UnitKind.district_government) if manage else [],
        error=error, field=field, posted=posted or {}, pct=pct,
        notice=NOTICES.get(request.query_params.get("done", "")))


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _project_guard(request: Request, session: Session, actor: Actor) -> Response | None:
    if actor.role is None:
        return RedirectResponse(pages.login_url(pages.here(request)), status_code=303)
    if not can(actor.role, Permission.project_read):
        return pages.error_page(request, actor, 403, session=session, message="无权查看每月一题与治理项目")
    return None


@router.get("/topics", response_class=HTMLResponse)
def topics_page(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep,
                settings: SettingsDep) -> Response:
    refused = _project_guard(request, session, actor)
    if refused is not None:
        return refused
    return _topics_page(request, session, actor, clock, settings)


@router.post("/topics", response_class=HTMLResponse)
def adopt_topic(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                candidate: Annotated[str, Form(max_length=MAX_CODE + 64)] = "",
                month: Annotated[str, Form(max_length=16)] = "",
                lead: Annotated[str, Form(max_length=MAX_UNIT_CODE)] = "",
                involved: Annotated[list[str] | None, Form(alias="units", max_length=MAX_UNIT_CODE)] = None,
                title: Annotated[str, Form(max_length=MAX_TITLE)] = "") -> Response:
    refused = _project_guard(request, session, actor)
    if refused is not None:
        return refused
    posted = {"candidate": candidate, "month": month, "lead": lead, "units": involved or [], "title": title}
    try:
        code, _sep, keyword = candidate.partition(":")
        if not code:
            raise InvalidInput("choose a candidate", field="candidate")
        with session.begin_nested():
            projects.adopt(session, actor, clock, settings, month=month.strip(), category=code,
                           keywords=keyword or None, lead=lead, units=list(involved or [])[:MAX_UNITS_LISTED],
                           title=title.strip() or None)
    except PermissionDenied:
        return pages.error_page(request, actor, 403, session=session, message="无权立题")
    except DomainError as exc:
        status = 422 if isinstance(exc, NotFound) else exc.status  # a unit code that is none: the field's fault
        return _topics_page(request, session, actor, clock, settings, status,
                            error=TOPIC_ERRORS.get(exc.field or "", "无法立题，请检查后重试"), field=exc.field,
                            posted=posted)
    request.app.state.topic_candidates = None  # their "adopted in" months changed
    return RedirectResponse("/topics?done=adopted#adopted", status_code=303)


# --- projects ------------------------------------------------------------------------------------

PROJECT_ERRORS = {"title": "请填写项目名称", "owner": "请选择责任单位", "started_on": "开工日期无效",
                  "hotspot": "该热点已立项或已排除，不能再立项", "status": "热点状态已变化，不能立项",
                  "topic": "题目不存在", "text": "请填写进展说明", "percent": "完成进度为 0 到 100 的整数",
                  "reason": "撤销须填写原因", "step": "项目当前状态不能进行此操作", "due_on": "请填写计划完成日期",
                  "done_on": "完成日期早于开工日期", "plan": "实施方案过长", "budget": "经费说明过长"}


def _project_error(exc: DomainError) -> str:
    return PROJECT_ERRORS.get(exc.field or "", "无法保存，请检查后重试")


def _new_project_page(request: Request, session: Session, actor: Actor, settings, clock, hotspot_id: int | None,
                      topic_id: int | None, status_code: int = 200, error: str | None = None,
                      field: str | None = None, posted: dict | None = None) -> Response:
    names = _district_names(session, actor)
    spot = topic = None
    try:
        if hotspot_id is not None:
            spot = hotspot_view(hotspots.get_hotspot(session, actor, hotspot_id, limit=1).row, names)
        elif topic_id is not None:
            topic = projects.get_topic(session, actor, topic_id)
        else:
            raise InvalidInput("give a hot spot or a topic", field="hotspot")
    except NotFound:
        return pages.error_page(request, actor, 404, session=session)
    except InvalidInput as exc:
        return pages.error_page(request, actor, 422, session=session, field=exc.field)
    owners = []
    if spot is not None:  # the streets of its district first: the usual owner of a complex's renovation
        found, _n = units.list_units(session, actor, kind=UnitKind.street, district_code=spot.district_code,
                                     active=True, limit=MAX_UNITS_LISTED)
        owners += found
    owners += _units_of(session, actor, UnitKind.district_government, UnitKind.department)
    title = (f"{spot.place}{spot.title or spot.category}治理" if spot else topic.title) if spot or topic else ""
    # the street the hot spot is in, when it is a unit: who usually owns a complex's works
    owner = spot.street_code if spot is not None and any(u.code == spot.street_code for u in owners) else ""
    defaults = {"title": title, "owner": owner, "plan": "", "budget": "",
                "started_on": clock.now().astimezone(settings.tz).date().isoformat()}
    return pages.render(
        request, "hotspots_project_new.html", actor, status_code, session=session, **_common(settings, actor),
        spot=spot, topic=topic, owners=owners, posted={**defaults, **(posted or {})}, error=error, field=field)


@router.get("/projects/new", response_class=HTMLResponse)
def new_project(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                hotspot: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                topic: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> Response:
    refused = _project_guard(request, session, actor)
    if refused is not None:
        return refused
    if not can(actor.role, Permission.project_manage):
        return pages.error_page(request, actor, 403, session=session, message="无权立项")
    return _new_project_page(request, session, actor, settings, clock, hotspot, topic)


def _date(value: str, name: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} is a date (YYYY-MM-DD)", field=name) from None


@router.post("/projects", response_class=HTMLResponse)
def create_project(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                   hotspot: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
                   topic: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
                   title: Annotated[str, Form(max_length=MAX_TITLE)] = "",
                   owner: Annotated[str, Form(max_length=MAX_UNIT_CODE)] = "",
                   plan: Annotated[str, Form(max_length=MAX_TEXT)] = "",
                   budget: Annotated[str, Form(max_length=MAX_TEXT)] = "",
                   started_on: Annotated[str, Form(max_length=16)] = "") -> Response:
    refused = _project_guard(request, session, actor)
    if refused is not None:
        return refused
    posted = {"title": title, "owner": owner, "plan": plan, "budget": budget, "started_on": started_on}
    try:
        new = projects.NewProject(owner=owner, title=title, hotspot_id=hotspot, topic_id=topic, plan=plan,
                                  budget=budget, started_on=_date(started_on, "started_on"))
        with session.begin_nested():
            made = projects.create_project(session, actor, clock, settings, new)
    except PermissionDenied:
        return pages.error_page(request, actor, 403, session=session, message="无权立项")
    except DomainError as exc:
        if isinstance(exc, NotFound) and exc.field in ("hotspot", "topic", "id", "hotspot_id"):
            return pages.error_page(request, actor, 404, session=session)
        status = 422 if isinstance(exc, NotFound) else exc.status  # a unit code typed that is none: the field's
        return _new_project_page(request, session, actor, settings, clock, hotspot, topic, status,
                                 error=_project_error(exc), field=exc.field, posted=posted)
    return RedirectResponse(f"/projects/{made.id}?done=created", status_code=303)


def effect_words(e: Effect | None) -> dict | None:
    """The difference in differences said in words: how many tickets a month more (or less) the place fell than
    its comparable places, and that share of its level before."""
    if e is None:
        return None
    return {"down": e.effect < 0, "n": f"{abs(e.effect):.1f}",
            "pct": None if e.percent is None else f"{abs(100 * e.percent):.0f}%", "sign": "−" if e.effect < 0 else "+"}


def _project_page(request: Request, session: Session, actor: Actor, settings, clock, project_id: int,
                  status_code: int = 200, error: str | None = None, field: str | None = None,
                  posted: dict | None = None) -> Response:
    try:
        view = projects.project_detail(session, actor, settings, project_id)
        report = projects.effect(session, actor, settings, clock, project_id)
    except NotFound:
        return pages.error_page(request, actor, 404, session=session)
    p = view.project
    chart = charts.lines(report.months, [("本项目", "project", [float(v) for v in report.project_series]),
                                         ("可比地点平均", "comparison", report.comparison_series)],
                         report.start_month)
    manage = can(actor.role, Permission.project_manage)
    reporter = manage or (actor.unit_id is not None and actor.unit_id == p.owner_unit_id)
    steps = [s.value for s in ProjectStep if rules.project_transition(p.status, s) is not None] if manage else []
    order = ["planned", "underway", "done"]
    return pages.render(
        request, "hotspots_project.html", actor, status_code, session=session, **_common(settings, actor),
        p=p, view=view, report=report, chart=chart, words=effect_words(report.effect), steps=steps,
        reporter=reporter and p.status not in ("done", "cancelled"), order=order,
        reached=order.index(p.status.value) if p.status.value in order else -1,
        error=error, field=field, posted=posted or {}, notice=NOTICES.get(request.query_params.get("done", "")),
        today=clock.now().astimezone(settings.tz).date().isoformat())


@router.get("/projects/{project_id}", response_class=HTMLResponse)
def project_page(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                 project_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
    refused = _project_guard(request, session, actor)
    if refused is not None:
        return refused
    return _project_page(request, session, actor, settings, clock, project_id)


@router.get("/projects/{project_id}/effect.xlsx")
def project_effect_xlsx(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep,
                        settings: SettingsDep, project_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
    """The effect report as the CLI's `jiesu projects effect ID --excel F` writes it."""
    refused = _project_guard(request, session, actor)
    if refused is not None:
        return refused
    try:
        report = projects.effect(session, actor, settings, clock, project_id)
    except NotFound:
        return pages.error_page(request, actor, 404, session=session)
    body = projects.effect_xlsx(report, clock.now(), settings.tz)
    return Response(body, media_type=projects.XLSX_MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="project-{project_id}-effect.xlsx"',
                             "Cache-Control": "no-store"})


def _project_post(request: Request, session: Session, actor: Actor, settings, clock, project_id: int, done: str,
                  work, posted: dict) -> Response:
    """Run one change of a project (an update, a step, a milestone): back to its page saying so, or the page with
    the error beside the form."""
    try:
        with session.begin_nested():
            work()
    except PermissionDenied:
        return pages.error_page(request, actor, 403, session=session, message="无权修改此项目")
    except NotFound:
        return pages.error_page(request, actor, 404, session=session)
    except DomainError as exc:
        return _project_page(request, session, actor, settings, clock, project_id, exc.status,
                             error=_project_error(exc), field=exc.field, posted=posted)
    return RedirectResponse(f"/projects/{project_id}?done={done}", status_code=303)


@router.post("/projects/{project_id}/updates", response_class=HTMLResponse)
def project_update(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                   project_id: Annotated[int, Path(ge=1, le=MAX_ID)],
                   text: Annotated[str, Form(max_length=MAX_TEXT)] = "",
                   percent: Annotated[str, Form(max_length=8)] = "") -> Response:
    refused = _project_guard(request, session, actor)
    if refused is not None:
        return refused

    def work() -> None:
        try:
            share = int(percent)
        except ValueError:
            raise InvalidInput("percent is a whole number from 0 to 100", field="percent") from None
        projects.add_update(session, actor, clock, project_id, text, share)

    return _project_post(request, session, actor, settings, clock, project_id, "update", work,
                         {"text": text, "percent": percent})


@router.post("/projects/{project_id}/milestones", response_class=HTMLResponse)
def project_milestone(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep,
                      settings: SettingsDep, project_id: Annotated[int, Path(ge=1, le=MAX_ID)],
                      title: Annotated[str, Form(max_length=MAX_TITLE)] = "",
                      due_on: Annotated[str, Form(max_length=16)] = "",
                      done_on: Annotated[str, Form(max_length=16)] = "") -> Response:
    refused = _project_guard(request, session, actor)
    if refused is not None:
        return refused

    def work() -> None:
        due = _date(due_on, "due_on")
        if due is None:
            raise InvalidInput("due_on is required", field="due_on")
        projects.milestone(session, actor, clock, project_id, title, due, _date(done_on, "done_on"))

    return _project_post(request, session, actor, settings, clock, project_id,
                         "milestone_done" if done_on.strip() else "milestone", work,
                         {"m_title": title, "due_on": due_on, "done_on": done_on})


@router.post("/projects/{project_id}/steps/{step}", response_class=HTMLResponse)
def project_step(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                 project_id: Annotated[int, Path(ge=1, le=MAX_ID)], step: str,
                 reason: Annotated[str, Form(max_length=MAX_REASON)] = "") -> Response:
    refused = _project_guard(request, session, actor)
    if refused is not None:
        return refused
    step = step[:16]
    return _project_post(request, session, actor, settings, clock, project_id, step,
                         lambda: projects.step(session, actor, clock, project_id, step, reason), {"reason": reason})
