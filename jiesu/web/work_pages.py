"""The unit workbench (/work): what waits for a street's handler, a community worker or a summoned department,
nearest deadline first, with a countdown in business time; the steps are taken from the page through the ticket's
step route (POST /tickets/{number}/steps/{step}), which comes back here."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jiesu.api.deps import ActorDep, ClockDep, SessionDep, SettingsDep
from jiesu.api.security import require_form_token
from jiesu.calendar.rules import TimeLeft
from jiesu.errors import PermissionDenied
from jiesu.limits import MAX_PAGE_NUMBER
from jiesu.taxonomy.models import URGENCY_LABELS
from jiesu.tickets import workbench
from jiesu.tickets.rules import STATE_LABELS, Step
from jiesu.tickets.workbench import Kind, Tab
from jiesu.units.models import UNIT_KIND_LABELS
from jiesu.web import pages

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_form_token)])

TAB_LABELS = {Tab.all: "全部", Tab.sign: "待签收", Tab.handling: "办理中", Tab.summoned: "吹哨报到/协办",
              Tab.returned: "退单待审", Tab.overdue: "已超时", Tab.today: "今日到期"}
KIND_LABELS = {Kind.sign: "待签收", Kind.handling: "办理中", Kind.returned: "退单待审", Kind.summoned: "被吹哨",
               Kind.co: "协办"}


def has_workbench(actor) -> bool:
    """Whether the nav shows 工作台: the workbench's own rule (tickets.workbench.check_member)."""
    try:
        workbench.check_member(actor)
    except PermissionDenied:
        return False
    return True


pages.templates.env.globals["has_workbench"] = has_workbench
# The steps that take one click: no field to fill in, offered as a button on the ticket's card.
ONE_CLICK = (Step.sign, Step.summons_sign)


def countdown(_, left: TimeLeft | None) -> str:
    """剩 1 个工作日 3 小时 / 超时 2 小时 15 分 / 剩 40 分钟, in the page's language (`_`)."""
    if left is None:
        return ""
    parts = []
    if left.days:
        parts.append(_("{n} 个工作日", n=left.days) if left.business else _("{n} 天", n=left.days))
    if left.hours:
        parts.append(_("{n} 小时", n=left.hours))
    if left.minutes and not left.days:
        parts.append(_("{n} 分钟", n=left.minutes))
    span = " ".join(parts) or _("{n} 分钟", n=0)
    return _("超时 {span}", span=span) if left.overdue else _("剩 {span}", span=span)


@router.get("/work", response_class=HTMLResponse)
def work_page(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
              tab: str = "", page: int = 1) -> Response:
    if actor.role is None:
        return RedirectResponse(pages.login_url(pages.here(request)), status_code=303)
    try:
        workbench.check_member(actor)
    except PermissionDenied:
        return pages.error_page(request, actor, 403, session=session, message="工作台只对承办单位的工作人员开放")
    the_tab = Tab(tab) if tab in Tab._value2member_map_ else Tab.all
    page = min(max(page, 1), MAX_PAGE_NUMBER)
    bench = workbench.workbench(session, actor, clock, settings, the_tab, page)
    offers_whistle = any(Step.whistle in item.steps for item in bench.items)
    params = {"tab": the_tab.value if the_tab != Tab.all else "", "page": bench.page if bench.page > 1 else ""}
    done = request.query_params.get("done", "")
    return pages.render(
        request, "work.html", actor, session=session, bench=bench, tabs=TAB_LABELS, kinds=KIND_LABELS,
        one_click=ONE_CLICK, whistle_step=Step.whistle, reply_step=Step.reply, states=STATE_LABELS,
        urgency_labels=URGENCY_LABELS, unit_kinds=UNIT_KIND_LABELS,
        summonable=workbench.summonable(session, actor) if offers_whistle else [],
        local=pages.local_time(settings.tz), back_to=lambda number: pages.url_with("/work", {**params, "t": number}),
        done_number=request.query_params.get("t", "")[:32] if done else "",
        countdown=countdown, summary=pages.summary,
        done=Step(done) if done in Step._value2member_map_ else None,
        tab_url=lambda t: pages.url_with("/work", {"tab": t.value if t != Tab.all else ""}),
        page_url=lambda n: pages.url_with("/work", {**params, "page": n if n > 1 else ""}))
