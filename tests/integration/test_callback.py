"""The callback desk on SQLite and PostgreSQL: the queue, attempts, 未联系上, reopen on unresolved, the
citizen's survey, and the facts the assessment reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from jiesu.assessment.models import FactKind, RateFact
from jiesu.callback import service as callback
from jiesu.callback.models import Callback, CallbackChannel, Resolution, Satisfaction
from jiesu.errors import InvalidInput, PermissionDenied, TransitionNotAllowed
from jiesu.tickets import jobs
from jiesu.tickets.rules import TicketState as S
from tests.integration.test_tickets import Desk, replied

ANSWERED = callback.Answer(contacted=True, resolution=Resolution.resolved, satisfaction=Satisfaction.satisfied,
                           comment="已解决，满意")


def record(desk: Desk, actor, number: str, answer: callback.Answer) -> callback.Outcome:
    return callback.record(desk.session, actor, desk.clock, desk.settings, number, answer)


def test_a_replied_ticket_enters_the_queue_at_the_clocks_tick(desk, cast):
    t = replied(desk, cast)
    items, total = callback.queue(desk.session, cast.callback)
    assert total == 0  # the clock has not queued it yet
    jobs.tick(desk.session, desk.clock, desk.settings)
    items, total = callback.queue(desk.session, cast.callback)
    assert [i.ticket.number for i in items] == [t.number] and total == 1
    assert items[0].attempts == 0


def test_resolved_and_satisfied_closes_and_counts(desk, cast):
    t = replied(desk, cast)
    out = record(desk, cast.callback, t.number, ANSWERED)
    assert out.result == "closed" and out.ticket.state == S.closed
    assert out.ticket.events[-1].action == "close"
    assert '"resolution": "resolved"' in out.ticket.events[-1].payload
    fact = desk.session.scalar(select(RateFact).where(RateFact.ticket_id == t.id))
    assert (fact.kind, fact.contacted, fact.resolution, fact.satisfaction) == (FactKind.callback, True, 2, 2)
    assert fact.unit_id == t.main_unit_id and fact.callback_id == out.callback.id


def test_unresolved_reopens_to_the_same_unit_with_a_new_deadline(desk, cast, clock):
    t = replied(desk, cast)
    unit, old_deadline = t.main_unit_id, t.reply_by
    clock.advance(timedelta(days=3))
    out = record(desk, cast.callback, t.number, callback.Answer(
        contacted=True, resolution=Resolution.unresolved, satisfaction=Satisfaction.unsatisfied))
    assert out.result == "reopened" and out.ticket.state == S.handling
    assert out.ticket.main_unit_id == unit and out.ticket.reopened == 1
    assert out.ticket.reply_by > old_deadline
    # Handled again, called back again in the same month: the ticket counts once, with the last answers.
    desk.act(cast.handler, t, desk_step("reply"), text="再次处理完毕")
    out = record(desk, cast.callback, t.number, callback.Answer(
        contacted=True, resolution=Resolution.resolved, satisfaction=Satisfaction.basically))
    facts = list(desk.session.scalars(select(RateFact).where(RateFact.ticket_id == t.id)))
    assert len(facts) == 1 and (facts[0].resolution, facts[0].satisfaction) == (2, 1)
    assert [c.round for c in callback.history(desk.session, cast.callback, t.number)] == [0, 1]


def desk_step(name: str):
    from jiesu.tickets.rules import Step

    return Step(name)


def test_unreached_three_times_ends_as_unreachable(desk, cast, clock):
    t = replied(desk, cast)
    for attempt in (1, 2):
        out = record(desk, cast.callback, t.number, callback.Answer(reached=False))
        assert out.result == "retry" and out.ticket.state == S.replied and out.callback.attempt == attempt
        clock.advance(timedelta(hours=4))
    out = record(desk, cast.callback, t.number, callback.Answer(reached=False))
    assert out.result == "unreachable" and out.ticket.state == S.closed
    assert "未联系上" in out.ticket.events[-1].reason
    fact = desk.session.scalar(select(RateFact).where(RateFact.ticket_id == t.id))
    assert fact.kind == FactKind.unreachable


@pytest.mark.parametrize("missing", ["contacted", "resolution", "satisfaction"])
def test_a_reached_callback_needs_every_answer(desk, cast, missing):
    t = replied(desk, cast)
    answer = callback.Answer(contacted=True, resolution=Resolution.resolved, satisfaction=Satisfaction.satisfied)
    setattr(answer, missing, None)
    with pytest.raises(InvalidInput) as exc:
        record(desk, cast.callback, t.number, answer)
    assert exc.value.field == missing
    assert desk.session.scalar(select(Callback).where(Callback.ticket_id == t.id)) is None


def test_only_the_desk_records_and_only_replied_tickets(desk, cast):
    t = replied(desk, cast)
    with pytest.raises(PermissionDenied):
        record(desk, cast.handler, t.number, ANSWERED)
    record(desk, cast.callback, t.number, ANSWERED)
    with pytest.raises(TransitionNotAllowed):
        record(desk, cast.callback, t.number, ANSWERED)


def test_the_citizen_answers_by_the_survey_link(desk, cast):
    t = replied(desk, cast)
    token = callback.survey_token(desk.settings, t)
    assert callback.survey_ticket(desk.session, desk.settings, token).id == t.id
    with pytest.raises(callback.SurveyNotFound):
        callback.survey_ticket(desk.session, desk.settings, token[:-2] + "xx")
    out = callback.answer_survey(desk.session, desk.clock, desk.settings, token, ANSWERED)
    assert out.callback.channel == CallbackChannel.survey and out.ticket.state == S.closed
    with pytest.raises(TransitionNotAllowed):
        callback.answer_survey(desk.session, desk.clock, desk.settings, token, ANSWERED)
