"""The callback desk (回访) and the citizen's survey (市民评价) over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from jiesu.api.deps import LOGIN_OPTIONAL, ActorDep, ClockDep, SessionDep, SettingsDep, UserDep
from jiesu.api.errors import responses
from jiesu.callback import service
from jiesu.callback.schemas import CallbackIn, CallbackOut, OutcomeOut, QueueItemOut, QueuePage, SurveyIn, SurveyOut
from jiesu.limits import MAX_CODE, MAX_OFFSET, MAX_PAGE_SIZE, MAX_TOKEN
from jiesu.units.models import Unit

router = APIRouter(tags=["callback"])

# A survey link's token: "<number>.<round>.<signature>"; the service refuses any other.
Token = Annotated[str, Path(min_length=1, max_length=MAX_TOKEN,
                            description="the token of the link sent to the citizen")]
SURVEY_NOTES = {404: "no such survey link, or its ticket was handled again since",
                409: "the survey was already answered, or the ticket closed meanwhile"}


@router.get("/callbacks/queue", response_model=QueuePage, responses=responses(401, 403, 422))
def callback_queue(session: SessionDep, actor: UserDep, settings: SettingsDep,
                   district: Annotated[str | None, Query(max_length=MAX_CODE, description="a district's code")] = None,
                   limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
                   offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> QueuePage:
    """Replied tickets waiting for their callback, the longest-waiting first, with the attempts made so far.
    The citizen's contact is masked here; the callback desk reads it unmasked (and logged) from
    GET /api/v1/tickets/{number}/contact."""
    items, total = service.queue(session, actor, limit, offset, district_code=district or None)
    return QueuePage(total=total, limit=limit, offset=offset, max_attempts=settings.callback_attempts,
                     items=[QueueItemOut.of(i) for i in items])


@router.post("/tickets/{number}/callback", response_model=OutcomeOut, responses=responses(401, 403, 404, 409, 422))
def record_callback(number: str, body: CallbackIn, session: SessionDep, actor: UserDep, clock: ClockDep,
                    settings: SettingsDep) -> OutcomeOut:
    """Record one callback attempt of a replied ticket. Reached: the answers close the ticket, or reopen it
    to the same unit with a new deadline when it is not resolved (重办). Not reached: try again later; after
    the configured attempts the ticket is closed as 未联系上."""
    return OutcomeOut.of(service.record(session, actor, clock, settings, number, body.to_answer()))


@router.get("/tickets/{number}/callbacks", response_model=list[CallbackOut], responses=responses(401, 403, 404, 422))
def callback_history(number: str, session: SessionDep, actor: UserDep) -> list[CallbackOut]:
    """Every callback attempt of a ticket, in order, over all its rounds."""
    rows = service.history(session, actor, number)
    ids = {cb.unit_id for cb in rows if cb.unit_id is not None}
    codes = {u.id: u.code for u in (session.get(Unit, i) for i in ids) if u is not None}
    return [CallbackOut.of(cb, codes.get(cb.unit_id)) for cb in rows]


@router.post("/tickets/{number}/survey", response_model=OutcomeOut, responses=responses(401, 403, 404, 409, 422))
def answer_own_survey(number: str, body: SurveyIn, session: SessionDep, actor: UserDep, clock: ClockDep,
                      settings: SettingsDep) -> OutcomeOut:
    """A logged-in citizen answers the survey of their own replied ticket (the app's 评价)."""
    return OutcomeOut.of(service.answer_own(session, actor, clock, settings, number, body.to_answer()))


@router.get("/survey/{token}", response_model=SurveyOut, responses=responses(404, 409, 422, notes=SURVEY_NOTES))
def get_survey(token: Token, session: SessionDep, settings: SettingsDep) -> SurveyOut:
    """What a survey link shows the citizen, without a login: the request and the unit's reply."""
    return SurveyOut.of(service.survey_ticket(session, settings, token))


@router.post("/survey/{token}", response_model=OutcomeOut,
             responses=responses(401, 403, 404, 409, 422, notes=SURVEY_NOTES | {
                 403: "a member of staff is logged in: the link is the citizen's"}), openapi_extra=LOGIN_OPTIONAL)
def answer_survey(token: Token, body: SurveyIn, session: SessionDep, actor: ActorDep, clock: ClockDep,
                  settings: SettingsDep) -> OutcomeOut:
    """The citizen's answers through the survey link, without a login; they count as a reached callback. The
    citizen who made the request may answer logged in; a member of staff is refused (403): the callback desk
    records what the citizen said at POST /api/v1/tickets/{number}/callback, under its own name."""
    return OutcomeOut.of(service.answer_survey(session, clock, settings, token, body.to_answer(), actor=actor))
