from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from jiesu.api.deps import ClockDep, SessionDep, SettingsDep, UserDep, moment_query, writes_on_read
from jiesu.api.errors import responses
from jiesu.errors import CategoryNotFound, InvalidInput
from jiesu.limits import MAX_CODE, MAX_OFFSET, MAX_PAGE_SIZE, MAX_PURPOSE, MAX_SEARCH, MAX_UNIT_CODE
from jiesu.permissions import Actor
from jiesu.tickets import following, service
from jiesu.tickets.models import Ticket
from jiesu.tickets.rules import ACTION_LABELS, PERSON_STEPS, TRANSITIONS, Step, TicketState
from jiesu.tickets.schemas import (
    AccessOut,
    ContactOut,
    StepIn,
    TicketDetailOut,
    TicketOut,
    TicketPage,
)

router = APIRouter(tags=["tickets"])


def detail(session, actor: Actor, ticket: Ticket) -> TicketDetailOut:
    """The ticket as `actor` is told it (a citizen sees units in its timeline, not the staff's usernames)."""
    parent, merged = service.related(session, ticket)
    return TicketDetailOut.of(ticket, parent, merged, reader=actor,
                              unit_names=service.timeline_units(session, actor, ticket.events))


@router.get("/tickets", response_model=TicketPage, responses=responses(401, 403, 422))
def list_tickets(session: SessionDep, actor: UserDep, clock: ClockDep,
                 created_from: Annotated[datetime | None, moment_query("created_from")],
                 created_to: Annotated[datetime | None, moment_query("created_to")],
                 state: TicketState | None = None,
                 unit: Annotated[str | None, Query(max_length=MAX_UNIT_CODE)] = None,
                 district_code: Annotated[str | None, Query(max_length=MAX_CODE)] = None,
                 category_code: Annotated[str | None, Query(max_length=MAX_CODE)] = None,
                 overdue: bool | None = None,
                 manual: Annotated[bool | None, Query(description="true: the manual queue (smart dispatch was "
                                                              "not sure enough)")] = None,
                 q: Annotated[str | None, Query(max_length=MAX_SEARCH)] = None,
                 limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
                 offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> TicketPage:
    """Tickets the caller may see, newest first: the centre sees all, a unit its own, a citizen theirs."""
    f = service.TicketFilter(state=state, unit_code=unit, district_code=district_code, category_code=category_code,
                             overdue=overdue, manual=manual, created_from=created_from, created_to=created_to, q=q,
                             now=clock.now())
    try:
        items, total = service.list_tickets(session, actor, f, limit, offset)
    except CategoryNotFound as exc:  # a filter naming no category is bad input, as an unknown unit is
        raise InvalidInput(exc.message, field="category_code") from exc
    return TicketPage(total=total, limit=limit, offset=offset, items=[TicketOut.of(t) for t in items])


@router.get("/tickets/{number}", response_model=TicketDetailOut, responses=responses(401, 403, 404, 422))
def get_ticket(number: str, session: SessionDep, actor: UserDep) -> TicketDetailOut:
    """One ticket with its deadlines, its units and its timeline (every event, in order)."""
    return detail(session, actor, service.get(session, actor, number))


@router.get("/tickets/{number}/contact", response_model=ContactOut | None, responses=responses(401, 403, 404, 422))
@writes_on_read
def get_contact(number: str, session: SessionDep, actor: UserDep, clock: ClockDep,
                purpose: Annotated[str, Query(min_length=1, max_length=MAX_PURPOSE, description="why: it is logged")]
                ) -> ContactOut | None:
    """The citizen's name and phone unmasked, for the roles that call them. Every read is logged."""
    contact = service.contact_of(session, actor, clock, number, purpose)
    return ContactOut(name=contact.name, phone=contact.phone, masked=False) if contact else None


@router.get("/personal-data-access", response_model=list[AccessOut], responses=responses(401, 403, 422))
def personal_data_access(session: SessionDep, actor: UserDep,
                         limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
                         offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> list[AccessOut]:
    """Who read which citizen's contact unmasked, when, and why."""
    return [AccessOut(at=a.at, actor=a.actor, role=a.role, ticket_id=a.ticket_id, purpose=a.purpose)
            for a in service.access_log(session, actor, limit, offset)]


class FollowOut(BaseModel):
    number: str
    following: bool
    followers: int  # how many citizens follow the ticket (never who)


@router.post("/tickets/{number}/follow", response_model=FollowOut, responses=responses(401, 403, 404, 409, 422))
def follow_ticket(number: Annotated[str, Path(max_length=MAX_CODE)], session: SessionDep, actor: UserDep,
                  clock: ClockDep) -> FollowOut:
    """A citizen follows an open ticket someone else filed (the app's 已有人反映，加入关注) instead of filing the same
    request again: it shows in their 我的诉求 with its public status. Following again changes nothing."""
    row = following.follow(session, actor, clock, number)
    ticket = session.get(Ticket, row.ticket_id)
    return FollowOut(number=ticket.number, following=True, followers=following.followers(session, ticket))


@router.delete("/tickets/{number}/follow", response_model=FollowOut, responses=responses(401, 403, 404, 422))
def unfollow_ticket(number: Annotated[str, Path(max_length=MAX_CODE)], session: SessionDep,
                    actor: UserDep) -> FollowOut:
    """The citizen stops following the ticket (nothing happens when they did not follow it)."""
    following.unfollow(session, actor, number)
    ticket = service.by_number(session, number, ())
    return FollowOut(number=ticket.number, following=False, followers=following.followers(session, ticket))


# One endpoint per workflow step a person takes.


def _make_step_route(step: Step):
    def take_step(number: str, body: StepIn, session: SessionDep, actor: UserDep, clock: ClockDep,
                  settings: SettingsDep) -> TicketDetailOut:
        ticket = service.act(session, actor, clock, settings, number, step, body.to_input())
        return detail(session, actor, ticket)

    take_step.__name__ = f"ticket_{step.name.rstrip('_')}"
    take_step.__doc__ = f"Workflow step `{step.value}` (see GET /api/v1/workflow for who may take it and when)."
    return take_step


for _step in PERSON_STEPS:  # the clock's own steps are not offered
    router.add_api_route(f"/tickets/{{number}}/{_step.value.replace('_', '-')}", _make_step_route(_step),
                         methods=["POST"], response_model=TicketDetailOut,
                         responses=responses(401, 403, 404, 409, 422), name=f"ticket_{_step.name.rstrip('_')}")


@router.get("/workflow")
def workflow() -> list[dict]:
    """The transition table: every step, the states it may start from, where it leads, who may take it."""
    return [{"action": t.action.value, "label": ACTION_LABELS[t.action], "from": sorted(s.value for s in t.sources),
             "to": t.target.value if t.target else None, "roles": sorted(r.value for r in t.roles),
             "party": t.party.value, "needs": list(t.needs)} for t in TRANSITIONS.values()]
