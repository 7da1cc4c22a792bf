"""Pages for people. Each handler calls the same service functions as the API and the CLI."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from sqlalchemy.orm import Session

from jiesu import glossary, limits
from jiesu.api import security
from jiesu.api.deps import SESSION_TOKEN_KEY, ActorDep, ClockDep, SessionDep, SettingsDep, actor_of_request
from jiesu.api.security import require_form_token
from jiesu.calendar import service as calendar
from jiesu.db import unit_of_work
from jiesu.errors import (
    AuthenticationFailed,
    DomainError,
    InvalidInput,
    PlaceNotFound,
    TooManyAttempts,
    UnitNotFound,
)
from jiesu.limits import MAX_NAME, MAX_PAGE_NUMBER, MAX_PASSWORD
from jiesu.permissions import ANONYMOUS, Actor, Permission, Role, can, is_system
from jiesu.places import service as places
from jiesu.places.models import Area, AreaLevel
from jiesu.taxonomy import service as taxonomy
from jiesu.taxonomy.models import DEFAULT_SCOPE, URGENCY_LABELS, Urgency
from jiesu.tickets import service as tickets
from jiesu.tickets import waiting
from jiesu.tickets.models import Request as TicketRequest
from jiesu.tickets.models import SummonsState, Ticket, UnitRole
from jiesu.tickets.rules import ACTION_LABELS, STATE_LABELS, TRANSITIONS, Step, TicketState
from jiesu.units import catalogue, sms, users
from jiesu.units import phone as phones
from jiesu.units import service as units
from jiesu.units.models import ROLE_LABELS, UNIT_KIND_LABELS, Unit, UnitKind
from jiesu.web.i18n import LANGUAGES, PLACE_KIND, context_translator, pick_language, translator

log = logging.getLogger("jiesu.web")
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
# Every unsafe request to a page needs its origin and the session's CSRF token.
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_form_token)])

PAGE_SIZE = 50
# A list counts its tickets up to this many, then says "more than": counting a million takes longer than the page
# (benchmarks/pages.py).
LIST_COUNT_CAP = 10_000
# The order an operator looks for units in: who dispatches, who governs, who acts (streets first), the
# line departments and utilities, then the many communities and property companies.
KIND_ORDER = [UnitKind.centre, UnitKind.district_government, UnitKind.street, UnitKind.department,
              UnitKind.department_branch, UnitKind.utility, UnitKind.community, UnitKind.property_company]
KIND_ORDER += [k for k in UnitKind if k not in KIND_ORDER]
URGENCY_ORDER = [Urgency.emergency, Urgency.normal, Urgency.complex]
# Levels, named as the kinds are (translated in the place-kind context of the catalogue).
LEVEL_LABELS = glossary.labels("area_level", AreaLevel)
MAX_NEXT = 2048


def number(value: float | int) -> str:
    """2.0 -> 2, 0.5 -> 0.5, 15.0 -> 15."""
    return f"{value:g}"


templates.env.filters["num"] = number
templates.env.globals["limits"] = limits  # maxlength="{{ limits.MAX_TEXT }}"
templates.env.globals["step_needs"] = lambda step: TRANSITIONS[step].needs  # the fields a step form asks for


def url_with(path: str, params: list[tuple[str, str]] | dict[str, object]) -> str:
    """path?query, URL-encoded, without the parameters whose value is empty."""
    items = params.items() if isinstance(params, dict) else params
    query = urlencode([(k, str(v)) for k, v in items if v not in (None, "")])
    return f"{path}?{query}" if query else path


def here(request: Request) -> str:
    """The current path and query, as a page links back to it."""
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def local_path(target: str | None) -> str:
    """`target` if it is a path on this site, else "/": no open redirect to //evil.example or /\\evil.example."""
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and target.isprintable() and len(target) <= MAX_NEXT):
        return target
    return "/"


def login_url(next_path: str) -> str:
    return "/login" if next_path in ("/", "") else "/login?next=" + quote(next_path, safe="/")


# The staff's pages: a citizen who opens one (a bookmark, a link, the address typed) is sent to their app instead,
# where their requests are told in their words (web/app_pages.py); the staff's lists, filters and usernames are
# never shown to them. The ticket page sends them to the same ticket in the app.
STAFF_TEMPLATES = frozenset({"home.html", "tickets.html", "ticket.html", "queue.html", "work.html", "assessment.html",
                             "behind.html", "callbacks.html", "console.html", "units.html"})
APP_HOME = "/app"


def citizen_elsewhere(request: Request, actor: Actor, name: str, status_code: int) -> Response | None:
    """Where a citizen goes instead of a staff page their role may read (the home page's counts, the ticket list,
    a ticket's page): the app. A page their role may not use answers 403 as before, in the citizen's layout,
    whose links lead to the app."""
    if actor.role != Role.citizen or request.method not in ("GET", "HEAD") or name not in STAFF_TEMPLATES:
        return None
    if status_code >= 400:
        return None
    parts = request.url.path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "tickets" and name == "ticket.html":
        return RedirectResponse(f"{APP_HOME}/requests/{quote(parts[1])}", status_code=303)
    return RedirectResponse(APP_HOME, status_code=303)


def render(request: Request, name: str, actor: Actor, status_code: int = 200, *, session: Session | None = None,
           **context: object) -> Response:
    if (elsewhere := citizen_elsewhere(request, actor, name, status_code)) is not None:
        return elsewhere
    settings = request.app.state.settings
    # Only ?lang= and the cookie it sets choose: the browser's Accept-Language is not asked.
    lang = pick_language(request.query_params.get("lang"), request.cookies.get("lang"), settings.language)
    _ = translator(lang)
    who = None
    if actor.role is not None:
        role_label = _(ROLE_LABELS[actor.role])
        display = actor.username
        if session is not None and actor.user_id is not None:
            with contextlib.suppress(DomainError):  # a header without the name beats no page
                display = users.get(session, actor, actor.username).display_name
        who = f"{display} · {role_label}"
    others = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    lang_links = {code: url_with(request.url.path, [*others, ("lang", code)]) for code in LANGUAGES if code != lang}
    response = templates.TemplateResponse(request, name, {
        "_": _, "kind_label": context_translator(lang, PLACE_KIND), "lang": lang, "languages": LANGUAGES,
        "term": lambda kind, value: glossary.label(kind, value, lang),
        "lang_links": lang_links, "actor": actor, "who": who, "role_labels": ROLE_LABELS,
        "login_url": login_url("/" if request.url.path.startswith("/login") else here(request)),
        "can": lambda action: can(actor.role, Permission(action)),
        "csrf": lambda: security.hidden_field(request), "csrf_token": lambda: security.token(request),
        **context}, status_code=status_code)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
    return response


def error_page(request: Request, actor: Actor, status: int, *, session: Session | None = None,
               message: str | None = None, field: str | None = None,
               headers: dict[str, str] | None = None) -> Response:
    response = render(request, "error.html", actor, status_code=status, session=session, status=status,
                      message=message, field=field)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def html_error(request: Request, status: int, *, field: str | None = None,
               headers: dict[str, str] | None = None) -> Response:
    """The error page a browser gets (api/errors.py calls this for non-API paths): in the site's layout,
    with the visitor's name in the header when the database can still tell who it is."""
    try:
        with unit_of_work(request.app.state.sessions) as session:
            actor = actor_of_request(request, session, request.app.state.clock)
            return error_page(request, actor, status, session=session, field=field, headers=headers)
    except Exception:  # the error may be the database's own: show the page anyway, anonymously
        log.warning("error page for %s %s rendered without its visitor", request.method, request.url.path,
                    exc_info=True)
    return error_page(request, ANONYMOUS, status, field=field, headers=headers)


def district_list(session: Session, actor: Actor) -> list[Area]:
    """The city's districts, for the district filters."""
    cities = places.children(session, actor)
    return places.children(session, actor, cities[0].code) if cities else []


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep) -> Response:
    """What waits for the person logged in: a count per kind of work, each linking to the list that shows those
    tickets (jiesu/tickets/waiting.py); the city's reference figures below, and for visitors."""
    now = clock.now()
    now_local = now.astimezone(settings.tz)
    cal = calendar.load_calendar(session, settings)
    cards = []
    if actor.role is not None:
        cards = [{"key": c.key, "n": c.n, "label": WAITING_LABELS[c.key], "url": waiting_url(c, actor.role),
                  "urgent": c.key in URGENT_WAITING} for c in waiting.counts(session, actor, now, settings.tz)]
        if actor.role == Role.operator:
            calls, answered = waiting.calls(session, actor, *waiting.today(now, settings.tz))
            cards = [{"key": "calls_today", "n": calls, "label": "今日来电", "url": "/console", "urgent": False},
                     {"key": "answered_today", "n": answered, "label": "今日直接答复", "url": "/console",
                      "urgent": False}, *cards]
    assess = actor.role in (Role.supervisor, Role.admin) and can(actor.role, Permission.assessment_read)
    return render(request, "home.html", actor, session=session, places=places.counts(session, actor),
                  categories=taxonomy.counts(session, actor),
                  units=units.counts(session, actor) if can(actor.role, Permission.units_read) else None,
                  now=now_local, today=calendar.describe_day(cal, now_local.date()), cards=cards,
                  month=now_local.strftime("%Y-%m") if assess else None)


# The home page's counts (waiting.py keys), in the words of the glossary where it has them.
WAITING_LABELS = {
    "to_dispatch": STATE_LABELS[TicketState.new], "returned": STATE_LABELS[TicketState.returned],
    "extension": "延期待批", "duplicates": "疑似重复", "overdue": "已超期", "sign_overdue": "签收超期",
    "reply_overdue": "答复超期",
    "escalated": "督办中", "callback": "待回访", "to_sign": "待签收", "handling": STATE_LABELS[TicketState.handling],
    "due_today": "今日到期", "summoned": "被吹哨待报到", "community": "本社区未办结工单",
    "mine_open": "我的诉求（未办结）", "mine_replied": "已答复待回访",
}
FLAGS = ("1", "0")
URGENT_WAITING = frozenset({"overdue", "sign_overdue", "reply_overdue", "due_today", "to_sign", "returned"})
# Counts whose work is done on a page of its own rather than in the ticket list.
QUEUE_TABS = {"to_dispatch": "/queue", "returned": "/queue?tab=returned", "extension": "/queue?tab=extension",
              "duplicates": "/queue?tab=duplicates"}
WAITING_PAGES = {"callback": "/callbacks", "escalated": "/assessment#escalated"}


def waiting_url(c: waiting.Count, role: Role | None) -> str:
    """Where a home count links: its work page (the dispatcher's queue, the callback desk, the supervisor's lists),
    else the ticket list filtered to exactly its tickets."""
    if c.key in QUEUE_TABS and role != Role.operator:  # the operator may not dispatch: the list of new tickets
        return QUEUE_TABS[c.key]
    if c.key in WAITING_PAGES:
        return WAITING_PAGES[c.key]
    f = c.filter
    return url_with("/tickets", {"state": f.state.value if f.state else "",
                                 "overdue": "" if f.overdue is None else int(f.overdue),
                                 "open": "" if f.open is None else int(f.open), "mine": 1 if f.mine else "",
                                 "escalated": "" if f.escalated is None else int(f.escalated),
                                 "extension": "" if f.extension_requested is None else int(f.extension_requested),
                                 "summoned": 1 if f.summoned else "", "due": "today" if f.due_from else "",
                                 "late": "sign" if f.sign_overdue else "reply" if f.reply_overdue else ""})


def waiting_filter(now: datetime, tz, open_: str, mine: str, escalated: str, extension: str, summoned: str,
                   due: str, late: str = "") -> dict[str, object]:
    """The ticket list's waiting filters (the home page's links) as TicketFilter fields; other values are ignored."""
    flag = {"1": True, "0": False}.get
    out: dict[str, object] = {"open": flag(open_), "mine": mine == "1", "escalated": flag(escalated),
                              "extension_requested": flag(extension), "summoned": summoned == "1",
                              "sign_overdue": late == "sign", "reply_overdue": late == "reply"}
    if due == "today":
        out["due_from"], out["due_to"] = waiting.still_due_today(now, tz)
    return out


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, session: SessionDep, actor: ActorDep,
               next_: Annotated[str, Query(alias="next")] = "") -> Response:
    return render(request, "login.html", actor, session=session, error=None, username="", next=local_path(next_))


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, session: SessionDep, clock: ClockDep,
          username: Annotated[str, Form(max_length=MAX_NAME)] = "",
          password: Annotated[str, Form(max_length=MAX_PASSWORD)] = "",
          next_: Annotated[str, Form(alias="next")] = "/") -> Response:
    target = local_path(next_)
    try:
        user = users.authenticate(session, clock, username, password, source=users.source_of(request.client))
    except TooManyAttempts as exc:
        session.commit()
        refused = render(request, "login.html", ANONYMOUS, status_code=429,
                         error="登录失败次数过多，请15分钟后再试", username=username, next=target)
        refused.headers["Retry-After"] = str(exc.retry_after)
        return refused
    except AuthenticationFailed:
        session.commit()  # the failed attempt counts towards the lockout
        return render(request, "login.html", ANONYMOUS, status_code=401,
                      error="用户名或密码错误", username=username, next=target)
    request.session[SESSION_TOKEN_KEY] = users.start_web_session(session, clock, user)
    if user.role == Role.citizen and target == "/":  # a citizen lands in their app
        target = APP_HOME
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep) -> Response:
    token = request.session.pop(SESSION_TOKEN_KEY, None)
    if token and actor.role is not None:
        users.revoke_token(session, actor, clock, token)  # a copy of the cookie is worth nothing now
    return RedirectResponse("/", status_code=303)


# --- a citizen's login by mobile number and one-time code (jiesu/units/phone.py) ----------------------------------


def _phone_page(request: Request, actor: Actor, status: int = 200, *, phone: str = "", next_: str = "/",
                sent: bool = False, notice: bool = False, error: str | None = None, field: str | None = None,
                **error_args: object) -> Response:
    return render(request, "phone_login.html", actor, status_code=status, phone=phone, masked=phones.mask(phone),
                  next=next_, sent=sent, notice=notice, error=error, field=field, error_args=error_args,
                  minutes=int(phones.CODE_TTL.total_seconds() // 60))


@router.get("/login/phone", response_class=HTMLResponse)
def phone_login_form(request: Request, actor: ActorDep,
                     next_: Annotated[str, Query(alias="next")] = "") -> Response:
    return _phone_page(request, actor, next_=local_path(next_))


@router.post("/login/phone/code", response_class=HTMLResponse)
def phone_code(request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep, actor: ActorDep,
               phone: Annotated[str, Form(max_length=32)] = "",
               next_: Annotated[str, Form(alias="next")] = "/") -> Response:
    """获取验证码: the code goes to the number by the configured sender; the page asks for it."""
    target = local_path(next_)
    sender = sms.sender_of(request.app.state, settings)
    try:
        number = phones.request_code(session, clock, sender, phone, source=users.source_of(request.client))
    except InvalidInput:
        return _phone_page(request, actor, 422, phone=phone, next_=target, field="phone",
                           error="请输入正确的手机号码：11位数字，以1开头，如 138 1234 5678")
    except TooManyAttempts as exc:
        session.commit()  # the sends counted stay counted
        page = _phone_page(request, actor, 429, phone=phone, next_=target, sent=True, field="phone",
                           error="获取验证码过于频繁，请 {seconds} 秒后再试；已收到的验证码仍可使用",
                           seconds=exc.retry_after)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except phones.CodeNotSent:
        session.commit()
        return _phone_page(request, actor, 503, phone=phone, next_=target, field="phone",
                           error="验证码未能发出，请稍后再试")
    return _phone_page(request, actor, phone=number, next_=target, sent=True, notice=True)


@router.post("/login/phone", response_class=HTMLResponse)
def phone_login(request: Request, session: SessionDep, clock: ClockDep, actor: ActorDep,
                phone: Annotated[str, Form(max_length=32)] = "", code: Annotated[str, Form(max_length=16)] = "",
                next_: Annotated[str, Form(alias="next")] = "/") -> Response:
    """登录: the code checked, the citizen logged in (registered the first time) as a password login is."""
    target = local_path(next_)
    try:
        user = phones.login(session, clock, phone, code)
    except InvalidInput as exc:
        if exc.field == "phone":
            return _phone_page(request, actor, 422, phone=phone, next_=target, field="phone",
                               error="请输入正确的手机号码：11位数字，以1开头，如 138 1234 5678")
        return _phone_page(request, actor, 422, phone=phone, next_=target, sent=True, field="code",
                           error="请输入短信中的6位数字验证码")
    except AuthenticationFailed as exc:
        session.commit()  # the wrong code counts against the code sent
        if exc.field == "phone":
            return _phone_page(request, actor, 403, phone=phone, next_=target, field="phone",
                               error="此号码不能用验证码登录：工作人员请用用户名和密码登录")
        return _phone_page(request, actor, 401, phone=phone, next_=target, sent=True, field="code",
                           error="验证码错误或已失效，请重新获取")
    request.session[SESSION_TOKEN_KEY] = users.start_web_session(session, clock, user)
    return RedirectResponse(target, status_code=303)


@router.get("/places", response_class=HTMLResponse)
def places_page(request: Request, session: SessionDep, actor: ActorDep, q: str = "", district: str = "") -> Response:
    districts = district_list(session, actor)
    district_code = district if district in {d.code for d in districts} else ""
    found, error = None, None
    if q.strip():
        try:
            found = places.find(session, actor, q[:64], district_code=district_code or None, limit=200)
        except DomainError as exc:
            error = exc.message
    return render(request, "places.html", actor, session=session, q=q, district=district_code, districts=districts,
                  matches=found.matches if found else [], total=found.total if found else 0,
                  ambiguous=bool(found and found.ambiguous), error=error)


@router.get("/places/{code}", response_class=HTMLResponse)
def place_page(request: Request, session: SessionDep, actor: ActorDep, code: str) -> Response:
    try:
        area = places.get(session, actor, code[:64])
    except PlaceNotFound:
        return error_page(request, actor, 404, session=session)
    trail: list[Area] = []
    node: Area | None = area.parent
    while node is not None and len(trail) < 10:
        trail.insert(0, node)
        node = session.get(Area, node.parent_id) if node.parent_id is not None else None
    aliases = sorted({a.alias for a in places.aliases_of(session, actor, area.code)} - {area.name})
    answering: list[Unit] = []
    if can(actor.role, Permission.units_read):
        # The unit of the place itself (a street's office, a community's committee, a district's
        # government), then those of the street and district it lies in.
        codes = [catalogue.CENTRE_CODE if area.level == AreaLevel.city else area.code,
                 area.street_code, area.district_code]
        for unit_code in dict.fromkeys(c for c in codes if c):
            with contextlib.suppress(UnitNotFound):
                answering.append(units.get(session, actor, unit_code))
    return render(request, "place.html", actor, session=session, area=area, trail=trail, aliases=aliases,
                  children=places.children(session, actor, area.code), answering=answering,
                  level_labels=LEVEL_LABELS, unit_kinds=UNIT_KIND_LABELS)


@router.get("/categories", response_class=HTMLResponse)
def categories_page(request: Request, session: SessionDep, actor: ActorDep, q: str = "") -> Response:
    cats = taxonomy.list_categories(session, actor)
    by_code = {c.code: c for c in cats}
    query = q.strip()[:64]
    matches = taxonomy.list_categories(session, actor, q=query) if query else None
    if matches is None:
        shown = cats
    else:  # the matches and the nodes above them, so that the tree still reads from the top
        wanted = {m.code for m in matches}
        wanted |= {".".join(code.split(".")[:n]) for code in list(wanted) for n in (1, 2)}
        shown = [by_code[code] for code in sorted(wanted) if code in by_code]
    tree: dict[str, dict] = {}
    for c in shown:
        parts = c.code.split(".")
        if c.level == 1:
            tree[c.code] = {"cat": c, "children": {}}
        elif c.level == 2 and parts[0] in tree:
            tree[parts[0]]["children"][c.code] = {"cat": c, "children": []}
        elif c.level == 3 and ".".join(parts[:2]) in tree.get(parts[0], {}).get("children", {}):
            tree[parts[0]]["children"][".".join(parts[:2])]["children"].append(c)
    order = {u: i for i, u in enumerate(URGENCY_ORDER)}
    policies = sorted(taxonomy.list_policies(session, actor),
                      key=lambda p: (p.scope != DEFAULT_SCOPE, p.scope, order.get(p.urgency, len(order))))
    scope_paths = {p.scope: by_code[p.scope].path for p in policies if p.scope in by_code}
    return render(request, "categories.html", actor, session=session, tree=tree, q=q, matches=matches,
                  policies=policies, scope_paths=scope_paths, urgency_labels=URGENCY_LABELS)


@router.get("/units", response_class=HTMLResponse)
def units_page(request: Request, session: SessionDep, actor: ActorDep, kind: str = "", district: str = "",
               q: str = "", page: int = 1) -> Response:
    if actor.role is None:
        return RedirectResponse(login_url(here(request)), status_code=303)
    if not can(actor.role, Permission.units_read):
        return error_page(request, actor, 403, session=session, message="无权查看单位")
    kind_value = UnitKind(kind) if kind in UnitKind._value2member_map_ else None
    districts = district_list(session, actor)
    district_code = district if district in {d.code for d in districts} else ""
    query = q.strip()[:64] or None
    filters = {"district_code": district_code or None, "q": query}
    # One count per kind: the kind chips show them, and the page is cut from the kinds in KIND_ORDER.
    totals = {k: units.list_units(session, actor, kind=k, limit=1, **filters)[1] for k in KIND_ORDER}
    kinds = [kind_value] if kind_value else KIND_ORDER
    total = sum(totals[k] for k in kinds)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    start, end = (page - 1) * PAGE_SIZE, page * PAGE_SIZE
    items: list[Unit] = []
    before = 0  # units of the kinds already passed
    for k in kinds:
        first, last = max(start, before), min(end, before + totals[k])
        if first < last:
            items += units.list_units(session, actor, kind=k, limit=last - first, offset=first - before,
                                      **filters)[0]
        before += totals[k]
    params = {"kind": kind_value.value if kind_value else "", "district": district_code, "q": q.strip()[:64]}
    return render(request, "units.html", actor, session=session, items=items, total=total, totals=totals,
                  kind=params["kind"], district=district_code, districts=districts, q=params["q"], page=page,
                  pages=pages, kinds=UNIT_KIND_LABELS, kind_order=KIND_ORDER,
                  page_url=lambda n: url_with("/units", {**params, "page": n if n > 1 else ""}),
                  kind_url=lambda k: url_with("/units", {**params, "kind": k}))


# --- tickets --------------------------------------------------------------------------------------

UNIT_ROLE_LABELS = glossary.labels("unit_role", ["main", *UnitRole])  # main: the ticket's main unit
SUMMONS_LABELS = glossary.labels("summons_state", SummonsState)
DEADLINE_MARKS = glossary.labels("deadline")


@dataclass
class Deadline:
    label: str
    due: datetime | None
    done_at: datetime | None
    status: str  # a key of DEADLINE_MARKS


def deadline(label: str, due: datetime | None, done_at: datetime | None, running: bool, flagged: bool,
             now: datetime) -> Deadline:
    """How one deadline stands: met or late once its step is done; overdue or pending while it runs;
    none when it does not apply (not dispatched yet, withdrawn ...)."""
    if due is None:
        status = "none"
    elif done_at is not None:
        status = "met" if done_at <= due else "late"
    elif running:
        status = "overdue" if flagged or now > due else "pending"
    else:
        status = "none"
    return Deadline(label, due, done_at, status)


def deadlines_of(t: Ticket, now: datetime) -> list[Deadline]:
    return [
        deadline(ACTION_LABELS[Step.dispatch], t.dispatch_by, t.dispatched_at, t.state == TicketState.new, False, now),
        deadline(ACTION_LABELS[Step.sign], t.sign_by, t.signed_at, t.state == TicketState.dispatched, t.sign_overdue,
                 now),
        deadline(ACTION_LABELS[Step.reply], t.reply_by, t.replied_at,
                 t.state in (TicketState.dispatched, TicketState.handling, TicketState.returned), t.reply_overdue, now),
    ]


def local_time(tz):
    """A formatter for the templates: an instant as local time, and as ISO 8601 with its offset."""
    def fmt(value: datetime | None, iso: bool = False) -> str:
        if value is None:
            return ""
        local = value.astimezone(tz)
        return local.isoformat(timespec="seconds") if iso else local.strftime("%Y-%m-%d %H:%M")
    return fmt


def summary(r: TicketRequest, width: int = 40) -> str:
    text = (r.title or r.text or "").strip()
    return text if len(text) <= width else text[:width] + "…"


def masked_contact(r: TicketRequest) -> dict[str, str | None] | None:
    if r.contact is None:
        return None
    return {"name": tickets.mask_name(r.contact.name), "phone": tickets.mask_phone(r.contact.phone)}


def role_label(role: str) -> str:
    return ROLE_LABELS[Role(role)] if role in Role._value2member_map_ else role


def action_label(action: str) -> str:
    return ACTION_LABELS[Step(action)] if action in Step._value2member_map_ else action


@pass_context
def actor_label(context: Mapping[str, Any], event: Any) -> str:
    """Who took a step, as a timeline says it: "系统" (System) for the system's own actors (the clock, smart
    dispatch's worker, the CLI: permissions.SYSTEM_USERNAMES), else "name · role", in the page's language.
    In templates: {{ actor_label(e) }} for a TicketEvent (or anything with .actor and .role)."""
    _ = context.get("_") or (lambda text: text)
    if is_system(event.actor):
        return _("系统")
    role = getattr(event, "role", None)
    return f"{event.actor} · {_(role_label(role))}" if role else event.actor


templates.env.globals["actor_label"] = actor_label
templates.env.globals["is_system_actor"] = is_system


@router.get("/tickets", response_class=HTMLResponse)
def tickets_page(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                 state: str = "", district: str = "", overdue: str = "", q: str = "", page: int = 1,
                 open_: Annotated[str, Query(alias="open")] = "", mine: str = "", escalated: str = "",
                 extension: str = "", summoned: str = "", due: str = "", late: str = "") -> Response:
    if actor.role is None:
        return RedirectResponse(login_url(here(request)), status_code=303)
    state_value = TicketState(state) if state in TicketState._value2member_map_ else None
    districts = district_list(session, actor)
    district_code = district if district in {d.code for d in districts} else ""
    overdue_value = {"1": True, "0": False}.get(overdue)
    query = q.strip()[:100]
    waits = waiting_filter(clock.now(), settings.tz, open_, mine, escalated, extension, summoned, due, late)
    f = tickets.TicketFilter(state=state_value, district_code=district_code or None, overdue=overdue_value,
                             q=query or None, now=clock.now(), **waits)
    page = min(max(page, 1), MAX_PAGE_NUMBER)
    items, total = tickets.list_tickets(session, actor, f, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
                                        count_cap=LIST_COUNT_CAP)
    exact = total <= LIST_COUNT_CAP
    if not exact and not items and page > 1:  # past the end of a long list: counted to its end, for its last page
        total, exact = tickets.list_tickets(session, actor, f, limit=1)[1], True
    pages = max(1, -(-total // PAGE_SIZE)) if exact else None  # None: more than LIST_COUNT_CAP
    if exact and page > pages:  # past the end: show the last page
        page = pages
        items, _ = tickets.list_tickets(session, actor, f, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
                                        count_cap=LIST_COUNT_CAP)
    now = clock.now()  # the rows come with their requests and units (tickets.ROW)
    rows = [{"t": t, "summary": summary(t.request), "dispatch": d[0], "reply": d[2]}
            for t in items for d in [deadlines_of(t, now)]]
    params = {"state": state_value.value if state_value else "", "district": district_code,
              "overdue": overdue if overdue_value is not None else "", "q": query,
              **{k: v for k, v, valid in (("open", open_, FLAGS), ("mine", mine, ("1",)),
                                          ("escalated", escalated, FLAGS), ("extension", extension, FLAGS),
                                          ("summoned", summoned, ("1",)), ("due", due, ("today",))) if v in valid}}
    return render(request, "tickets.html", actor, session=session, rows=rows, total=total, page=page, pages=pages,
                  count_cap=LIST_COUNT_CAP, page_size=PAGE_SIZE,
                  districts=districts, states=STATE_LABELS, marks=DEADLINE_MARKS, local=local_time(settings.tz),
                  **params, page_url=lambda n: url_with("/tickets", {**params, "page": n if n > 1 else ""}),
                  state_url=lambda v: url_with("/tickets", {**params, "state": v}))


def _payload(raw: str | None) -> dict:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}

