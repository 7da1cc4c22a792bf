"""Reading tickets: who may see which (`can_see`, `list_tickets`), contacts and their access log, timelines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from jiesu.clock import Clock
from jiesu.errors import (
    InvalidInput,
    TicketNotFound,
    UnitNotFound,
    check_page,
)
from jiesu.permissions import Actor, Permission, Role, require
from jiesu.taxonomy import service as taxonomy
from jiesu.taxonomy.models import Category
from jiesu.tickets import rules
from jiesu.tickets.models import (
    Contact,
    PersonalDataAccess,
    Request,
    Ticket,
    TicketUnit,
)
from jiesu.tickets.rules import TicketState
from jiesu.units import service as units

CENTRE_ROLES = frozenset({Role.operator, Role.dispatcher, Role.callback_agent, Role.supervisor, Role.admin})


def get(session: Session, actor: Actor, number: str) -> Ticket:
    require(actor, Permission.tickets_read)
    ticket = session.scalar(select(Ticket).where(Ticket.number == number)
                            .options(selectinload(Ticket.units), selectinload(Ticket.events)))
    if ticket is None or not can_see(session, actor, ticket):
        raise TicketNotFound(f"no ticket {number}", field="number")
    return ticket


def can_see(session: Session, actor: Actor, ticket: Ticket) -> bool:
    """The centre sees every ticket; a unit the tickets it was sent, summoned to or copied on; a citizen
    their own. (A ticket one may not see is answered 'not found', not 'forbidden'.)"""
    if actor.role in CENTRE_ROLES:
        return True
    if actor.role == Role.citizen:
        return ticket.request.created_by == actor.username
    if actor.unit_id is None:
        return False
    return actor.unit_id == ticket.main_unit_id or any(tu.unit_id == actor.unit_id for tu in ticket.units)


def as_workflow(actor: Actor) -> Actor:
    # Workflow steps look units up on the workflow's authority: a citizen withdrawing may not list units.
    return Actor(username=actor.username, role=Role.admin, user_id=actor.user_id, unit_id=actor.unit_id)



@dataclass
class TicketFilter:
    state: TicketState | None = None
    unit_code: str | None = None
    district_code: str | None = None
    category_code: str | None = None
    overdue: bool | None = None
    manual: bool | None = None  # the manual queue: smart dispatch was not sure enough
    created_from: datetime | None = None
    created_to: datetime | None = None
    q: str | None = None


def list_tickets(session: Session, actor: Actor, f: TicketFilter, limit: int = 50,
                 offset: int = 0) -> tuple[list[Ticket], int]:
    require(actor, Permission.tickets_read)
    check_page(limit, offset)
    stmt = select(Ticket).join(Request, Ticket.request_id == Request.id)
    if actor.role == Role.citizen:
        stmt = stmt.where(Request.created_by == actor.username)
    elif actor.role not in CENTRE_ROLES:
        mine = select(TicketUnit.ticket_id).where(TicketUnit.unit_id == actor.unit_id)
        stmt = stmt.where(or_(Ticket.main_unit_id == actor.unit_id, Ticket.id.in_(mine)))
    if f.state:
        stmt = stmt.where(Ticket.state == f.state)
    if f.unit_code:
        try:
            unit = units.get(session, as_workflow(actor), f.unit_code)
        except UnitNotFound as exc:
            raise InvalidInput(str(exc), field="unit") from exc
        stmt = stmt.where(Ticket.main_unit_id == unit.id)
    if f.district_code:
        stmt = stmt.where(Ticket.district_code == f.district_code)
    if f.category_code:
        cat = taxonomy.get(session, actor, f.category_code)
        stmt = stmt.join(Category, Ticket.category_id == Category.id).where(
            or_(Category.code == cat.code, Category.code.like(f"{cat.code}.%")))
    if f.overdue is not None:
        late = or_(Ticket.sign_overdue.is_(True), Ticket.reply_overdue.is_(True))
        stmt = stmt.where(late if f.overdue else ~late)
    if f.manual is not None:
        stmt = stmt.where(Ticket.manual_review.is_(f.manual))
    if f.created_from:
        stmt = stmt.where(Ticket.created_at >= f.created_from)
    if f.created_to:
        stmt = stmt.where(Ticket.created_at < f.created_to)
    if f.q:
        like = f"%{f.q.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(Request.text.like(like), Request.title.like(like), Request.address.like(like),
                              Ticket.number == f.q))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def contact_of(session: Session, actor: Actor, clock: Clock, number: str, purpose: str) -> Contact | None:
    """The citizen's name and phone, unmasked, for a role that needs them; the read is logged."""
    require(actor, Permission.personal_data_read)
    if not purpose.strip():
        raise InvalidInput("say why you need the citizen's contact", field="purpose")
    ticket = get(session, actor, number)
    contact = ticket.request.contact
    if contact is None:
        return None
    session.add(PersonalDataAccess(at=clock.now(), actor=actor.username, role=actor.role.value,
                                   contact_id=contact.id, ticket_id=ticket.id, purpose=purpose.strip()[:256]))
    session.flush()
    return contact


def access_log(session: Session, actor: Actor, limit: int = 100, offset: int = 0) -> list[PersonalDataAccess]:
    require(actor, Permission.personal_data_audit)
    check_page(limit, offset)
    return list(session.scalars(select(PersonalDataAccess).order_by(PersonalDataAccess.id.desc())
                                .limit(limit).offset(offset)))


def related(session: Session, ticket: Ticket) -> tuple[str | None, list[str]]:
    """The number of the ticket this one was merged into, and those merged into this one."""
    parent = session.scalar(select(Ticket.number).where(Ticket.id == ticket.parent_id)) if ticket.parent_id else None
    merged = list(session.scalars(select(Ticket.number).where(Ticket.parent_id == ticket.id).order_by(Ticket.id)))
    return parent, merged


def replayed_state(ticket: Ticket) -> TicketState | None:
    """The state the event log says the ticket is in; equals ticket.state unless someone went around
    the workflow."""
    return rules.replay((e.from_state, e.to_state) for e in sorted(ticket.events, key=lambda e: e.seq))


