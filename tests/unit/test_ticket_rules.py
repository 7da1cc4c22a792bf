"""The ticket workflow table (jiesu.tickets.rules): pure, no database.

The expectations below are written out by hand from the issue, not read back from the table, so a
change of the table shows up here as a change of the rules someone has to agree with."""

from __future__ import annotations

import pytest

from jiesu.tickets import rules
from jiesu.tickets.rules import Party as P
from jiesu.tickets.rules import Step as A
from jiesu.tickets.rules import TicketState as S
from jiesu.units.models import Role as R

OPEN_WORK = {S.new, S.dispatched, S.handling, S.returned}
CENTRE = {R.dispatcher, R.admin}
UNIT = {R.unit_handler, R.community_worker}
CALLBACK = {R.callback_agent, R.dispatcher, R.admin}

# action: (sources, target (None = stays), roles, party, needs)
SPEC: dict[A, tuple[set[S], S | None, set[R], P, tuple[str, ...]]] = {
    A.dispatch: ({S.new}, S.dispatched, CENTRE, P.anyone, ("unit",)),
    A.sign: ({S.dispatched}, S.handling, UNIT, P.main_unit, ()),
    A.return_: ({S.dispatched, S.handling}, S.returned, UNIT, P.main_unit, ("reason",)),
    A.uphold_return: ({S.returned}, S.dispatched, CENTRE, P.anyone, ("unit", "reason")),
    A.reject_return: ({S.returned}, S.dispatched, CENTRE, P.anyone, ("reason",)),
    A.note: ({S.handling}, None, UNIT, P.main_unit, ("text",)),
    A.request_extension: ({S.handling}, None, UNIT, P.main_unit, ("reason", "days")),
    A.approve_extension: ({S.handling}, None, CENTRE, P.anyone, ()),
    A.reject_extension: ({S.handling}, None, CENTRE, P.anyone, ("reason",)),
    A.whistle: ({S.handling}, None, UNIT, P.main_unit, ("units", "reason")),
    A.summons_sign: ({S.handling}, None, UNIT, P.summoned_unit, ()),
    A.summons_report: ({S.handling}, None, UNIT, P.summoned_unit, ("text",)),
    A.reply: ({S.handling}, S.replied, UNIT, P.main_unit, ("text",)),
    A.close: ({S.replied}, S.closed, CALLBACK, P.anyone, ()),
    A.reopen: ({S.replied, S.closed}, S.handling, CALLBACK, P.anyone, ("reason",)),
    A.merge: ({S.new, S.dispatched}, S.merged, CENTRE, P.anyone, ("parent",)),
    A.escalate: (OPEN_WORK, None, {R.supervisor, R.dispatcher, R.admin}, P.anyone, ("reason",)),
    A.withdraw: (OPEN_WORK, S.withdrawn, {R.citizen, R.operator, R.admin}, P.creator, ("reason",)),
    A.add_info: (OPEN_WORK, None, {R.citizen}, P.creator, ("text",)),
    A.mark_overdue: (OPEN_WORK | {S.replied}, None, {R.admin}, P.anyone, ("deadline",)),
    A.queue_callback: ({S.replied}, None, {R.admin}, P.anyone, ()),
    A.suggest: ({S.new}, None, {R.admin}, P.anyone, ("suggestion",)),
}

FULL_PAYLOAD = {"unit": "110115009000", "reason": "因为", "text": "进展", "days": 3, "units": ["ga-110115"],
                "parent": "20240930-000001", "deadline": "reply", "suggestion": {"brief": {}}}


def test_the_table_has_every_step_but_create_and_nothing_else():
    assert set(rules.TRANSITIONS) == set(SPEC)
    assert A.create not in rules.TRANSITIONS  # creation is intake, not a step
    assert set(rules.ACTION_LABELS) == set(A)
    assert set(rules.STATE_LABELS) == set(S)


@pytest.mark.parametrize("action", list(SPEC), ids=lambda a: a.value)
def test_each_row_says_what_the_issue_says(action):
    sources, target, roles, party, needs = SPEC[action]
    t = rules.TRANSITIONS[action]
    assert t.action == action
    assert t.sources == frozenset(sources)
    assert t.target == target
    assert t.roles == frozenset(roles)
    assert t.party == party
    assert set(t.needs) == set(needs)


@pytest.mark.parametrize("state", list(S), ids=lambda s: s.value)
@pytest.mark.parametrize("action", list(SPEC), ids=lambda a: a.value)
def test_check_allows_exactly_the_listed_sources(action, state):
    sources, _target, roles, _party, _needs = SPEC[action]
    role = sorted(roles)[0]
    if state in sources:
        t = rules.check(action, state, role, is_party=True, payload=FULL_PAYLOAD)
        assert t is rules.TRANSITIONS[action]
    else:
        with pytest.raises(rules.NotAllowedNow) as exc:
            rules.check(action, state, role, is_party=True, payload=FULL_PAYLOAD)
        assert exc.value.field == "state"


@pytest.mark.parametrize("action", list(SPEC), ids=lambda a: a.value)
def test_only_the_listed_roles_may(action):
    sources, _target, roles, _party, _needs = SPEC[action]
    state = sorted(sources)[0]
    for role in R:
        if role in roles:
            rules.check(action, state, role, is_party=True, payload=FULL_PAYLOAD)
        else:
            with pytest.raises(rules.NotYourTicket) as exc:
                rules.check(action, state, role, is_party=True, payload=FULL_PAYLOAD)
            assert exc.value.field == "role"
    with pytest.raises(rules.NotYourTicket):  # an anonymous visitor takes no step
        rules.check(action, state, None, is_party=True, payload=FULL_PAYLOAD)


def test_the_state_is_checked_before_the_role():
    # A wrong state is a 409 whoever asks; a right state with the wrong person is a 403.
    with pytest.raises(rules.NotAllowedNow):
        rules.check(A.sign, S.closed, R.citizen, is_party=False)


@pytest.mark.parametrize("action", list(SPEC), ids=lambda a: a.value)
def test_party_steps_refuse_a_non_party(action):
    sources, _target, roles, party, _needs = SPEC[action]
    state, role = sorted(sources)[0], sorted(roles)[0]
    if party == P.anyone:
        rules.check(action, state, role, is_party=False, payload=FULL_PAYLOAD)  # is_party is not asked
    else:
        with pytest.raises(rules.NotYourTicket) as exc:
            rules.check(action, state, role, is_party=False, payload=FULL_PAYLOAD)
        assert exc.value.field == "ticket"


@pytest.mark.parametrize("action", [a for a in SPEC if SPEC[a][4]], ids=lambda a: a.value)
def test_needs_name_the_missing_field(action):
    sources, _target, roles, _party, needs = SPEC[action]
    state, role = sorted(sources)[0], sorted(roles)[0]
    for name in needs:
        for empty in ({}, {name: None}, {name: ""}, {name: []}):
            payload = {k: v for k, v in FULL_PAYLOAD.items() if k != name} | empty
            with pytest.raises(rules.MissingInput) as exc:
                rules.check(action, state, role, is_party=True, payload=payload)
            assert exc.value.field == name


def test_a_blank_reason_is_no_reason():
    with pytest.raises(rules.MissingInput) as exc:
        rules.check(A.return_, S.handling, R.unit_handler, is_party=True, payload={"reason": "   "})
    assert exc.value.field == "reason"


def test_zero_and_false_are_values_not_missing():
    # "days: 0" is present (the service says it is out of range); it is not a missing field.
    rules.check(A.request_extension, S.handling, R.unit_handler, is_party=True, payload={"reason": "r", "days": 0})


def test_no_payload_for_a_step_that_needs_none():
    rules.check(A.sign, S.dispatched, R.unit_handler, is_party=True)
    rules.check(A.close, S.replied, R.callback_agent, is_party=False, payload=None)


@pytest.mark.parametrize("state", list(S), ids=lambda s: s.value)
@pytest.mark.parametrize("action", list(SPEC), ids=lambda a: a.value)
def test_next_state(action, state):
    target = SPEC[action][1]
    assert rules.next_state(state, action) == (target if target is not None else state)


def test_final_states_have_no_way_out_but_reopen():
    for action, (sources, *_rest) in SPEC.items():
        if action == A.reopen:
            assert sources & rules.FINAL_STATES == {S.closed}
        else:
            assert not sources & rules.FINAL_STATES, action
    assert {S.closed, S.withdrawn, S.merged} == rules.FINAL_STATES
    assert {S.new, S.dispatched, S.handling, S.returned, S.replied} == rules.OPEN_STATES


def test_every_state_is_reachable_from_new():
    seen, todo = {S.new}, [S.new]
    while todo:
        state = todo.pop()
        for action, (sources, *_rest) in SPEC.items():
            if state in sources:
                nxt = rules.next_state(state, action)
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
    assert seen == set(S)


def test_replay_of_a_consistent_log():
    log = [(None, S.new), (S.new, S.dispatched), (S.dispatched, S.handling), (S.handling, S.handling),
           (S.handling, S.replied), (S.replied, S.handling), (S.handling, S.replied), (S.replied, S.closed)]
    assert rules.replay(log) == S.closed
    assert rules.replay([]) is None
    assert rules.replay([(None, S.new)]) == S.new


def test_replay_of_the_steps_themselves():
    state: S | None = None
    log = []
    for action in (None, A.dispatch, A.sign, A.return_, A.reject_return, A.sign, A.note, A.reply, A.reopen,
                   A.reply, A.close):
        nxt = S.new if action is None else rules.next_state(state, action)
        log.append((state, nxt))
        state = nxt
    assert rules.replay(log) == S.closed == state


@pytest.mark.parametrize("log", [
    [(S.new, S.dispatched)],  # does not start from nothing
    [(None, S.new), (S.dispatched, S.handling)],  # a missing dispatch
    [(None, S.new), (S.new, S.dispatched), (S.new, S.dispatched)],  # the same step twice
    [(None, S.new), (None, S.new)],  # created twice
], ids=["no-start", "gap", "repeat", "twice-created"])
def test_replay_rejects_a_gap(log):
    with pytest.raises(ValueError, match="starts at"):
        rules.replay(log)


def test_an_unknown_step_is_refused():
    with pytest.raises(rules.NotAllowedNow):
        rules.check(A.create, S.new, R.admin, is_party=True)
