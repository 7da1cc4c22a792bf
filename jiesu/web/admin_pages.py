"""Administration in the browser (管理员): users, units, the Open311 client systems' API keys and the audit of
every change. Each form calls the same use case as the API and the CLI (jiesu/units/users.py, units/service.py,
open311/service.py), which checks the permission and writes the audit entry in the same transaction.

Generic for every admin page (the categories, calendar, rules and articles pages reuse them): admin_base.html (the
admin sub-nav), admin_macros.html (a labelled field with its error beside it, a pager), admin.css."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from jiesu.api.deps import ActorDep, ClockDep, SessionDep, SettingsDep
from jiesu.api.security import require_form_token
from jiesu.audit import service as audit
from jiesu.errors import DomainError, InvalidInput, NotFound, UnitNotFound, UserNotFound
from jiesu.limits import MAX_NAME, MAX_NOTE, MAX_PAGE_NUMBER, MAX_PASSWORD
from jiesu.open311 import service as open311
from jiesu.permissions import Actor, Permission, Role, can
from jiesu.units import service as units
from jiesu.units import users
from jiesu.units.models import ROLE_LABELS, UNIT_KIND_LABELS, UnitKind
from jiesu.web import pages

router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(require_form_token)])

PAGE_SIZE = 50
MAX_FIELD = 128  # codes, names, department keys, calendars, phone numbers: the columns are shorter still
MAX_QUERY = 64

# The admin sub-nav: every administration page, the reference data's (admin_data_pages.py) included.
SECTIONS = [
    ("/admin", "概览"),
    ("/admin/users", "用户"),
    ("/admin/units", "单位管理"),
    ("/admin/categories", "诉求分类"),
    ("/admin/policies", "办理时限"),
    ("/admin/calendar", "工作日历"),
    ("/admin/rules", "派单规则"),
    ("/admin/articles", "知识库"),
    ("/admin/apikeys", "接口密钥"),
    ("/admin/audit", "操作审计"),
]
ENTITY_LABELS = {"user": "用户", "unit": "单位", "category": "分类", "policy": "时限规则", "calendar": "工作日历",
                 "rule": "派单规则", "article": "知识文章", "apikey": "接口密钥"}
ACTION_LABELS = {"create": "新增", "edit": "修改", "deactivate": "停用", "reactivate": "启用",
                 "reset_password": "重置密码", "set_password": "修改密码", "unlock": "解除登录锁定",
                 "revoke": "吊销", "publish": "发布", "review": "审核", "expire": "设为失效", "delete": "删除",
                 "import": "导入", "submit": "提交审核", "approve": "审核通过并发布", "reject": "退回修改",
                 "revise": "撤回修改", "set": "修改", "clear": "清除", "rename": "改名", "activate": "启用"}
FIELD_LABELS = {"username": "用户名", "display_name": "姓名", "role": "角色", "unit": "所属单位",
                "unit_code": "所属单位", "active": "启用", "password": "密码", "login_attempts": "登录失败计数",
                "code": "代码", "name": "名称", "kind": "类型", "parent": "上级单位", "parent_code": "上级单位",
                "area": "负责区域", "area_code": "负责区域", "department_key": "部门标识", "phone": "电话",
                "calendar": "工作日历", "note": "备注", "revoked": "已吊销"}
# What a refused field says on the page, in Chinese (the service's English message is shown beside it).
FIELD_ERRORS = {
    "username": "用户名为 2–64 位字母、数字、“.”“_”“-”，以字母或数字开头，且不能与已有用户重复",
    "password": "密码至少 8 位",
    "display_name": "姓名为 1–128 个字符",
    "role": "请选择有效的角色",
    "unit_code": "单位代码不存在，或此角色不能属于该类型的单位",
    "code": "代码必填且不能与已有单位重复",
    "name": "名称必填，且不能与已有的重复（吊销的密钥也保留其名称）",
    "kind": "请选择有效的类型",
    "parent_code": "上级单位代码不存在，或会形成循环",
    "area_code": "区域代码不存在，或与单位类型的层级不符，或该区域已有同类单位",
    "department_key": "此类单位需要部门标识（如 cgzf），且不能与其他部门重复",
    "calendar": "没有这个工作日历",
    "note": "备注过长",
    "active": "请选择是否启用",
}


def _guard(request: Request, session: Session, actor: Actor) -> Response | None:
    """None for an administrator; the login page for a visitor; the 403 page for anyone else."""
    if actor.role is None:
        if request.method == "GET":
            return RedirectResponse(pages.login_url(pages.here(request)), status_code=303)
        return pages.error_page(request, actor, 401, session=session)
    if actor.role != Role.admin:
        return pages.error_page(request, actor, 403, session=session)
    return None


def _page(request: Request, name: str, actor: Actor, session: Session, settings, status_code: int = 200,
          **context: object) -> Response:
    return pages.render(request, name, actor, status_code, session=session, sections=SECTIONS,
                        here_path=request.url.path, local=pages.local_time(settings.tz), role_labels=ROLE_LABELS,
                        kind_labels=UNIT_KIND_LABELS, entity_labels=ENTITY_LABELS, action_labels=ACTION_LABELS,
                        field_labels=FIELD_LABELS, field_errors=FIELD_ERRORS, shown=_shown, **context)


def _shown(translate, field: str, value: object) -> str:
    """An audited value as the audit page says it: a role or a kind by its label, yes/no, — for none."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return translate("是" if value else "否")
    if field == "role" and value in Role._value2member_map_:
        return translate(ROLE_LABELS[Role(value)])
    if field == "kind" and value in UnitKind._value2member_map_:
        return translate(UNIT_KIND_LABELS[UnitKind(value)])
    return str(value)


def _errors(exc: DomainError) -> dict[str, str]:
    field = {"unit": "unit_code", "parent": "parent_code", "area": "area_code"}.get(exc.field or "", exc.field or "")
    return {field or "_": exc.message}


def _paged(page: int, total: int) -> tuple[int, int]:
    pages_n = max(1, -(-total // PAGE_SIZE))
    return min(max(page, 1), pages_n, MAX_PAGE_NUMBER), pages_n


def _recent(session: Session, actor: Actor, entity: str, key: str, n: int = 10) -> list[audit.Entry]:
    return audit.entries(session, actor, entity=entity, key=key, limit=n)[0]


# --- the index ------------------------------------------------------------------------------------------

@router.get("", response_class=HTMLResponse)
def index(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep) -> Response:
    if (refused := _guard(request, session, actor)) is not None:
        return refused
    latest, total = audit.entries(session, actor, limit=10)
    return _page(request, "admin_index.html", actor, session, settings, latest=latest, audit_total=total,
                 user_total=users.list_users(session, actor, limit=1)[1],
                 unit_counts=units.counts(session, actor),
                 key_total=len(open311.list_keys(session, actor)))


# --- users ----------------------------------------------------------------------------------------------

def _role(value: str) -> Role | None:
    return Role(value) if value in Role._value2member_map_ else None


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep, q: str = "",
               role: str = "", unit: str = "", active: str = "", page: int = 1) -> Response:
    if (refused := _guard(request, session, actor)) is not None:
        return refused
    query, unit_code = q.strip()[:MAX_QUERY], unit.strip()[:MAX_FIELD]
    role_value = _role(role)
    active_value = {"1": True, "0": False}.get(active)
    errors: dict[str, str] = {}
    filters = {"q": query or None, "role": role_value, "unit_code": unit_code or None, "active": active_value}
    try:
        total = users.list_users(session, actor, limit=1, **filters)[1]
    except InvalidInput as exc:  # an unknown unit: said beside the filter, the list unfiltered by it
        errors = {"unit": exc.message}
        filters["unit_code"] = None
        total = users.list_users(session, actor, limit=1, **filters)[1]
    page, pages_n = _paged(page, total)
    items = users.list_users(session, actor, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **filters)[0]
    params = {"q": query, "role": role_value.value if role_value else "", "unit": unit_code,
              "active": active if active_value is not None else ""}
    status = 422 if errors else 200
    return _page(request, "admin_users.html", actor, session, settings, status, items=items, total=total,
                 page=page, pages=pages_n, errors=errors, roles=list(Role), **params,
                 page_url=lambda n: pages.url_with("/admin/users", {**params, "page": n if n > 1 else ""}))


def _user_form(request: Request, session: Session, actor: Actor, settings, *, user=None, values=None,
               errors=None, status: int = 200, notice: str | None = None, password: str | None = None) -> Response:
    if user is not None and values is None:
        values = {"display_name": user.display_name, "role": user.role.value,
                  "unit_code": user.unit.code if user.unit else ""}
    history = _recent(session, actor, "user", user.username) if user is not None else []
    return _page(request, "admin_users_form.html", actor, session, settings, status, user=user,
                 values=values or {"role": Role.operator.value}, errors=errors or {}, roles=list(Role),
                 notice=notice, password=password, history=history,
                 locked=user is not None and users.lock_count(session, user.username) > 0)


@router.get("/users/new", response_class=HTMLResponse)
def user_new(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep) -> Response:
    if (refused := _guard(request, session, actor)) is not None:
        return refused
    return _user_form(request, session, actor, settings)


@router.post("/users/new", response_class=HTMLResponse)
def user_create(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                username: Annotated[str, Form(max_length=MAX_NAME)] = "",
                display_name: Annotated[str, Form(max_length=MAX_FIELD)] = "",
                role: Annotated[str, Form(max_length=32)] = "",
                unit_code: Annotated[str, Form(max_length=MAX_FIELD)] = "",
                password: Annotated[str, Form(max_length=MAX_PASSWORD)] = "") -> Response:
    if (refused := _guard(request, session, actor)) is not None:
        return refused
    values = {"username": username, "display_name": display_name, "role": role, "unit_code": unit_code}
    role_value = _role(role)
    try:
        if role_value is None:
            raise InvalidInput("choose a role", field="role")
        user = users.create(session, actor, clock, username=username.strip(), password=password, role=role_value,
                            display_name=display_name, unit_code=unit_code.strip() or None)
    except DomainError as exc:
        session.rollback()
        return _user_form(request, session, actor, settings, values=values, errors=_errors(exc), status=422)
    session.commit()
    return RedirectResponse(f"/admin/users/{user.username}?done=create", status_code=303)


NOTICES = {"create": "已新增", "edit": "已保存", "deactivate": "已停用", "reactivate": "已启用",
           "unlock": "已解除登录锁定", "revoke": "已吊销"}


def _user(session: Session, actor: Actor, username: str):
    return users.get(session, actor, username[:MAX_NAME])


@router.get("/users/{username}", response_class=HTMLResponse)
def user_page(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep, username: str,
              done: str = "") -> Response:
    if (refused := _guard(request, session, actor)) is not None:
        return refused
    try:
        user = _user(session, actor, username)
    except UserNotFound:
        return pages.error_page(request, actor, 404, session=session)
    return _user_form(request, session, actor, settings, user=user, notice=NOTICES.get(done))


@router.post("/users/{username}", response_class=HTMLResponse)
def user_edit(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
              username: str, display_name: Annotated[str, Form(max_length=MAX_FIELD)] = "",
              role: Annotated[str, Form(max_length=32)] = "",
              unit_code: Annotated[str, Form(max_length=MAX_FIELD)] = "") -> Response:
    if (refused := _guard(request, session, actor)) is not None:
        return refused
    try:
        user = _user(session, actor, username)
    except UserNotFound:
        return pages.error_page(request, actor, 404, session=session)
    values = {"display_name": display_name, "role": role, "unit_code": unit_code}
    try:
        role_value = _role(role)
        if role_value is None:
            raise InvalidInput("choose a role", field="role")
        users.update(session, actor, clock, user.username, display_name=display_name, role=role_value,
                     unit_code=unit_code.strip())
    except DomainError as exc:
        session.rollback()
        user = _user(session, actor, username)
        return _user_form(request, session, actor, settings, user=user, values=values, errors=_errors(exc),
                          status=422)
    session.commit()
    return RedirectResponse(f"/admin/users/{user.username}?done=edit", status_code=303)


@router.post("/users/{username}/active", response_class=HTMLResponse)
def user_active(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                username: str, active: Annotated[str, Form(max_length=1)] = "") -> Response:
    if (refused := _guard(request, session, actor)) is not None:
        return refused
    if active not in ("0", "1"):
        return pages.error_page(request, actor, 422, session=session, field="active")
    try:
        user = _user(session, actor, username)
        users.set_active(session, actor, user.username, active == "1", clock)
    except UserNotFound:
        return pages.error_page(request, actor, 404, session=session)
    except DomainError as exc:
        session.rollback()
        return _user_form(request, session, actor, settings, user=_user(session, actor, username),
                          errors={"active": exc.message}, status=422)
    session.commit()
    return RedirectResponse(f"/admin/users/{user.username}?done={'reactivate' if active == '1' else 'deactivate'}",
                            status_code=303)


@router.post("/users/{username}/password", response_class=HTMLResponse)
def user_password(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                  username: str, password: Annotated[str, Form(max_length=MAX_PASSWORD)] = "",
                  generate: Annotated[str, Form(max_length=1)] = "") -> Response:
    """The administrator types a new password, or has one made; either is shown this once, on this page."""
    if (refused := _guard(request, session, actor)) is not None:
        return refused
    try:
        user = _user(session, actor, username)
    except UserNotFound:
        return pages.error_page(request, actor, 404, session=session)
    new = users.generate_password() if generate == "1" or not password else password
    try:
        users.set_password(session, actor, clock, user.username, new)
    except DomainError as exc:
        session.rollback()
        return _user_form(request, session, actor, settings, user=_user(session, actor, username),
                          errors=_errors(exc), status=422)
    session.commit()
    response = _user_form(request, session, actor, settings, user=user, notice="密码已重置", password=new)
    response.headers["Cache-Control"] = "no-store"  # the password is on this page: no copy in a cache
    return response


@router.post("/users/{username}/unlock", response_class=HTMLResponse)
def user_unlock(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep,
                username: str) -> Response:
    if (refused := _guard(request, session, actor)) is not None:
        return refused
    try:
        user = _user(session, actor, username)
        users.unlock(session, actor, clock, user.username)
    except UserNotFound:
        return pages.error_page(request, actor, 404, session=session)
    session.commit()
    return RedirectResponse(f"/admin/users/{user.username}?done=unlock", status_code=303)


# --- units ----------------------------------------------------------------------------------------------

@router.get("/units", response_class=HTMLResponse)
def units_page(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep, q: str = "",
               kind: str = "", district: str = "", active: str = "", page: int = 1) -> Response:
    if (refused := _guard(request, session, actor)) is not None:
        return refused
    query = q.strip()[:MAX_QUERY]
    kind_value = UnitKind(kind) if kind in UnitKind._value2member_map_ else None
    districts = pages.district_list(session, actor)
    district_code = district if district in {d.code for d in districts} else ""
    active_value = {"1": True, "0": False}.get(active)
    filters = {"kind": kind_value, "district_code": district_code or None, "search": query or None,
               "active": active_value}
    total = units.list_units(session, actor, limit=1, **filters)[1]
    page, pages_n = _paged(page, total)
    items = units.list_units(session, actor, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **filters)[0]
    params = {"q": query, "kind": kind_value.value if kind_value else "", "district": district_code,
              "active": active if active_value is not None else ""}
    return _page(request, "admin_units.html", actor, session, settings, items=items, total=total, page=page,
                 pages=pages_n, districts=districts, kinds=pages.KIND_ORDER, **params,
                 page_url=lambda n: pages.url_with("/admin/units", {**params, "page": n if n > 1 else ""}))


def _unit_form(request: Request, session: Session, actor: Actor, settings, *, unit=None, values=None,
               errors=None, status: int = 200, notice: str | None = None) -> Response:
    if unit is not None and values is None:
        values = {"name": unit.name, "parent_code": unit.parent.code if unit.parent else "",
                  "area_code": unit.area.code if unit.area else "", "phone": unit.phone or "",
                  "calendar": unit.calendar, "active": "1" if unit.active else "0",
                  "department_key": unit.department_key or ""}
    history = _recent(session, actor, "unit", unit.code) if unit is not None else []
    return _page(request, "admin_units_form.html", actor, session, settings, status, unit=unit,
                 values=values or {"calendar": "default", "active": "1"}, errors=errors or {},
                 kinds=pages.KIND_ORDER, notice=notice, history=history)


@router.get("/units/new", response_class=HTMLResponse)
def unit_new(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep) -> Response:
    if (refused := _guard(request, session, actor)) is not None:
        return refused
    return _unit_form(request, session, actor, settings)


@router.post("/units/new", response_class=HTMLResponse)
def unit_create(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                code: Annotated[str, Form(max_length=MAX_FIELD)] = "",
                name: Annotated[str, Form(max_length=MAX_FIELD)] = "",
                kind: Annotated[str, Form(max_length=32)] = "",
                parent_code: Annotated[str, Form(max_length=MAX_FIELD)] = "",
                area_code: Annotated[str, Form(max_length=MAX_FIELD)] = "",
                department_key: Annotated[str, Form(max_length=32)] = "",
                phone: Annotated[str, Form(max_length=32)] = "",
                calendar: Annotated[str, Form(max_length=32)] = "") -> Response:
    if (refused := _guard(request, session, actor)) is not None:
        return refused
    values = {"code": code, "name": name, "kind": kind, "parent_code": parent_code, "area_code": area_code,
              "department_key": department_key, "phone": phone, "calendar": calendar}
    try:
        if kind not in UnitKind._value2member_map_:
            raise InvalidInput("choose a kind", field="kind")
        unit = units.create(session, actor, code=code, name=name, kind=UnitKind(kind),
                            parent_code=parent_code.strip() or None, area_code=area_code.strip() or None,
                            department_key=department_key.strip() or None, phone=phone.strip() or None, clock=clock)
        if calendar.strip() and calendar.strip() != "default":
            units.update(session, actor, unit.code, calendar=calendar.strip(), clock=clock)
    except DomainError as exc:
        session.rollback()
        return _unit_form(request, session, actor, settings, values=values, errors=_errors(exc), status=422)
    session.commit()
    return RedirectResponse(f"/admin/units/{unit.code}?done=create", status_code=303)


@router.get("/units/{code}", response_class=HTMLResponse)
def unit_page(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep, code: str,
              done: str = "") -> Response:
    if (refused := _guard(request, session, actor)) is not None:
        return refused
    try:
        unit = units.get(session, actor, code[:MAX_FIELD])
    except UnitNotFound:
        return pages.error_page(request, actor, 404, session=session)
    return _unit_form(request, session, actor, settings, unit=unit, notice=NOTICES.get(done))


@router.post("/units/{code}", response_class=HTMLResponse)
def unit_edit(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
              code: str, name: Annotated[str, Form(max_length=MAX_FIELD)] = "",
              parent_code: Annotated[str, Form(max_length=MAX_FIELD)] = "",
              area_code: Annotated[str, Form(max_length=MAX_FIELD)] = "",
              phone: Annotated[str, Form(max_length=32)] = "",
              calendar: Annotated[str, Form(max_length=32)] = "",
              active: Annotated[str, Form(max_length=1)] = "") -> Response:
    if (refused := _guard(request, session, actor)) is not None:
        return refused
    try:
        unit = units.get(session, actor, code[:MAX_FIELD])
    except UnitNotFound:
        return pages.error_page(request, actor, 404, session=session)
    values = {"name": name, "parent_code": parent_code, "area_code": area_code, "phone": phone,
              "calendar": calendar, "active": active, "department_key": unit.department_key or ""}
    try:
        if active not in ("0", "1"):
            raise InvalidInput("active is 1 or 0", field="active")
        # An emptied parent or area is left as it is: the service has no "none" for them (a unit is moved, not
        # orphaned, from here).
        units.update(session, actor, unit.code, name=name, parent_code=parent_code.strip() or None,
                     area_code=area_code.strip() or None, phone=phone.strip(), calendar=calendar.strip(),
                     active=active == "1", clock=clock)
    except DomainError as exc:
        session.rollback()
        return _unit_form(request, session, actor, settings, unit=units.get(session, actor, unit.code),
                          values=values, errors=_errors(exc), status=422)
    session.commit()
    return RedirectResponse(f"/admin/units/{unit.code}?done=edit", status_code=303)


# --- Open311 API keys -----------------------------------------------------------------------------------

def _keys_page(request: Request, session: Session, actor: Actor, settings, *, values=None, errors=None,
               status: int = 200, issued: tuple[str, str] | None = None, notice: str | None = None) -> Response:
    rows = open311.list_keys(session, actor)
    filed = open311.submissions_by_key(session)
    response = _page(request, "admin_apikeys.html", actor, session, settings, status, rows=rows, filed=filed,
                     values=values or {}, errors=errors or {}, issued=issued, notice=notice)
    if issued:
        response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/apikeys", response_class=HTMLResponse)
def apikeys_page(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
                 done: str = "") -> Response:
    if (refused := _guard(request, session, actor)) is not None:
        return refused
    return _keys_page(request, session, actor, settings, notice=NOTICES.get(done))


@router.post("/apikeys", response_class=HTMLResponse)
def apikey_create(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                  name: Annotated[str, Form(max_length=MAX_FIELD)] = "",
                  note: Annotated[str, Form(max_length=MAX_NOTE + 1)] = "") -> Response:
    if (refused := _guard(request, session, actor)) is not None:
        return refused
    try:
        row, key = open311.create_key(session, actor, clock, name, note)
    except DomainError as exc:
        session.rollback()
        return _keys_page(request, session, actor, settings, values={"name": name, "note": note},
                          errors=_errors(exc), status=422)
    session.commit()
    return _keys_page(request, session, actor, settings, issued=(row.name, key))


@router.post("/apikeys/{name}/revoke", response_class=HTMLResponse)
def apikey_revoke(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, name: str) -> Response:
    if (refused := _guard(request, session, actor)) is not None:
        return refused
    try:
        open311.revoke_key(session, actor, clock, name[:MAX_FIELD])
    except NotFound:
        return pages.error_page(request, actor, 404, session=session)
    session.commit()
    return RedirectResponse("/admin/apikeys?done=revoke", status_code=303)


# --- the audit ------------------------------------------------------------------------------------------

@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep, entity: str = "",
               key: str = "", who: str = "", page: int = 1) -> Response:
    if (refused := _guard(request, session, actor)) is not None:
        return refused
    if not can(actor.role, Permission.audit_read):
        return pages.error_page(request, actor, 403, session=session)
    entity_value = entity if entity in audit.ENTITIES else ""
    filters = {"entity": entity_value or None, "key": key.strip()[:128] or None, "who": who.strip()[:64] or None}
    total = audit.entries(session, actor, limit=1, **filters)[1]
    page, pages_n = _paged(page, total)
    items = audit.entries(session, actor, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **filters)[0]
    params = {"entity": entity_value, "key": filters["key"] or "", "who": filters["who"] or ""}
    # `who` is the header's name of the person logged in (pages.render): the filter goes as `by`.
    return _page(request, "admin_audit.html", actor, session, settings, items=items, total=total, page=page,
                 pages=pages_n, entities=audit.ENTITIES, entity=params["entity"], key=params["key"],
                 by=params["who"],
                 page_url=lambda n: pages.url_with("/admin/audit", {**params, "page": n if n > 1 else ""}))
