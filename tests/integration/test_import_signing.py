"""History import and the response rate (响应率), on SQLite and PostgreSQL: the old system's dispatch and sign
times become sign facts counted as live ones are (its sign deadline, else the deadline policy's), equal to what
the event log replays to (direct_sign_facts, `jiesu assess rebuild`); without its sign times the rate is left
empty, not guessed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from jiesu.assessment import service as assessment
from jiesu.assessment.models import SignFact
from jiesu.assessment.rules import SignStatus
from jiesu.intake.history.check import Lookups
from jiesu.permissions import SYSTEM, Actor, Role
from jiesu.taxonomy import service as taxonomy
from jiesu.taxonomy.models import Category, Urgency
from jiesu.tickets import service as tickets
from jiesu.tickets.models import TicketEvent
from jiesu.tickets.rules import Step, TicketState
from jiesu.units.models import Unit
from tests.integration.test_import import PERIOD, STREET, bj, good, ids, run, ticket

NO_CALLBACK = dict(replied_at=None, closed_at=None, callback_at=None, callback_reached=None, callback_contacted=None,
                   callback_resolution=None, callback_satisfaction=None)
# March 2023 at the street. The deadline policy ('*') gives a normal ticket 1 hour to sign, an emergency half.
SIGNED = [
    good("S-1", dispatched_at="2023-03-11 09:00:00", sign_by="2023-03-11 10:00:00", signed_at="2023-03-11 09:30:00"),
    good("S-2", dispatched_at="2023-03-12 09:00:00", sign_by="2023-03-12 10:00:00", signed_at="2023-03-12 11:00:00"),
    good("S-3", dispatched_at="2023-03-13 09:00:00", signed_at="2023-03-13 09:40:00"),  # policy: by 10:00, in time
    good("S-4", dispatched_at="2023-03-14 09:00:00", signed_at=None, state="dispatched", **NO_CALLBACK),  # open
    good("S-5", dispatched_at="2023-03-15 09:00:00", signed_at=None),  # closed, its signing not kept: no fact
    good("S-6", dispatched_at="2023-03-16 09:00:00", signed_at="2023-03-16 09:45:00", urgency="紧急"),  # by 09:30
    good("S-7", dispatched_at=None, signed_at=None, state="withdrawn", **NO_CALLBACK),  # never dispatched
]


def street_row(session, settings, clock, **kw):
    ranking = assessment.ranking(session, SYSTEM, settings, clock, PERIOD, "street", prefer_rollup=False, **kw)
    return ranking, next(r for r in ranking.rows if r.key == STREET)


def facts(session) -> list[tuple]:
    return sorted((f.ticket_id, f.unit_id, f.district_code, f.category_id, f.dispatched_at, f.sign_by, f.signed_at,
                   SignStatus(f.status)) for f in session.scalars(select(SignFact).where(SignFact.period == PERIOD)))


def test_dispatch_and_sign_times_give_the_street_its_response_rate(session, settings, clock):
    report = run(session, settings, SIGNED, clock)
    assert (report.loaded, report.rejected) == (7, 0)
    assert (report.signs, report.signs_by_policy, report.no_signs) == (5, 3, 2)
    assert PERIOD in report.periods

    _, row = street_row(session, settings, clock)
    # S-1 and S-3 in time, S-2 and S-6 late, S-4 unsigned past its deadline (the clock is in 2024): 2 of 5.
    c = row.counts
    assert (c.signed, c.late, c.missed, c.pending, c.dispatched) == (2, 2, 1, 0, 5)
    assert row.rates.response == pytest.approx(2 / 5)

    street = ids(session, Unit, STREET)
    by_number = {ticket(session, n).id: n for n in ("S-1", "S-2", "S-3", "S-4", "S-6")}
    got = {by_number[f[0]]: (f[1], f[5], f[6], f[7]) for f in facts(session)}
    assert got == {
        "S-1": (street, bj("2023-03-11 10:00:00"), bj("2023-03-11 09:30:00"), SignStatus.on_time),
        "S-2": (street, bj("2023-03-12 10:00:00"), bj("2023-03-12 11:00:00"), SignStatus.late),
        "S-3": (street, bj("2023-03-13 10:00:00"), bj("2023-03-13 09:40:00"), SignStatus.on_time),
        "S-4": (street, bj("2023-03-14 10:00:00"), None, SignStatus.open),
        "S-6": (street, bj("2023-03-16 09:30:00"), bj("2023-03-16 09:45:00"), SignStatus.late),
    }
    # The event's payload is the record `jiesu assess rebuild` replays: the sign keys when there is a fact ...
    payload = json.loads(ticket(session, "S-3").events[0].payload)
    assert (payload["unit"], payload["dispatched_at"], payload["sign_by"], payload["signed_at"]) == (
        STREET, "2023-03-13T01:00:00Z", "2023-03-13T02:00:00Z", "2023-03-13T01:40:00Z")
    # ... and none when there is not.
    for number in ("S-5", "S-7"):
        assert not {"unit", "sign_by"} & json.loads(ticket(session, number).events[0].payload).keys()


def test_without_sign_times_the_response_rate_is_empty_and_the_callbacks_count(session, settings, clock):
    rows = [good("N-1", signed_at=None), good("N-2", signed_at=None, callback_satisfaction="unsatisfied"),
            good("N-3", dispatched_at=None, signed_at=None)]
    report = run(session, settings, rows, clock)
    assert (report.loaded, report.signs, report.signs_by_policy, report.no_signs) == (3, 0, 0, 3)
    _, row = street_row(session, settings, clock)
    assert row.counts.dispatched == 0 and row.rates.response is None  # not 0: nothing was counted
    assert row.counts.valid == 3 and row.rates.satisfaction == pytest.approx(2 / 3)
    assert row.rates.resolution == pytest.approx(1.0)
    assert facts(session) == []


def test_the_sign_facts_written_are_what_the_event_log_replays_to(session, settings, clock):
    run(session, settings, SIGNED, clock)
    written = facts(session)
    assert len(written) == 5
    replayed = sorted((f["ticket_id"], f["unit_id"], f["district_code"], f["category_id"], f["dispatched_at"],
                       f["sign_by"], f["signed_at"], SignStatus(f["status"]))
                      for f in assessment.direct_sign_facts(session, settings, PERIOD))
    assert written == replayed


def test_rebuild_of_the_imported_month_gives_the_same_ranking(session, settings, clock):
    run(session, settings, SIGNED, clock)
    before, _ = street_row(session, settings, clock)
    kept = facts(session)
    assessment.rebuild(session, settings, [PERIOD])
    session.expire_all()
    after, _ = street_row(session, settings, clock)
    assert facts(session) == kept
    assert [(r.key, r.counts, r.rates) for r in after.rows] == [(r.key, r.counts, r.rates) for r in before.rows]
    assert any(r.counts.dispatched for r in after.rows)


@pytest.mark.parametrize(("fields", "field", "reason"), [
    (dict(dispatched_at="2023-03-11 09:00:00", signed_at="2023-03-11 08:59:00"), "signed_at",
     "signed_at is before dispatched_at"),
    (dict(dispatched_at="2023-03-11 09:00:00", sign_by="2023-03-11 08:30:00"), "sign_by",
     "sign_by is before dispatched_at"),
    (dict(sign_by="2023-03-01 08:00:00"), "sign_by", "sign_by is before created_at"),
    (dict(sign_by="soon"), "sign_by", "'soon' is not a time"),
])
def test_inconsistent_sign_times_are_refused_naming_the_field(session, settings, clock, fields, field, reason):
    report = run(session, settings, [good("B-1", **fields), good("B-2")], clock)
    assert report.loaded == 1
    assert [(r.number, r.field) for r in report.rejections] == [("B-1", field)]
    assert report.rejections[0].reason.startswith(reason)


def test_an_imported_ticket_still_to_sign_is_answered_by_its_signing_in_jiesu(session, settings, clock):
    """The import's open spell and the live sign step replay together (record_step)."""
    run(session, settings, [good("L-1", dispatched_at="2023-03-14 09:00:00", signed_at=None, state="dispatched",
                                 **NO_CALLBACK)], clock)
    (fact,) = session.scalars(select(SignFact).where(SignFact.ticket_id == ticket(session, "L-1").id))
    assert fact.status == SignStatus.open
    handler = Actor(username="h", role=Role.unit_handler, unit_id=ids(session, Unit, STREET))
    signing = clock.now()
    tickets.act(session, handler, clock, settings, "L-1", Step.sign, tickets.StepInput())
    assert ticket(session, "L-1").state == TicketState.handling
    session.refresh(fact)
    assert (fact.status, fact.signed_at, fact.period) == (SignStatus.late, signing, PERIOD)
    assert [e.action for e in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == fact.ticket_id)
                                              .order_by(TicketEvent.seq))] == ["import", "sign"]


def test_the_deadline_policy_is_read_as_live_dispatches_read_it(session):
    """check.Lookups loads the policies once; its lookup is taxonomy.policy_for's."""
    lookups = Lookups(session)
    utility = session.scalar(select(Category).where(Category.name == taxonomy.UTILITY_CATEGORY_NAMES[0]))
    leaf = session.scalar(select(Category).where(Category.code.like(utility.code + ".%"))) or utility
    plain = session.scalar(select(Category).where(Category.code == "01.01.003"))
    for category in (utility, leaf, plain, None):
        for urgency in Urgency:
            policy = taxonomy.policy_for(session, category.code if category else None, urgency)
            got = lookups.sign_hours(category.id if category else None, urgency.name)
            assert got == policy.sign_within_hours, (category and category.code, urgency)
    assert timedelta(hours=lookups.sign_hours(None, "emergency")) == timedelta(minutes=30)
