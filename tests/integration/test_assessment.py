"""The three rates on SQLite and PostgreSQL, checked against figures computed by hand on small fixtures:
the formulas, one count per ticket per month, unreachable citizens, upheld returns, excluded categories,
merged duplicates, the month boundary (calendar months and 19th-to-18th months), ranking, and the three
ways to the same numbers (facts read live, the kept rollup, the callbacks and events directly)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from jiesu.assessment import service as assessment
from jiesu.callback import service as callback
from jiesu.callback.models import Resolution as R
from jiesu.callback.models import Satisfaction as Sat
from jiesu.permissions import SYSTEM
from jiesu.taxonomy.models import Category
from jiesu.tickets.models import TicketEvent
from jiesu.tickets.rules import Step
from tests.integration.test_tickets import OTHER_STREET, STREET, handling, replied
from tests.stories import bj

MONTH = "2024-09"  # the clock fixture stands at Monday 30 September 2024, 10:00 in Beijing


def answer(resolution: R, satisfaction: Sat, contacted: bool = True) -> callback.Answer:
    return callback.Answer(contacted=contacted, resolution=resolution, satisfaction=satisfaction)


def call(desk, cast, ticket, a: callback.Answer) -> callback.Outcome:
    return callback.record(desk.session, cast.callback, desk.clock, desk.settings, ticket.number, a)


def rank(desk, level: str = "street", month: str = MONTH, **kw) -> dict[str, assessment.Row]:
    r = assessment.ranking(desk.session, SYSTEM, desk.settings, desk.clock, month, level, **kw)
    return {row.key: row for row in r.rows}


@pytest.fixture(autouse=True)
def small_sample(settings):
    settings.assess_min_sample = 1
    settings.assess_bottom = 1


def test_rates_as_computed_by_hand(desk, cast, clock):
    a, b, c, d = (replied(desk, cast) for _ in range(4))
    call(desk, cast, a, answer(R.resolved, Sat.satisfied))
    call(desk, cast, b, answer(R.partly, Sat.basically))
    call(desk, cast, c, answer(R.unresolved, Sat.unsatisfied))  # reopened ...
    desk.act(cast.handler, c, Step.reply, text="再次处理")
    call(desk, cast, c, answer(R.resolved, Sat.basically, contacted=False))  # ... counts once, as last answered
    for _ in range(3):
        call(desk, cast, d, callback.Answer(reached=False))  # 未联系上: not a valid callback
    e = desk.new(cast.operator)
    desk.act(cast.dispatcher, e, Step.dispatch, unit=STREET)
    clock.advance(timedelta(minutes=61))  # the sign deadline is an hour
    desk.act(cast.handler, e, Step.sign)
    row = rank(desk)[STREET]
    # valid 3 (a, b, c); contacted a, b; resolved a, c; satisfied a, basically b and c;
    # dispatched 5 (a-e): a-d signed at once, e an hour and a minute late
    assert row.counts.astuple() == (3, 2, 2, 1, 1, 2, 4, 1, 0, 0)
    assert row.unreachable == 1
    assert row.rates.response == pytest.approx(4 / 5)
    assert row.rates.contact == pytest.approx(2 / 3)
    assert row.rates.resolution == pytest.approx(2 / 3)
    assert row.rates.satisfaction == pytest.approx((1 + 0.9 * 2) / 3)
    assert row.rates.composite == pytest.approx(100 * (0.1 * 4 / 5 + 0.5 * 2 / 3 + 0.4 * 2.8 / 3))
    assert row.rank == 1 and row.group == "街道" and row.district == "大兴区"


def test_the_formula_is_configurable(desk, cast, settings):
    t = replied(desk, cast)
    call(desk, cast, t, answer(R.partly, Sat.basically))
    settings.assess_partly_factor, settings.assess_basically_factor = 0.5, 0.8
    settings.assess_weight_response, settings.assess_weight_resolution, settings.assess_weight_satisfaction = 0, 1, 0
    row = rank(desk)[STREET]
    assert (row.rates.resolution, row.rates.satisfaction) == (pytest.approx(0.5), pytest.approx(0.8))
    assert row.rates.composite == pytest.approx(50)
    r = assessment.ranking(desk.session, SYSTEM, settings, desk.clock, MONTH, "street")
    assert any("0.5 × 部分解决" in line for line in r.formulas)


def test_no_valid_callback_gives_no_rate_and_no_rank(desk, cast):
    t = replied(desk, cast)
    for _ in range(3):
        call(desk, cast, t, callback.Answer(reached=False))
    row = rank(desk)[STREET]
    assert row.counts.valid == 0 and row.unreachable == 1
    assert row.rates.composite is None and row.rank is None


def test_an_upheld_return_is_left_out_of_the_first_units_rates(desk, cast):
    t = desk.new(cast.operator)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=STREET)
    desk.act(cast.handler, t, Step.return_, reason="不属于本街道")
    desk.act(cast.dispatcher, t, Step.uphold_return, unit=OTHER_STREET, reason="改派")
    desk.act(cast.other_handler, t, Step.sign)
    desk.act(cast.other_handler, t, Step.reply, text="已处理")
    call(desk, cast, t, answer(R.resolved, Sat.satisfied))
    rows = rank(desk)
    assert rows[STREET].counts.valid == 0 and rows[STREET].upheld_returns == 1
    assert rows[OTHER_STREET].counts.valid == 1 and rows[OTHER_STREET].upheld_returns == 0
    r = assessment.ranking(desk.session, SYSTEM, desk.settings, desk.clock, MONTH, "street")
    assert r.upheld_returns == 1 and r.total.valid == 1


def test_excluded_categories_are_counted_apart(desk, cast, settings):
    top = desk.session.scalar(select(Category).where(Category.level == 1).order_by(Category.code))
    leaf = desk.session.scalar(select(Category).where(Category.path.startswith(top.path + "/"))
                               .order_by(Category.level.desc(), Category.code))
    t = handling(desk, cast, category_code=leaf.code)
    desk.act(cast.handler, t, Step.reply, text="已处理")
    u = replied(desk, cast)
    call(desk, cast, t, answer(R.resolved, Sat.satisfied))
    call(desk, cast, u, answer(R.unresolved, Sat.unsatisfied))
    settings.assess_excluded_categories = f" {top.code} ,"  # the top category and everything below it
    row = rank(desk)[STREET]
    assert row.counts.valid == 1 and row.excluded_category == 1
    assert row.rates.resolution == 0
    assert row.counts.dispatched == 1  # the excluded ticket's dispatch is left out of the response rate too
    facts, total = assessment.behind(desk.session, SYSTEM, settings, desk.clock, MONTH, "street", STREET,
                                     "excluded_category")
    assert total == 1 and facts[0][1].number == t.number
    _, total = assessment.behind(desk.session, SYSTEM, settings, desk.clock, MONTH, "street", STREET, "valid")
    assert total == 1
    facts, total = assessment.behind(desk.session, SYSTEM, settings, desk.clock, MONTH, "street", STREET,
                                     "dispatched")
    assert total == 1 and facts[0][1].number == u.number


def test_a_merged_duplicate_is_not_counted(desk, cast):
    parent = handling(desk, cast)
    child = desk.new(cast.operator)
    desk.act(cast.dispatcher, child, Step.merge, parent=parent.number)
    desk.act(cast.handler, parent, Step.reply, text="已处理")
    call(desk, cast, parent, answer(R.resolved, Sat.satisfied))
    row = rank(desk)[STREET]
    assert row.counts.valid == 1 and row.counts.dispatched == 1  # the child was never dispatched
    _, total = assessment.behind(desk.session, SYSTEM, desk.settings, desk.clock, MONTH, "street", STREET, "valid")
    assert total == 1


def test_the_month_boundary_in_beijing_time(desk, cast, clock, settings):
    t = replied(desk, cast)
    clock.set(bj("2024-10-01 00:30"))  # 30 September 16:30 UTC: already October in Beijing
    call(desk, cast, t, answer(R.resolved, Sat.satisfied))
    september = rank(desk, month="2024-09")[STREET]  # dispatched and signed in September: its response counts there
    assert (september.counts.valid, september.counts.dispatched, september.rates.response) == (0, 1, 1.0)
    october = rank(desk, month="2024-10")[STREET]
    assert (october.counts.valid, october.counts.dispatched, october.rates.response) == (1, 0, None)


def test_a_month_that_runs_from_the_19th(desk, cast, clock, settings):
    settings.assess_month_start_day = 19
    t, u = replied(desk, cast), replied(desk, cast)
    clock.set(bj("2024-10-18 23:59"))
    call(desk, cast, t, answer(R.resolved, Sat.satisfied))  # 19 Sep - 18 Oct: assessed as October
    clock.set(bj("2024-10-19 00:01"))
    call(desk, cast, u, answer(R.resolved, Sat.satisfied))  # 19 Oct - 18 Nov: November
    assert rank(desk, month="2024-10")[STREET].counts.valid == 1
    assert rank(desk, month="2024-11")[STREET].counts.valid == 1
    r = assessment.ranking(desk.session, SYSTEM, settings, clock, "2024-10", "street")
    assert (r.start, r.end) == (bj("2024-09-19 00:00"), bj("2024-10-19 00:00"))


def test_ranking_order_bottom_min_sample_and_month_on_month(desk, cast, clock, settings):
    settings.assess_min_sample = 2
    good = [replied(desk, cast) for _ in range(2)]
    clock.set(bj("2024-08-20 10:00"))
    last_month = replied(desk, cast)
    call(desk, cast, last_month, answer(R.partly, Sat.unsatisfied))
    call_all = [(t, answer(R.resolved, Sat.satisfied)) for t in good]
    clock.set(bj("2024-09-30 10:00"))
    for t, a in call_all:
        call(desk, cast, t, a)
    # the other street: two valid callbacks, one unresolved
    others = []
    for _ in range(2):
        o = desk.new(cast.operator, area_code=OTHER_STREET)
        desk.act(cast.dispatcher, o, Step.dispatch, unit=OTHER_STREET)
        desk.act(cast.other_handler, o, Step.sign)
        others.append(desk.act(cast.other_handler, o, Step.reply, text="已处理"))
    call(desk, cast, others[0], answer(R.resolved, Sat.satisfied))
    call(desk, cast, others[1], answer(R.partly, Sat.basically))
    rows = rank(desk)
    assert rows[STREET].rank == 1 and rows[OTHER_STREET].rank == 2
    assert rows[OTHER_STREET].bottom and not rows[STREET].bottom
    assert rows[STREET].rank_in_district == 1
    # last month: one valid callback (partly, unsatisfied: 0) of a ticket signed at once (response 1: 10 points),
    # below the minimum sample then, but its score is still the comparison
    assert rows[STREET].previous == pytest.approx(10.0)
    assert rows[STREET].change == pytest.approx(90.0)
    august = rank(desk, month="2024-08")
    assert august[STREET].rank is None and august[STREET].counts.valid == 1


def test_district_and_department_levels(desk, cast):
    t = replied(desk, cast)
    call(desk, cast, t, answer(R.resolved, Sat.satisfied))
    districts = rank(desk, "district")
    (key,) = districts
    assert districts[key].name == "大兴区" and districts[key].counts.valid == 1
    assert rank(desk, "department") == {}


def cells(items) -> Counter:
    return Counter((c.unit_id, c.district_code, c.category_id, c.kind, c.tickets, c.contacted, c.resolved,
                    c.partly, c.satisfied, c.basically) for c in items)


def test_facts_rollup_and_direct_give_the_same_numbers(desk, cast, clock, settings):
    a, b, c = (replied(desk, cast) for _ in range(3))
    clock.set(bj("2024-09-10 10:00"))
    call(desk, cast, a, answer(R.unresolved, Sat.unsatisfied))
    desk.act(cast.handler, a, Step.reply, text="再次处理")
    call(desk, cast, a, answer(R.partly, Sat.basically))
    call(desk, cast, b, answer(R.resolved, Sat.satisfied, contacted=False))
    for _ in range(3):
        call(desk, cast, c, callback.Answer(reached=False))
    t = desk.new(cast.operator)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=STREET)
    desk.act(cast.handler, t, Step.return_, reason="不属于本街道")
    desk.act(cast.dispatcher, t, Step.uphold_return, unit=OTHER_STREET, reason="改派")
    s = desk.session
    live = assessment.fact_cells(s, MONTH, clock.now())
    assert cells(live) == cells(assessment.direct_cells(s, settings, MONTH, clock.now()))
    # callbacks: a, b valid, c unreachable, t upheld; dispatches: a-c signed, t upheld, t at the other street pending
    assert sum(c.tickets for c in live) == 4 + 5
    assert {c.kind for c in live if c.kind.startswith("sign")} == {"sign_on_time", "sign_upheld", "sign_pending"}
    clock.set(bj("2024-10-02 09:00"))
    live = assessment.fact_cells(s, MONTH, clock.now())  # the other street's deadline passed meanwhile: a miss
    assert cells(live) == cells(assessment.direct_cells(s, settings, MONTH, clock.now()))
    assert "sign_pending" not in {c.kind for c in live} and "sign_missed" in {c.kind for c in live}
    before = rank(desk, prefer_rollup=False)
    assessment.rollup(s, settings, clock, MONTH)
    kept = assessment.stored_cells(s, MONTH)
    assert cells(kept) == cells(live)
    r = assessment.ranking(s, SYSTEM, settings, clock, MONTH, "street")
    assert r.source == "rollup"
    assert {k: (v.counts, v.rates, v.rank) for k, v in rank(desk).items()} == {
        k: (v.counts, v.rates, v.rank) for k, v in before.items()}
    # facts written anew from the callbacks and the events are the facts written as things happened
    written = assessment.rebuild(s, settings, [MONTH])
    assert written == 4 + 5 and cells(assessment.fact_cells(s, MONTH, clock.now())) == cells(live)
    assert assessment.stored_cells(s, MONTH) is None  # rebuild dropped the rollup: read live until kept again


def test_a_running_month_is_not_rolled_up(desk, cast, clock, settings):
    from jiesu.errors import InvalidInput

    with pytest.raises(InvalidInput) as exc:
        assessment.rollup(desk.session, settings, clock, MONTH)
    assert exc.value.field == "month"


@pytest.mark.parametrize(("month", "level", "field"), [("2024-13", "street", "month"), ("24-09", "street", "month"),
                                                       (MONTH, "planet", "level")])
def test_bad_month_or_level_names_the_field(desk, month, level, field):
    from jiesu.errors import InvalidInput

    with pytest.raises(InvalidInput) as exc:
        assessment.ranking(desk.session, SYSTEM, desk.settings, desk.clock, month, level)
    assert exc.value.field == field


def test_supervision_lists_overdue_escalated_and_reopenings(desk, cast, clock):
    late = desk.new(cast.operator)
    desk.act(cast.dispatcher, late, Step.dispatch, unit=STREET)
    clock.advance(timedelta(days=2))
    from jiesu.tickets import jobs

    jobs.tick(desk.session, clock, desk.settings)
    t = replied(desk, cast)
    for _ in range(2):
        call(desk, cast, t, answer(R.unresolved, Sat.unsatisfied))
        desk.act(cast.handler, t, Step.reply, text="再次处理")
    sup = assessment.supervision(desk.session, SYSTEM, desk.settings, "2024-10")
    assert late.number in {x.number for x in sup.sign_overdue}
    assert sup.counts["sign_overdue"] >= 1
    assert late.number in {x.number for x in sup.escalated} or sup.counts["escalated"] == len(sup.escalated)
    (unit, twice, reopens), = sup.reopened_units
    assert unit.code == STREET and twice == 1 and reopens == 2


def test_demo_month_ranking_equals_hand_written_sql(session, settings):
    """A month of the demo city, ranked by the service, and recomputed here in plain SQL from the callbacks."""
    from datetime import UTC, datetime

    from jiesu.clock import FixedClock
    from jiesu.demo import seed_demo
    from tests.integration.test_simulator import factory_for

    now = datetime(2024, 11, 1, 2, 0, tzinfo=UTC)
    seed_demo(factory_for(session), now, settings, tickets=400, days=45)
    month = "2024-10"
    r = assessment.ranking(session, SYSTEM, settings, FixedClock(now), month, "street")
    assert r.total.valid > 100, "the demo month has callbacks to rank"
    start, end = bj("2024-10-01 00:00"), bj("2024-11-01 00:00")
    # The last reached callback of each ticket and unit in the month; units by code; streets only.
    sql = text("""
        WITH last AS (
            SELECT c.*, ROW_NUMBER() OVER (PARTITION BY c.ticket_id, c.unit_id ORDER BY c.at DESC, c.id DESC) AS n
            FROM callbacks c WHERE c.reached AND c.at >= :start AND c.at < :end)
        SELECT u.code, COUNT(*),
               SUM(CASE WHEN last.contacted THEN 1 ELSE 0 END),
               SUM(CASE WHEN last.resolution = 'resolved' THEN 1 ELSE 0 END),
               SUM(CASE WHEN last.satisfaction = 'satisfied' THEN 1 ELSE 0 END),
               SUM(CASE WHEN last.satisfaction = 'basically' THEN 1 ELSE 0 END)
        FROM last JOIN units u ON u.id = last.unit_id
        WHERE last.n = 1 AND u.kind = 'street'
          AND NOT EXISTS (SELECT 1 FROM ticket_events e WHERE e.ticket_id = last.ticket_id
                          AND e.action = 'uphold_return' AND e.at > last.at AND e.at < :end)
        GROUP BY u.code""")
    responded = _response_by_hand(session, start, end, now)
    expected = {}
    for code, valid, contacted, resolved, satisfied, basically in session.execute(
            sql, {"start": start.astimezone(UTC), "end": end.astimezone(UTC)}):
        response = responded.get(code)
        others = 0.5 * resolved / valid + 0.4 * (satisfied + 0.9 * basically) / valid
        composite = 100 * (0.1 * response + others) if response is not None else 100 * others / 0.9
        expected[code] = (valid, contacted, resolved, None if response is None else round(response, 6),
                          round(composite, 6))
    got = {row.key: (row.counts.valid, row.counts.contacted, row.counts.resolved,
                     None if row.rates.response is None else round(row.rates.response, 6),
                     round(row.rates.composite, 6))
           for row in r.rows if row.counts.valid}
    assert got == expected
    assert any(v[3] is not None and v[3] < 1 for v in expected.values()), "some street signed late or not at all"
    assert {k for k, v in responded.items() if v is not None} >= {row.key for row in r.rows if row.counts.dispatched}
    ranked = [row for row in r.rows if row.rank is not None]
    assert ranked, "some streets reach the minimum sample"


def _response_by_hand(session, start, end, now) -> dict[str, float | None]:
    """Each street's response rate in [start, end) read straight from the event log: every dispatch (or upheld
    return's re-dispatch) there in the month, as it stood at `now`, without the assessment's code."""
    import json
    from datetime import UTC, datetime

    streets = set(session.scalars(text("SELECT code FROM units WHERE kind = 'street'")))
    sent = ("dispatch", "uphold_return")
    events = session.execute(text("""
        SELECT e.ticket_id, e.action, e.at, e.payload FROM ticket_events e
        WHERE e.ticket_id IN (SELECT ticket_id FROM ticket_events
                              WHERE action IN ('dispatch', 'uphold_return') AND at >= :start AND at < :end)
        ORDER BY e.ticket_id, e.seq""").columns(at=TicketEvent.at.type),
        {"start": start.astimezone(UTC), "end": end.astimezone(UTC)})
    log: dict[int, list] = {}
    for ticket_id, action, at, payload in events:
        log.setdefault(ticket_id, []).append((action, at, json.loads(payload or "{}")))
    outcome: dict[tuple[int, str], str] = {}  # (ticket, unit) -> its last dispatch's outcome in the month
    for ticket_id, evs in log.items():
        for i, (action, at, payload) in enumerate(evs):
            if action not in sent or not start <= at < end:
                continue
            deadline = datetime.fromisoformat(payload["sign_by"])  # every dispatch keeps its sign deadline
            state, returned = None, False
            for later, when, data in evs[i + 1:]:
                if later in sent:  # sent on: an upheld return is not held against the unit, whatever it did
                    state = "upheld" if later == "uphold_return" else state
                    break
                if state is not None:
                    continue
                if later == "sign":
                    state = "on_time" if when <= deadline else "late"
                elif later == "return" and when <= deadline:  # returned unsigned in time: answered, under review
                    returned = True
                elif later == "reject_return" and returned:  # ... sent back: signed against the new deadline
                    returned, deadline = False, datetime.fromisoformat(data["sign_by"])
                elif later in ("merge", "withdraw"):
                    state = "missed" if when > deadline and not returned else "void"
            missed = deadline < now and not returned
            outcome[(ticket_id, payload["unit"])] = state or ("missed" if missed else "pending")
    tally: dict[str, Counter] = {}
    for (_, unit), state in outcome.items():
        if unit in streets:
            tally.setdefault(unit, Counter())[state] += 1
    assert sum(sum(c.values()) for c in tally.values()) > 100, "the demo month has dispatches to streets"
    assert any(c["late"] + c["missed"] for c in tally.values()), "and some not signed in time"
    out = {}
    for unit, c in tally.items():
        counted = c["on_time"] + c["late"] + c["missed"]
        out[unit] = c["on_time"] / counted if counted else None
    return out
