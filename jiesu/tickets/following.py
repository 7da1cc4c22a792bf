"""Following a ticket someone else filed (the citizens' app's 已有人反映，加入关注, as FixMyStreet's and Signalen's
"me too"): a citizen who finds their problem already reported follows that ticket instead of filing it again, and
sees its public status (its state, the unit it went to, its deadlines) in 我的诉求, never its text, its reply or who
filed it: those are the filer's.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.interfaces import ORMOption

from jiesu.clock import Clock
from jiesu.errors import Conflict, PermissionDenied, TicketNotFound
from jiesu.permissions import Actor, Role
from jiesu.tickets.models import Request, Ticket, TicketFollower
from jiesu.tickets.reading import BRIEF, ROW, by_number, shaped
from jiesu.tickets.rules import OPEN_STATES

MAX_FOLLOWED = 200  # a citizen's list shows at most this many followed tickets, the newest first


def _citizen(actor: Actor) -> None:
    if actor.role != Role.citizen:
        raise PermissionDenied("following a ticket is for citizens (the app's 加入关注)", field="role")


def _ticket(session: Session, number: str, shape: Sequence[ORMOption] = ()) -> Ticket:
    ticket = by_number(session, number[:32], shape)
    if ticket is None:
        raise TicketNotFound(f"no ticket {number}", field="number")
    return ticket


def follow(session: Session, actor: Actor, clock: Clock, number: str) -> TicketFollower:
    """`actor` (a citizen) follows the open ticket `number`; following it again is the same following. Their own
    request they follow already (Conflict); a finished ticket has nothing to follow (Conflict)."""
    _citizen(actor)
    ticket = _ticket(session, number, BRIEF)
    if ticket.request.created_by == actor.username:
        raise Conflict(f"ticket {number} is your own request: it is in 我的诉求 already", field="number")
    row = session.scalar(select(TicketFollower).where(TicketFollower.ticket_id == ticket.id,
                                                      TicketFollower.username == actor.username))
    if row is not None:
        return row
    if ticket.state not in OPEN_STATES:
        raise Conflict(f"ticket {number} is {ticket.state.value}: only an open ticket can be followed",
                       field="number")
    row = TicketFollower(ticket_id=ticket.id, username=actor.username, created_at=clock.now())
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # the same citizen's twin request won: theirs is the following
        row = session.scalar(select(TicketFollower).where(TicketFollower.ticket_id == ticket.id,
                                                          TicketFollower.username == actor.username))
    return row


def unfollow(session: Session, actor: Actor, number: str) -> None:
    """`actor` stops following `number` (nothing happens when they did not follow it)."""
    _citizen(actor)
    ticket = _ticket(session, number)
    row = session.scalar(select(TicketFollower).where(TicketFollower.ticket_id == ticket.id,
                                                      TicketFollower.username == actor.username))
    if row is not None:
        session.delete(row)
        session.flush()


def follows(session: Session, actor: Actor, ticket: Ticket) -> bool:
    return actor.role == Role.citizen and session.scalar(
        select(TicketFollower.id).where(TicketFollower.ticket_id == ticket.id,
                                        TicketFollower.username == actor.username)) is not None


def followers(session: Session, ticket: Ticket) -> int:
    """How many citizens follow `ticket` (a count: never who)."""
    return session.scalar(select(func.count()).where(TicketFollower.ticket_id == ticket.id)) or 0


def followed(session: Session, actor: Actor, shape: Sequence[ORMOption] = ROW) -> list[Ticket]:
    """The tickets `actor` follows, the most recently followed first."""
    if actor.role != Role.citizen:
        return []
    stmt = (shaped(shape).join(TicketFollower, TicketFollower.ticket_id == Ticket.id)
            .where(TicketFollower.username == actor.username)
            .order_by(TicketFollower.created_at.desc(), TicketFollower.id.desc()).limit(MAX_FOLLOWED))
    return list(session.scalars(stmt).unique())


def followed_one(session: Session, actor: Actor, number: str, shape: Sequence[ORMOption] = ROW) -> Ticket:
    """A ticket `actor` follows, for its public status; any other is not found (as a ticket one may not read)."""
    _citizen(actor)
    ticket = session.scalar(shaped(shape).join(TicketFollower, TicketFollower.ticket_id == Ticket.id)
                            .where(Ticket.number == number[:32], TicketFollower.username == actor.username))
    if ticket is None:
        raise TicketNotFound(f"no ticket {number}", field="number")
    return ticket


def open_others(session: Session, actor: Actor, numbers: Sequence[str], shape: Sequence[ORMOption] = ROW
                ) -> list[Ticket]:
    """Of `numbers` (smart dispatch's duplicates of what a citizen is typing), the open tickets filed by someone
    else, in the order given: what the app offers to follow."""
    if not numbers:
        return []
    rows = session.scalars(shaped(shape).where(Ticket.number.in_(list(numbers)), Ticket.state.in_(OPEN_STATES),
                                               Request.created_by != actor.username)).unique()
    by = {t.number: t for t in rows}
    return [by[n] for n in numbers if n in by]
