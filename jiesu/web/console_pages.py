"""The operator console (话务台): the operator types the call; for an inquiry (咨询) the knowledge base's best
articles come up as they type (from GET /api/v1/knowledge/search, or with the 查找答案 button without
JavaScript), the operator picks one, adapts it if need be, and closes the call with a direct answer
(直接答复): no ticket. Anything else is filed as a ticket through the normal intake (smart dispatch included).
The month's direct answers are counted apart from its tickets underneath.

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
from jiesu.taxonomy.models import REQUEST_TYPE_LABELS, RequestType
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
FIELD_MESSAGES = {"text": "请填写来电内容", "answer": "请填写答复内容，或选用一条知识",
                  "article_id": "所选知识已失效，请重新选择", "contact_phone": "联系电话应为数字",
                  "direct_answer": "只有咨询类诉求可以直接答复"}


def _allowed(actor: Actor) -> bool:
    return can(actor.role, Permission.knowledge_answer)


def _page(request: Request, session: Session, actor: Actor, clock: Clock, settings: Settings, *,
          form: dict | None = None, hits: list | None = None, searched: bool = False, error: str | None = None,
          status_code: int = 200) -> Response:
    form = form or {}
    stats = None
    if can(actor.role, Permission.knowledge_stats):
        stats = knowledge.stats(session, actor, clock, settings, months=STATS_MONTHS).months
    answered = _request(session, request.query_params.get("answered"))
    return pages.render(request, "console.html", actor, status_code=status_code, session=session, form=form,
                        hits=hits or [], searched=searched, error=error, stats=stats, answered=answered,
                        ticket=request.query_params.get("ticket", "")[:MAX_CODE], types=TYPE_ORDER,
                        type_labels=REQUEST_TYPE_LABELS, inquiry=RequestType.inquiry.value, hits_limit=HITS,
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
                 address: Annotated[str, Form(max_length=MAX_ADDRESS)] = "") -> Response:
    if actor.role is None:
        return RedirectResponse(pages.login_url("/console"), status_code=303)
    if not _allowed(actor):
        return pages.error_page(request, actor, 403, session=session, message="无权使用话务台")
    form = {"text": text, "request_type": request_type, "answer": answer, "article_id": article_id,
            "contact_name": contact_name, "contact_phone": contact_phone, "address": address}
    kind = RequestType(request_type) if request_type in RequestType._value2member_map_ else RequestType.inquiry
    hits: list = []
    try:
        if action == "answer":
            data = intake.AnswerInput(text=text, answer=answer or None,
                                         article_id=int(article_id) if article_id.isdigit() else None,
                                         address=address, contact_name=contact_name or None,
                                         contact_phone=contact_phone or None)
            if kind != RequestType.inquiry:
                raise InvalidInput("only an inquiry is answered directly", field="direct_answer")
            if not text.strip():
                raise InvalidInput("a request needs its text", field="text")
            with session.begin_nested():
                done = intake.answer_directly(session, actor, clock, settings, data)
            return RedirectResponse(pages.url_with("/console", {"answered": done.intake.request.id}), status_code=303)
        if action == "ticket":
            new = tickets.NewRequest(text=text, request_type=kind, channel=Channel.hotline, address=address,
                                     contact_name=contact_name or None, contact_phone=contact_phone or None)
            with session.begin_nested():
                made = intake.create_request(session, actor, clock, settings, new)
            return RedirectResponse(pages.url_with("/console", {"ticket": made.intake.ticket.number}),
                                    status_code=303)
        if text.strip():
            hits = knowledge.search(session, actor, clock, settings, text, limit=HITS).hits
        return _page(request, session, actor, clock, settings, form=form, hits=hits, searched=True)
    except DomainError as exc:
        message = FIELD_MESSAGES.get(exc.field or "", "无法办理，请检查后重试")
        if text.strip() and kind == RequestType.inquiry:
            try:
                hits = knowledge.search(session, actor, clock, settings, text, limit=HITS).hits
            except DomainError:
                hits = []
        return _page(request, session, actor, clock, settings, form=form, hits=hits, searched=bool(hits),
                     error=message, status_code=exc.status)
