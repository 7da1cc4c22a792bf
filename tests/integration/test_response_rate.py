"""响应率 through the real workflow, on SQLite and PostgreSQL: the dispatches a unit signed within the sign
deadline over those dispatched to it in the month, whatever its callbacks say; an upheld return counted for the
unit that finally holds the ticket; the late and the unsigned behind `not_in_time`; the contact rate (联系率)
beside it; and the live facts, the kept rollup, the event log and a rebuild giving the same numbers."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from jiesu.assessment import service as assessment
from jiesu.assessment.models import SignFact
from jiesu.callback import service as callback
from jiesu.callback.models import Resolution as R
from jiesu.callback.models import Satisfaction as Sat
from jiesu.permissions import SYSTEM
from jiesu.tickets.rules import Step
from tests.integration.test_tickets import OTHER_STREET, STREET
from tests.stories import bj

MONTH = "2024-09"
SIGN_WITHIN = timedelta(hours=1)  # a normal ticket's sign deadline


@pytest.fixture(autouse=True)
def small_sample(settings, clock):
    settings.assess_min_sample = 1
    clock.set(bj("2024-09-10 09:00"))  # a Tuesday


def dispatched(desk, cast, unit: str = STREET, **fields):
    t = desk.new(cast.operator, area_code=unit, **fields)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=unit)
    assert t.sign_by == desk.clock.now() + SIGN_WITHIN
    return t


def handler(cast, unit: str):
    return cast.handler if unit == STREET else cast.other_handler


def rank(desk, month: str = MONTH, **kw) -> dict[str, assessment.Row]:
    r = assessment.ranking(desk.session, SYSTEM, desk.settings, desk.clock, month, "street", **kw)
    return {row.key: row for row in r.rows}


def behind(desk, measure: str, key: str = STREET) -> list[str]:
    pairs, total = assessment.behind(desk.session, SYSTEM, desk.settings, desk.clock, MONTH, "street", key, measure)
    assert total == len(pairs)
    return sorted(t.number for _, t in pairs)


def called_back(desk, cast, t, contacted: bool = True) -> None:
    callback.record(desk.session, cast.callback, desk.clock, desk.settings, t.number, callback.Answer(
        contacted=contacted, resolution=R.resolved, satisfaction=Sat.satisfied))


def test_nine_of_ten_signed_in_time_is_a_response_of_exactly_0_9_whatever_the_callbacks_say(desk, cast, clock):
    tickets = []
    for i in range(10):
        t = dispatched(desk, cast)
        if i == 9:
            clock.advance(SIGN_WITHIN + timedelta(minutes=1))  # the last one signed a minute late
        clock.advance(timedelta(minutes=5))
        desk.act(cast.handler, t, Step.sign)
        tickets.append(desk.act(cast.handler, t, Step.reply, text="已处理"))
    for t in tickets:  # the citizens all say the unit never contacted them
        called_back(desk, cast, t, contacted=False)
    row = rank(desk)[STREET]
    assert (row.counts.dispatched, row.counts.signed, row.counts.late, row.counts.missed) == (10, 9, 1, 0)
    assert row.rates.response == 0.9
    assert row.rates.contact == 0.0  # the old measure, kept apart as 联系率
    assert row.rates.composite == pytest.approx(100 * (0.1 * 0.9 + 0.5 + 0.4))


def test_an_upheld_return_counts_for_the_street_that_finally_holds_the_ticket(desk, cast, clock):
    kept = dispatched(desk, cast)
    desk.act(cast.handler, kept, Step.sign)
    t = dispatched(desk, cast)
    clock.advance(timedelta(hours=3))  # the first street lets the deadline pass, then returns it, unsigned
    desk.act(cast.handler, t, Step.return_, reason="不属于本街道")
    desk.act(cast.dispatcher, t, Step.uphold_return, unit=OTHER_STREET, reason="改派兴丰街道")
    clock.advance(timedelta(minutes=10))
    desk.act(cast.other_handler, t, Step.sign)
    clock.advance(timedelta(days=1))
    rows = rank(desk)
    first, second = rows[STREET], rows[OTHER_STREET]
    assert (first.counts.dispatched, first.counts.missed, first.sign_upheld, first.rates.response) == (1, 0, 1, 1.0)
    assert (second.counts.dispatched, second.counts.signed, second.sign_upheld, second.rates.response) == (
        1, 1, 0, 1.0)
    assert behind(desk, "sign_upheld") == [t.number] and behind(desk, "dispatched") == [kept.number]
    assert behind(desk, "signed", OTHER_STREET) == [t.number]
    r = assessment.ranking(desk.session, SYSTEM, desk.settings, clock, MONTH, "street")
    assert (r.total.dispatched, r.sign_upheld) == (2, 1)


def test_the_late_and_the_unsigned_are_behind_not_in_time(desk, cast, clock):
    on_time, late, never = (dispatched(desk, cast) for _ in range(3))
    clock.advance(timedelta(minutes=30))
    desk.act(cast.handler, on_time, Step.sign)
    assert behind(desk, "pending") == sorted([late.number, never.number])  # their deadline is still ahead
    assert behind(desk, "not_in_time") == []
    assert rank(desk)[STREET].rates.response == 1.0  # 1 of 1 counted so far
    clock.advance(timedelta(hours=1))
    desk.act(cast.handler, late, Step.sign)
    assert behind(desk, "not_in_time") == sorted([late.number, never.number])
    assert (behind(desk, "late"), behind(desk, "missed")) == ([late.number], [never.number])
    assert behind(desk, "signed") == [on_time.number] and behind(desk, "pending") == []
    assert behind(desk, "dispatched") == sorted(t.number for t in (on_time, late, never))
    pairs, _ = assessment.behind(desk.session, SYSTEM, desk.settings, clock, MONTH, "street", STREET, "late")
    (fact, _), = pairs
    assert isinstance(fact, SignFact) and fact.signed_at == clock.now() and fact.sign_by == fact.at + SIGN_WITHIN
    row = rank(desk)[STREET]
    assert (row.counts.not_in_time, row.rates.response) == (2, pytest.approx(1 / 3))


def test_the_contact_rate_is_still_reported_and_weighs_when_set(desk, cast, settings):
    tickets = []
    for _ in range(3):
        t = dispatched(desk, cast)
        desk.act(cast.handler, t, Step.sign)
        tickets.append(desk.act(cast.handler, t, Step.reply, text="已处理"))
    for t, contacted in zip(tickets, (True, True, False), strict=True):
        called_back(desk, cast, t, contacted)
    row = rank(desk)[STREET]
    assert (row.counts.contacted, row.counts.valid, row.rates.contact, row.rates.response) == (
        2, 3, pytest.approx(2 / 3), 1.0)
    assert row.rates.composite == pytest.approx(100.0)  # contact weighs 0 by default
    settings.assess_weight_contact, settings.assess_weight_resolution = 0.3, 0.2
    assert rank(desk)[STREET].rates.composite == pytest.approx(100 * (0.1 + 0.3 * 2 / 3 + 0.2 + 0.4))


def a_month_of_signing(desk, cast, clock) -> None:
    """Every way a dispatch can stand, at two streets, in September 2024."""
    for unit in (STREET, OTHER_STREET):
        who = handler(cast, unit)
        on_time, late = dispatched(desk, cast, unit), dispatched(desk, cast, unit)
        desk.act(who, on_time, Step.sign)
        desk.act(cast.dispatcher, dispatched(desk, cast, unit), Step.merge, parent=on_time.number)  # void
        unsigned_merge = dispatched(desk, cast, unit)
        withdrawn = dispatched(desk, cast, unit)
        rejected = dispatched(desk, cast, unit)
        clock.advance(timedelta(minutes=20))
        desk.act(who, rejected, Step.return_, reason="非本单位职责")
        clock.advance(timedelta(minutes=20))
        desk.act(cast.dispatcher, rejected, Step.reject_return, reason="属属地管理")  # in time: a new deadline
        clock.advance(timedelta(minutes=50))
        desk.act(who, rejected, Step.sign)  # in time by the new deadline, late by the first
        clock.advance(timedelta(minutes=40))
        desk.act(who, late, Step.sign)
        desk.act(cast.dispatcher, unsigned_merge, Step.merge, parent=on_time.number)  # past its deadline: a miss
        desk.act(cast.operator, withdrawn, Step.withdraw, reason="市民撤回")  # likewise
        dispatched(desk, cast, unit)  # never signed: a miss
        returned = dispatched(desk, cast, unit)
        desk.act(who, returned, Step.return_, reason="不属于本街道")
        other = OTHER_STREET if unit == STREET else STREET
        desk.act(cast.dispatcher, returned, Step.uphold_return, unit=other, reason="改派")
        desk.act(handler(cast, other), returned, Step.sign)
        called_back(desk, cast, desk.act(who, on_time, Step.reply, text="已处理"), contacted=unit == STREET)
        clock.advance(timedelta(days=1))
    clock.set(bj("2024-09-30 23:30"))
    dispatched(desk, cast)  # the month's last dispatch: its deadline runs into October


def cells(items) -> Counter:
    return Counter((c.unit_id, c.district_code, c.category_id, c.kind, c.tickets, c.contacted, c.resolved,
                    c.partly, c.satisfied, c.basically) for c in items)


def sign_facts(session) -> list[tuple]:
    return sorted((f.ticket_id, f.unit_id, f.dispatched_at, f.sign_by, f.signed_at, f.status)
                  for f in session.scalars(select(SignFact).where(SignFact.period == MONTH)))


def test_live_rolled_up_and_from_the_log_agree_cell_for_cell(desk, cast, clock, settings):
    a_month_of_signing(desk, cast, clock)
    s = desk.session
    clock.set(bj("2024-09-30 23:45"))  # the last dispatch still pending
    live = assessment.fact_cells(s, MONTH, clock.now())
    assert cells(live) == cells(assessment.direct_cells(s, settings, MONTH, clock.now()))
    assert rank(desk)[STREET].counts.pending == 1
    clock.set(bj("2024-10-04 09:00"))  # settled: the month is over, its last deadline passed
    live = assessment.fact_cells(s, MONTH, clock.now())
    assert cells(live) == cells(assessment.direct_cells(s, settings, MONTH, clock.now()))
    facts = rank(desk, prefer_rollup=False)
    for key in (STREET, OTHER_STREET):
        # signed: on time, rejected-then-signed, and the other street's upheld return; late 1;
        # missed: merged and withdrawn past the deadline, never signed (and STREET's last dispatch)
        row = facts[key]
        missed = 4 if key == STREET else 3
        assert (row.counts.signed, row.counts.late, row.counts.missed, row.counts.pending, row.sign_upheld) == (
            3, 1, missed, 0, 1), key
        assert row.rates.response == pytest.approx(3 / (4 + missed))
    assert facts[STREET].rates.contact == 1 and facts[OTHER_STREET].rates.contact == 0
    assessment.rollup(s, settings, clock, MONTH)
    assert cells(assessment.stored_cells(s, MONTH)) == cells(live)
    r = assessment.ranking(s, SYSTEM, settings, clock, MONTH, "street", prefer_rollup=True)
    assert r.source == "rollup"
    assert {row.key: (row.counts, row.rates, row.sign_upheld, row.rank) for row in r.rows} == {
        k: (v.counts, v.rates, v.sign_upheld, v.rank) for k, v in facts.items()}
    # the sign facts written step by step are the ones replayed from the event log
    written = sign_facts(s)
    assessment.rebuild(s, settings, [MONTH])
    assert sign_facts(s) == written and len(written) == 2 * 9 + 1
    assert cells(assessment.fact_cells(s, MONTH, clock.now())) == cells(live)


def test_a_return_within_the_deadline_is_not_held_against_the_unit_while_the_centre_reviews_it(desk, cast, clock):
    """A street that returns an unsigned ticket in time has answered the dispatch: the ticket counts neither way
    until the centre rules; sent back, the street signs against the new deadline the centre gives it."""
    signed = dispatched(desk, cast)
    desk.act(cast.handler, signed, Step.sign)
    t = dispatched(desk, cast)
    clock.advance(timedelta(minutes=30))
    desk.act(cast.handler, t, Step.return_, reason="不属于本街道管辖")
    clock.advance(timedelta(hours=5))  # long past the first deadline: the review is the centre's time, not the unit's
    row = rank(desk)[STREET]
    assert (row.counts.dispatched, row.counts.signed, row.counts.pending) == (1, 1, 1)
    assert row.rates.response == 1.0
    assert behind(desk, "pending") == [t.number] and behind(desk, "not_in_time") == []
    desk.act(cast.dispatcher, t, Step.reject_return, reason="经核实属本街道")
    clock.advance(timedelta(minutes=20))
    desk.act(cast.handler, t, Step.sign)
    row = rank(desk)[STREET]
    assert (row.counts.dispatched, row.counts.signed, row.counts.late) == (2, 2, 0)
    # a return made after the deadline answered nothing: that dispatch is a miss while reviewed
    late = dispatched(desk, cast)
    clock.advance(SIGN_WITHIN + timedelta(minutes=10))
    desk.act(cast.handler, late, Step.return_, reason="不属于本街道管辖")
    assert behind(desk, "not_in_time") == [late.number]
