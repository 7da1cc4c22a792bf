"""POST /api/v1/requests: a citizen's request from any channel, through intake (smart dispatch included)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response

from jiesu.api.deps import ClockDep, SessionDep, SettingsDep, UserDep
from jiesu.api.errors import IDEMPOTENCY_NOTES, responses
from jiesu.api.v1 import tickets
from jiesu.intake import service
from jiesu.limits import MAX_IDEMPOTENCY_KEY
from jiesu.permissions import Permission, can
from jiesu.tickets.schemas import IntakeOut, RequestIn, SuggestionOut, TicketDetailOut
from jiesu.tickets.service import timeline_units

router = APIRouter(tags=["tickets"])


@router.post("/requests", status_code=201, response_model=IntakeOut,
             responses=responses(401, 403, 409, 422, notes=IDEMPOTENCY_NOTES))
def create_request(body: RequestIn, session: SessionDep, actor: UserDep, clock: ClockDep,
                   settings: SettingsDep,
                   idempotency_key: Annotated[str | None, Header(max_length=MAX_IDEMPOTENCY_KEY)] = None,
                   suggest: Annotated[Literal["now", "later"] | None, Query(
                       description="smart dispatch's suggestion: `now`, inside this request, answered in "
                                   "`suggestion` (for the centre's staff); `later`, by the worker right after the "
                                   "ticket is acknowledged (`suggestion_pending: true`; it shows on the ticket "
                                   "within a second or so). Default: JIESU_SUGGEST_AT_INTAKE (later)")] = None,
                   ) -> Response:
    """A citizen's request from any channel. An inquiry with `direct_answer` is closed at once;
    anything else becomes a ticket waiting for dispatch. Send an `Idempotency-Key` header to make a
    retry safe: the same key returns the first answer (with `replayed: true`), never a second ticket. A key is
    the sender's own (another sender's same key is another request), and names one request: sent again with a
    different body it is refused (422, field `Idempotency-Key`)."""
    now = suggest == "now" if suggest is not None else settings.suggest_at_intake
    # The request boundary: the intake is this request's whole work, so the service commits it (on PostgreSQL
    # in one autocommit statement) before the answer is made: a failed commit is an error, never a 201 the
    # database did not keep.
    made = service.create_request(session, actor, clock, settings, body.to_new(), idempotency_key, now=now,
                                   commit=True)
    intake = made.intake
    shown = made.suggestion is not None and can(actor.role, Permission.routing_suggest)
    ticket = intake.ticket
    out = IntakeOut(request_id=intake.request.id, outcome=intake.request.outcome,
                    direct_answer=intake.request.answer, replayed=intake.replayed,
                    ticket=None if ticket is None
                    # a new ticket has no parent and no duplicates yet: no need to ask the database
                    else tickets.detail(session, actor, ticket) if intake.replayed
                    else TicketDetailOut.of(ticket, reader=actor, unit_names=timeline_units(
                        session, actor, ticket.events)),
                    suggestion=SuggestionOut.model_validate(made.suggestion.to_dict()) if shown else None,
                    suggestion_pending=ticket is not None and ticket.suggest_pending)
    # Sent as it is: FastAPI would turn the model into a dict, validate that against IntakeOut again and
    # serialise it; the model is IntakeOut already (response_model still documents it).
    headers = {"Idempotent-Replayed": "true"} if intake.replayed else None
    return Response(out.model_dump_json(), status_code=201, media_type="application/json", headers=headers)
