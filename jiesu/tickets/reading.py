"""Reading tickets, one path: `readable(actor)` is the statement of the tickets an actor may see, with what the
read shows loaded; the ticket's use cases (`get`, `list_tickets`), the pages, the API, the callback queue and the
assessment's lists go through it. Also contacts and their access log, and timelines.

The relationships of the ticket's models are lazy="raise": a read says what it loads (ROW, DETAIL), so that a
list of 50 costs a handful of statements, not one per row and relationship."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, ColumnElement, Select, case, false, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, contains_eager, joinedload, selectinload
from sqlalchemy.orm.interfaces import ORMOption
from sqlalchemy.sql.visitors import InternalTraversal

from jiesu import glossary, inputs
from jiesu.clock import Clock
from jiesu.errors import (
    InvalidInput,
    TicketNotFound,
    UnitNotFound,
    check_page,
)
from jiesu.limits import MAX_PURPOSE
from jiesu.permissions import Actor, Permission, Role, is_system, require
from jiesu.places.models import Area
from jiesu.taxonomy import service as taxonomy
from jiesu.taxonomy.models import Category
from jiesu.tickets import rules
from jiesu.tickets.models import (
    Contact,
    PersonalDataAccess,
    Request,
    SummonsState,
    Ticket,
    TicketUnit,
    UnitRole,
)
from jiesu.tickets.rules import OPEN_STATES, OPEN_WORK, TicketState
from jiesu.units import service as units
from jiesu.units.models import Unit

CENTRE_ROLES = frozenset({Role.operator, Role.dispatcher, Role.callback_agent, Role.supervisor, Role.admin})

# What a read of tickets loads with them. BRIEF: a line of a work list (the callback queue, the assessment's
# lists): the request with its contact, the category and the main unit, joined into the list's own statement.
# ROW: what the ticket list shows of each (the API's TicketOut, the pages' rows): also the place, and the units
# (co-handling, copied, summoned) with their unit in one more statement. DETAIL: one ticket, and its timeline; what
# the workflow's steps need too (act reads the ticket through `get`).
BRIEF: tuple[ORMOption, ...] = (
    contains_eager(Ticket.request).joinedload(Request.contact),
    joinedload(Ticket.category), joinedload(Ticket.main_unit),
)
ROW: tuple[ORMOption, ...] = (*BRIEF, joinedload(Ticket.area), selectinload(Ticket.units).joinedload(TicketUnit.unit))
DETAIL: tuple[ORMOption, ...] = (*ROW, selectinload(Ticket.events))


class InSelect(ColumnElement[bool]):
    """`column IN (subquery)`, written on PostgreSQL as `column = ANY(ARRAY(subquery))`: the subquery then runs
    once, before the scan, and its ids are an index condition that PostgreSQL can OR with another one (a bitmap
    of both indexes), where `x = 1 OR id IN (subquery)` makes it read the whole table (benchmarks/pages.py: a
    unit's list of 5,500 tickets among a million counted in 0.75 s that way, 0.05 s this way). The same rows."""

    type = Boolean()
    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("subquery", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement, subquery: Select) -> None:
        self.column, self.subquery = column, subquery


@compiles(InSelect)
def _in_select(element: InSelect, compiler, **kw) -> str:
    return compiler.process(element.column.in_(element.subquery), **kw)


@compiles(InSelect, "postgresql")
def _in_select_postgresql(element: InSelect, compiler, **kw) -> str:
    return (f"{compiler.process(element.column, **kw)} = "
            f"ANY(ARRAY{compiler.process(element.subquery.scalar_subquery(), **kw)})")


def visibility(actor: Actor) -> ColumnElement[bool] | None:
    """Who sees which ticket, written once: the centre every ticket (None: no condition); a unit the tickets it
    was sent, summoned to or copied on; a community worker also the tickets about their community (its area: the
    community's unit has the community's area code); a citizen their own requests; anyone else none. On a statement
    that joins the ticket's request (as `readable` does). A ticket one may not see is answered 'not found', not
    'forbidden'."""
    if actor.role in CENTRE_ROLES:
        return None
    if actor.role == Role.citizen:
        return Request.created_by == actor.username
    if actor.unit_id is None:
        return false()
    mine = select(TicketUnit.ticket_id).where(TicketUnit.unit_id == actor.unit_id)
    rule = or_(Ticket.main_unit_id == actor.unit_id, InSelect(Ticket.id, mine))
    if actor.role == Role.community_worker:
        community = select(Area.id).join(Unit, Unit.code == Area.code).where(Unit.id == actor.unit_id)
        rule = or_(rule, InSelect(Ticket.area_id, community))
    return rule


def shaped(shape: Sequence[ORMOption]) -> Select[tuple[Ticket]]:
    """Tickets with their request joined and `shape` loaded, whoever asks: the base of `readable`, and of the
    lookups below the use cases (`by_number`)."""
    stmt = select(Ticket).join(Ticket.request)
    return stmt.options(*shape) if shape else stmt


def readable(actor: Actor, shape: Sequence[ORMOption] = ROW) -> Select[tuple[Ticket]]:
    """The tickets `actor` may see, with their request joined, and `shape` loaded: ROW for a list, DETAIL for one
    ticket, () to count or to pick ids. Callers add their filters, order and page."""
    stmt = shaped(shape)
    rule = visibility(actor)
    return stmt if rule is None else stmt.where(rule)


def visible(actor: Actor) -> Select[tuple[Ticket]]:
    """The tickets `actor` may see, on the tickets alone unless the rule needs the request (a citizen's own):
    every ticket has one request, so the rows are the same, and a million of them count without a join."""
    if actor.role == Role.citizen:
        return readable(actor, ())
    rule = visibility(actor)
    return select(Ticket) if rule is None else select(Ticket).where(rule)


def by_number(session: Session, number: str, shape: Sequence[ORMOption] = DETAIL, *,
              fresh: bool = False) -> Ticket | None:
    """The ticket with this number whoever asks, loaded as `shape`: for the services below the use cases, which
    have their own authority (a survey link's signature, the clock's schedule), not an actor's. `fresh`: the row
    as it is now, even if the session has the ticket already."""
    stmt = shaped(shape).where(Ticket.number == number)
    return session.scalar(stmt.execution_options(populate_existing=True) if fresh else stmt)


def count(session: Session, stmt: Select, cap: int | None = None) -> int:
    """How many rows a statement (filtered, not yet paged) has; with `cap`, counted no further than cap + 1 (more
    than `cap`: the database stops there instead of counting a million rows)."""
    stmt = stmt.order_by(None)
    if cap is not None:
        stmt = stmt.limit(cap + 1)
    return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def get(session: Session, actor: Actor, number: str, shape: Sequence[ORMOption] = DETAIL) -> Ticket:
    require(actor, Permission.tickets_read)
    ticket = session.scalar(readable(actor, shape).where(Ticket.number == number))
    if ticket is None:
        raise TicketNotFound(f"no ticket {number}", field="number")
    return ticket


def can_see(session: Session, actor: Actor, ticket: Ticket) -> bool:
    """Whether `actor` may see `ticket`: the rule of `readable`, asked of one ticket."""
    rule = visibility(actor)
    if rule is None:
        return True
    return session.scalar(readable(actor, ()).with_only_columns(Ticket.id).where(Ticket.id == ticket.id)) is not None


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
    # What waits for someone (the home page's counts link to these; jiesu/tickets/waiting.py counts the same):
    open: bool | None = None  # True: not final yet (OPEN_STATES)
    mine: bool = False  # the actor's unit is the ticket's main unit
    escalated: bool | None = None  # 督办
    extension_requested: bool | None = None  # an extension asked for, not yet approved or refused
    summoned: bool = False  # the actor's unit is whistled in and has not reported its part done yet
    sign_overdue: bool = False  # the sign deadline was missed (the supervisor's lists)
    reply_overdue: bool = False  # the reply deadline was missed
    callback_due: bool = False  # in the callback queue
    due_from: datetime | None = None  # the reply is due in [due_from, due_to) and not given yet
    due_to: datetime | None = None
    # The instant `overdue` is judged at: with it, a new ticket past its dispatch deadline (dispatch_by) is overdue
    # too; without it, only the sign and reply deadlines the clock flags count.
    now: datetime | None = None


def list_tickets(session: Session, actor: Actor, f: TicketFilter, limit: int = 50,
                 offset: int = 0, count_cap: int | None = None) -> tuple[list[Ticket], int]:
    """A page of the tickets `actor` may see, newest first, each with what a list shows (ROW); and how many
    there are (with `count_cap`: counted up to count_cap + 1, "more than count_cap")."""
    require(actor, Permission.tickets_read)
    check_page(limit, offset)
    # Counted and paged on the tickets alone unless the request is needed (a citizen's own, a search in its text).
    stmt = readable(actor, ()) if f.q else visible(actor)
    stmt = stmt.where(*waiting_conditions(actor, f))
    if f.unit_code:
        try:
            unit = units.by_code(session, f.unit_code)
        except UnitNotFound as exc:
            raise InvalidInput(str(exc), field="unit") from exc
        stmt = stmt.where(Ticket.main_unit_id == unit.id)
    if f.district_code:
        stmt = stmt.where(Ticket.district_code == f.district_code)
    if f.category_code:
        cat = taxonomy.category_by_code(session, f.category_code)
        in_tree = select(Category.id).where(or_(Category.code == cat.code, Category.code.like(f"{cat.code}.%")))
        stmt = stmt.where(Ticket.category_id.in_(in_tree))
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
    total = count(session, stmt, count_cap)
    # The page's ids first (an index's walk, however deep the page), then their rows with what a list shows: the
    # joins are made for 50 rows, not for the offset's thousands before them. One statement.
    order = (Ticket.created_at.desc(), Ticket.id.desc())
    page = stmt.with_only_columns(Ticket.id).order_by(*order).limit(limit).offset(offset)
    rows = session.scalars(shaped(ROW).where(Ticket.id.in_(page)).order_by(*order))
    return list(rows), total


def waiting_conditions(actor: Actor, f: TicketFilter) -> list[ColumnElement[bool]]:
    """The conditions of TicketFilter's state, overdue and waiting fields (open, mine, escalated, extension_requested,
    summoned, due ...): the list and the home page's counts (waiting.py) say them once."""
    out: list[ColumnElement[bool]] = []
    if f.state:
        out.append(Ticket.state == f.state)
    if f.overdue is not None:
        late = overdue(f.now)
        out.append(late if f.overdue else ~late)
    # Late and still waiting: a sign deadline missed by a ticket not signed yet, a reply deadline missed by one not
    # replied yet (the flags stay on a ticket after it is done late; the supervisor's work is what still waits).
    if f.sign_overdue:
        out.append(Ticket.sign_overdue.is_(True) & (Ticket.state == TicketState.dispatched))
    if f.reply_overdue:
        out.append(Ticket.reply_overdue.is_(True) & Ticket.state.in_(OPEN_WORK))
    if f.callback_due:
        out.append(Ticket.callback_due.is_(True))
    if f.open is not None:
        out.append(Ticket.state.in_(OPEN_STATES) if f.open else Ticket.state.not_in(OPEN_STATES))
    if f.mine:
        out.append(Ticket.main_unit_id == actor.unit_id if actor.unit_id is not None else false())
    if f.escalated is not None:
        out.append(Ticket.escalated.is_(f.escalated))
    if f.extension_requested is not None:
        asked = Ticket.extension_days_requested.is_not(None) & (Ticket.state == TicketState.handling)
        out.append(asked if f.extension_requested else ~asked)
    if f.summoned:
        out.append(summoned_pending(actor))
    if f.due_from is not None or f.due_to is not None:
        # The deadline that runs now: signing for a dispatched ticket, the reply for one being handled (as the unit's
        # workbench counts down); a returned ticket waits for the centre.
        due = case((Ticket.state == TicketState.dispatched, Ticket.sign_by),
                   (Ticket.state == TicketState.handling, Ticket.reply_by), else_=None)
        if f.due_from is not None:
            out.append(due >= f.due_from)
        if f.due_to is not None:
            out.append(due < f.due_to)
    return out


def summoned_pending(actor: Actor) -> ColumnElement[bool]:
    """Open tickets the actor's unit was whistled into (吹哨报到) and has not reported its part done."""
    if actor.unit_id is None:
        return false()
    summons = select(TicketUnit.ticket_id).where(
        TicketUnit.unit_id == actor.unit_id, TicketUnit.role == UnitRole.summoned,
        TicketUnit.state.in_([SummonsState.summoned, SummonsState.signed]))
    return Ticket.id.in_(summons) & Ticket.state.in_(OPEN_STATES)


def overdue(now: datetime | None) -> ColumnElement[bool]:
    """A ticket past a deadline: its sign or reply deadline flagged by the clock, or, judged at `now`, still
    waiting for dispatch after its dispatch deadline (no flag: the clock does not mark dispatch)."""
    late = [Ticket.sign_overdue.is_(True), Ticket.reply_overdue.is_(True)]
    if now is not None:
        late.append((Ticket.state == TicketState.new) & (Ticket.dispatch_by < now))
    return or_(*late)


def contact_of(session: Session, actor: Actor, clock: Clock, number: str, purpose: str) -> Contact | None:
    """The citizen's name and phone, unmasked, for a role that needs them; the read is logged."""
    require(actor, Permission.personal_data_read)
    purpose = purpose.strip()
    if not inputs.visible(purpose) or inputs.text_problem(purpose):  # a zero-width space is no reason
        raise InvalidInput("say why you need the citizen's contact, in words", field="purpose")
    if len(purpose) > MAX_PURPOSE:
        raise InvalidInput(f"purpose has at most {MAX_PURPOSE} characters", field="purpose")
    ticket = get(session, actor, number, ROW)
    contact = ticket.request.contact
    if contact is None:
        return None
    session.add(PersonalDataAccess(at=clock.now(), actor=actor.username, role=actor.role.value,
                                   contact_id=contact.id, ticket_id=ticket.id, purpose=purpose))
    session.flush()
    return contact


def access_log(session: Session, actor: Actor, limit: int = 100, offset: int = 0) -> list[PersonalDataAccess]:
    require(actor, Permission.personal_data_audit)
    check_page(limit, offset)
    return list(session.scalars(select(PersonalDataAccess).order_by(PersonalDataAccess.id.desc())
                                .limit(limit).offset(offset)))


def related(session: Session, ticket: Ticket) -> tuple[str | None, list[str]]:
    """The number of the ticket this one was merged into, and those merged into this one (one statement)."""
    near = Ticket.parent_id == ticket.id
    if ticket.parent_id is not None:
        near = or_(near, Ticket.id == ticket.parent_id)
    rows = session.execute(select(Ticket.id, Ticket.number).where(near).order_by(Ticket.id)).all()
    parent = next((number for id_, number in rows if id_ == ticket.parent_id), None)
    return parent, [number for id_, number in rows if id_ != ticket.parent_id]


def replayed_state(ticket: Ticket) -> TicketState | None:
    """The state the event log says the ticket is in; equals ticket.state unless someone went around
    the workflow."""
    return rules.replay((e.from_state, e.to_state) for e in sorted(ticket.events, key=lambda e: e.seq))




# -- timelines: who took a step, as the reader is told -------------------------------------------------------------

def tells_staff_names(reader: Actor) -> bool:
    """Whether `reader` sees the staff's usernames in a timeline: the staff do; a citizen (or anyone without a
    role) sees the unit a staff member acted for instead."""
    return reader.role is not None and reader.role != Role.citizen


def timeline_units(session: Session, reader: Actor, events: Iterable[object]) -> dict[int, str]:
    """{unit id: name} of the units the staff acted for in `events` (TicketEvent rows), for a reader who is told
    units instead of names (told_actor); nothing (and no statement) for the staff."""
    if tells_staff_names(reader):
        return {}
    ids = {e.unit_id for e in events if e.unit_id is not None}  # type: ignore[attr-defined]
    if not ids:
        return {}
    return {unit_id: name for unit_id, name in session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids)))}


def told_actor(event: object, reader: Actor, unit_names: Mapping[int, str], centre: str | None = None) -> str:
    """Who took a step (a TicketEvent), as `reader` is told: the username to the staff; to a citizen the unit a
    staff member acted for (never a staff member's username), the hotline centre (`centre`, default its Chinese
    word) when they act for none; a citizen's own steps and the system's (the clock, smart dispatch) as they are."""
    actor, role, unit_id = event.actor, event.role, event.unit_id  # type: ignore[attr-defined]
    if tells_staff_names(reader) or is_system(actor) or role in (Role.citizen.value, "anonymous"):
        return actor
    if unit_id is not None and unit_id in unit_names:
        return unit_names[unit_id]
    return centre or glossary.label("unit_kind", "centre")


def told_uploader(uploaded_by: str, role: str, reader: Actor, lang: str = glossary.ZH) -> str:
    """Who put a file on a ticket, as `reader` is told: the username to the staff; to a citizen their own name,
    and a staff member's role (承办人, 社区工作者 ...), never a staff member's username (as told_actor)."""
    if tells_staff_names(reader) or role in (Role.citizen.value, "anonymous"):
        return uploaded_by
    return glossary.label("role", role, lang)
