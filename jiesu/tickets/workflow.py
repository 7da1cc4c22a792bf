"""The workflow's steps on a ticket.

Every change of a ticket goes through `act`, which asks rules.check, applies the step, and writes
the TicketEvent in the same transaction. The caller's boundary commits."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from jiesu import events
from jiesu.calendar.service import load_calendar
from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.errors import (
    CategoryNotFound,
    ConcurrentChange,
    InvalidInput,
    PermissionDenied,
    TicketNotFound,
    TransitionNotAllowed,
    UnitNotFound,
)
from jiesu.limits import MAX_REASON, MAX_TEXT
from jiesu.permissions import Actor, Permission, Role, require
from jiesu.places.models import Area
from jiesu.taxonomy import service as taxonomy
from jiesu.taxonomy.models import Urgency
from jiesu.taxonomy.rules import deadlines
from jiesu.tickets import rules
from jiesu.tickets.models import (
    SummonsState,
    Ticket,
    TicketEvent,
    TicketUnit,
    UnitRole,
)
from jiesu.tickets.reading import DETAIL, readable
from jiesu.tickets.rules import Step, TicketState
from jiesu.tickets.store import new_event
from jiesu.units import service as units
from jiesu.units.models import Unit, UnitKind

# Published when the centre upholds a return: the ticket was never this unit's (the assessment forgets it there).
RETURN_UPHELD = "ticket.return_upheld"
# Published after every step, its event written: the assessment replays a ticket's signing from its events.
STEPPED = "ticket.stepped"


@dataclass
class StepInput:
    """What a step may carry; rules.TRANSITIONS says which fields each step needs."""

    reason: str = ""
    text: str = ""
    unit: str | None = None  # dispatch / re-dispatch target
    co_units: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)  # whistle: the departments summoned
    days: float | None = None  # extension
    parent: str | None = None  # merge target number
    category: str | None = None  # dispatch: the category the dispatcher confirms or corrects
    urgency: Urgency | None = None  # dispatch: the urgency the dispatcher confirms (a citizen's asked-for one) or sets
    deadline: str | None = None  # mark_overdue: "sign" or "reply"
    # The callback's answers (callback.service), kept on the close/reopen event they lead to.
    resolved: bool | None = None
    satisfied: str | None = None
    contacted: bool | None = None
    resolution: str | None = None
    # The Callback row (callback.service) whose answers close or reopen the ticket: set by the callback desk only
    # (no form or API body carries it), and kept on the event.
    callback: int | None = None
    suggestion: dict | None = None  # suggest: {"full", "brief", "terms", "area_code"} from routing.service
    expected_version: int | None = None  # optimistic check from a client that read the ticket

    def payload(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if v not in (None, "", []) and k != "expected_version"}
        return out


def _is_party(actor: Actor, ticket: Ticket, party: rules.Party) -> bool:
    if party == rules.Party.main_unit:
        return actor.unit_id is not None and actor.unit_id == ticket.main_unit_id
    if party == rules.Party.summoned_unit:
        return any(tu.unit_id == actor.unit_id and tu.role == UnitRole.summoned for tu in ticket.units)
    if party == rules.Party.creator:
        return actor.role in (Role.operator, Role.admin) or ticket.request.created_by == actor.username
    return True


def act(session: Session, actor: Actor, clock: Clock, settings: Settings, number: str, step: Step,
        data: StepInput | None = None) -> Ticket:
    """Take one workflow step on a ticket. Raises TransitionNotAllowed (not from this state),
    PermissionDenied (not this actor's), InvalidInput (a needed field missing or wrong), or
    ConcurrentChange (someone changed the ticket meanwhile)."""
    data = data or StepInput()
    _check_lengths(data)
    ticket = _locked(session, actor, number)
    if data.expected_version is not None and data.expected_version != ticket.version:
        raise ConcurrentChange(f"ticket {number} is at version {ticket.version}, not {data.expected_version}: "
                               "reload it", field="expected_version")
    _check(step, ticket, actor, data)
    before = ticket.state
    now = clock.now()
    reason = (data.reason or data.text or "").strip()
    payload = data.payload()
    try:
        # No flush until the step is whole: the ticket is written once, checked against the version it was
        # read at, so a concurrent writer makes this flush fail (below), not a query inside an effect.
        with session.no_autoflush:
            EFFECTS[step](session, actor, now, settings, ticket, data, payload)
            ticket.state = rules.next_state(before, step)
            flag_modified(ticket, "state")  # every step moves the version on, even one that changes no column
            _event(session, ticket, actor, now, step, before, ticket.state, reason, payload)
        session.flush()
    except StaleDataError:
        raise ConcurrentChange(f"ticket {number} was changed by someone else meanwhile: reload it",
                               field="number") from None
    except IntegrityError as exc:  # two events with the same seq: the other writer won
        raise ConcurrentChange(f"ticket {number} was changed by someone else meanwhile: reload it",
                               field="number") from exc
    events.publish(STEPPED, session=session, settings=settings, ticket=ticket, step=step)
    return ticket


def _locked(session: Session, actor: Actor, number: str) -> Ticket:
    """The ticket as `actor` may read it (reading.get), its row locked until the transaction ends and its columns
    as they are now. Two writers of one ticket take their turns here: the second reads what the first wrote, so
    that a step which keeps the state (a note, a summoned unit's report ...) never conflicts with another one, a
    step the first writer made impossible is refused by the workflow's rules, and the next event's seq is read
    after the last writer's. FOR NO KEY UPDATE: rows that only point at the ticket (events, attachments,
    callbacks) are still written meanwhile. SQLite has one writer at a time and no row locks: nothing to add."""
    require(actor, Permission.tickets_read)
    stmt = (readable(actor, DETAIL).where(Ticket.number == number).with_for_update(of=Ticket, key_share=True)
            .execution_options(populate_existing=True))
    ticket = session.scalar(stmt)
    if ticket is None:
        raise TicketNotFound(f"no ticket {number}", field="number")
    return ticket


def available_steps(actor: Actor, ticket: Ticket) -> list[Step]:
    """The steps `actor` may take on `ticket` now (the pages' buttons): those the workflow's table allows, less the
    ones the step itself would refuse from what the ticket holds (a unit that has reported for duty already, no
    extension request waiting, summoned units still to report before the reply ...). The ticket's units must
    be loaded (the DETAIL and ROW shapes)."""
    allowed = rules.available(ticket.state, actor.role, lambda party: _is_party(actor, ticket, party))
    return [step for step in allowed if _ready(step, actor, ticket)]


def summons_waiting(ticket: Ticket) -> list[TicketUnit]:
    """The units whistled in that have not reported their part: the reply waits for them."""
    return [tu for tu in ticket.units if tu.role == UnitRole.summoned and tu.state != SummonsState.reported]


def _ready(step: Step, actor: Actor, ticket: Ticket) -> bool:
    if step in (Step.summons_sign, Step.summons_report):
        mine = [tu for tu in ticket.units if tu.unit_id == actor.unit_id and tu.role == UnitRole.summoned]
        wanted = {SummonsState.summoned} if step == Step.summons_sign else {SummonsState.summoned, SummonsState.signed}
        return any(tu.state in wanted for tu in mine)
    if step in (Step.approve_extension, Step.reject_extension):
        return ticket.extension_days_requested is not None
    if step == Step.request_extension:
        return ticket.extension_days_requested is None
    if step == Step.reply:
        return not summons_waiting(ticket)
    if step == Step.close:  # the callback desk closes with the callback; a page only when none is wanted
        return ticket.request.no_callback
    return True


def _check(step: Step, ticket: Ticket, actor: Actor, data: StepInput) -> rules.Transition:
    """rules.check, with the workflow's refusals turned into the domain errors the API maps."""
    t = rules.TRANSITIONS.get(step)
    is_party = _is_party(actor, ticket, t.party) if t else False
    try:
        return rules.check(step, ticket.state, actor.role, is_party=is_party, payload=data.payload())
    except rules.NotAllowedNow as exc:
        raise TransitionNotAllowed(exc.message, field=exc.field) from None
    except rules.NotYourTicket as exc:
        raise PermissionDenied(exc.message, field=exc.field) from None
    except rules.MissingInput as exc:
        raise InvalidInput(exc.message, field=exc.field) from None


def _check_lengths(data: StepInput) -> None:
    """What a step carries is kept whole (the event's reason is the reason, or the text: a reply, a note), so
    what is longer than its limit is refused here, for every caller (API, pages, CLI, importer), never cut."""
    for name, limit in (("reason", MAX_REASON), ("text", MAX_TEXT)):
        if len(getattr(data, name) or "") > limit:
            raise InvalidInput(f"{name} has at most {limit} characters", field=name)


def _event(session: Session, ticket: Ticket, actor: Actor, now: datetime, step: Step, before: TicketState | None,
           after: TicketState, reason: str, payload: dict) -> None:
    seq = (session.scalar(select(func.max(TicketEvent.seq)).where(TicketEvent.ticket_id == ticket.id)) or 0) + 1
    # Through the relationship, so that a ticket whose events are loaded shows this one too.
    session.add(new_event(ticket, actor, now, step, before, after, reason, payload, seq))


def _unit(session: Session, code: str, field_name: str) -> Unit:
    """A unit a step names (dispatch, whistle ...). The step's permission is the workflow's (rules.check): who may
    dispatch may name any unit, whether or not their role may list the units."""
    try:
        unit = units.by_code(session, code)
    except UnitNotFound as exc:
        raise InvalidInput(str(exc), field=field_name) from exc
    if not unit.active:
        raise InvalidInput(f"unit {code} is inactive", field=field_name)
    if unit.kind == UnitKind.centre:
        raise InvalidInput("the centre does not handle tickets itself", field=field_name)
    return unit


def _set_unit_deadlines(session: Session, settings: Settings, ticket: Ticket, unit: Unit, now: datetime,
                        keep_reply: bool = False) -> None:
    policy = taxonomy.policy_for(session, ticket.category.code if ticket.category else None, ticket.urgency)
    d = deadlines(policy, load_calendar(session, settings, unit.calendar), ticket.created_at, dispatched_at=now)
    ticket.sign_by = d.sign_by
    if not keep_reply:
        ticket.reply_by, ticket.reply_overdue = d.reply_by, False
    ticket.sign_overdue = False


def _kept_sign_by(ticket: Ticket, payload: dict) -> None:
    """The sign deadline a (re-)dispatch set, on its event: the response rate is replayed from the event log."""
    if ticket.sign_by is not None:
        payload["sign_by"] = ticket.sign_by.isoformat()


Effect = Callable[[Session, Actor, datetime, Settings, Ticket, StepInput, dict], None]


def _dispatch(session, actor, now, settings, ticket, data, payload) -> None:
    # Everything named is looked up before the ticket changes: a refused step leaves the ticket as it was read.
    category = None
    if data.category:
        try:
            category = taxonomy.category_by_code(session, data.category)
        except CategoryNotFound as exc:
            raise InvalidInput(str(exc), field="category") from exc
    unit = _unit(session, data.unit, "unit")
    co_units = [_unit(session, code, "co_units") for code in dict.fromkeys(data.co_units)]
    if category is not None:
        ticket.category = category
    if data.urgency is not None:  # before the deadlines, which it sets
        ticket.urgency = Urgency(data.urgency)
    ticket.main_unit = unit
    ticket.dispatched_at = now
    _set_unit_deadlines(session, settings, ticket, unit, now)
    _kept_sign_by(ticket, payload)
    for co in co_units:
        if co.id != unit.id:
            session.add(TicketUnit(ticket=ticket, unit=co, role=UnitRole.co, created_at=now))
    _copy_to_district(session, ticket, unit, now)
    payload["unit_name"] = unit.name
    if ticket.suggestion:  # the proposal beside the decision, so that accuracy is read from the log
        proposed = json.loads(ticket.suggestion)
        payload["suggested"] = {"category": proposed.get("category_code"),
                                "unit": (proposed.get("main_unit") or {}).get("code"),
                                "manual": proposed.get("manual", False)}
        payload["category"] = ticket.category.code if ticket.category else None
    ticket.manual_review = False


def _copy_to_district(session: Session, ticket: Ticket, unit: Unit, now: datetime) -> None:
    """A street's or community's ticket is copied to the government of the district the unit is in, and to no
    other: when the ticket moves to another unit (a re-dispatch), the copy of a district it left goes, so that
    its government no longer reads the ticket or adds to it."""
    district = None
    if unit.kind in (UnitKind.street, UnitKind.community) and unit.area_id is not None:
        district_code = select(Area.district_code).where(Area.id == unit.area_id).scalar_subquery()
        district = session.scalar(select(Unit).where(Unit.kind == UnitKind.district_government,
                                                     Unit.code == district_code))
    for tu in [tu for tu in ticket.units if tu.role == UnitRole.copy and (district is None
                                                                        or tu.unit_id != district.id)]:
        ticket.units.remove(tu)
        session.delete(tu)
    if district is not None and not any(tu.unit_id == district.id and tu.role == UnitRole.copy
                                        for tu in ticket.units):
        session.add(TicketUnit(ticket=ticket, unit=district, role=UnitRole.copy, created_at=now))


def _sign(session, actor, now, settings, ticket, data, payload) -> None:
    ticket.signed_at = now


def _return(session, actor, now, settings, ticket, data, payload) -> None:
    pass  # the reason is on the event; the centre reviews it


def _uphold_return(session, actor, now, settings, ticket, data, payload) -> None:
    unit = _unit(session, data.unit, "unit")
    if unit.id == ticket.main_unit_id:
        raise InvalidInput("re-dispatch to another unit; to send it back to the same one, reject the return",
                           field="unit")
    if ticket.main_unit_id is not None:  # ruled not its ticket: left out of that unit's rates
        payload["from_unit"] = ticket.main_unit.code
        events.publish(RETURN_UPHELD, session=session, settings=settings, ticket=ticket,
                       unit_id=ticket.main_unit_id, at=now)
    ticket.main_unit = unit
    # dispatched_at stays the first dispatch: the centre met (or missed) its dispatch deadline then; the new unit's
    # deadlines run from now, and the event says when it was sent on.
    ticket.signed_at = None
    _set_unit_deadlines(session, settings, ticket, unit, now)
    _kept_sign_by(ticket, payload)
    _copy_to_district(session, ticket, unit, now)
    # Departments the old unit whistled in and that have not reported are released: the new unit
    # decides for itself whom to summon. Those that reported stay, as part of the record.
    released = [tu for tu in ticket.units if tu.role == UnitRole.summoned and tu.state != SummonsState.reported]
    for tu in released:
        ticket.units.remove(tu)
        session.delete(tu)
    if released:
        payload["released"] = [tu.unit.code for tu in released]
    ticket.extension_days_requested = None
    payload["unit_name"] = unit.name


def _reject_return(session, actor, now, settings, ticket, data, payload) -> None:
    # Back to the same unit: it signs again; the reply deadline it had still stands.
    _set_unit_deadlines(session, settings, ticket, ticket.main_unit, now, keep_reply=True)
    _kept_sign_by(ticket, payload)
    ticket.signed_at = None


def _note(session, actor, now, settings, ticket, data, payload) -> None:
    pass


MAX_EXTENSION_DAYS = 30


def _request_extension(session, actor, now, settings, ticket, data, payload) -> None:
    if ticket.extension_days_requested is not None:
        raise TransitionNotAllowed("an extension request is already waiting for the centre", field="days")
    if not (0 < data.days <= MAX_EXTENSION_DAYS):
        raise InvalidInput(f"days must be more than 0 and at most {MAX_EXTENSION_DAYS}", field="days")
    ticket.extension_days_requested = data.days


def _approve_extension(session, actor, now, settings, ticket, data, payload) -> None:
    if ticket.extension_days_requested is None:
        raise TransitionNotAllowed("no extension request is waiting", field="days")
    cal = load_calendar(session, settings, ticket.main_unit.calendar)
    ticket.reply_by = cal.add_business_days(ticket.reply_by, ticket.extension_days_requested)
    payload["days"] = float(ticket.extension_days_requested)  # the same in the log whether 3 or 3.0 came in
    payload["reply_by"] = ticket.reply_by.isoformat()
    ticket.extension_days_requested = None
    ticket.extensions += 1
    ticket.reply_overdue = ticket.reply_by <= now


def _reject_extension(session, actor, now, settings, ticket, data, payload) -> None:
    if ticket.extension_days_requested is None:
        raise TransitionNotAllowed("no extension request is waiting", field="days")
    ticket.extension_days_requested = None


def _whistle(session, actor, now, settings, ticket, data, payload) -> None:
    named = []  # every unit checked before one is summoned: a refused step leaves the ticket as it was read
    for code in dict.fromkeys(data.units):
        unit = _unit(session, code, "units")
        if unit.id == ticket.main_unit_id:
            raise InvalidInput("a unit cannot summon itself", field="units")
        named.append(unit)
    summoned = []
    for unit in named:
        if any(tu.unit_id == unit.id and tu.role == UnitRole.summoned for tu in ticket.units):
            continue
        session.add(TicketUnit(ticket=ticket, unit=unit, role=UnitRole.summoned, state=SummonsState.summoned,
                               created_at=now))
        summoned.append(unit.name)
    if not summoned:
        raise InvalidInput("every unit named is summoned already", field="units")
    payload["unit_names"] = summoned


def _my_summons(actor: Actor, ticket: Ticket) -> TicketUnit:
    return next(tu for tu in ticket.units if tu.unit_id == actor.unit_id and tu.role == UnitRole.summoned)


def _summons_sign(session, actor, now, settings, ticket, data, payload) -> None:
    tu = _my_summons(actor, ticket)
    if tu.state != SummonsState.summoned:
        raise TransitionNotAllowed("this unit has reported for duty already", field="ticket")
    tu.state, tu.signed_at = SummonsState.signed, now


def _summons_report(session, actor, now, settings, ticket, data, payload) -> None:
    tu = _my_summons(actor, ticket)
    if tu.state == SummonsState.reported:
        raise TransitionNotAllowed("this unit has reported its part already", field="ticket")
    tu.signed_at = tu.signed_at or now
    tu.state, tu.reported_at, tu.report = SummonsState.reported, now, data.text.strip()


def _reply(session, actor, now, settings, ticket, data, payload) -> None:
    waiting = [tu.unit.name for tu in summons_waiting(ticket)]
    if waiting:
        raise TransitionNotAllowed(f"the summoned units have not all reported: {', '.join(waiting)}", field="units")
    ticket.replied_at = now
    ticket.extension_days_requested = None  # an answer given needs no more time; a reopen starts afresh


ANSWERS = ("resolved", "satisfied", "contacted", "resolution")


def _close(session, actor, now, settings, ticket, data, payload) -> None:
    # A replied ticket is closed by its callback: the desk records what the citizen said (a Callback row, which the
    # three rates count) and closes with it, or closes after the last unanswered attempt (未联系上, a fact too).
    # Only a citizen who asked for no callback has none: then the close says so, and carries no answers.
    if data.callback is None:
        if not ticket.request.no_callback:
            raise TransitionNotAllowed("a replied ticket is closed by its callback: record what the citizen said "
                                       "at the callback desk (POST /api/v1/tickets/{number}/callback)",
                                       field="callback")
        given = [name for name in ANSWERS if getattr(data, name) is not None]
        if given:
            raise InvalidInput("the citizen asked for no callback: a close without one carries no answers",
                               field=given[0])
        payload["no_callback"] = True
    ticket.closed_at = now
    ticket.callback_due = False


def _reopen(session, actor, now, settings, ticket, data, payload) -> None:
    policy = taxonomy.policy_for(session, ticket.category.code if ticket.category else None, ticket.urgency)
    d = deadlines(policy, load_calendar(session, settings, ticket.main_unit.calendar), ticket.created_at,
                  dispatched_at=now)
    ticket.reply_by, ticket.reply_overdue = d.reply_by, False
    ticket.replied_at = ticket.closed_at = None
    ticket.callback_due = False
    ticket.reopened += 1


def _merge(session, actor, now, settings, ticket, data, payload) -> None:
    parent = session.scalar(select(Ticket).where(Ticket.number == data.parent))
    if parent is None:
        raise InvalidInput(f"no ticket {data.parent}", field="parent")
    if parent.id == ticket.id or parent.state in rules.FINAL_STATES:
        raise InvalidInput("merge into another ticket that is still open", field="parent")
    ticket.parent_id = parent.id
    ticket.closed_at = now


def _escalate(session, actor, now, settings, ticket, data, payload) -> None:
    ticket.escalated = True


def _withdraw(session, actor, now, settings, ticket, data, payload) -> None:
    ticket.closed_at = now


def _mark_overdue(session, actor, now, settings, ticket, data, payload) -> None:
    if data.deadline == "sign":
        ticket.sign_overdue = True
    elif data.deadline == "reply":
        ticket.reply_overdue = True
    else:
        raise InvalidInput("deadline is sign or reply", field="deadline")


def _queue_callback(session, actor, now, settings, ticket, data, payload) -> None:
    ticket.callback_due = True


def _suggest(session, actor, now, settings, ticket, data, payload) -> None:
    """Smart dispatch's proposal, made after intake: kept in full on the ticket, in brief on the event (as at
    intake), with the request's words and, when the address named it for certain, the request's area."""
    made = data.suggestion or {}
    ticket.suggestion = json.dumps(made.get("full") or {}, ensure_ascii=False, default=str)
    brief = made.get("brief") or {}
    ticket.manual_review = bool(brief.get("manual"))
    ticket.suggest_pending = False
    payload["suggestion"] = brief
    if made.get("terms") is not None:
        ticket.request.terms = made["terms"]
    code = made.get("area_code")
    if code and ticket.area is None:
        area = session.scalar(select(Area).where(Area.code == code))
        if area is not None:
            ticket.area = ticket.request.area = area
            ticket.district_code = area.district_code
            payload["area"] = code


EFFECTS: dict[Step, Effect] = {
    Step.dispatch: _dispatch, Step.sign: _sign, Step.return_: _return, Step.uphold_return: _uphold_return,
    Step.reject_return: _reject_return, Step.note: _note, Step.request_extension: _request_extension,
    Step.approve_extension: _approve_extension, Step.reject_extension: _reject_extension, Step.whistle: _whistle,
    Step.summons_sign: _summons_sign, Step.summons_report: _summons_report, Step.reply: _reply, Step.close: _close,
    Step.reopen: _reopen, Step.merge: _merge, Step.escalate: _escalate, Step.withdraw: _withdraw, Step.add_info: _note,
    Step.mark_overdue: _mark_overdue, Step.queue_callback: _queue_callback, Step.suggest: _suggest,
}
assert set(EFFECTS) == set(rules.TRANSITIONS), "every step of the table has its effect"


