"""The operator console (话务台): the operator types the call; for an inquiry (咨询) the knowledge base's best
articles come up as they type (from GET /api/v1/knowledge/search, or with the 查找答案 button without
JavaScript), the operator picks one, adapts it if need be, and closes the call with a direct answer
(直接答复): no ticket. Anything else is filed as a ticket through the normal intake (smart dispatch included).
The month's direct answers are counted apart from its tickets underneath.

While the call is typed, smart dispatch's suggestion (category, place and whether it is ambiguous, unit(s),
urgency, possible duplicates, each with its reasons) comes up beside it before the ticket is made (from POST
/api/v1/routing/suggest, or with the 查找答案/查看建议 button without JavaScript). Nothing of it is sent back:
the intake computes it again and the dispatcher sees it. The operator sets the urgency (紧急程度), anonymity
(匿名) and whether the citizen wants a callback (不需回访). Keyboard shortcuts (console.js) are listed on the page.

Each handler calls the same service functions as the API.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from jiesu.api.deps import ActorDep, ClockDep, SessionDep, SettingsDep
from jiesu.api.security import require_form_token
from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.errors import DomainError, InvalidInput
from jiesu.intake import service as intake
from jiesu.knowledge import service as knowledge
from jiesu.limits import MAX_ADDRESS, MAX_CODE, MAX_NAME, MAX_PHONE, MAX_TEXT
from jiesu.permissions import Actor, Permission, can
from jiesu.routing import service as routing
from jiesu.taxonomy.models import REQUEST_TYPE_LABELS, RequestType, Urgency
from jiesu.tickets import service as tickets
from jiesu.tickets.models import Channel
from jiesu.tickets.models import Request as TicketRequest
from jiesu.web import pages

# Every unsafe request to a page needs its origin and the session's CSRF token.
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_form_token)])

HITS = 5
STATS_MONTHS = 3
TYPE_ORDER = [RequestType.inquiry, RequestType.help, RequestType.complaint, RequestType.report,
              RequestType.suggestion, RequestType.praise]
TYPE_ORDER += [t for t in RequestType if t not in TYPE_ORDER]
URGENCY_ORDER = [Urgency.normal, Urgency.emergency, Urgency.complex]
URGENCY_ORDER += [u for u in Urgency if u not in URGENCY_ORDER]
FIELD_MESSAGES = {"text": "请填写来电内容", "answer": "请填写答复内容，或选用一条知识",
                  "article_id": "所选知识已失效，请重新选择", "contact_phone": "联系电话应为数字",
                  "direct_answer": "只有咨询类诉求可以直接答复", "urgency": "紧急程度无效，请重新选择",
                  "anonymous": "匿名应为勾选或不勾选", "no_callback": "不需回访应为勾选或不勾选"}


def _allowed(actor: Actor) -> bool:
    return can(actor.role, Permission.knowledge_answer)


def _check(value: str, field: str) -> bool:
    """A checkbox: sent as 1 when ticked, absent otherwise."""
    if value not in ("", "1"):
        raise InvalidInput(f"{field} is 1 or empty", field=field)
    return value == "1"


def _urgency(value: str) -> Urgency:
    if value not in Urgency._value2member_map_:
        raise InvalidInput(f"urgency is one of {', '.join(Urgency._value2member_map_)}", field="urgency")
    return Urgency(value)


def _suggestion(session: Session, actor: Actor, clock: Clock, settings: Settings, form: dict) -> dict | None:
    """Smart dispatch's suggestion for the call as typed (the page without JavaScript; console.js asks the API)."""
    if not can(actor.role, Permission.routing_suggest) or not form["text"].strip():
        return None
    try:
        s = routing.suggest(session, actor, clock, settings, text=form["text"], address=form["address"],
                            phone=form["contact_phone"].strip() or None)
    except DomainError:
        return None
    return s.to_dict()


def _page(request: Request, session: Session, actor: Actor, clock: Clock, settings: Settings, *,
          form: dict | None = None, hits: list | None = None, searched: bool = False, error: str | None = None,
          suggestion: dict | None = None, status_code: int = 200) -> Response:
    form = form or {}
    stats = None
    if can(actor.role, Permission.knowledge_stats):
        stats = knowledge.stats(session, actor, clock, settings, months=STATS_MONTHS).months
    answered = _request(session, request.query_params.get("answered"))
    return pages.render(request, "console.html", actor, status_code=status_code, session=session, form=form,
                        hits=hits or [], searched=searched, error=error, stats=stats, answered=answered,
                        ticket=request.query_params.get("ticket", "")[:MAX_CODE], types=TYPE_ORDER,
                        type_labels=REQUEST_TYPE_LABELS, inquiry=RequestType.inquiry.value, hits_limit=HITS,
                        urgencies=URGENCY_ORDER, suggestion=suggestion,
                        suggests=can(actor.role, Permission.routing_suggest),
                        pct=lambda v: "—" if v is None else f"{100 * v:.1f}%")


def _request(session: Session, value: str | None) -> TicketRequest | None:
    if not value or not value.isdigit() or len(value) > 12:
        return None
    return session.get(TicketRequest, int(value))


@router.get("/console", response_class=HTMLResponse)
def console(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep,
            settings: SettingsDep) -> Response:
    if actor.role is None:
        return RedirectResponse(pages.login_url("/console"), status_code=303)
    if not _allowed(actor):
        return pages.error_page(request, actor, 403, session=session, message="无权使用话务台")
    return _page(request, session, actor, clock, settings)


@router.post("/console", response_class=HTMLResponse)
def console_post(request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
                 action: Annotated[str, Form(max_length=16)] = "search",
                 text: Annotated[str, Form(max_length=MAX_TEXT)] = "",
                 request_type: Annotated[str, Form(max_length=16)] = RequestType.inquiry.value,
                 answer: Annotated[str, Form(max_length=MAX_TEXT)] = "",
                 article_id: Annotated[str, Form(max_length=12)] = "",
                 contact_name: Annotated[str, Form(max_length=MAX_NAME)] = "",
                 contact_phone: Annotated[str, Form(max_length=MAX_PHONE)] = "",
                 address: Annotated[str, Form(max_length=MAX_ADDRESS)] = "",
                 urgency: Annotated[str, Form(max_length=16)] = Urgency.normal.value,
                 anonymous: Annotated[str, Form(max_length=1)] = "",
                 no_callback: Annotated[str, Form(max_length=1)] = "") -> Response:
    if actor.role is None:
        return RedirectResponse(pages.login_url("/console"), status_code=303)
    if not _allowed(actor):
        return pages.error_page(request, actor, 403, session=session, message="无权使用话务台")
    form = {"text": text, "request_type": request_type, "answer": answer, "article_id": article_id,
            "contact_name": contact_name, "contact_phone": contact_phone, "address": address, "urgency": urgency,
            "anonymous": anonymous == "1", "no_callback": no_callback == "1"}
    kind = RequestType(request_type) if request_type in RequestType._value2member_map_ else RequestType.inquiry
    hits: list = []
    try:
        urgent, unnamed, unasked = _urgency(urgency), _check(anonymous, "anonymous"), _check(no_callback, "no_callback")
        if action == "answer":
            data = intake.AnswerInput(text=text, answer=answer or None,
                                         article_id=int(article_id) if article_id.isdigit() else None,
                                         address=address, contact_name=contact_name or None,
                                         contact_phone=contact_phone or None, anonymous=unnamed)
            if kind != RequestType.inquiry:
                raise InvalidInput("only an inquiry is answered directly", field="direct_answer")
            if not text.strip():
                raise InvalidInput("a request needs its text", field="text")
            with session.begin_nested():
                done = intake.answer_directly(session, actor, clock, settings, data)
            return RedirectResponse(pages.url_with("/console", {"answered": done.intake.request.id}), status_code=303)
        if action == "ticket":
            new = tickets.NewRequest(text=text, request_type=kind, channel=Channel.hotline, address=address,
                                     contact_name=contact_name or None, contact_phone=contact_phone or None,
                                     urgency=urgent, anonymous=unnamed, no_callback=unasked)
            with session.begin_nested():
                made = intake.create_request(session, actor, clock, settings, new)
            return RedirectResponse(pages.url_with("/console", {"ticket": made.intake.ticket.number}),
                                    status_code=303)
        if text.strip():
            hits = knowledge.search(session, actor, clock, settings, text, limit=HITS).hits
        return _page(request, session, actor, clock, settings, form=form, hits=hits, searched=True,
                     suggestion=_suggestion(session, actor, clock, settings, form))
    except DomainError as exc:
        message = FIELD_MESSAGES.get(exc.field or "", "无法办理，请检查后重试")
        if text.strip() and kind == RequestType.inquiry:
            try:
                hits = knowledge.search(session, actor, clock, settings, text, limit=HITS).hits
            except DomainError:
                hits = []
        return _page(request, session, actor, clock, settings, form=form, hits=hits, searched=bool(hits),
                     error=message, suggestion=_suggestion(session, actor, clock, settings, form),
                     status_code=exc.status)
