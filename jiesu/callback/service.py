"""The callback desk (回访): the queue of replied tickets, and what the citizen said.

`record` is the one rule: a reached citizen's answers close the ticket, or reopen it to the same unit when
it is not resolved; an unreached citizen is tried again until `callback_attempts`, then the round ends as
未联系上 and the ticket is closed. Each attempt is a Callback row; each answer is published
(CALLBACK_REACHED, CALLBACK_UNREACHABLE) for the assessment's facts; the ticket moves only through
tickets.service.act (which writes the event); all in the caller's transaction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Row, and_, func, or_, select
from sqlalchemy.orm import Session

from jiesu import events
from jiesu.callback.models import Callback, CallbackChannel, Resolution, Satisfaction
from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.errors import InvalidInput, NotFound, PermissionDenied, TransitionNotAllowed, check_page
from jiesu.limits import MAX_REASON
from jiesu.permissions import ANONYMOUS, Actor, Permission, Role, can, require
from jiesu.tickets import service as tickets
from jiesu.tickets.models import Ticket, TicketEvent
from jiesu.tickets.rules import Step, TicketState

# Published in the callback's transaction: the citizen answered (the three rates count it), or a round of
# attempts ended without reaching them.
CALLBACK_REACHED = "callback.reached"
CALLBACK_UNREACHABLE = "callback.unreachable"


class SurveyNotFound(NotFound):
    code = "survey_not_found"


@dataclass
class Answer:
    """What the callback agent (or the citizen, through the survey) reports."""

    reached: bool = True
    contacted: bool | None = None  # 响应: the unit got in touch
    resolution: Resolution | None = None  # 解决
    satisfaction: Satisfaction | None = None  # 满意
    comment: str = ""


@dataclass
class Outcome:
    callback: Callback
    ticket: Ticket
    result: str  # closed | reopened | retry | unreachable


@dataclass
class QueueItem:
    ticket: Ticket
    attempts: int  # attempts already made in this round
    last_attempt_at: datetime | None
    # When the queue is asked for its steps (the desk's cards): the unit's last reply, as written on the reply
    # event, and the timeline's last events, oldest first (rows: seq, at, actor, role, action, reason).
    reply: str = ""
    steps: list[Row] = field(default_factory=list)


def _validate(answer: Answer) -> None:
    if not answer.reached:
        return
    for name in ("contacted", "resolution", "satisfaction"):
        if getattr(answer, name) is None:
            raise InvalidInput(f"a reached citizen's callback needs {name}", field=name)
    if len(answer.comment) > MAX_REASON:
        raise InvalidInput(f"comment is at most {MAX_REASON} characters", field="comment")


def _attempts(session: Session, ticket: Ticket) -> int:
    return session.scalar(select(func.count()).select_from(Callback).where(
        Callback.ticket_id == ticket.id, Callback.round == ticket.reopened)) or 0


def record(session: Session, actor: Actor, clock: Clock, settings: Settings, number: str, answer: Answer, *,
           channel: CallbackChannel = CallbackChannel.phone) -> Outcome:
    require(actor, Permission.callback_work)
    return _record(session, actor, clock, settings, tickets.get(session, actor, number), answer, channel)


def _record(session: Session, actor: Actor, clock: Clock, settings: Settings, ticket: Ticket, answer: Answer,
            channel: CallbackChannel) -> Outcome:
    _validate(answer)
    if ticket.state != TicketState.replied:
        raise TransitionNotAllowed(f"ticket {ticket.number} is {ticket.state.value}: only a replied ticket is "
                                   "called back", field="state")
    now = clock.now()
    attempt = _attempts(session, ticket) + 1
    cb = Callback(ticket_id=ticket.id, round=ticket.reopened, attempt=attempt, at=now, agent=actor.username,
                  channel=channel, unit_id=ticket.main_unit_id, reached=answer.reached,
                  contacted=answer.contacted if answer.reached else None,
                  resolution=answer.resolution if answer.reached else None,
                  satisfaction=answer.satisfaction if answer.reached else None, comment=answer.comment.strip())
    session.add(cb)
    session.flush()
    # The ticket's step runs as the desk, whoever answered: a citizen's survey closes the ticket like a call.
    desk = actor if actor.role in (Role.callback_agent, Role.dispatcher, Role.admin) else Actor(
        username=actor.username, role=Role.callback_agent)
    if not answer.reached:
        if attempt < settings.callback_attempts:
            return Outcome(cb, ticket, "retry")
        data = tickets.StepInput(reason=f"回访{attempt}次未联系上市民，办结", callback=cb.id)
        ticket = tickets.act(session, desk, clock, settings, ticket.number, Step.close, data)
        events.publish(CALLBACK_UNREACHABLE, session=session, settings=settings, ticket=ticket, callback=cb)
        return Outcome(cb, ticket, "unreachable")
    reason = answer.comment.strip()
    payload = dict(contacted=answer.contacted, resolved=answer.resolution == Resolution.resolved,
                   resolution=answer.resolution.value, satisfied=answer.satisfaction.value, callback=cb.id)
    events.publish(CALLBACK_REACHED, session=session, settings=settings, ticket=ticket, callback=cb)
    if answer.resolution == Resolution.unresolved:
        data = tickets.StepInput(reason=reason or "回访市民表示问题未解决，重办", **payload)
        ticket = tickets.act(session, desk, clock, settings, ticket.number, Step.reopen, data)
        return Outcome(cb, ticket, "reopened")
    data = tickets.StepInput(reason=reason or "回访完成，办结", **payload)
    ticket = tickets.act(session, desk, clock, settings, ticket.number, Step.close, data)
    return Outcome(cb, ticket, "closed")


def queue(session: Session, actor: Actor, limit: int = 50, offset: int = 0,
          district_code: str | None = None, steps: int = 0) -> tuple[list[QueueItem], int]:
    """Replied tickets waiting for their callback, the longest-waiting first. `steps`: also each ticket's
    reply text and its last `steps` events, read for the whole page in one more statement."""
    require(actor, Permission.callback_work)
    check_page(limit, offset)
    stmt = tickets.readable(actor, ()).where(Ticket.state == TicketState.replied, Ticket.callback_due.is_(True))
    if district_code:
        stmt = stmt.where(Ticket.district_code == district_code)
    total = tickets.count(session, stmt)
    rows = list(session.scalars(stmt.options(*tickets.BRIEF).order_by(Ticket.replied_at, Ticket.id)
                                .limit(limit).offset(offset)))
    counts: dict[int, tuple[int, datetime | None]] = {}
    if rows:
        stmt = (select(Callback.ticket_id, Callback.round, func.count(), func.max(Callback.at))
                .where(Callback.ticket_id.in_([t.id for t in rows])).group_by(Callback.ticket_id, Callback.round))
        rounds = {t.id: t.reopened for t in rows}
        for ticket_id, rnd, n, last in session.execute(stmt):
            if rnd == rounds[ticket_id]:
                counts[ticket_id] = (n, last)
    items = [QueueItem(t, *counts.get(t.id, (0, None))) for t in rows]
    if steps > 0 and rows:
        _last_steps(session, items, steps)
    return items, total


def _last_steps(session: Session, items: list[QueueItem], steps: int) -> None:
    """The last `steps` events of each item's ticket and its last reply event, in one statement (numbered
    newest first per ticket by a window function), not the whole timelines."""
    newest = func.row_number().over(partition_by=TicketEvent.ticket_id, order_by=TicketEvent.seq.desc())
    of_kind = func.row_number().over(partition_by=(TicketEvent.ticket_id, TicketEvent.action),
                                     order_by=TicketEvent.seq.desc())
    ranked = (select(TicketEvent.ticket_id, TicketEvent.seq, TicketEvent.at, TicketEvent.actor, TicketEvent.role,
                     TicketEvent.action, TicketEvent.reason, newest.label("n"), of_kind.label("k"))
              .where(TicketEvent.ticket_id.in_([i.ticket.id for i in items])).subquery())
    rows = session.execute(
        select(ranked.c.ticket_id, ranked.c.seq, ranked.c.at, ranked.c.actor, ranked.c.role, ranked.c.action,
               ranked.c.reason, ranked.c.n)
        .where(or_(ranked.c.n <= steps, and_(ranked.c.action == Step.reply.value, ranked.c.k == 1)))
        .order_by(ranked.c.ticket_id, ranked.c.seq)).all()
    by_ticket = {i.ticket.id: i for i in items}
    for row in rows:
        item = by_ticket[row.ticket_id]
        if row.action == Step.reply.value:
            item.reply = row.reason
        if row.n <= steps:
            item.steps.append(row)


def history(session: Session, actor: Actor, number: str) -> list[Callback]:
    ticket = tickets.get(session, actor, number, tickets.BRIEF)
    if actor.role not in tickets.CENTRE_ROLES and ticket.request.created_by != actor.username:
        raise PermissionDenied("the callbacks of a ticket are the centre's", field="number")
    return list(session.scalars(select(Callback).where(Callback.ticket_id == ticket.id).order_by(Callback.id)))


# --- the citizen's survey ----------------------------------------------------------------------------

def survey_token(settings: Settings, ticket: Ticket) -> str:
    """The link a citizen answers by (app or web, no login): names the ticket and its round, signed."""
    body = f"{ticket.number}.{ticket.reopened}"
    mac = hmac.new(settings.resolved_secret_key().encode(), f"survey:{body}".encode(), hashlib.sha256).digest()
    return f"{body}.{base64.urlsafe_b64encode(mac[:15]).decode()}"


def survey_ticket(session: Session, settings: Settings, token: str) -> Ticket:
    """The ticket a survey link is for, if the link is genuine and the ticket still waits for its answer."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit() or len(token) > 100:
        raise SurveyNotFound("this survey link is not valid", field="token")
    ticket = tickets.by_number(session, parts[0])
    if ticket is None or not hmac.compare_digest(survey_token(settings, ticket).encode(), token.encode()):
        # A link for an older round of a reopened ticket no longer matches: that round is over.
        raise SurveyNotFound("this survey link is not valid, or its ticket was handled again since", field="token")
    if ticket.state != TicketState.replied:
        raise TransitionNotAllowed("this ticket's survey is already answered or closed", field="token")
    return ticket


def may_send_survey(actor: Actor, ticket: Ticket) -> bool:
    """Whether `actor` is shown the survey link of `ticket` (its request loaded): the callback desk, which sends
    it to the citizen, and the citizen who made the request; only while the ticket waits for its callback."""
    if ticket.state != TicketState.replied or ticket.request.no_callback:
        return False
    return can(actor.role, Permission.callback_work) or (
        actor.role == Role.citizen and ticket.request.created_by == actor.username)


def survey_url(settings: Settings, ticket: Ticket, request_base: str) -> str:
    """The survey link as sent to the citizen: on the public address (settings.public_base_url), or, when none is
    set, on the address the request came to (`request_base`)."""
    base = settings.public_base_url or request_base.rstrip("/")
    return f"{base}/survey/{survey_token(settings, ticket)}"


# The survey link is the citizen's voice. Whoever answers it logged in as staff is not the citizen: a staff
# member's answers would count in the rates as the citizen's (and a unit could rate its own work). The callback
# desk records what the citizen said at the desk, under its own name (record); everyone else has no answer to give.
STAFF_ON_SURVEY = ("the survey link is the citizen's: staff record what the citizen said at the callback desk "
                   "(POST /api/v1/tickets/{number}/callback)")


def answer_survey(session: Session, clock: Clock, settings: Settings, token: str, answer: Answer, *,
                  actor: Actor = ANONYMOUS) -> Outcome:
    """The answers given through a survey link by `actor`: anonymous (the link holder, the citizen it was sent
    to, recorded as "survey"), or logged in as the citizen who made the request (recorded as themself). A
    logged-in member of staff is refused (PermissionDenied): see STAFF_ON_SURVEY."""
    if actor.role is not None and actor.role != Role.citizen:
        raise PermissionDenied(STAFF_ON_SURVEY, field="token")
    if not answer.reached:
        raise InvalidInput("a survey answer is from the citizen: reached is true", field="reached")
    ticket = survey_ticket(session, settings, token)
    who = actor if actor.role == Role.citizen and ticket.request.created_by == actor.username else Actor(
        username="survey", role=Role.citizen)  # whoever holds the link: the citizen it was sent to
    return _record(session, who, clock, settings, ticket, answer, CallbackChannel.survey)


def answer_own(session: Session, actor: Actor, clock: Clock, settings: Settings, number: str,
               answer: Answer) -> Outcome:
    """A logged-in citizen answers the survey of their own ticket in the app."""
    ticket = tickets.get(session, actor, number)
    if actor.role != Role.citizen or ticket.request.created_by != actor.username:
        raise PermissionDenied("only the citizen who made the request answers its survey", field="number")
    if not answer.reached:
        raise InvalidInput("a survey answer is from the citizen: reached is true", field="reached")
    return _record(session, actor, clock, settings, ticket, answer, CallbackChannel.survey)
