"""Administration of the reference data in the browser (管理员): the category tree and the deadline policies, the
calendar's overrides (with a year's notice imported from a CSV, previewed before it is written), smart dispatch's
routing rules, and the knowledge articles through their review. Each form posts to the same use case as the API
and the CLI; the services check who may, and write the audit beside the change."""

from __future__ import annotations

import calendar as month_calendar
import json
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from jiesu.api.deps import ActorDep, ClockDep, SessionDep, SettingsDep
from jiesu.api.security import require_form_token
from jiesu.calendar import service as calendar
from jiesu.calendar.models import DayKind
from jiesu.errors import DomainError, NotFound, PermissionDenied
from jiesu.knowledge import service as knowledge
from jiesu.knowledge.rules import TRANSITIONS, ArticleStatus, Step, Who
from jiesu.limits import MAX_CODE, MAX_NAME, MAX_NOTE, MAX_PAGE_NUMBER, MAX_REASON, MAX_SEARCH, MAX_UNIT_CODE
from jiesu.permissions import Actor, Permission, can, require
from jiesu.routing import rules as routing_rules
from jiesu.routing import service as routing
from jiesu.taxonomy import service as taxonomy
from jiesu.taxonomy.models import DEFAULT_SCOPE, Urgency
from jiesu.taxonomy.rules import ReplyUnit
from jiesu.web import pages

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_form_token)])

MAX_CSV_BYTES = 64 * 1024  # a year's notice is some 40 rows; a file many times that is not one
MAX_NUMBER = 32
MAX_QUESTION, MAX_ANSWER = knowledge.MAX_QUESTION, knowledge.MAX_ANSWER
ARTICLE_PAGE = 50
# What the page says beside a field the service refused (the service's own words follow, smaller).
FIELD_HINTS = {
    "name": "请填写名称（不含“/”，同级不重名）", "parent_code": "上级分类编码不存在或不能再分",
    "active": "请先停用其下级分类", "scope": "适用范围须为“*”或已有的分类编码",
    "urgency": "请选择紧急程度", "dispatch_within_hours": "请填写大于 0 的小时数",
    "sign_within_hours": "请填写大于 0 的小时数", "reply_within": "请填写合理的答复时限",
    "reply_unit": "请选择时限单位", "note": "备注过长", "date": "日期格式如 2027-01-01",
    "day": "日期格式如 2027-01-01", "kind": "请选择放假或调休上班",
    "file": "请上传 UTF-8 编码的 CSV 文件（日期,类型,名称）",
    "year": "年份须在 2000 到 2100 之间", "category_scope": "分类编码不存在（或填写“*”）",
    "area_code": "须为区或街道（乡镇）的区划代码",
    "main": "须为单位编码或 @street、@community、@district、@branch:部门",
    "co_units": "须为单位编码或 @street、@community、@district、@branch:部门",
    "question": "请填写问题（最多 500 字）", "answer": "请填写答案（最多 10000 字）",
    "category_code": "分类编码不存在", "unit_code": "单位编码不存在或不是本单位",
    "valid_from": "日期格式如 2027-01-01", "valid_to": "失效日期须不早于生效日期",
    "status": "当前状态下不能执行此操作", "expected_version": "该条目已被他人修改，请刷新后重试",
    "id": "该条目已被他人修改，请刷新后重试",
}
STEP_LABELS = {Step.submit: "提交审核", Step.approve: "审核发布", Step.reject: "退回修改", Step.expire: "设为失效",
               Step.revise: "撤回修改"}
ACTION_LABELS = {"create": "新建", "edit": "修改", "publish": "直接发布", "delete": "删除", "set": "修改",
                 "clear": "删除", "rename": "改名", "activate": "启用", "deactivate": "停用",
                 **{s.value: label for s, label in STEP_LABELS.items()}}
REPLY_UNIT_LABELS = {ReplyUnit.hours: "小时", ReplyUnit.business_days: "个工作日"}
DAY_KIND_LABELS = {DayKind.holiday: "放假", DayKind.workday: "调休上班"}
WEEKDAYS = ("一", "二", "三", "四", "五", "六", "日")  # a month grid's columns
WEEKDAY_NAMES = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
NAV = (("index", "/admin", "概览"), ("users", "/admin/users", "用户"), ("units", "/admin/units", "单位管理"),
       ("categories", "/admin/categories", "诉求分类"), ("policies", "/admin/policies", "办理时限"),
       ("calendar", "/admin/calendar", "工作日历"), ("rules", "/admin/rules", "派单规则"),
       ("articles", "/admin/articles", "知识库"), ("apikeys", "/admin/apikeys", "接口密钥"),
       ("audit", "/admin/audit", "操作审计"))  # the same pages as admin_pages.SECTIONS


class FormError(Exception):
    """A field the page itself found wrong before asking the service."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def _render(request: Request, session: Session, actor: Actor, name: str, section: str, status_code: int = 200,
            **context: object) -> Response:
    settings = request.app.state.settings
    return pages.render(request, name, actor, status_code, session=session, section=section, admin_nav=NAV,
                        hints=FIELD_HINTS, local=pages.local_time(settings.tz), action_labels=ACTION_LABELS,
                        errors=context.pop("errors", {}), done=request.query_params.get("done", "")[:64],
                        **context)


def _gate(request: Request, session: Session, actor: Actor, permission: Permission) -> Response | None:
    """Anonymous: to the login; without the permission (the same table the services ask): 403."""
    if actor.role is None:
        return RedirectResponse(pages.login_url(pages.here(request)), status_code=303)
    try:
        require(actor, permission)
    except PermissionDenied:
        return pages.error_page(request, actor, 403, session=session, message="此页面只对管理员开放")
    return None


def _refused(request: Request, session: Session, actor: Actor, exc: DomainError) -> Response | None:
    """The page for a refusal that is no field's fault: 403, 404, 409. None: a field to show beside the form."""
    session.rollback()
    if isinstance(exc, PermissionDenied) and exc.field not in ("unit_code",):
        return pages.error_page(request, actor, 403, session=session, message="无权执行此操作")
    if isinstance(exc, NotFound) and exc.field not in ("code", "rule_id") or exc.status == 409 \
            and exc.field in ("expected_version", "id"):
        return pages.error_page(request, actor, exc.status, session=session, message=exc.message, field=exc.field)
    return None


def _errors(exc: DomainError | FormError) -> dict[str, str]:
    return {exc.field or "form": exc.message}


def _number(text: str, field: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise FormError(field, f"{field} must be a number") from None


def _date(text: str, field: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise FormError(field, f"{field} looks like 2027-01-01") from None


def _choice(enum, value: str, field: str):
    if value not in enum._value2member_map_:
        raise FormError(field, f"{field} is one of {', '.join(enum._value2member_map_)}")
    return enum(value)


def _back(path: str, done: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(pages.url_with(path, {"done": done}) + (f"#{anchor}" if anchor else ""), status_code=303)


# --- the category tree ------------------------------------------------------------------------------

def _categories_page(request, session, actor, q: str = "", status: int = 200, **context) -> Response:
    query = q.strip()[:MAX_NAME]
    items = taxonomy.list_categories(session, actor, q=query or None, include_inactive=True)
    return _render(request, session, actor, "admin2_categories.html", "categories", status, items=items, q=query,
                   form=context.pop("form", {}), **context)


@router.get("/admin/categories", response_class=HTMLResponse)
def categories_page(request: Request, session: SessionDep, actor: ActorDep, q: str = "") -> Response:
    return _gate(request, session, actor, Permission.taxonomy_edit) or _categories_page(request, session, actor, q)


@router.post("/admin/categories", response_class=HTMLResponse)
def add_category(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep,
                 name: Annotated[str, Form(max_length=MAX_NAME * 2)] = "",
                 parent_code: Annotated[str, Form(max_length=MAX_CODE)] = "") -> Response:
    if actor.role is None:
        return RedirectResponse(pages.login_url("/admin/categories"), status_code=303)
    try:
        node = taxonomy.create_category(session, actor, clock, name, parent_code.strip() or None)
    except DomainError as exc:
        return _refused(request, session, actor, exc) or _categories_page(
            request, session, actor, status=422, errors=_errors(exc),
            form={"name": name, "parent_code": parent_code})
    return _back("/admin/categories", f"added:{node.code}", f"c-{node.code}")


def _category_page(request, session, actor, code: str, status: int = 200, **context) -> Response:
    try:
        node = taxonomy.get(session, actor, code)
    except NotFound:
        return pages.error_page(request, actor, 404, session=session)
    children = taxonomy.list_categories(session, actor, include_inactive=True, q=None)
    children = [c for c in children if c.parent_id == node.id]
    policies = [p for p in taxonomy.list_policies(session, actor) if p.scope == node.code]
    return _render(request, session, actor, "admin2_category.html", "categories", status, node=node,
                   children=children, policies=policies, form=context.pop("form", {}), **context)


@router.get("/admin/categories/{code}", response_class=HTMLResponse)
def category_page(request: Request, session: SessionDep, actor: ActorDep, code: str) -> Response:
    return _gate(request, session, actor, Permission.taxonomy_edit) or _category_page(
        request, session, actor, code[:MAX_CODE])


@router.post("/admin/categories/{code}", response_class=HTMLResponse)
def edit_category(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, code: str,
                  name: Annotated[str, Form(max_length=MAX_NAME * 2)] = "",
                  active: Annotated[str, Form(max_length=1)] = "") -> Response:
    code = code[:MAX_CODE]
    if actor.role is None:
        return RedirectResponse(pages.login_url(f"/admin/categories/{code}"), status_code=303)
    try:
        taxonomy.update_category(session, actor, clock, code, name=name, active=active == "1")
    except DomainError as exc:
        if isinstance(exc, NotFound) and exc.field == "code":
            session.rollback()
            return pages.error_page(request, actor, 404, session=session)
        return _refused(request, session, actor, exc) or _category_page(
            request, session, actor, code, status=422, errors=_errors(exc), form={"name": name, "active": active})
    return _back(f"/admin/categories/{code}", "saved")


# --- deadline policies ------------------------------------------------------------------------------

URGENCY_ORDER = (Urgency.emergency, Urgency.normal, Urgency.complex)


def _policies_page(request, session, actor, status: int = 200, **context) -> Response:
    order = {u: i for i, u in enumerate(URGENCY_ORDER)}
    policies = sorted(taxonomy.list_policies(session, actor),
                      key=lambda p: (p.scope != DEFAULT_SCOPE, p.scope, order.get(p.urgency, 9)))
    codes = {p.scope for p in policies} - {DEFAULT_SCOPE}
    names = {c.code: c.path for c in taxonomy.list_categories(session, actor, include_inactive=True)
             if c.code in codes}
    return _render(request, session, actor, "admin2_policies.html", "policies", status, policies=policies,
                   names=names, urgencies=URGENCY_ORDER, reply_units=REPLY_UNIT_LABELS,
                   form=context.pop("form", {}), **context)


@router.get("/admin/policies", response_class=HTMLResponse)
def policies_page(request: Request, session: SessionDep, actor: ActorDep, scope: str = "",
                  urgency: str = "") -> Response:
    gate = _gate(request, session, actor, Permission.taxonomy_edit)
    if gate:
        return gate
    form: dict[str, str] = {}
    if scope and urgency in Urgency._value2member_map_:  # ?scope=&urgency=: that policy in the form, to edit
        for p in taxonomy.list_policies(session, actor):
            if p.scope == scope[:MAX_CODE] and p.urgency == Urgency(urgency):
                form = {"scope": p.scope, "urgency": p.urgency.value, "note": p.note, "reply_unit": p.reply_unit.value,
                        **{k: pages.number(getattr(p, k)) for k in ("dispatch_within_hours", "sign_within_hours",
                                                                     "reply_within")}}
        form = form or {"scope": scope[:MAX_CODE], "urgency": urgency}
    return _policies_page(request, session, actor, form=form)


@router.post("/admin/policies", response_class=HTMLResponse)
def set_policy(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep,
               scope: Annotated[str, Form(max_length=MAX_CODE)] = "",
               urgency: Annotated[str, Form(max_length=16)] = "",
               dispatch_within_hours: Annotated[str, Form(max_length=MAX_NUMBER)] = "",
               sign_within_hours: Annotated[str, Form(max_length=MAX_NUMBER)] = "",
               reply_within: Annotated[str, Form(max_length=MAX_NUMBER)] = "",
               reply_unit: Annotated[str, Form(max_length=16)] = "",
               note: Annotated[str, Form(max_length=512)] = "") -> Response:
    if actor.role is None:
        return RedirectResponse(pages.login_url("/admin/policies"), status_code=303)
    form = {"scope": scope, "urgency": urgency, "dispatch_within_hours": dispatch_within_hours,
            "sign_within_hours": sign_within_hours, "reply_within": reply_within, "reply_unit": reply_unit,
            "note": note}
    try:
        require(actor, Permission.taxonomy_edit)  # before the form's fields: a dispatcher learns nothing of them
        the_scope = scope.strip() or DEFAULT_SCOPE
        spec = taxonomy.PolicySpec(_number(dispatch_within_hours, "dispatch_within_hours"),
                                   _number(sign_within_hours, "sign_within_hours"),
                                   _number(reply_within, "reply_within"),
                                   _choice(ReplyUnit, reply_unit, "reply_unit"), note.strip())
        row = taxonomy.set_policy(session, actor, clock, the_scope, _choice(Urgency, urgency, "urgency"), spec)
    except FormError as exc:
        return _policies_page(request, session, actor, 422, errors=_errors(exc), form=form)
    except DomainError as exc:
        return _refused(request, session, actor, exc) or _policies_page(request, session, actor, 422,
                                                                        errors=_errors(exc), form=form)
    return _back("/admin/policies", f"saved:{taxonomy.policy_key(row.scope, row.urgency)}")


# --- the calendar -----------------------------------------------------------------------------------

def _year(value: str, today: date) -> int:
    if not value:
        return today.year
    if not value.isdigit() or not 2000 <= int(value) <= 2100:
        raise FormError("year", "year is 2000 to 2100")
    return int(value)


def _months(cal, year: int) -> list[dict]:
    """The year as twelve month grids: each day a workday or not, and whether an administrator ruled on it."""
    out = []
    for month in range(1, 13):
        weeks = []
        for week in month_calendar.Calendar().monthdatescalendar(year, month):
            weeks.append([None if d.month != month else {
                "day": d, "workday": cal.is_workday(d), "override": cal.has_override(d),
                "weekend": d.weekday() >= 5, "name": calendar.HOLIDAY_NAMES_ZH.get(cal.day_name(d), cal.day_name(d))}
                for d in week])
        out.append({"month": month, "weeks": weeks})
    return out


def _calendar_page(request, session, actor, year: int, status: int = 200, **context) -> Response:
    settings = request.app.state.settings
    days = calendar.list_days(session, actor, year)
    cal = calendar.load_calendar(session, settings)
    return _render(request, session, actor, "admin2_calendar.html", "calendar", status, year=year, days=days,
                   months=_months(cal, year), covered=cal.covers(year), kinds=DAY_KIND_LABELS, weekdays=WEEKDAYS,
                   weekday_names=WEEKDAY_NAMES,
                   form=context.pop("form", {}), preview=context.pop("preview", None), **context)


@router.get("/admin/calendar", response_class=HTMLResponse)
def calendar_page(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                  year: str = "") -> Response:
    gate = _gate(request, session, actor, Permission.calendar_edit)
    if gate:
        return gate
    today = clock.now().astimezone(settings.tz).date()
    try:
        the_year = _year(year[:8], today)
    except FormError:
        return pages.error_page(request, actor, 422, session=session, field="year")
    return _calendar_page(request, session, actor, the_year)


@router.post("/admin/calendar/days", response_class=HTMLResponse)
def set_day(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
            day: Annotated[str, Form(max_length=MAX_CODE)] = "", kind: Annotated[str, Form(max_length=16)] = "",
            name: Annotated[str, Form(max_length=MAX_NAME * 2)] = "") -> Response:
    if actor.role is None:
        return RedirectResponse(pages.login_url("/admin/calendar"), status_code=303)
    today = clock.now().astimezone(settings.tz).date()
    form = {"day": day, "kind": kind, "name": name}
    try:
        require(actor, Permission.calendar_edit)
        the_day = _date(day, "day")
        if the_day is None:
            raise FormError("day", "day is a date, e.g. 2027-01-01")
        row = calendar.set_day(session, actor, clock, the_day, _choice(DayKind, kind, "kind"), name.strip())
    except FormError as exc:
        year = _date(day, "year").year if _safe_date(day) else today.year
        return _calendar_page(request, session, actor, year, 422, errors=_errors(exc), form=form)
    except DomainError as exc:
        field = "day" if exc.field == "date" else exc.field
        return _refused(request, session, actor, exc) or _calendar_page(
            request, session, actor, today.year, 422, errors={field or "form": exc.message}, form=form)
    return RedirectResponse(pages.url_with("/admin/calendar", {"year": row.day.year, "done": f"set:{row.day}"}),
                            status_code=303)


def _safe_date(text: str) -> bool:
    try:
        return 2000 <= date.fromisoformat(text.strip()).year <= 2100
    except ValueError:
        return False


@router.post("/admin/calendar/days/{day}/remove", response_class=HTMLResponse)
def remove_day(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, day: str) -> Response:
    if actor.role is None:
        return RedirectResponse(pages.login_url("/admin/calendar"), status_code=303)
    if not _safe_date(day[:MAX_CODE]):
        return pages.error_page(request, actor, 404, session=session)
    the_day = date.fromisoformat(day.strip())
    try:
        removed = calendar.clear_day(session, actor, the_day, clock=clock)
    except DomainError as exc:
        return _refused(request, session, actor, exc) or pages.error_page(request, actor, 422, session=session,
                                                                          field=exc.field)
    if not removed:
        return pages.error_page(request, actor, 404, session=session)
    return RedirectResponse(pages.url_with("/admin/calendar", {"year": the_day.year, "done": f"removed:{the_day}"}),
                            status_code=303)


async def _read_bounded(upload: UploadFile | None) -> str:
    if upload is None or not upload.filename:
        raise FormError("file", "choose the notice's CSV file")
    raw = await upload.read(MAX_CSV_BYTES + 1)
    if len(raw) > MAX_CSV_BYTES:
        raise FormError("file", f"a notice's CSV has at most {MAX_CSV_BYTES // 1024} KiB")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FormError("file", "not UTF-8 text: save the file as UTF-8 CSV") from None


@router.post("/admin/calendar/import", response_class=HTMLResponse)
async def import_preview(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep,
                         settings: SettingsDep, file: Annotated[UploadFile | None, File()] = None) -> Response:
    """The notice's rows beside what the calendar says now: nothing written until the administrator confirms."""
    if actor.role is None:
        return RedirectResponse(pages.login_url("/admin/calendar"), status_code=303)
    today = clock.now().astimezone(settings.tz).date()
    try:
        require(actor, Permission.calendar_edit)
        text = await _read_bounded(file)
        changes = calendar.preview_days(session, actor, calendar.read_days(text, file.filename or "upload"))
        if not changes:
            raise FormError("file", "the file has no dates")
    except FormError as exc:
        return _calendar_page(request, session, actor, today.year, 422, errors=_errors(exc))
    except DomainError as exc:
        return _refused(request, session, actor, exc) or _calendar_page(request, session, actor, today.year, 422,
                                                                        errors=_errors(exc))
    years = sorted({c.day.year for c in changes})
    return _calendar_page(request, session, actor, years[0], preview={"changes": changes, "csv": text,
                                                                      "filename": file.filename or ""})


@router.post("/admin/calendar/import/confirm", response_class=HTMLResponse)
def import_confirm(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                   csv: Annotated[str, Form(max_length=MAX_CSV_BYTES)] = "") -> Response:
    if actor.role is None:
        return RedirectResponse(pages.login_url("/admin/calendar"), status_code=303)
    today = clock.now().astimezone(settings.tz).date()
    try:
        require(actor, Permission.calendar_edit)
        changes = calendar.preview_days(session, actor, calendar.read_days(csv))
        if not changes:
            raise FormError("file", "the file has no dates")
        for c in changes:
            if not c.unchanged:
                calendar.set_day(session, actor, clock, c.day, c.kind, c.name)
    except FormError as exc:
        return _calendar_page(request, session, actor, today.year, 422, errors=_errors(exc))
    except DomainError as exc:
        return _refused(request, session, actor, exc) or _calendar_page(request, session, actor, today.year, 422,
                                                                        errors=_errors(exc))
    written = sum(not c.unchanged for c in changes)
    return RedirectResponse(pages.url_with("/admin/calendar", {"year": changes[0].day.year,
                                                               "done": f"imported:{written}"}), status_code=303)


# --- routing rules ----------------------------------------------------------------------------------

def _rule_form(rule) -> dict[str, str]:
    return {"category_scope": rule.category_scope, "area_code": rule.area_code or "", "main": rule.main,
            "co_units": " ".join(json.loads(rule.co_units or "[]")), "note": rule.note,
            "active": "1" if rule.active else ""}


def _rules_page(request, session, actor, status: int = 200, **context) -> Response:
    rules = routing.list_rules(session, actor)
    names = {c.code: c.path for c in taxonomy.list_categories(session, actor, include_inactive=True)}
    return _render(request, session, actor, "admin2_rules.html", "rules", status, rules=rules, names=names,
                   co_units_of=lambda r: json.loads(r.co_units or "[]"), symbols=routing_rules.SYMBOLS,
                   form=context.pop("form", {"active": "1"}), **context)


@router.get("/admin/rules", response_class=HTMLResponse)
def rules_page(request: Request, session: SessionDep, actor: ActorDep, edit: str = "") -> Response:
    gate = _gate(request, session, actor, Permission.routing_edit)
    if gate:
        return gate
    if edit:
        if not edit.isdigit() or len(edit) > 9:
            return pages.error_page(request, actor, 404, session=session)
        try:
            rule = routing.get_rule(session, actor, int(edit))
        except NotFound:
            return pages.error_page(request, actor, 404, session=session)
        return _rules_page(request, session, actor, form=_rule_form(rule), editing=rule)
    return _rules_page(request, session, actor)


@router.post("/admin/rules", response_class=HTMLResponse)
def set_rule(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep,
             category_scope: Annotated[str, Form(max_length=MAX_CODE)] = "",
             area_code: Annotated[str, Form(max_length=MAX_CODE)] = "",
             main: Annotated[str, Form(max_length=MAX_UNIT_CODE)] = "",
             co_units: Annotated[str, Form(max_length=MAX_UNIT_CODE * 10)] = "",
             note: Annotated[str, Form(max_length=MAX_NOTE * 2)] = "",
             active: Annotated[str, Form(max_length=1)] = "") -> Response:
    """Add a rule, or replace the one for the same category and area (the table has one per pair)."""
    if actor.role is None:
        return RedirectResponse(pages.login_url("/admin/rules"), status_code=303)
    form = {"category_scope": category_scope, "area_code": area_code, "main": main, "co_units": co_units,
            "note": note, "active": active}
    try:
        require(actor, Permission.routing_edit)
        if not main.strip():
            raise FormError("main", "a rule names its main unit")
        rule = routing.set_rule(session, actor, clock, category_scope=category_scope, area_code=area_code,
                                main=main, co_units=co_units.replace(",", " ").replace("，", " ").split(),
                                note=note.strip(), active=active == "1")
    except FormError as exc:
        return _rules_page(request, session, actor, 422, errors=_errors(exc), form=form)
    except DomainError as exc:
        return _refused(request, session, actor, exc) or _rules_page(request, session, actor, 422,
                                                                     errors=_errors(exc), form=form)
    return _back("/admin/rules", f"saved:{rule.id}", f"r-{rule.id}")


@router.post("/admin/rules/{rule_id}/delete", response_class=HTMLResponse)
def delete_rule(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, rule_id: str) -> Response:
    if actor.role is None:
        return RedirectResponse(pages.login_url("/admin/rules"), status_code=303)
    if not rule_id.isdigit() or len(rule_id) > 9:
        return pages.error_page(request, actor, 404, session=session)
    try:
        routing.delete_rule(session, actor, int(rule_id), clock=clock)
    except DomainError as exc:
        session.rollback()
        return pages.error_page(request, actor, exc.status if exc.status in (403, 404) else 422, session=session)
    return _back("/admin/rules", f"deleted:{rule_id}")


# --- knowledge articles -----------------------------------------------------------------------------

def _article_input(form: dict[str, str]) -> knowledge.ArticleInput:
    return knowledge.ArticleInput(
        question=form["question"], answer=form["answer"], category_code=form["category_code"].strip() or None,
        area_code=form["area_code"].strip() or None, valid_from=_date(form["valid_from"], "valid_from"),
        valid_to=_date(form["valid_to"], "valid_to"), unit_code=form["unit_code"].strip() or None,
        public=form["public"] == "1")


def _article_form(a) -> dict[str, str]:
    return {"question": a.question, "answer": a.answer, "category_code": a.category.code if a.category else "",
            "area_code": a.area.code if a.area else "", "unit_code": a.unit.code if a.unit else "",
            "valid_from": a.valid_from.isoformat() if a.valid_from else "",
            "valid_to": a.valid_to.isoformat() if a.valid_to else "", "public": "1" if a.public else ""}


def _steps_for(actor: Actor, status: ArticleStatus) -> list[Step]:
    return [s for s, (sources, _, who) in TRANSITIONS.items()
            if status in sources and (who == Who.editor or can(actor.role, Permission.knowledge_review))]


@router.get("/admin/articles", response_class=HTMLResponse)
def articles_page(request: Request, session: SessionDep, actor: ActorDep, status: str = "", q: str = "",
                  page: int = 1) -> Response:
    gate = _gate(request, session, actor, Permission.knowledge_edit)
    if gate:
        return gate
    the_status = ArticleStatus(status) if status in ArticleStatus._value2member_map_ else None
    query = q.strip()[:MAX_SEARCH]
    page = min(max(page, 1), MAX_PAGE_NUMBER)
    f = knowledge.ArticleFilter(status=the_status, q=query or None)
    items, total = knowledge.list_articles(session, actor, f, limit=ARTICLE_PAGE, offset=(page - 1) * ARTICLE_PAGE)
    counts = {s: knowledge.list_articles(session, actor, knowledge.ArticleFilter(status=s, q=query or None),
                                         limit=1)[1] for s in ArticleStatus}
    params = {"status": the_status.value if the_status else "", "q": query}
    pages_n = max(1, -(-total // ARTICLE_PAGE))
    return _render(request, session, actor, "admin2_articles.html", "articles", items=items, total=total,
                   counts=counts, statuses=list(ArticleStatus), page=page, pages=pages_n, **params,
                   status_url=lambda s: pages.url_with("/admin/articles", {**params, "status": s}),
                   page_url=lambda n: pages.url_with("/admin/articles", {**params, "page": n if n > 1 else ""}))


ARTICLE_FIELDS = ("question", "answer", "category_code", "area_code", "unit_code", "valid_from", "valid_to",
                  "public")


def _article_page(request, session, actor, clock, settings, article_id: int | None, status: int = 200,
                  **context) -> Response:
    article, history = None, []
    if article_id is not None:
        try:
            article = knowledge.get(session, actor, clock, settings, article_id)
            history = knowledge.history(session, actor, article_id)
        except NotFound:
            return pages.error_page(request, actor, 404, session=session)
    form = context.pop("form", None) or (_article_form(article) if article else {"public": "1"})
    editable = article is None or article.status in (ArticleStatus.draft, ArticleStatus.in_review)
    return _render(request, session, actor, "admin2_article.html", "articles", status, article=article,
                   history=history, form=form, editable=editable,
                   steps=_steps_for(actor, article.status) if article else [], step_labels=STEP_LABELS,
                   max_question=MAX_QUESTION, max_answer=MAX_ANSWER, max_reason=MAX_REASON, **context)


@router.get("/admin/articles/new", response_class=HTMLResponse)
def new_article_page(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep,
                     settings: SettingsDep) -> Response:
    return _gate(request, session, actor, Permission.knowledge_edit) or _article_page(
        request, session, actor, clock, settings, None)


def _article_fields(question: str, answer: str, category_code: str, area_code: str, unit_code: str,
                    valid_from: str, valid_to: str, public: str) -> dict[str, str]:
    return {"question": question, "answer": answer, "category_code": category_code, "area_code": area_code,
            "unit_code": unit_code, "valid_from": valid_from, "valid_to": valid_to, "public": public}


@router.post("/admin/articles", response_class=HTMLResponse)
def create_article(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                   question: Annotated[str, Form(max_length=MAX_QUESTION * 2)] = "",
                   answer: Annotated[str, Form(max_length=MAX_ANSWER * 2)] = "",
                   category_code: Annotated[str, Form(max_length=MAX_CODE)] = "",
                   area_code: Annotated[str, Form(max_length=MAX_CODE)] = "",
                   unit_code: Annotated[str, Form(max_length=MAX_UNIT_CODE)] = "",
                   valid_from: Annotated[str, Form(max_length=MAX_CODE)] = "",
                   valid_to: Annotated[str, Form(max_length=MAX_CODE)] = "",
                   public: Annotated[str, Form(max_length=1)] = "") -> Response:
    if actor.role is None:
        return RedirectResponse(pages.login_url("/admin/articles/new"), status_code=303)
    form = _article_fields(question, answer, category_code, area_code, unit_code, valid_from, valid_to, public)
    try:
        require(actor, Permission.knowledge_edit)
        article = knowledge.create(session, actor, clock, _article_input(form))
    except FormError as exc:
        return _article_page(request, session, actor, clock, settings, None, 422, errors=_errors(exc), form=form)
    except DomainError as exc:
        return _refused(request, session, actor, exc) or _article_page(
            request, session, actor, clock, settings, None, 422, errors=_errors(exc), form=form)
    return _back(f"/admin/articles/{article.id}", "create")


def _article_id(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) <= 9 else None


@router.get("/admin/articles/{article_id}", response_class=HTMLResponse)
def article_page(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                 article_id: str) -> Response:
    gate = _gate(request, session, actor, Permission.knowledge_edit)
    if gate:
        return gate
    the_id = _article_id(article_id)
    if the_id is None:
        return pages.error_page(request, actor, 404, session=session)
    try:  # another unit's article is not this editor's (the service says not found, as to any reader)
        knowledge.history(session, actor, the_id)
    except NotFound:
        return pages.error_page(request, actor, 404, session=session)
    return _article_page(request, session, actor, clock, settings, the_id)


@router.post("/admin/articles/{article_id}", response_class=HTMLResponse)
def edit_article(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                 article_id: str,
                 question: Annotated[str, Form(max_length=MAX_QUESTION * 2)] = "",
                 answer: Annotated[str, Form(max_length=MAX_ANSWER * 2)] = "",
                 category_code: Annotated[str, Form(max_length=MAX_CODE)] = "",
                 area_code: Annotated[str, Form(max_length=MAX_CODE)] = "",
                 unit_code: Annotated[str, Form(max_length=MAX_UNIT_CODE)] = "",
                 valid_from: Annotated[str, Form(max_length=MAX_CODE)] = "",
                 valid_to: Annotated[str, Form(max_length=MAX_CODE)] = "",
                 public: Annotated[str, Form(max_length=1)] = "",
                 expected_version: Annotated[str, Form(max_length=12)] = "") -> Response:
    the_id = _article_id(article_id)
    if actor.role is None:
        return RedirectResponse(pages.login_url(f"/admin/articles/{article_id[:12]}"), status_code=303)
    if the_id is None:
        return pages.error_page(request, actor, 404, session=session)
    form = _article_fields(question, answer, category_code, area_code, unit_code, valid_from, valid_to, public)
    try:
        require(actor, Permission.knowledge_edit)
        knowledge.edit(session, actor, clock, the_id, _article_input(form),
                       expected_version=int(expected_version) if expected_version.isdigit() else None)
    except FormError as exc:
        return _article_page(request, session, actor, clock, settings, the_id, 422, errors=_errors(exc), form=form)
    except DomainError as exc:
        return _refused(request, session, actor, exc) or _article_page(
            request, session, actor, clock, settings, the_id, exc.status if exc.status == 409 else 422,
            errors=_errors(exc), form=form)
    return _back(f"/admin/articles/{the_id}", "edit")


@router.post("/admin/articles/{article_id}/steps/{step}", response_class=HTMLResponse)
def article_step(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                 article_id: str, step: str, note: Annotated[str, Form(max_length=MAX_REASON * 2)] = "",
                 expected_version: Annotated[str, Form(max_length=12)] = "") -> Response:
    the_id = _article_id(article_id)
    if actor.role is None:
        return RedirectResponse(pages.login_url(f"/admin/articles/{article_id[:12]}"), status_code=303)
    if the_id is None or step not in Step._value2member_map_:
        return pages.error_page(request, actor, 404, session=session)
    try:
        knowledge.act(session, actor, clock, the_id, Step(step), note,
                      expected_version=int(expected_version) if expected_version.isdigit() else None)
    except DomainError as exc:
        return _refused(request, session, actor, exc) or _article_page(
            request, session, actor, clock, settings, the_id, exc.status if exc.status == 409 else 422,
            errors={f"step-{step}" if exc.field == "note" else (exc.field or "form"): exc.message})
    return _back(f"/admin/articles/{the_id}", step)
