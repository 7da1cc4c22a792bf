"""What waits for a person: the counts of the home page, by role, each one a TicketFilter of the ticket list (so
that the link under a count lands on a list of exactly that many tickets), all counted in one statement through
`visible(actor)`: a person counts only the tickets they can see.

Pure counting: which words and links to show them with is the page's business (jiesu/web/pages.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select, true
from sqlalchemy.orm import Session

from jiesu.permissions import Actor, Permission, Role, require
from jiesu.tickets import queues
from jiesu.tickets.models import Channel, Outcome, Request, Ticket
from jiesu.tickets.reading import TicketFilter, visible, waiting_conditions
from jiesu.tickets.rules import OPEN_STATES, TicketState

S = TicketState
CENTRE_DESK = frozenset({Role.dispatcher, Role.admin})
UNITS = frozenset({Role.unit_handler, Role.community_worker})


@dataclass(frozen=True)
class Count:
    key: str  # to_dispatch, returned, extension, overdue, to_sign, handling, due_today, summoned, ...
    filter: TicketFilter
    n: int = 0


def today(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Today in `tz` as a UTC window [start, end)."""
    local = now.astimezone(tz).date()
    start = datetime(local.year, local.month, local.day, tzinfo=tz)
    return start, start + timedelta(days=1)


def still_due_today(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """What is still due today: [now, midnight in `tz`). A deadline passed earlier today is overdue, not due (the
    unit's workbench counts the same way)."""
    return now, today(now, tz)[1]


def filters(actor: Actor, now: datetime, tz: ZoneInfo) -> list[Count]:
    """The counts a role's home page shows, in order, each with the list filter that shows its tickets. Each one
    is of open tickets only (a state in OPEN_STATES, or open=True): `counts` reads no other."""
    role = actor.role
    overdue = TicketFilter(overdue=True, open=True, now=now)  # the dispatch deadline too, as the list judges it
    out: list[tuple[str, TicketFilter]] = []
    if role in CENTRE_DESK:
        out += [("to_dispatch", TicketFilter(state=S.new)), ("returned", TicketFilter(state=S.returned)),
                ("extension", TicketFilter(extension_requested=True)), ("duplicates", TicketFilter(state=S.new)),
                ("overdue", overdue)]
    if role in (Role.supervisor, Role.admin):
        if role == Role.supervisor:
            out += [("sign_overdue", TicketFilter(open=True, sign_overdue=True)),
                    ("reply_overdue", TicketFilter(open=True, reply_overdue=True))]
        out.append(("escalated", TicketFilter(open=True, escalated=True)))
    if role in (Role.callback_agent, Role.admin):
        out.append(("callback", TicketFilter(state=S.replied, callback_due=True)))
    if role == Role.operator:
        out.append(("to_dispatch", TicketFilter(state=S.new)))
    if role in UNITS:
        start, end = still_due_today(now, tz)
        out += [("to_sign", TicketFilter(state=S.dispatched, mine=True)),
                ("handling", TicketFilter(state=S.handling, mine=True)),
                ("due_today", TicketFilter(mine=True, due_from=start, due_to=end)),
                ("overdue", TicketFilter(overdue=True, open=True, mine=True, now=now)),
                ("summoned", TicketFilter(summoned=True))]
        if role == Role.community_worker:
            out.append(("community", TicketFilter(open=True)))
    if role == Role.citizen:
        out += [("mine_open", TicketFilter(open=True)), ("mine_replied", TicketFilter(state=S.replied))]
    return [Count(key, f) for key, f in out]


def counts(session: Session, actor: Actor, now: datetime, tz: ZoneInfo) -> list[Count]:
    """The role's counts, in one statement over the tickets `actor` may see."""
    require(actor, Permission.tickets_read)
    wanted = filters(actor, now, tz)
    if not wanted:
        return []
    columns = [func.coalesce(func.sum(case((_condition(actor, c.filter, c.key), 1), else_=0)), 0) for c in wanted]
    # Every count is of open tickets (what waits is not done yet): the statement reads those only, a few per cent
    # of a city's tickets, found through the state index, however long the history.
    stmt = visible(actor).with_only_columns(*columns).where(Ticket.state.in_(OPEN_STATES))
    row = session.execute(stmt).one()
    return [Count(c.key, c.filter, int(n or 0)) for c, n in zip(wanted, row, strict=True)]


def calls(session: Session, actor: Actor, start: datetime, end: datetime) -> tuple[int, int]:
    """The hotline's calls in [start, end) and how many of them were answered at once (直接答复), one statement:
    the operators' day."""
    require(actor, Permission.requests_create)
    answered = case((Request.outcome == Outcome.direct_answer, 1), else_=0)
    n, direct = session.execute(select(func.count(), func.coalesce(func.sum(answered), 0)).where(
        Request.channel == Channel.hotline, Request.created_at >= start, Request.created_at < end)).one()
    return int(n or 0), int(direct or 0)


# Counts narrower than their filter: the dispatcher's queue tells them apart (its tab is their list).
NARROWER = {"duplicates": queues.condition(queues.Queue.duplicates)}


def _condition(actor: Actor, f: TicketFilter, key: str = ""):
    """A TicketFilter's conditions as one (the list applies the same ones: reading.waiting_conditions)."""
    cond = NARROWER.get(key, true())
    for part in waiting_conditions(actor, f):
        cond = cond & part
    return cond
