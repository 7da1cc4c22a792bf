"""Pages of the callback desk (回访工作台), the citizen's survey (市民评价) and the assessment (考核与督办).

Each handler calls the same service functions as the API. The charts are plotly's, drawn in the browser by
the plotly.js that ships in the installed `plotly` wheel and is served from here: never from a CDN.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from jiesu import glossary
from jiesu.api.deps import ActorDep, ClockDep, SessionDep, SettingsDep
from jiesu.api.security import require_form_token
from jiesu.assessment import export
from jiesu.assessment import rules as periods
from jiesu.assessment import service as assessment
from jiesu.assessment.schemas import KIND_LABELS, RESOLUTION_NAMES, SATISFACTION_NAMES
from jiesu.callback import service as callback
from jiesu.callback.models import RESOLUTION_LABELS, SATISFACTION_LABELS, Resolution, Satisfaction
from jiesu.callback.schemas import reply_text
from jiesu.errors import DomainError, InvalidInput, PermissionDenied, TransitionNotAllowed
from jiesu.limits import MAX_CODE, MAX_PAGE_NUMBER, MAX_REASON, MAX_TOKEN, MAX_UNIT_CODE
from jiesu.permissions import Actor, Permission, Role, can, is_system
from jiesu.places.models import Area
from jiesu.tickets import service as tickets
from jiesu.tickets.models import Ticket, TicketEvent
from jiesu.tickets.rules import STATE_LABELS
from jiesu.units.models import Unit
from jiesu.web import pages
from jiesu.web.i18n import PLACE_KIND, context_translator, pick_language, translator

# Every unsafe request to a page needs its origin and the session's CSRF token.
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_form_token)])

PAGE_SIZE = 50
SUPERVISION_LIMIT = 50
TREND_MONTHS = 6
REOPENED_SHOWN = 10  # ticket links per unit in the list of units with reopened tickets
CHART_BARS = 50  # the ranking chart shows at most this many bars: the best and the worst halves
CARD_STEPS = 3  # the timeline's last steps on each card of the callback desk

# What the desk says after a callback is recorded (sentences: the catalogue translates them).
RESULT_NOTICES = {"closed": "回访完成，工单已办结", "reopened": "市民表示未解决，已转回承办单位重办",
                  "retry": "未联系上市民，稍后再次回访", "unreachable": "多次未联系上市民，工单已办结（未联系上）"}
MEASURE_LABELS = glossary.labels("measure", assessment.ALL_MEASURES)
SCORE_RESOLUTION = {score: RESOLUTION_LABELS[name] for score, name in RESOLUTION_NAMES.items()}
SCORE_SATISFACTION = {score: SATISFACTION_LABELS[name] for score, name in SATISFACTION_NAMES.items()}


# --- plotly.js, from the installed wheel ---------------------------------------------------------

def plotly_js_path() -> Path:
    spec = importlib.util.find_spec("plotly")  # found, not imported: the page needs only its JS file
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the plotly package is not installed (pip install plotly)")
    return Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"


@lru_cache(maxsize=1)
def _plotly_gzipped() -> tuple[bytes, str]:
    raw = plotly_js_path().read_bytes()
    return gzip.compress(raw, compresslevel=6, mtime=0), '"' + hashlib.sha256(raw).hexdigest()[:32] + '"'


def plotly_version() -> str:
    try:
        return importlib.metadata.version("plotly")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


PLOTLY_URL = "/static/vendor/plotly.min.js"


@router.get(PLOTLY_URL)
def plotly_js(request: Request) -> Response:
    """plotly.js from the installed plotly package (4-5 MB; about a third of that gzipped)."""
    body, etag = _plotly_gzipped()
    headers = {"Cache-Control": "public, max-age=86400", "ETag": etag, "Vary": "Accept-Encoding"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(body, media_type="text/javascript; charset=utf-8",
                        headers={**headers, "Content-Encoding": "gzip"})
    return FileResponse(plotly_js_path(), media_type="text/javascript; charset=utf-8", headers=headers)


# --- helpers -------------------------------------------------------------------------------------

def _lang(request: Request) -> str:
    return pick_language(request.query_params.get("lang"), request.cookies.get("lang"),
                         request.app.state.settings.language)


def group_labeller(lang: str):
    """A ranking group's name: 区 and 街道 as the places name them, 乡镇 and the departments' groups as such."""
    _, kind = translator(lang), context_translator(lang, PLACE_KIND)
    return lambda group: kind(group) if kind(group) != group else _(group)


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def points(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f}"


def _reopened_tickets(session: Session, unit_ids: list[int], start, end,
                      per_unit: int = REOPENED_SHOWN) -> dict[int, list[str]]:
    """The tickets reopened (重办) in [start, end) of each unit, as supervision.reopened_units counts them: by
    the ticket's main unit."""
    out: dict[int, list[str]] = {uid: [] for uid in unit_ids}
    if not unit_ids:
        return out
    rows = session.execute(select(Ticket.main_unit_id, Ticket.number)
                           .join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
                           .where(TicketEvent.action == "reopen", TicketEvent.at >= start, TicketEvent.at < end,
                                  Ticket.main_unit_id.in_(unit_ids)).distinct().order_by(Ticket.number))
    for uid, number in rows:
        if len(out[uid]) < per_unit:
            out[uid].append(number)
    return out


def survey_link(request: Request, actor: Actor, t: Ticket) -> str | None:
    """The survey link of a replied ticket that waits for its callback, for those who send it (the callback desk)
    and for the citizen who made the request (callback.may_send_survey); None for anyone else. On the public
    address when the setting gives one (callback.survey_url)."""
    if not callback.may_send_survey(actor, t):
        return None
    return callback.survey_url(request.app.state.settings, t, str(request.base_url))


# ticket.html shows the link to whoever survey_link allows
pages.templates.env.globals["survey_link"] = survey_link


# --- the callback desk ---------------------------------------------------------------------------

def _flag(value: str, field: str) -> bool | None:
    if value == "":
        return None
    if value in ("1", "0"):
        return value == "1"
    raise InvalidInput(f"{field} is 1 or 0", field=field)


def _choice(enum, value: str, field: str):
    if value == "":
        return None
    if value not in enum._value2member_map_:
        raise InvalidInput(f"{field} is one of {', '.join(enum._value2member_map_)}", field=field)
    return enum(value)


def _queue_page(request: Request, session: Session, actor: Actor, settings, district: str, page: int,
                status_code: int = 200, errors: dict[str, str] | None = None,
                posted: dict[str, dict[str, str]] | None = None) -> Response:
    districts = pages.district_list(session, actor)
    district_code = district if district in {d.code for d in districts} else ""
    page = min(max(page, 1), MAX_PAGE_NUMBER)
    items, total = callback.queue(session, actor, PAGE_SIZE, (page - 1) * PAGE_SIZE, district_code or None,
                                  steps=CARD_STEPS)
    pages_n = max(1, -(-total // PAGE_SIZE))
    if page > pages_n:
        page = pages_n
        items, total = callback.queue(session, actor, PAGE_SIZE, (page - 1) * PAGE_SIZE, district_code or None,
                                      steps=CARD_STEPS)
    done, result = request.query_params.get("done", "")[:MAX_CODE], request.query_params.get("result", "")
    done_state = None
    if done and result in RESULT_NOTICES:
        try:
            done_state = STATE_LABELS[tickets.get(session, actor, done).state]
        except DomainError:
            done = ""
    rows = [{"i": i, "t": i.ticket, "summary": pages.summary(i.ticket.request, 60),
             "contact": pages.masked_contact(i.ticket.request), "reply": i.reply,
             "steps": [{"at": e.at, "action": pages.action_label(e.action), "actor": _who(e.actor),
                        "role": None if is_system(e.actor) else pages.role_label(e.role)} for e in i.steps]}
            for i in items]
    shown = {i.ticket.number for i in items}
    # an error about a ticket no longer listed (someone else called it back meanwhile) goes on top of the page
    elsewhere = {n: e for n, e in (errors or {}).items() if n not in shown}
    params = {"district": district_code}
    return pages.render(request, "callbacks.html", actor, status_code, session=session, rows=rows, total=total,
                        page=page, pages=pages_n, district=district_code, districts=districts,
                        max_attempts=settings.callback_attempts, local=pages.local_time(settings.tz),
                        done=done if done_state else "", done_state=done_state,
                        result_label=RESULT_NOTICES.get(result), result=result, errors=errors or {},
                        elsewhere=elsewhere,
                        posted=posted or {}, resolutions=RESOLUTION_LABELS, satisfactions=SATISFACTION_LABELS,
                        page_url=lambda n: pages.url_with("/callbacks", {**params, "page": n if n > 1 else ""}))


def _who(username: str) -> str:
    """Who took a step: the clock's and smart dispatch's steps are the system's (a sentence the catalogue
    translates), not an administrator's."""
    return "系统" if is_system(username) else username


@router.get("/callbacks", response_class=HTMLResponse)
def callbacks_page(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
                   district: str = "", page: int = 1) -> Response:
    if actor.role is None:
        return RedirectResponse(pages.login_url(pages.here(request)), status_code=303)
    if not can(actor.role, Permission.callback_work):
        return pages.error_page(request, actor, 403, session=session, message="无权使用回访工作台")
    return _queue_page(request, session, actor, settings, district[:MAX_CODE], page)


@router.post("/callbacks/{number}", response_class=HTMLResponse)
def record_callback(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                    number: str,
                    reached: Annotated[str, Form(max_length=1)] = "",
                    contacted: Annotated[str, Form(max_length=1)] = "",
                    resolution: Annotated[str, Form(max_length=16)] = "",
                    satisfaction: Annotated[str, Form(max_length=16)] = "",
                    comment: Annotated[str, Form(max_length=MAX_REASON)] = "",
                    district: Annotated[str, Form(max_length=MAX_CODE)] = "",
                    page: Annotated[int, Form(ge=1, le=MAX_PAGE_NUMBER)] = 1) -> Response:
    number = number[:MAX_CODE]
    if actor.role is None:
        return RedirectResponse(pages.login_url("/callbacks"), status_code=303)
    if not can(actor.role, Permission.callback_work):
        return pages.error_page(request, actor, 403, session=session, message="无权使用回访工作台")
    try:
        if reached not in ("1", "0"):
            raise InvalidInput("是否联系上市民？请选择", field="reached")
        answer = callback.Answer(reached=reached == "1", contacted=_flag(contacted, "contacted"),
                                 resolution=_choice(Resolution, resolution, "resolution"),
                                 satisfaction=_choice(Satisfaction, satisfaction, "satisfaction"), comment=comment)
        with session.begin_nested():  # a refusal half-way leaves nothing behind
            out = callback.record(session, actor, clock, settings, number, answer)
    except DomainError as exc:
        posted = {"reached": reached, "contacted": contacted, "resolution": resolution,
                  "satisfaction": satisfaction, "comment": comment}
        return _queue_page(request, session, actor, settings, district, page, status_code=exc.status,
                           errors={number: _callback_error(exc)}, posted={number: posted})
    target = pages.url_with("/callbacks", {"district": district, "page": page if page > 1 else "",
                                           "done": out.ticket.number, "result": out.result})
    return RedirectResponse(target, status_code=303)


FIELD_QUESTIONS = {"reached": "请选择是否联系上市民", "contacted": "请选择承办单位是否联系了市民",
                   "resolution": "请选择问题是否解决", "satisfaction": "请选择市民是否满意",
                   "comment": "备注最多 {n} 字"}  # n: MAX_REASON


def _callback_error(exc: DomainError) -> str:
    if isinstance(exc, InvalidInput) and exc.field in FIELD_QUESTIONS:
        return FIELD_QUESTIONS[exc.field]
    if isinstance(exc, TransitionNotAllowed):
        return "该工单已不在待回访状态（可能已由他人回访），请刷新"
    return "无法记录此次回访，请刷新后重试"


# --- the citizen's survey ------------------------------------------------------------------------

def _survey_ticket(session: Session, settings, token: str) -> tuple[Ticket | None, str | None, int]:
    """The ticket behind a link, or why there is none: (ticket, problem, status)."""
    try:
        return callback.survey_ticket(session, settings, token[:MAX_TOKEN]), None, 200
    except callback.SurveyNotFound:
        return None, "invalid", 404
    except TransitionNotAllowed:
        return None, "answered", 409


def _survey_page(request: Request, session: Session, actor: Actor, t: Ticket | None, problem: str | None,
                 status: int, token: str, error: str | None = None, posted: dict | None = None) -> Response:
    settings = request.app.state.settings
    return pages.render(request, "survey.html", actor, status, session=session, t=t, problem=problem,
                        token=token, error=error, posted=posted or {}, reply=reply_text(t) if t else "",
                        text=t.request.text if t else "", local=pages.local_time(settings.tz),
                        resolutions=RESOLUTION_LABELS, satisfactions=SATISFACTION_LABELS)


@router.get("/survey/{token}", response_class=HTMLResponse)
def survey_page(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep, token: str) -> Response:
    t, problem, status = _survey_ticket(session, settings, token)
    if t is not None and actor.role is not None and actor.role != Role.citizen:
        problem = "staff"  # the page shows what the citizen sees, and says that staff do not answer here
    return _survey_page(request, session, actor, t, problem, status, token[:MAX_TOKEN])


@router.post("/survey/{token}", response_class=HTMLResponse)
def answer_survey(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                  token: str,
                  contacted: Annotated[str, Form(max_length=1)] = "",
                  resolution: Annotated[str, Form(max_length=16)] = "",
                  satisfaction: Annotated[str, Form(max_length=16)] = "",
                  comment: Annotated[str, Form(max_length=MAX_REASON)] = "") -> Response:
    token = token[:MAX_TOKEN]
    t, problem, status = _survey_ticket(session, settings, token)
    if t is None:
        return _survey_page(request, session, actor, t, problem, status, token)
    posted = {"contacted": contacted, "resolution": resolution, "satisfaction": satisfaction, "comment": comment}
    try:
        missing = [f for f in ("contacted", "resolution", "satisfaction") if not posted[f]]
        if missing:
            raise InvalidInput("unanswered", field=missing[0])
        answer = callback.Answer(reached=True, contacted=_flag(contacted, "contacted"),
                                 resolution=_choice(Resolution, resolution, "resolution"),
                                 satisfaction=_choice(Satisfaction, satisfaction, "satisfaction"), comment=comment)
        with session.begin_nested():
            out = callback.answer_survey(session, clock, settings, token, answer, actor=actor)
    except PermissionDenied:
        return _survey_page(request, session, actor, t, "staff", 403, token, posted=posted)
    except InvalidInput as exc:
        return _survey_page(request, session, actor, t, None, 422, token,
                            error=SURVEY_QUESTIONS.get(exc.field or "", "请检查后重新提交"), posted=posted)
    except TransitionNotAllowed:
        return _survey_page(request, session, actor, None, "answered", 409, token)
    return pages.render(request, "survey_done.html", actor, session=session, number=out.ticket.number,
                        reopened=out.result == "reopened")


SURVEY_QUESTIONS = {"contacted": "请回答：承办单位是否联系了您", "resolution": "请回答：您反映的问题是否解决",
                    "satisfaction": "请回答：您对办理结果是否满意", "comment": "意见最多 {n} 字"}  # n: MAX_REASON


# --- the assessment ------------------------------------------------------------------------------

def _guard(request: Request, session: Session, actor: Actor) -> Response | None:
    if actor.role is None:
        return RedirectResponse(pages.login_url(pages.here(request)), status_code=303)
    if not can(actor.role, Permission.assessment_read):
        return pages.error_page(request, actor, 403, session=session, message="无权查看考核与督办")
    return None


def _month(value: str, clock, settings) -> str:
    """The month asked for, or this month when none is: a month that is no month is refused naming the field
    (InvalidInput), never silently replaced by another."""
    value = value.strip()
    if not value:
        return periods.period_of(clock.now(), settings.tz, settings.assess_month_start_day)
    try:
        periods.parse_period(value)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="month") from None
    return value


def _level(value: str) -> str:
    if value not in assessment.LEVELS:
        raise InvalidInput(f"level is one of {', '.join(assessment.LEVELS)}", field="level")
    return value


def behind_url(month: str, level: str, key: str, measure: str) -> str:
    return pages.url_with("/assessment/behind", {"month": month, "level": level, "key": key, "measure": measure})


GROUP_COLOURS = ["#0b57d0", "#0f766e", "#7c3aed", "#b45309"]


def _ranking_chart(ranking: assessment.Ranking, _, group_label) -> dict | None:
    """Composite scores as horizontal bars, best on top: the ranked units (or, when none has enough valid
    callbacks yet, every unit with a score, in grey); the bottom of each group in red. None when no unit of the
    level has a score: the page says so rather than draw empty axes under a title."""
    ranked = [r for r in ranking.rows if r.rank is not None]
    rows = ranked or [r for r in ranking.rows if r.rates.composite is not None]
    if not rows:
        return None
    rows.sort(key=lambda r: (-(r.rates.composite or 0), r.key))
    cut = len(rows) > CHART_BARS
    if cut:
        rows = rows[:CHART_BARS // 2] + rows[-CHART_BARS // 2:]

    def label(r: assessment.Row) -> str:
        return f"{r.name}（{r.district}）" if r.district else r.name

    traces = []
    for n, group in enumerate(dict.fromkeys(r.group for r in rows)):
        members = [r for r in rows if r.group == group]
        colour = GROUP_COLOURS[n % len(GROUP_COLOURS)] if ranked else "#98a2b3"
        traces.append({
            "type": "bar", "orientation": "h", "name": group_label(group),
            "x": [round(r.rates.composite, 2) for r in members], "y": [label(r) for r in members],
            "marker": {"color": ["#b3261e" if r.bottom else colour for r in members]},
            "customdata": [_("第 {n} 名", n=r.rank) if r.rank else _("样本不足") for r in members],
            "texttemplate": "%{x:.2f}", "textposition": "auto",
            "hovertemplate": "%{y}<br>%{x:.2f} · %{customdata}<extra></extra>",
        })
    title = _("综合得分排名") if ranked else _("综合得分（均未达到排名所需的有效回访量）")
    if cut:
        title += _("（前 {n} 名与后 {n} 名）", n=CHART_BARS // 2)
    return {"data": traces, "layout": {
        "title": {"text": title}, "height": max(320, 22 * len(rows) + 140), "barmode": "overlay",
        "margin": {"l": 220, "r": 24, "t": 48, "b": 40}, "xaxis": {"title": {"text": _("分")}, "rangemode": "tozero"},
        "yaxis": {"automargin": True, "type": "category", "categoryorder": "array",
                  "categoryarray": [label(r) for r in rows][::-1]},  # drawn from the bottom: best on top
        "legend": {"orientation": "h", "y": -0.08},
        "showlegend": len(traces) > 1}}


def _trend_chart(trend: list, _) -> dict:
    months = [p for p, _rates, _per in trend]

    def series(pick) -> list[float | None]:
        return [None if pick(rates) is None else round(100 * pick(rates), 1) for _p, rates, _per in trend]

    lines = [(_("响应率"), series(lambda r: r.response)), (_("联系率"), series(lambda r: r.contact)),
             (_("解决率"), series(lambda r: r.resolution)), (_("满意率"), series(lambda r: r.satisfaction)),
             (_("综合得分"), [None if rates.composite is None else round(rates.composite, 2)
                            for _p, rates, _per in trend])]
    return {"data": [{"type": "scatter", "mode": "lines+markers", "name": name, "x": months, "y": values,
                      "connectgaps": False} for name, values in lines],
            "layout": {"title": {"text": _("全市各率与综合得分走势（近 {n} 个月）", n=len(months))}, "height": 360,
                       "margin": {"l": 48, "r": 24, "t": 48, "b": 40},
                       "xaxis": {"type": "category"}, "yaxis": {"title": {"text": "%"}, "rangemode": "tozero"},
                       "legend": {"orientation": "h"}}}


@router.get("/assessment", response_class=HTMLResponse)
def assessment_page(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                    month: str = "", level: str = "street", district: str = "") -> Response:
    refused = _guard(request, session, actor)
    if refused is not None:
        return refused
    asked = month.strip()[:16]
    try:
        month, level = _month(asked, clock, settings), _level(level[:16])
    except InvalidInput as exc:
        return pages.error_page(request, actor, 422, session=session, field=exc.field)
    districts = pages.district_list(session, actor)
    district_code = district if district in {d.code for d in districts} else ""
    lang = _lang(request)
    _, group_label = translator(lang), group_labeller(lang)
    ranking = assessment.ranking(session, actor, settings, clock, month, level)
    fell_back = None
    if not asked and not any(r.rank for r in ranking.rows):
        # Early in a month nobody has the minimum sample yet: without a month asked for, the page opens on the
        # last month's ranking (the one being published) and says so, rather than on a table of dashes.
        previous = assessment.ranking(session, actor, settings, clock, periods.shift(month, -1), level)
        if any(r.rank for r in previous.rows):
            fell_back, month, ranking = month, periods.shift(month, -1), previous
    trend = assessment.trend(session, actor, settings, clock, month, TREND_MONTHS)
    sup = assessment.supervision(session, actor, settings, month, SUPERVISION_LIMIT, district_code or None)
    start, end = periods.window(month, settings.tz, settings.assess_month_start_day)
    reopened = _reopened_tickets(session, [u.id for u, _twice, _n in sup.reopened_units], start, end)
    # Links keep the month asked for; without one, the next page picks its own default (see above).
    params = {"month": month if asked else "", "level": level, "district": district_code}
    charts = {"chart-ranking": _ranking_chart(ranking, _, group_label), "chart-trend": _trend_chart(trend, _)}
    charts = {k: v for k, v in charts.items() if v is not None}
    # The month chips, oldest to newest, each month once: the arrows step past both ends of the trend's months.
    recent = [p for p, _r, _x in trend]
    return pages.render(
        request, "assessment.html", actor, session=session, month=month, level=level, levels=assessment.LEVELS,
        district=district_code, districts=districts, ranking=ranking, sup=sup, charts=charts,
        formulas=ranking.formula.describe("en" if lang == "en" else "zh"), start=start, end=end,
        previous_month=periods.shift(recent[0] if recent else month, -1), next_month=periods.shift(month, 1),
        recent=recent, pct=pct, points=points, signed=signed,
        behind=lambda key, measure: behind_url(month, level, key, measure),
        behind_unit=lambda code: behind_url(month, "street", code, "unresolved"), local=pages.local_time(settings.tz),
        summary=pages.summary, plotly_url=PLOTLY_URL, group_label=group_label, reopened=reopened,
        reopened_shown=REOPENED_SHOWN, fell_back=fell_back,
        steps=lambda t: tickets.available_steps(actor, t),
        escalated_notice=request.query_params.get("done") == "escalate",
        export_url=lambda fmt: pages.url_with(f"/assessment/export.{fmt}", {"month": month, "level": level}),
        url=lambda **kw: pages.url_with("/assessment", {**params, **kw}))


EXPORT_TYPES = {"csv": "text/csv; charset=utf-8",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@router.get("/assessment/export.{fmt}")
def assessment_export(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                      fmt: str, month: str = "", level: str = "street") -> Response:
    """The ranking the page shows, as the CLI's `jiesu assess rank --xlsx/--csv` writes it (assessment.export):
    the Excel report with its formulas and counts sheet, or the rows as CSV (UTF-8 with a BOM, for Excel)."""
    refused = _guard(request, session, actor)
    if refused is not None:
        return refused
    if fmt not in EXPORT_TYPES:
        return pages.error_page(request, actor, 404, session=session)
    try:
        month, level = _month(month[:16], clock, settings), _level(level[:16])
    except InvalidInput as exc:
        return pages.error_page(request, actor, 422, session=session, field=exc.field)
    ranking = assessment.ranking(session, actor, settings, clock, month, level)
    if fmt == "xlsx":
        body, filename = export.to_xlsx(ranking, settings.tz, clock.now()), export.xlsx_filename(ranking)
    else:
        body, filename = export.to_csv(ranking).encode("utf-8-sig"), f"assessment-{ranking.level}-{ranking.period}.csv"
    return Response(body, media_type=EXPORT_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


@router.get("/assessment/behind", response_class=HTMLResponse)
def behind_page(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                month: str = "", level: str = "street", key: str = "", measure: str = "valid",
                page: int = 1) -> Response:
    refused = _guard(request, session, actor)
    if refused is not None:
        return refused
    month, key, page = month[:16], key[:MAX_UNIT_CODE], min(max(page, 1), MAX_PAGE_NUMBER)
    month = month or periods.period_of(clock.now(), settings.tz, settings.assess_month_start_day)  # this month

    def read(page: int):
        return assessment.behind(session, actor, settings, clock, month, level, key or None, measure,
                                 limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)

    try:
        rows, total = read(page)
    except InvalidInput as exc:
        return pages.error_page(request, actor, 422, session=session, field=exc.field)
    pages_n = max(1, -(-total // PAGE_SIZE))
    if page > pages_n:  # past the end (an old link, a typed number): the last page, not an empty one
        page = pages_n
        rows, total = read(page)
    unit_ids = {f.unit_id for f, _t in rows}
    unit_names = {uid: n for uid, n in session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(unit_ids)))}
    name = ""
    if key and level == "district":
        name = session.scalar(select(Area.name).where(Area.code == key)) or key
    elif key:
        name = session.scalar(select(Unit.name).where(Unit.code == key)) or key
    params = {"month": month, "level": level, "key": key, "measure": measure}
    now = clock.now()  # the moment behind() read the facts at: an unsigned dispatch is a miss after its deadline
    return pages.render(
        request, "behind.html", actor, session=session, rows=rows, total=total, page=page, pages=pages_n,
        month=month, level=level, key=key, measure=measure, key_name=name, measure_label=MEASURE_LABELS[measure],
        kinds=KIND_LABELS, unit_names=unit_names, signing=measure in assessment.SIGN_MEASURES,
        sign_kind=lambda f: periods.sign_kind(f.status, f.sign_by, now),
        resolution_labels=SCORE_RESOLUTION, satisfaction_labels=SCORE_SATISFACTION, states=STATE_LABELS,
        local=pages.local_time(settings.tz), summary=pages.summary,
        back=pages.url_with("/assessment", {"month": month, "level": level}),
        page_url=lambda n: pages.url_with("/assessment/behind", {**params, "page": n if n > 1 else ""}))
