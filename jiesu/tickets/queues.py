"""The dispatcher's queue (派单员): what waits for the centre's decision, in four lists.

- new: tickets waiting for dispatch (待派单), the nearest dispatch deadline first, each with smart dispatch's
  suggestion (on the ticket);
- returned: tickets a unit returned (退单待审), the oldest return first, with the unit's reason;
- extension: extension requests waiting for approval (延期待批), the nearest reply deadline first, with the
  unit's reason;
- duplicates: new tickets whose suggestion names likely duplicates (疑似重复), to merge into one of them.

Each list is read in one statement (the rows with what they show: the request, category, main unit, place, and
the reason of the step that put the ticket there), and the four counts in one more, whatever the size of the
city. Who may see the queue is who may dispatch (the workflow's table), asked here, in the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased, contains_eager, joinedload
from sqlalchemy.orm.interfaces import ORMOption

from jiesu.errors import PermissionDenied, check_page
from jiesu.permissions import Actor
from jiesu.places.models import Area
from jiesu.tickets import rules
from jiesu.tickets.models import Ticket, TicketEvent
from jiesu.tickets.reading import overdue, readable
from jiesu.tickets.rules import Step, TicketState
from jiesu.units.models import Unit, UnitKind


class Queue(StrEnum):
    new = "new"  # 待派单
    returned = "returned"  # 退单待审
    extension = "extension"  # 延期待批
    duplicates = "duplicates"  # 疑似重复


# The suggestion is kept as JSON text (json.dumps, default separators) on the ticket: one that names at least
# one duplicate has a list that opens with an object. Only new tickets are searched, which are few.
DUPLICATES_LIKE = '%"duplicates": [{%'

# What a queue's row shows: the request (its text, address), the category, the main unit, the place.
SHAPE: tuple[ORMOption, ...] = (contains_eager(Ticket.request), joinedload(Ticket.category),
                                joinedload(Ticket.main_unit), joinedload(Ticket.area))


@dataclass
class QueueFilter:
    district_code: str | None = None
    overdue: bool = False  # past a deadline: dispatch (judged at `now`), sign or reply (reading.overdue)


@dataclass
class Waiting:
    """One row of a queue: the ticket, and for a return or an extension request, why and when it was asked."""

    ticket: Ticket
    reason: str | None = None
    asked_at: datetime | None = None


def may_dispatch(actor: Actor) -> bool:
    """Whether the person works the queue: who may dispatch, as the workflow's table says."""
    return actor.role is not None and actor.role in rules.TRANSITIONS[Step.dispatch].roles


def _require(actor: Actor) -> None:
    if not may_dispatch(actor):
        raise PermissionDenied(f"role {actor.role.value if actor.role else 'anonymous'} may not dispatch",
                               field="role")


def condition(queue: Queue) -> ColumnElement[bool]:
    """Which tickets are in a queue."""
    if queue == Queue.new:
        return Ticket.state == TicketState.new
    if queue == Queue.returned:
        return Ticket.state == TicketState.returned
    if queue == Queue.extension:
        return and_(Ticket.state == TicketState.handling, Ticket.extension_days_requested.is_not(None))
    return and_(Ticket.state == TicketState.new, Ticket.suggestion.like(DUPLICATES_LIKE))


def _filtered(f: QueueFilter, now: datetime) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if f.district_code:
        out.append(Ticket.district_code == f.district_code)
    if f.overdue:
        out.append(overdue(now))
    return out


def counts(session: Session, actor: Actor, now: datetime, f: QueueFilter) -> dict[Queue, int]:
    """How many tickets each queue holds under the filter: one statement. (Who may dispatch sees every ticket:
    no visibility rule, and no join of the requests, to narrow the count.)"""
    _require(actor)
    sums = [func.coalesce(func.sum(case((condition(q), 1), else_=0)), 0).label(q.value) for q in Queue]
    stmt = (select(*sums).select_from(Ticket)
            .where(Ticket.state.in_([TicketState.new, TicketState.returned, TicketState.handling]),
                   or_(*(condition(q) for q in (Queue.new, Queue.returned, Queue.extension))),
                   *_filtered(f, now)))
    row = session.execute(stmt).one()
    return {q: int(row._mapping[q.value] or 0) for q in Queue}


# The step that put a ticket in a queue, whose reason the row shows.
ASKED_BY = {Queue.returned: Step.return_, Queue.extension: Step.request_extension}


def page(session: Session, actor: Actor, now: datetime, queue: Queue, f: QueueFilter, limit: int = 50,
         offset: int = 0) -> list[Waiting]:
    """A page of one queue, in its order, each row with what it shows: one statement."""
    _require(actor)
    check_page(limit, offset)
    stmt = readable(actor, SHAPE).where(condition(queue), *_filtered(f, now))
    step = ASKED_BY.get(queue)
    if step is None:
        stmt = stmt.order_by(Ticket.dispatch_by, Ticket.id)
        return [Waiting(t) for t in session.scalars(stmt.limit(limit).offset(offset))]
    ev = aliased(TicketEvent)
    last = (select(ev.seq).where(ev.ticket_id == Ticket.id, ev.action == step.value)
            .order_by(ev.seq.desc()).limit(1).correlate(Ticket).scalar_subquery())
    asked = aliased(TicketEvent)
    stmt = (stmt.outerjoin(asked, and_(asked.ticket_id == Ticket.id, asked.seq == last))
            .add_columns(asked.reason, asked.at))
    # returned: the oldest dispute first; extension: the nearest reply deadline first
    stmt = stmt.order_by(asked.at if queue == Queue.returned else Ticket.reply_by, Ticket.id)
    rows = session.execute(stmt.limit(limit).offset(offset)).all()
    return [Waiting(t, reason, at) for t, reason, at in rows]


def tickets_named(session: Session, actor: Actor, numbers: Sequence[str]) -> dict[str, Ticket]:
    """The tickets of these numbers the actor may see (the duplicates' candidate parents), with their request
    and main unit: one statement."""
    _require(actor)
    if not numbers:
        return {}
    stmt = readable(actor, (contains_eager(Ticket.request), joinedload(Ticket.main_unit))).where(
        Ticket.number.in_(list(dict.fromkeys(numbers))[:500]))
    return {t.number: t for t in session.scalars(stmt)}


def street_units(session: Session, district_codes: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """The active street/township units of these districts, (code, name) by district code, for the unit pickers:
    one statement."""
    codes = [c for c in dict.fromkeys(district_codes) if c]
    if not codes:
        return {}
    rows = session.execute(select(Area.district_code, Unit.code, Unit.name).join(Area, Area.id == Unit.area_id)
                           .where(Unit.kind == UnitKind.street, Unit.active.is_(True),
                                  Area.district_code.in_(codes)).order_by(Unit.code)).all()
    out: dict[str, list[tuple[str, str]]] = {}
    for district, code, name in rows:
        out.setdefault(district, []).append((code, name))
    return out



def street_of(area_code: str) -> str | None:
    """The street/township an area code lies in (the statistical codes: 6 digits of district, 3 of street, 3 of
    community), whose unit bears the street's code: the unit picker's choice for an alternative reading of a place."""
    return area_code[:9] + "000" if len(area_code) == 12 and area_code.isdigit() and area_code[6:9] != "000" else None


def units_named(session: Session, codes: Sequence[str]) -> dict[str, str]:
    """code -> name of the active units among these codes: one statement (none when no code is given)."""
    wanted = [c for c in dict.fromkeys(codes) if c][:500]
    if not wanted:
        return {}
    return dict(session.execute(select(Unit.code, Unit.name).where(Unit.code.in_(wanted), Unit.active.is_(True))).all())
