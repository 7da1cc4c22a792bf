"""Pages for people. Each handler calls the same service functions as the API and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from jiesu.api.deps import SESSION_TOKEN_KEY, ActorDep, ClockDep, SessionDep, SettingsDep
from jiesu.calendar import service as calendar
from jiesu.errors import AuthenticationFailed, DomainError, TooManyAttempts
from jiesu.places import service as places
from jiesu.taxonomy import service as taxonomy
from jiesu.units import service as units
from jiesu.units import users
from jiesu.units.models import ROLE_LABELS, UNIT_KIND_LABELS, UnitKind
from jiesu.units.permissions import ANONYMOUS, Action, Actor, can
from jiesu.web.i18n import LANGUAGES, pick_language, translator

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)


def render(request: Request, name: str, actor: Actor, status_code: int = 200, **context: object) -> Response:
    settings = request.app.state.settings
    lang = pick_language(request.query_params.get("lang"), request.cookies.get("lang"),
                         request.headers.get("accept-language"), settings.language)
    response = templates.TemplateResponse(request, name, {
        "_": translator(lang), "lang": lang, "languages": LANGUAGES, "actor": actor, "role_labels": ROLE_LABELS,
        "can": lambda action: can(actor.role, Action(action)), **context}, status_code=status_code)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep) -> Response:
    now_local = clock.now().astimezone(settings.tz)
    cal = calendar.load_calendar(session, settings)
    return render(request, "home.html", actor, places=places.counts(session, actor),
                  categories=taxonomy.counts(session, actor),
                  units=units.counts(session, actor) if can(actor.role, Action.units_read) else None,
                  now=now_local, today=calendar.describe_day(cal, now_local.date()))


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, actor: ActorDep) -> Response:
    return render(request, "login.html", actor, error=None, username="")


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, session: SessionDep, clock: ClockDep,
          username: Annotated[str, Form(max_length=64)] = "",
          password: Annotated[str, Form(max_length=256)] = "") -> Response:
    try:
        user = users.authenticate(session, clock, username, password)
    except TooManyAttempts:
        session.commit()
        return render(request, "login.html", ANONYMOUS, status_code=429,
                      error="登录失败次数过多，请15分钟后再试", username=username)
    except AuthenticationFailed:
        session.commit()  # the failed attempt counts towards the lockout
        return render(request, "login.html", ANONYMOUS, status_code=401,
                      error="用户名或密码错误", username=username)
    request.session[SESSION_TOKEN_KEY] = users.start_web_session(session, clock, user)
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
def logout(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep) -> Response:
    token = request.session.pop(SESSION_TOKEN_KEY, None)
    if token and actor.role is not None:
        users.revoke_token(session, actor, clock, token)  # a copy of the cookie is worth nothing now
    return RedirectResponse("/", status_code=303)


@router.get("/places", response_class=HTMLResponse)
def places_page(request: Request, session: SessionDep, actor: ActorDep, q: str = "") -> Response:
    found, error = None, None
    if q.strip():
        try:
            found = places.find(session, actor, q[:64], limit=200)
        except DomainError as exc:
            error = exc.message
    return render(request, "places.html", actor, q=q, matches=found.matches if found else [],
                  total=found.total if found else 0, ambiguous=bool(found and found.ambiguous), error=error)


@router.get("/categories", response_class=HTMLResponse)
def categories_page(request: Request, session: SessionDep, actor: ActorDep) -> Response:
    cats = taxonomy.list_categories(session, actor)
    tree: dict[str, dict] = {}
    for c in cats:
        parts = c.code.split(".")
        if c.level == 1:
            tree[c.code] = {"cat": c, "children": {}}
        elif c.level == 2:
            tree[parts[0]]["children"][c.code] = {"cat": c, "children": []}
        else:
            tree[parts[0]]["children"][".".join(parts[:2])]["children"].append(c)
    return render(request, "categories.html", actor, tree=tree, policies=taxonomy.list_policies(session, actor))


@router.get("/units", response_class=HTMLResponse)
def units_page(request: Request, session: SessionDep, actor: ActorDep, kind: str = "", q: str = "",
               page: int = 1) -> Response:
    if actor.role is None:
        return RedirectResponse("/login", status_code=303)
    if not can(actor.role, Action.units_read):
        return render(request, "error.html", actor, status_code=403, message="无权查看单位")
    kind_value = UnitKind(kind) if kind in UnitKind.__members__ else None
    page = max(page, 1)
    items, total = units.list_units(session, actor, kind=kind_value, q=q[:64] or None, limit=50,
                                    offset=(page - 1) * 50)
    return render(request, "units.html", actor, items=items, total=total, kind=kind, q=q, page=page,
                  kinds=UNIT_KIND_LABELS, pages=(total + 49) // 50)
