"""The ticket's periodic work, the workflow steps nobody clicks. It marks overdue signs and replies, escalates
per policy, queues replied tickets for the callback, and closes those whose citizen asked not to be called back.

Every change goes through service.act as the system actor "clock", so each one is an event like any
other. `tick` is safe to run from two processes at once: each ticket is handled in its own savepoint,
its condition is checked again on the row just before the step, and the version column turns a
racing writer into a skipped ConcurrentChange; on PostgreSQL the candidates are also claimed with
FOR UPDATE SKIP LOCKED, and on SQLite drain begins the tick with the write lock (unit_of_work(write=True)).

`tick` works in one transaction, the caller's, on at most `batch` tickets; `drain` ticks in fresh
transactions until the backlog is drained. The scheduler (jiesu.scheduler) runs `drain` at every pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, false, or_, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.db import unit_of_work
from jiesu.errors import ConcurrentChange, DomainError, TransitionNotAllowed
from jiesu.permissions import CLOCK
from jiesu.tickets import service
from jiesu.tickets.models import Request, Ticket
from jiesu.tickets.rules import OPEN_WORK, Step, TicketState

log = logging.getLogger("jiesu.clock")

BATCH = 500  # tickets per transaction
SQLITE_PAUSE = 0.2  # seconds between two batches on SQLite
SQLITE_BATCH = 200  # ~1-2 s of SQLite's write lock: web requests wait for it (busy_timeout 10 s), not fail
NO_CALLBACK_REASON = "市民不需回访"
S = TicketState
REPLY_WATCHED = (S.handling, S.dispatched)  # whose reply deadline runs


# --- policy (pure) ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class EscalationPolicy:
    """When the clock escalates (督办) a ticket by itself. Today: once its reply is overdue."""

    on_reply_overdue: bool = True
    on_sign_overdue: bool = False
    reply_reason: str = "回复超期，自动督办"
    sign_reason: str = "签收超期，自动督办"


DEFAULT_ESCALATION = EscalationPolicy()


def escalation_reason(state: TicketState, *, sign_overdue: bool, reply_overdue: bool, escalated: bool,
                      policy: EscalationPolicy = DEFAULT_ESCALATION) -> str | None:
    """The reason to escalate a ticket now, or None. A ticket is escalated once, while its work is open."""
    if escalated or state not in OPEN_WORK:
        return None
    if policy.on_reply_overdue and reply_overdue:
        return policy.reply_reason
    if policy.on_sign_overdue and sign_overdue:
        return policy.sign_reason
    return None


def _escalation_filter(policy: EscalationPolicy):
    """The SQL twin of escalation_reason, so that a batch holds only tickets the policy escalates."""
    late = []
    if policy.on_reply_overdue:
        late.append(Ticket.reply_overdue.is_(True))
    if policy.on_sign_overdue:
        late.append(Ticket.sign_overdue.is_(True))
    return and_(Ticket.escalated.is_(False), Ticket.state.in_(OPEN_WORK), or_(*late) if late else false())


# --- the tick --------------------------------------------------------------------------------------

@dataclass
class TickReport:
    sign_overdue: int = 0
    reply_overdue: int = 0
    escalated: int = 0
    callbacks_queued: int = 0
    closed: int = 0
    skipped: int = 0  # another clock or a user got there first, or the step was refused
    more: bool = False  # a batch was full: there may be more to do
    at: datetime | None = None

    COUNTS = ("sign_overdue", "reply_overdue", "escalated", "callbacks_queued", "closed", "skipped")

    @property
    def done(self) -> int:
        return self.sign_overdue + self.reply_overdue + self.escalated + self.callbacks_queued + self.closed

    def add(self, other: TickReport) -> None:
        for name in self.COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.more = other.more
        self.at = self.at or other.at

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNTS}

    def line(self) -> str:
        return ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in self.counts().items())


def tick(session: Session, clock: Clock, settings: Settings, *, batch: int | None = None,
         policy: EscalationPolicy = DEFAULT_ESCALATION) -> TickReport:
    """One pass of the clock at clock.now(), in the caller's transaction (the caller commits), of at most
    `batch` tickets in all (default: BATCH, or SQLITE_BATCH on SQLite, whose one write lock the tick holds
    throughout). `more` says the budget ran out before the work did."""
    dialect = session.get_bind().dialect.name
    budget = batch or (SQLITE_BATCH if dialect == "sqlite" else BATCH)
    now = clock.now()
    report = TickReport(at=now)

    def run(where: Select, make: Callable[[Ticket], service.StepInput | None], step: Step, counter: str) -> None:
        nonlocal budget
        if budget <= 0:
            report.more = True
            return
        stmt = where.order_by(Ticket.id).limit(budget)
        if dialect == "postgresql":  # claim the rows: a second clock skips them instead of waiting
            stmt = stmt.with_for_update(skip_locked=True, of=Ticket)
        numbers = list(session.scalars(stmt))
        report.more = report.more or len(numbers) >= budget
        budget -= len(numbers)
        for number in numbers:
            if _step(session, clock, settings, number, make, step):
                setattr(report, counter, getattr(report, counter) + 1)
            else:
                report.skipped += 1

    def sign_late(t: Ticket) -> service.StepInput | None:
        due = t.state == S.dispatched and t.sign_by is not None and t.sign_by < now and not t.sign_overdue
        return service.StepInput(deadline="sign") if due else None

    def reply_late(t: Ticket) -> service.StepInput | None:
        due = (t.state in REPLY_WATCHED and t.reply_by is not None and t.reply_by < now
               and not t.reply_overdue)
        return service.StepInput(deadline="reply") if due else None

    def escalation(t: Ticket) -> service.StepInput | None:
        reason = escalation_reason(t.state, sign_overdue=t.sign_overdue, reply_overdue=t.reply_overdue,
                                   escalated=t.escalated, policy=policy)
        return service.StepInput(reason=reason) if reason else None

    def callback(t: Ticket) -> service.StepInput | None:
        due = t.state == S.replied and not t.request.no_callback and not t.callback_due
        return service.StepInput() if due else None

    def no_callback(t: Ticket) -> service.StepInput | None:
        due = t.state == S.replied and t.request.no_callback
        return service.StepInput(reason=NO_CALLBACK_REASON) if due else None

    tickets = select(Ticket.number)
    replied = tickets.join(Request, Ticket.request_id == Request.id).where(Ticket.state == S.replied)
    # In this order, so that a ticket whose reply just became overdue is escalated in the same tick.
    run(tickets.where(Ticket.state == S.dispatched, Ticket.sign_by < now, Ticket.sign_overdue.is_(False)),
        sign_late, Step.mark_overdue, "sign_overdue")
    run(tickets.where(Ticket.state.in_(REPLY_WATCHED), Ticket.reply_by < now, Ticket.reply_overdue.is_(False)),
        reply_late, Step.mark_overdue, "reply_overdue")
    run(tickets.where(_escalation_filter(policy)), escalation, Step.escalate, "escalated")
    run(replied.where(Request.no_callback.is_(False), Ticket.callback_due.is_(False)), callback,
        Step.queue_callback, "callbacks_queued")
    run(replied.where(Request.no_callback.is_(True)), no_callback, Step.close, "closed")
    return report


def _step(session: Session, clock: Clock, settings: Settings, number: str,
          make: Callable[[Ticket], service.StepInput | None], step: Step) -> bool:
    """Take one step on one ticket in its own savepoint. False if, on the row as it is now, the step is
    no longer due, or if another writer got there first."""
    try:
        with session.begin_nested():
            # the row as it is now, not as this session may have seen it before
            ticket = service.by_number(session, number, service.BRIEF, fresh=True)
            data = make(ticket)
            if data is None:
                return False
            data.expected_version = ticket.version
            service.act(session, CLOCK, clock, settings, number, step, data)
            return True
    except (ConcurrentChange, TransitionNotAllowed, StaleDataError) as exc:
        # StaleDataError: the version check fired at an autoflush inside act, before act's own flush
        log.info("clock: %s %s skipped: %s", step.value, number, exc)
        return False
    except DomainError as exc:  # any other refusal of the workflow: say so, go on with the next ticket
        log.warning("clock: %s %s refused: %s", step.value, number, exc)
        return False


# --- running it ------------------------------------------------------------------------------------

def drain(sessions: sessionmaker[Session], clock: Clock, settings: Settings, *, batch: int | None = None,
          max_rounds: int = 1000) -> TickReport:
    """Tick in fresh transactions until nothing is left (or a round makes no progress)."""
    total = TickReport()
    for _ in range(max_rounds):
        # write=True: on SQLite the tick takes the one write lock before it reads anything, so a second
        # clock waits for it (busy_timeout) instead of reading a snapshot it could not write from
        with unit_of_work(sessions, write=True) as session:
            report = tick(session, clock, settings, batch=batch)
            dialect = session.get_bind().dialect.name
        total.add(report)
        if not report.more or report.done == 0:
            break
        if dialect == "sqlite":
            # A breath between batches: a request waiting for SQLite's one write lock (a login, a step) gets it
            # now, instead of losing every race to the next batch until its busy_timeout runs out (a 503).
            time.sleep(SQLITE_PAUSE)
    return total
