"""The unit workbench (/work): what waits for a street's handler, a community worker or a summoned department,
nearest deadline first, with a countdown in business time; the steps are taken from the page through the ticket's
step route (POST /tickets/{number}/steps/{step}), which comes back here."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape

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
from jiesu.web.ticket_pages import last_seq

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


def layout(item: workbench.WorkItem) -> tuple[list[Step], list[Step], bool]:
    """How a card lays out the steps its person may take (item.steps, the workflow's table): the one-click
    buttons, the other steps' forms (not the whistle: the card has its own form for it), and whether the reply
    must wait for the summoned units (then its form is left out and the card says why). Done here, not with
    Jinja's select/reject filters, which cost a fifth of the page's time over 50 cards."""
    # The service does not offer the reply while summoned units have not reported; the main unit handling the
    # ticket (to whom a note is offered) is told whom it waits for.
    reply_blocked = bool(item.waiting) and Step.note in item.steps
    quick = [s for s in item.steps if s in ONE_CLICK]
    rest = [s for s in item.steps
            if s not in ONE_CLICK and s != Step.whistle and not (reply_blocked and s == Step.reply)]
    return quick, rest, reply_blocked


class _ReadsTheTicket(Exception):
    """The step forms asked the stand-in ticket for more than its number and version."""


class _AnyTicket:
    """Stands for each ticket of the page in step forms rendered once (`StepForms`): its number and version are
    markers put back per card; reading anything else says the forms depend on the ticket itself."""

    number = "zzjiesunumberzz"
    version = "zzjiesuversionzz"

    def __getattr__(self, name: str):
        raise _ReadsTheTicket(name)


_BACK, _SEEN = "zzjiesubackzz", "zzjiesuseenzz"
_PLAIN_NUMBER = re.compile(r"[0-9A-Za-z-]{1,40}")
_BETWEEN_TAGS = re.compile(r">\s+<")  # the forms have no <pre>, and no <textarea> holding only spaces


class StepForms:
    """The cards' step forms (templates/_steps.html step_forms), rendered once per page for each set of steps and
    copied into each card with its ticket's number, version, `seen` and way back: 50 cards rendered the same forms
    50 times, over a third of the page's time (benchmarks/pages.py). The copy is what the macro writes for the
    card; forms that read more of the ticket (a dispatch's suggestion, say) are rendered for each card."""

    def __init__(self) -> None:
        self.done: dict[tuple, str | None] = {}

    def seen(self, t) -> int | str:
        """`last_seq` for the page's forms: a marker for the stand-in ticket."""
        return _SEEN if isinstance(t, _AnyTicket) else last_seq(t)

    def __call__(self, macro, t, steps: list[Step], back: str) -> Markup:
        key = tuple(steps)
        if key not in self.done:
            try:
                # the macro's indentation between tags, once: a browser shows a run of spaces as one
                self.done[key] = _BETWEEN_TAGS.sub("> <", str(macro(_AnyTicket(), steps, back=_BACK, script=False)))
            except _ReadsTheTicket:
                self.done[key] = None
        html = self.done[key]
        if html is None or not _PLAIN_NUMBER.fullmatch(t.number):
            return macro(t, steps, back=back, script=False)
        return Markup(html.replace(_AnyTicket.number, t.number).replace(_AnyTicket.version, str(escape(t.version)))
                      .replace(_SEEN, str(escape(last_seq(t)))).replace(_BACK, str(escape(back))))


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
    forms = StepForms()
    return pages.render(
        request, "work.html", actor, session=session, bench=bench, tabs=TAB_LABELS, kinds=KIND_LABELS,
        whistle_step=Step.whistle, layout=layout, states=STATE_LABELS, step_forms_once=forms,
        last_seq=forms.seen,
        urgency_labels=URGENCY_LABELS, unit_kinds=UNIT_KIND_LABELS,
        summonable=workbench.summonable(session, actor) if offers_whistle else [],
        local=pages.local_time(settings.tz), back_to=lambda number: pages.url_with("/work", {**params, "t": number}),
        done_number=request.query_params.get("t", "")[:32] if done else "",
        countdown=countdown, summary=pages.summary,
        done=Step(done) if done in Step._value2member_map_ else None,
        tab_url=lambda t: pages.url_with("/work", {"tab": t.value if t != Tab.all else ""}),
        page_url=lambda n: pages.url_with("/work", {**params, "page": n if n > 1 else ""}))
