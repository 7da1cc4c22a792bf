"""The ticket workflow: the one table that says what may happen next, who may do it and what it needs.

Pure: no database. The service looks a transition up here, checks the actor against it, applies it
and writes the event; replaying the events through `replay` gives the state back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from jiesu import glossary
from jiesu.permissions import Role


class TicketState(StrEnum):
    new = "new"  # 待派单: created, waiting for the dispatcher
    dispatched = "dispatched"  # 待签收: sent to a unit, waiting for it to sign
    handling = "handling"  # 办理中: signed, the unit is working on it
    returned = "returned"  # 退单待审: the unit says it is not its own; the centre reviews
    replied = "replied"  # 已答复: the unit has answered; waiting for the callback
    closed = "closed"  # 已办结
    withdrawn = "withdrawn"  # 已撤回: the citizen withdrew it
    merged = "merged"  # 已并单: a duplicate, merged into a parent ticket


STATE_LABELS = glossary.labels("ticket_state", TicketState)
OPEN_STATES = frozenset({TicketState.new, TicketState.dispatched, TicketState.handling, TicketState.returned,
                         TicketState.replied})
FINAL_STATES = frozenset(TicketState) - OPEN_STATES


class Step(StrEnum):
    create = "create"
    import_ = "import"  # a historical ticket brought from an older system, in its final state
    dispatch = "dispatch"  # 派单
    sign = "sign"  # 签收
    return_ = "return"  # 退单
    uphold_return = "uphold_return"  # centre agrees: re-dispatch to another unit
    reject_return = "reject_return"  # centre disagrees: back to the same unit
    note = "note"  # progress note while handling
    request_extension = "request_extension"  # 延期申请
    approve_extension = "approve_extension"
    reject_extension = "reject_extension"
    whistle = "whistle"  # 吹哨报到: summon departments to a joint action
    summons_sign = "summons_sign"  # a summoned unit reports for duty
    summons_report = "summons_report"  # a summoned unit reports its part done
    reply = "reply"  # 答复
    close = "close"  # callback resolved, or no callback wanted
    reopen = "reopen"  # 重办: callback says unresolved
    merge = "merge"  # 并单: a duplicate goes into a parent
    escalate = "escalate"  # 督办
    withdraw = "withdraw"  # citizen withdraws
    add_info = "add_info"  # 补充说明: the citizen adds to their own open request (the app's 补充)
    mark_overdue = "mark_overdue"  # the clock: a sign or reply deadline passed
    queue_callback = "queue_callback"  # the clock: a replied ticket enters the callback queue
    suggest = "suggest"  # smart dispatch's worker: the suggestion made after intake (routing.service)
    # A file taken off the ticket (tickets.attachments.remove): on the timeline, not a step of the table.
    remove_attachment = "remove_attachment"


ACTION_LABELS = glossary.labels("step", Step)


class Party(StrEnum):
    """Who, beyond the role, must the actor be for this ticket."""

    anyone = "anyone"  # any holder of the role
    main_unit = "main_unit"  # a member of the unit the ticket is dispatched to
    summoned_unit = "summoned_unit"  # a member of a unit the street whistled in
    creator = "creator"  # the citizen who made the request (operators may act for them)


S = TicketState
R = Role
UNIT_MEMBERS = frozenset({R.unit_handler, R.community_worker})
CENTRE = frozenset({R.dispatcher, R.admin})
OPEN_WORK = frozenset({S.new, S.dispatched, S.handling, S.returned})


@dataclass(frozen=True)
class Transition:
    action: Step
    sources: frozenset[TicketState]
    target: TicketState | None  # None: the state stays as it is (notes, flags, summons)
    roles: frozenset[Role]
    party: Party = Party.anyone
    needs: tuple[str, ...] = ()  # payload fields that must be present and non-empty


def _t(action: Step, sources: Iterable[TicketState], target: TicketState | None, roles: Iterable[Role],
       party: Party = Party.anyone, needs: tuple[str, ...] = ()) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(roles), party, needs)


# The table. Reading one row tells the whole rule for one step.
TRANSITIONS: dict[Step, Transition] = {t.action: t for t in [
    _t(Step.dispatch, {S.new}, S.dispatched, CENTRE, needs=("unit",)),
    _t(Step.sign, {S.dispatched}, S.handling, UNIT_MEMBERS, Party.main_unit),
    _t(Step.return_, {S.dispatched, S.handling}, S.returned, UNIT_MEMBERS, Party.main_unit, ("reason",)),
    _t(Step.uphold_return, {S.returned}, S.dispatched, CENTRE, needs=("unit", "reason")),
    _t(Step.reject_return, {S.returned}, S.dispatched, CENTRE, needs=("reason",)),
    _t(Step.note, {S.handling}, None, UNIT_MEMBERS, Party.main_unit, ("text",)),
    _t(Step.request_extension, {S.handling}, None, UNIT_MEMBERS, Party.main_unit, ("reason", "days")),
    _t(Step.approve_extension, {S.handling}, None, CENTRE),
    _t(Step.reject_extension, {S.handling}, None, CENTRE, needs=("reason",)),
    _t(Step.whistle, {S.handling}, None, UNIT_MEMBERS, Party.main_unit, ("units", "reason")),
    _t(Step.summons_sign, {S.handling}, None, UNIT_MEMBERS, Party.summoned_unit),
    _t(Step.summons_report, {S.handling}, None, UNIT_MEMBERS, Party.summoned_unit, ("text",)),
    _t(Step.reply, {S.handling}, S.replied, UNIT_MEMBERS, Party.main_unit, ("text",)),
    _t(Step.close, {S.replied}, S.closed, frozenset({R.callback_agent, R.dispatcher, R.admin})),
    _t(Step.reopen, {S.replied, S.closed}, S.handling, frozenset({R.callback_agent, R.dispatcher, R.admin}),
       needs=("reason",)),
    _t(Step.merge, {S.new, S.dispatched}, S.merged, CENTRE, needs=("parent",)),
    _t(Step.escalate, OPEN_WORK, None, frozenset({R.supervisor, R.dispatcher, R.admin}), needs=("reason",)),
    _t(Step.withdraw, OPEN_WORK, S.withdrawn, frozenset({R.citizen, R.operator, R.admin}), Party.creator,
       ("reason",)),
    _t(Step.add_info, OPEN_WORK, None, frozenset({R.citizen}), Party.creator, ("text",)),
    _t(Step.mark_overdue, OPEN_WORK | {S.replied}, None, frozenset({R.admin}), needs=("deadline",)),
    _t(Step.queue_callback, {S.replied}, None, frozenset({R.admin})),
    _t(Step.suggest, {S.new}, None, frozenset({R.admin}), needs=("suggestion",)),
]}


class WorkflowError(Exception):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowedNow(WorkflowError):
    """The action exists but not from this state."""


class NotYourTicket(WorkflowError):
    """The role may act, but this actor is not the party the step needs."""


class MissingInput(WorkflowError):
    """A field the step needs is absent."""


def check(action: Step, state: TicketState, role: Role | None, *, is_party: bool,
          payload: dict | None = None) -> Transition:
    """The transition for `action` from `state`, or the reason it may not happen."""
    t = TRANSITIONS.get(action)
    if t is None:
        raise NotAllowedNow(f"{action.value} is not a step of the workflow", field="action")
    if state not in t.sources:
        allowed = ", ".join(sorted(s.value for s in t.sources))
        raise NotAllowedNow(f"cannot {action.value} a ticket that is {state.value} (only from: {allowed})",
                            field="state")
    if role is None or role not in t.roles:
        raise NotYourTicket(f"role {role.value if role else 'anonymous'} may not {action.value}", field="role")
    if t.party != Party.anyone and not is_party:
        raise NotYourTicket(f"only the {t.party.value.replace('_', ' ')} may {action.value} this ticket",
                            field="ticket")
    payload = payload or {}
    for name in t.needs:
        value = payload.get(name)
        if value is None or (isinstance(value, str) and not value.strip()) or (
                isinstance(value, list | tuple) and not value):
            raise MissingInput(f"{action.value} needs {name}", field=name)
    return t


# Steps only the system takes (the clock, smart dispatch's worker): never offered to a person.
SYSTEM_STEPS = frozenset({Step.mark_overdue, Step.queue_callback, Step.suggest})
PERSON_STEPS = tuple(step for step in TRANSITIONS if step not in SYSTEM_STEPS)


def available(state: TicketState, role: Role | None, is_party: Callable[[Party], bool]) -> list[Step]:
    """The steps this role may take on a ticket in this state, in the table's order: what a page offers.
    `is_party` says whether the actor is the party a step needs (the main unit, a summoned unit ...)."""
    if role is None:
        return []
    return [t.action for t in TRANSITIONS.values()
            if t.action not in SYSTEM_STEPS and state in t.sources and role in t.roles
            and (t.party == Party.anyone or is_party(t.party))]


def next_state(state: TicketState, action: Step) -> TicketState:
    t = TRANSITIONS[action]
    return t.target if t.target is not None else state


def replay(events: Iterable[tuple[TicketState | None, TicketState]]) -> TicketState | None:
    """The state a ticket is in after its events, given as (from_state, to_state) pairs. Each event
    must start where the one before it ended: a gap means the log was edited behind the workflow."""
    state: TicketState | None = None
    for i, (before, after) in enumerate(events):
        if before != state:
            raise ValueError(f"event {i} starts at {before} but the ticket was {state}")
        state = after
    return state
