"""The response rate's one rule (rules.replay, rules.sign_kind): each dispatch to a unit, replayed from the
ticket's events, is signed in time, late, missed, or not counted. Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jiesu.assessment import rules
from jiesu.assessment.rules import SignStatus as St

T0 = datetime(2024, 9, 30, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing
STREET, OTHER = "110115009000", "110115001000"


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def sent(unit: str, minutes: int, sign_within: int | None = 60, action: str = "dispatch") -> tuple:
    payload = {"unit": unit}
    if sign_within is not None:
        payload["sign_by"] = at(minutes + sign_within).isoformat()
    return (action, at(minutes), payload)


def ev(action: str, minutes: int, **payload) -> tuple:
    return (action, at(minutes), payload)


def kinds(events, now_minutes: int = 10_000) -> list[tuple[str, str]]:
    return [(s.unit, rules.sign_kind(s.status, s.sign_by, at(now_minutes))) for s in rules.replay(events)]


def test_signed_within_the_deadline_is_on_time_after_it_late():
    (s,) = rules.replay([sent(STREET, 0), ev("sign", 60)])  # at the deadline itself: still in time
    assert (s.unit, s.dispatched_at, s.sign_by, s.signed_at, s.status) == (STREET, at(0), at(60), at(60), St.on_time)
    (s,) = rules.replay([sent(STREET, 0), ev("sign", 61)])
    assert s.status == St.late and s.signed_at == at(61)
    assert kinds([sent(STREET, 0), ev("sign", 61)]) == [(STREET, "sign_late")]


def test_unsigned_is_pending_until_its_deadline_then_missed():
    (s,) = rules.replay([sent(STREET, 0), ev("note", 30)])
    assert s.status == St.open and s.signed_at is None
    assert rules.sign_kind(s.status, s.sign_by, at(59)) == "sign_pending"
    assert rules.sign_kind(s.status, s.sign_by, at(61)) == "sign_missed"


def test_an_upheld_return_ends_the_first_spell_and_starts_one_for_the_new_unit():
    events = [sent(STREET, 0), ev("return", 10, reason="不属于本街道"), sent(OTHER, 200, action="uphold_return"),
              ev("sign", 210)]
    first, second = rules.replay(events)
    assert (first.unit, first.status) == (STREET, St.upheld_return)
    assert (second.unit, second.dispatched_at, second.sign_by, second.status) == (OTHER, at(200), at(260), St.on_time)
    assert kinds(events) == [(STREET, "sign_upheld"), (OTHER, "sign_on_time")]
    # upheld after the first unit had signed: the return, not the sign, is what counts for it
    signed_first = [sent(STREET, 0), ev("sign", 5), ev("return", 10), sent(OTHER, 20, action="uphold_return")]
    assert kinds(signed_first, 30) == [(STREET, "sign_upheld"), (OTHER, "sign_pending")]


def test_a_rejected_return_within_the_deadline_takes_the_new_deadline():
    new_by = at(200 + 60).isoformat()
    events = [sent(STREET, 0), ev("return", 30), ev("reject_return", 50, sign_by=new_by), ev("sign", 230)]
    (s,) = rules.replay(events)
    assert s.sign_by == at(260) and s.status == St.on_time


def test_a_return_within_the_deadline_answers_it_until_the_centre_rules():
    # returned at 30 of 60: counted neither way while reviewed, however long the review takes ...
    (s,) = rules.replay([sent(STREET, 0), ev("return", 30)])
    assert s.status == St.returned and rules.sign_kind(s.status, s.sign_by, at(10_000)) == "sign_returned"
    # ... rejected after the old deadline had passed: the new one stands, and a sign within it is in time
    new_by = at(300 + 60).isoformat()
    events = [sent(STREET, 0), ev("return", 30), ev("reject_return", 300, sign_by=new_by), ev("sign", 310)]
    (s,) = rules.replay(events)
    assert s.sign_by == at(360) and s.status == St.on_time
    # ... and merged or withdrawn meanwhile: nothing was left to sign
    (s,) = rules.replay([sent(STREET, 0), ev("return", 30), ev("merge", 500)])
    assert s.status == St.void


def test_a_return_after_the_deadline_answers_nothing_and_keeps_the_old_one():
    new_by = at(300 + 60).isoformat()
    events = [sent(STREET, 0), ev("return", 90), ev("reject_return", 300, sign_by=new_by), ev("sign", 310)]
    (s,) = rules.replay(events)
    assert s.sign_by == at(60) and s.status == St.late
    (s,) = rules.replay([sent(STREET, 0), ev("return", 90)])  # under review: already a miss
    assert s.status == St.open and rules.sign_kind(s.status, s.sign_by, at(100)) == "sign_missed"


def test_merged_or_withdrawn_before_the_deadline_is_void_after_it_unsigned():
    for action in ("merge", "withdraw"):
        (s,) = rules.replay([sent(STREET, 0), ev(action, 30)])
        assert s.status == St.void, action
        assert rules.sign_kind(s.status, s.sign_by, at(10_000)) == "sign_void"
        (s,) = rules.replay([sent(STREET, 0), ev(action, 90)])
        assert s.status == St.unsigned, action
        assert rules.sign_kind(s.status, s.sign_by, at(10_000)) == "sign_missed"
    # a signed ticket merged later stays signed
    assert kinds([sent(STREET, 0), ev("sign", 10), ev("merge", 90)]) == [(STREET, "sign_on_time")]


def test_legacy_events_without_a_deadline_take_the_clocks_overdue_mark():
    legacy = sent(STREET, 0, sign_within=None)
    (s,) = rules.replay([legacy, ev("mark_overdue", 61, deadline="sign"), ev("sign", 90)])
    assert s.sign_by == at(61) and s.status == St.late
    (s,) = rules.replay([legacy, ev("mark_overdue", 61, deadline="reply"), ev("sign", 90)])  # another deadline
    assert s.sign_by is None and s.status == St.on_time
    (s,) = rules.replay([legacy, ev("sign", 90)])  # no mark: nothing says it was late
    assert s.status == St.on_time
    (s,) = rules.replay([legacy])
    assert rules.sign_kind(s.status, s.sign_by, at(10_000)) == "sign_pending"  # no deadline known: never a miss
    # with a deadline kept on the event the clock's mark changes nothing
    (s,) = rules.replay([sent(STREET, 0), ev("mark_overdue", 61, deadline="sign"), ev("sign", 62)])
    assert s.sign_by == at(60) and s.status == St.late


def test_an_import_with_and_without_the_old_systems_sign_data():
    def imported(**payload) -> tuple:
        return ("import", at(0), payload)

    full = {"unit": STREET, "dispatched_at": at(0).isoformat(), "sign_by": at(60).isoformat()}
    (s,) = rules.replay([imported(**full, signed_at=at(30).isoformat())])
    assert (s.unit, s.dispatched_at, s.sign_by, s.signed_at, s.status) == (STREET, at(0), at(60), at(30), St.on_time)
    (s,) = rules.replay([imported(**full, signed_at=at(61).isoformat())])
    assert s.status == St.late
    (s,) = rules.replay([imported(**full)])
    assert s.status == St.open and rules.sign_kind(s.status, s.sign_by, at(61)) == "sign_missed"
    for missing in ("unit", "dispatched_at", "sign_by"):
        assert rules.replay([imported(**{k: v for k, v in full.items() if k != missing})]) == [], missing


def test_steps_that_do_not_answer_a_spell_leave_it():
    events = [sent(STREET, 0), ev("whistle", 5), ev("note", 6), ev("sign", 70), ev("reply", 80)]
    assert kinds(events) == [(STREET, "sign_late")]
    assert rules.replay([ev("sign", 0), ev("merge", 1)]) == []  # nothing dispatched: nothing to count
