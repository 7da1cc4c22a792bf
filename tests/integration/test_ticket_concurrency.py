"""Concurrency on PostgreSQL: threads with their own sessions and transactions, started together by a
barrier, each committing its own unit of work. One of two writers to a ticket wins, the other gets a
clear conflict, the event log stays whole; numbers and Idempotency-Keys hold under a crowd."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from jiesu.clock import FixedClock
from jiesu.config import Settings
from jiesu.db import make_engine, make_sessionmaker, unit_of_work
from jiesu.errors import ConcurrentChange, DomainError, InvalidInput, TransitionNotAllowed
from jiesu.permissions import SYSTEM, Actor, Role
from jiesu.taxonomy.models import RequestType
from jiesu.tickets import rules, service
from jiesu.tickets.models import Channel, Contact, Request, Ticket, TicketEvent
from jiesu.tickets.rules import Step
from jiesu.units import users
from tests.conftest import seed_reference_data

STREET = "110115009000"
THREADS = 8
START = datetime(2024, 9, 30, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing


@pytest.fixture(scope="module")
def pg(pg_server, tmp_path_factory):
    if pg_server is None:
        pytest.skip("the concurrency tests need the throwaway PostgreSQL server (JIESU_TEST_DATABASE_URL points "
                    "elsewhere, or PostgreSQL's binaries are missing)")
    engine = make_engine(pg_server.create_database("jiesu_concurrency"), pool_size=THREADS + 2)
    seed_reference_data(engine)  # migrates, then places, units, categories, policies
    factory = make_sessionmaker(engine)
    clock = FixedClock(START)
    with unit_of_work(factory) as s:
        cast = {name: users.actor_of(users.create(s, SYSTEM, clock, username=name, password="correct-horse-9",
                                                  role=role, unit_code=unit))
                for name, role, unit in [("operator", Role.operator, None), ("dispatcher", Role.dispatcher, None),
                                         ("handler", Role.unit_handler, STREET)]}
    settings = Settings(var_dir=tmp_path_factory.mktemp("pg-concurrency"), secret_key="test-secret",
                        database_url="sqlite://")
    yield factory, cast, settings
    engine.dispose()


def together(n: int, work: Callable[[int], object]) -> list[object]:
    """Run work(i) in n threads released at once; each result is its return value or the exception."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - the test looks at what each thread got
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results


def dispatched_ticket(factory, cast, settings, clock) -> str:
    with unit_of_work(factory) as s:
        number = service.create_request(s, cast["operator"], clock, settings, service.NewRequest(
            text="夜间施工噪音扰民", request_type=RequestType.complaint, channel=Channel.hotline,
            area_code=STREET)).ticket.number
        service.act(s, cast["dispatcher"], clock, settings, number, Step.dispatch, service.StepInput(unit=STREET))
    return number


def log_of(factory, number: str) -> tuple[Ticket, list[TicketEvent]]:
    with unit_of_work(factory) as s:
        ticket = s.scalar(select(Ticket).where(Ticket.number == number))
        events = list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                                .order_by(TicketEvent.seq)))
        return ticket, events


def assert_whole(ticket: Ticket, events: list[TicketEvent]) -> None:
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert rules.replay((e.from_state, e.to_state) for e in events) == ticket.state
    assert ticket.version == len(events)


def step_in_thread(factory, settings, clock, number: str, actor: Actor, step: Step, data: dict):
    def work(_i: int) -> str:
        with unit_of_work(factory) as s:
            service.act(s, actor, clock, settings, number, step, service.StepInput(**data))
        return "ok"
    return work


def test_the_same_sign_from_many_threads_wins_once(pg):
    factory, cast, settings = pg
    clock = FixedClock(START)
    number = dispatched_ticket(factory, cast, settings, clock)
    clock.advance(timedelta(minutes=5))
    results = together(THREADS, step_in_thread(factory, settings, clock, number, cast["handler"], Step.sign, {}))
    assert results.count("ok") == 1, results
    losers = [r for r in results if r != "ok"]
    assert all(isinstance(r, ConcurrentChange | TransitionNotAllowed) for r in losers), losers
    assert all(r.status == 409 for r in losers)
    ticket, events = log_of(factory, number)
    assert_whole(ticket, events)
    assert [e.action for e in events] == ["create", "dispatch", "sign"]
    assert ticket.state == rules.TicketState.handling and ticket.signed_at == clock.now()


def test_two_different_steps_at_once_one_wins(pg):
    # Both users saw the ticket at version 2 (just dispatched). Return is allowed after a sign too, so
    # without expected_version a return that starts after the sign committed would rightly succeed.
    factory, cast, settings = pg
    clock = FixedClock(START)
    number = dispatched_ticket(factory, cast, settings, clock)
    seen = {"expected_version": 2}
    sign = step_in_thread(factory, settings, clock, number, cast["handler"], Step.sign, seen)
    back = step_in_thread(factory, settings, clock, number, cast["handler"], Step.return_,
                          seen | {"reason": "非本辖区"})
    results = together(THREADS, lambda i: (sign if i % 2 else back)(i))
    assert results.count("ok") == 1, results
    assert all(isinstance(r, ConcurrentChange | TransitionNotAllowed) for r in results if r != "ok"), results
    ticket, events = log_of(factory, number)
    assert_whole(ticket, events)
    assert len(events) == 3 and events[-1].action in ("sign", "return")
    assert ticket.state == rules.next_state(rules.TicketState.dispatched, Step(events[-1].action))


def test_notes_at_once_all_land_in_order(pg):
    # A note changes nothing a writer decided on: notes written at once (and a summoned unit's report among
    # them) all land, one after the other (issue 15, item 14: 19 of 20 used to fail with 409 on PostgreSQL),
    # and the log has no gap.
    factory, cast, settings = pg
    clock = FixedClock(START)
    number = dispatched_ticket(factory, cast, settings, clock)
    with unit_of_work(factory) as s:
        service.act(s, cast["handler"], clock, settings, number, Step.sign)
    results = together(THREADS, lambda i: step_in_thread(factory, settings, clock, number, cast["handler"],
                                                         Step.note, {"text": f"进展{i}"})(i))
    assert results == ["ok"] * THREADS, results
    ticket, events = log_of(factory, number)
    assert_whole(ticket, events)
    assert sorted(e.reason for e in events if e.action == "note") == sorted(f"进展{i}" for i in range(THREADS))


def test_concurrent_steps_over_http_answer_409(pg):
    from fastapi.testclient import TestClient

    from jiesu.app import create_app

    factory, cast, settings = pg
    clock = FixedClock(START)
    number = dispatched_ticket(factory, cast, settings, clock)
    app = create_app(settings, engine=factory.kw["bind"], clock=clock)
    with unit_of_work(factory) as s:
        user = s.scalar(select(users.User).where(users.User.username == "handler"))
        token, _ = users.issue_token(s, clock, user, name="test", ttl=timedelta(days=1))
    headers = {"Authorization": f"Bearer {token}"}
    client = TestClient(app)

    def work(i: int) -> int:
        action = "sign" if i % 2 else "return"
        return client.post(f"/api/v1/tickets/{number}/{action}", json={"reason": "非本辖区", "expected_version": 2},
                           headers=headers)

    responses = together(THREADS, work)
    statuses = Counter(r.status_code for r in responses)
    assert statuses[200] == 1 and statuses[409] == THREADS - 1, statuses
    codes = {r.json()["error"]["code"] for r in responses if r.status_code == 409}
    assert codes <= {"concurrent_change", "transition_not_allowed"}
    assert_whole(*log_of(factory, number))


# commit=True: the intake is its own unit of work, one autocommit statement (POST /api/v1/requests)
@pytest.mark.parametrize("commit", [False, True], ids=["in-transaction", "autocommit"])
def test_fifty_tickets_from_eight_threads_get_consecutive_numbers(pg, commit):
    factory, cast, settings = pg
    day = 11 if not commit else 12
    clock = FixedClock(datetime(2023, 3, day, 15, 30, tzinfo=UTC))  # 23:30 in Beijing

    def work(i: int) -> list[str]:
        numbers = []
        for k in range(i, 50, THREADS):
            with unit_of_work(factory) as s:
                numbers.append(service.create_request(s, cast["operator"], clock, settings, service.NewRequest(
                    text=f"第{k}个诉求", request_type=RequestType.help, channel=Channel.app,
                    contact_phone=f"1390000{k:04d}"), commit=commit).ticket.number)
        return numbers

    results = together(THREADS, work)
    assert not [r for r in results if isinstance(r, BaseException)], results
    numbers = sorted(n for r in results for n in r)
    assert numbers == [f"202303{day}-{k:06d}" for k in range(1, 51)]
    with unit_of_work(factory) as s:  # each ticket with its request, its contact and its create event
        rows = s.execute(select(Ticket.number, Contact.phone, func.count(TicketEvent.id))
                         .join(Request, Request.id == Ticket.request_id).join(Contact, Contact.id == Request.contact_id)
                         .join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
                         .where(Ticket.number.in_(numbers)).group_by(Ticket.number, Contact.phone)).all()
    assert len(rows) == 50 and {n for _, _, n in rows} == {1}


@pytest.mark.parametrize("commit", [False, True], ids=["in-transaction", "autocommit"])
def test_the_same_idempotency_key_from_eight_threads_makes_one_request(pg, commit):
    factory, cast, settings = pg
    clock = FixedClock(START)
    key, phone = f"open311-req-{commit}", f"1370000000{int(commit)}"

    def work(i: int):
        with unit_of_work(factory) as s:
            intake = service.create_request(s, cast["operator"], clock, settings, service.NewRequest(
                text="重试", request_type=RequestType.help, channel=Channel.open311, contact_name="王女士",
                contact_phone=phone), key, commit=commit)
            return intake.ticket.number, intake.replayed

    results = together(THREADS, work)
    assert not [r for r in results if isinstance(r, BaseException | DomainError)], results
    assert len({number for number, _ in results}) == 1
    assert [replayed for _, replayed in results].count(False) == 1
    with unit_of_work(factory) as s:
        assert s.scalar(select(func.count()).select_from(Request).where(Request.idempotency_key == key)) == 1
        [ticket] = s.scalars(select(Ticket).join(Request).where(Request.idempotency_key == key))
        assert len(list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)))) == 1
        # the losers' personal data was never stored: one contact, the winner's
        assert s.scalar(select(func.count()).select_from(Contact).where(Contact.phone == phone)) == 1


def test_the_same_key_with_eight_different_bodies_makes_one_request_and_seven_422s(pg):
    """Issue 15, defect 10: the twins that lose the INSERT compare what they sent with what the key came with."""
    factory, cast, settings = pg
    clock = FixedClock(START)
    key = "retry-with-another-body"

    def work(i: int):
        with unit_of_work(factory) as s:
            return service.create_request(s, cast["operator"], clock, settings, service.NewRequest(
                text=f"第{i}件事", request_type=RequestType.help, channel=Channel.hotline), key, commit=True
            ).ticket.number

    results = together(THREADS, work)
    made = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, InvalidInput)]
    assert len(made) == 1 and len(refused) == THREADS - 1, results
    assert {r.field for r in refused} == {"Idempotency-Key"}
    with unit_of_work(factory) as s:
        assert s.scalar(select(func.count()).select_from(Request).where(Request.idempotency_key == key)) == 1
