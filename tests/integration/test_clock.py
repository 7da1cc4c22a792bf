"""The ticket clock (jiesu.tickets.jobs): overdue marks, escalation, callbacks, closing, run twice at once."""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker
from typer.testing import CliRunner

from jiesu import wiring
from jiesu.cli import app as cli
from jiesu.clock import FixedClock
from jiesu.config import Settings, get_settings
from jiesu.db import make_engine, make_sessionmaker, unit_of_work
from jiesu.errors import ConcurrentChange
from jiesu.permissions import SYSTEM, Actor, Role
from jiesu.scheduler import RunReport
from jiesu.taxonomy.models import RequestType, Urgency
from jiesu.tickets import jobs, service
from jiesu.tickets.models import Channel, Ticket, TicketEvent
from jiesu.tickets.rules import Step, TicketState
from jiesu.units import users
from tests.conftest import seed_reference_data
from tests.settings_env import jiesu_env

GUANYINSI = "110115009000"  # 观音寺街道, 大兴区
PASSWORD = "correct-horse-9"
S = TicketState


class Desk:
    """A dispatcher and a handler of 观音寺街道, and the steps the tests need."""

    def __init__(self, session: Session, clock: FixedClock, settings: Settings, suffix: str = "") -> None:
        self.session, self.clock, self.settings = session, clock, settings
        self.dispatcher = self._user(f"disp{suffix}", Role.dispatcher, None)
        self.handler = self._user(f"gys{suffix}", Role.unit_handler, GUANYINSI)

    def _user(self, username: str, role: Role, unit: str | None) -> Actor:
        user = users.create(self.session, SYSTEM, self.clock, username=username, password=PASSWORD, role=role,
                            unit_code=unit)
        return users.actor_of(user)

    def new(self, *, urgency: Urgency = Urgency.emergency, no_callback: bool = False, text: str = "楼道堆物") -> str:
        intake = service.create_request(self.session, self.dispatcher, self.clock, self.settings, service.NewRequest(
            text=text, request_type=RequestType.complaint, channel=Channel.hotline, urgency=urgency,
            no_callback=no_callback, contact_name="张三", contact_phone="13800001234"))
        return intake.ticket.number

    def act(self, actor: Actor, number: str, step: Step, **data) -> Ticket:
        return service.act(self.session, actor, self.clock, self.settings, number, step, service.StepInput(**data))

    def dispatched(self, **kw) -> str:
        number = self.new(**kw)
        self.act(self.dispatcher, number, Step.dispatch, unit=GUANYINSI)
        return number

    def signed(self, **kw) -> str:
        number = self.dispatched(**kw)
        self.act(self.handler, number, Step.sign)
        return number

    def replied(self, **kw) -> str:
        number = self.signed(**kw)
        self.act(self.handler, number, Step.reply, text="已清理")
        return number

    def ticket(self, number: str) -> Ticket:
        return ticket_of(self.session, number)

    def events(self, number: str) -> list[TicketEvent]:
        return events_of(self.session, number)

    def tick(self, **kw) -> jobs.TickReport:
        return jobs.tick(self.session, self.clock, self.settings, **kw)


def ticket_of(session: Session, number: str) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
    session.refresh(ticket)
    return ticket


def events_of(session: Session, number: str) -> list[TicketEvent]:
    ticket = ticket_of(session, number)
    return list(session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                                .order_by(TicketEvent.seq)))


@pytest.fixture
def desk(session, clock, settings) -> Desk:
    return Desk(session, clock, settings)


def clock_events(desk: Desk | Session, number: str) -> list[tuple[str, str, str]]:
    """(action, deadline, reason) of the events the clock wrote."""
    session = desk.session if isinstance(desk, Desk) else desk
    return [(e.action, json.loads(e.payload).get("deadline", ""), e.reason) for e in events_of(session, number)
            if e.actor == "clock"]


def assert_replays(desk: Desk, number: str) -> None:
    ticket = desk.ticket(number)
    desk.session.refresh(ticket, ["events"])  # the log as stored (relationships load only when asked to)
    assert ticket.state == service.replayed_state(ticket)


# --- the policy, pure ------------------------------------------------------------------------------

def test_escalation_reason():
    reason = jobs.escalation_reason
    assert reason(S.handling, sign_overdue=False, reply_overdue=True, escalated=False) == "回复超期，自动督办"
    assert reason(S.dispatched, sign_overdue=True, reply_overdue=True, escalated=False) == "回复超期，自动督办"
    assert reason(S.handling, sign_overdue=False, reply_overdue=True, escalated=True) is None  # once
    assert reason(S.dispatched, sign_overdue=True, reply_overdue=False, escalated=False) is None  # not by default
    assert reason(S.replied, sign_overdue=False, reply_overdue=True, escalated=False) is None  # work is done
    assert reason(S.closed, sign_overdue=False, reply_overdue=True, escalated=False) is None
    strict = jobs.EscalationPolicy(on_sign_overdue=True)
    assert reason(S.dispatched, sign_overdue=True, reply_overdue=False, escalated=False,
                  policy=strict) == "签收超期，自动督办"
    never = jobs.EscalationPolicy(on_reply_overdue=False)
    assert reason(S.handling, sign_overdue=False, reply_overdue=True, escalated=False, policy=never) is None


def test_report_line():
    report = wiring.scheduler().report(sign_overdue=2, escalated=1)
    report.add(wiring.scheduler().report(sign_overdue=1, closed=4))
    assert report.done == 8
    assert report.line() == ("sign overdue 3, reply overdue 0, escalated 1, callbacks queued 0, closed 4, "
                             "rollups 0, expired articles 0, suggested 0, months 0, replies 0, hotspots 0, surges 0, "
                             "skipped 0")


# --- one clock -------------------------------------------------------------------------------------

def test_nothing_to_do_before_the_deadlines(desk):
    number = desk.dispatched()
    report = desk.tick()
    assert report.done == 0 and report.skipped == 0 and not report.more
    assert report.at == desk.clock.now()
    assert clock_events(desk, number) == []


def test_sign_overdue_is_marked_once(desk):
    number = desk.dispatched()
    ticket = desk.ticket(number)
    desk.clock.set(ticket.sign_by)  # at the deadline itself it is not late yet
    assert desk.tick().done == 0
    desk.clock.advance(timedelta(minutes=1))
    report = desk.tick()
    assert (report.sign_overdue, report.reply_overdue, report.escalated) == (1, 0, 0)
    ticket = desk.ticket(number)
    assert ticket.sign_overdue and not ticket.reply_overdue and not ticket.escalated
    assert ticket.state == S.dispatched
    events = desk.events(number)
    last = events[-1]
    assert (last.action, last.actor, last.role, last.from_state, last.to_state) == (
        "mark_overdue", "clock", "admin", S.dispatched, S.dispatched)
    assert json.loads(last.payload) == {"deadline": "sign"}
    assert last.at == desk.clock.now()
    version = ticket.version
    again = desk.tick()
    assert again.done == 0 and again.skipped == 0
    assert len(desk.events(number)) == len(events)
    assert desk.ticket(number).version == version
    assert_replays(desk, number)


def test_reply_overdue_is_marked_and_escalated_once(desk):
    number = desk.signed()
    ticket = desk.ticket(number)
    assert ticket.reply_by == ticket.dispatched_at + timedelta(hours=2)  # an emergency: 2 hours
    desk.clock.set(ticket.reply_by + timedelta(seconds=1))
    report = desk.tick()
    assert (report.sign_overdue, report.reply_overdue, report.escalated) == (0, 1, 1)
    ticket = desk.ticket(number)
    assert ticket.reply_overdue and ticket.escalated and not ticket.sign_overdue
    assert ticket.state == S.handling
    assert clock_events(desk, number) == [("mark_overdue", "reply", ""), ("escalate", "", "回复超期，自动督办")]
    for _ in range(2):
        desk.clock.advance(timedelta(hours=5))
        assert desk.tick().done == 0
    assert len(clock_events(desk, number)) == 2
    assert_replays(desk, number)


def test_unsigned_ticket_past_both_deadlines(desk):
    number = desk.dispatched()
    desk.clock.advance(timedelta(hours=3))
    report = desk.tick()
    assert (report.sign_overdue, report.reply_overdue, report.escalated) == (1, 1, 1)
    assert clock_events(desk, number) == [("mark_overdue", "sign", ""), ("mark_overdue", "reply", ""),
                                          ("escalate", "", "回复超期，自动督办")]
    ticket = desk.ticket(number)
    assert (ticket.sign_overdue, ticket.reply_overdue, ticket.escalated) == (True, True, True)
    assert_replays(desk, number)


def test_escalated_by_a_person_is_not_escalated_again(desk):
    number = desk.signed()
    supervisor = desk._user("sup1", Role.supervisor, None)
    desk.act(supervisor, number, Step.escalate, reason="市民多次来电")
    desk.clock.advance(timedelta(hours=3))
    report = desk.tick()
    assert (report.reply_overdue, report.escalated) == (1, 0)
    assert [e.action for e in desk.events(number)].count("escalate") == 1
    assert_replays(desk, number)


def test_replied_ticket_is_queued_for_callback(desk):
    number = desk.replied()
    assert not desk.ticket(number).callback_due
    report = desk.tick()
    assert (report.callbacks_queued, report.closed) == (1, 0)
    ticket = desk.ticket(number)
    assert ticket.callback_due and ticket.state == S.replied
    assert clock_events(desk, number) == [("queue_callback", "", "")]
    assert desk.tick().done == 0
    # a reopened ticket replied again goes back into the queue
    callback = desk._user("cb1", Role.callback_agent, None)
    desk.act(callback, number, Step.reopen, reason="问题没有解决", resolved=False)
    assert desk.tick().callbacks_queued == 0
    desk.act(desk.handler, number, Step.reply, text="再次清理")
    assert desk.tick().callbacks_queued == 1
    assert [a for a, _, _ in clock_events(desk, number)] == ["queue_callback", "queue_callback"]
    assert_replays(desk, number)


def test_no_callback_ticket_is_closed(desk):
    number = desk.replied(no_callback=True)
    report = desk.tick()
    assert (report.callbacks_queued, report.closed) == (0, 1)
    ticket = desk.ticket(number)
    assert ticket.state == S.closed and ticket.closed_at == desk.clock.now() and not ticket.callback_due
    last = desk.events(number)[-1]
    assert (last.action, last.actor, last.reason, last.from_state, last.to_state) == (
        "close", "clock", "市民不需回访", S.replied, S.closed)
    assert desk.tick().done == 0
    assert_replays(desk, number)


def test_final_and_waiting_tickets_are_left_alone(desk):
    new = desk.new()  # waiting for dispatch: no sign or reply deadline runs yet
    withdrawn = desk.dispatched()
    desk.act(SYSTEM, withdrawn, Step.withdraw, reason="市民撤回")
    desk.clock.advance(timedelta(days=30))
    assert desk.tick().done == 0
    assert clock_events(desk, new) == [] and clock_events(desk, withdrawn) == []


def test_batches(desk, session):
    numbers = [desk.dispatched(text=f"第{i}件") for i in range(5)]
    desk.clock.advance(timedelta(minutes=45))  # past sign_by, before reply_by
    report = desk.tick(batch=2)
    assert report.sign_overdue == 2 and report.more
    sessions = sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint",
                            expire_on_commit=False)
    rest = wiring.scheduler().run_once(sessions, desk.clock, desk.settings, batch=2)
    assert rest.sign_overdue == 3 and not rest.more
    for number in numbers:
        assert clock_events(desk, number) == [("mark_overdue", "sign", "")]


def test_the_batch_bounds_the_whole_tick(desk):
    number = desk.dispatched()
    desk.clock.advance(timedelta(hours=3))  # sign and reply late: three steps are due
    first = desk.tick(batch=2)
    assert (first.sign_overdue, first.reply_overdue, first.escalated, first.more) == (1, 1, 0, True)
    second = desk.tick(batch=2)
    assert (second.escalated, second.more) == (1, False)
    assert [a for a, _, _ in clock_events(desk, number)] == ["mark_overdue", "mark_overdue", "escalate"]


def test_a_step_that_lost_the_race_is_skipped(desk, monkeypatch):
    number = desk.dispatched()
    desk.clock.advance(timedelta(minutes=45))
    real_act = service.act

    def racing_act(session, actor, clock, settings, n, step, data=None):
        raise ConcurrentChange(f"ticket {n} was changed by someone else meanwhile", field="number")

    monkeypatch.setattr(service, "act", racing_act)
    report = desk.tick()
    assert report.done == 0 and report.skipped == 1
    monkeypatch.setattr(service, "act", real_act)
    assert desk.tick().sign_overdue == 1
    assert clock_events(desk, number) == [("mark_overdue", "sign", "")]


def test_run_loop_stops_when_told(desk, session):
    desk.dispatched()
    desk.clock.advance(timedelta(minutes=45))
    sessions = sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint",
                            expire_on_commit=False)
    stop = threading.Event()
    seen: list[RunReport] = []

    def on_tick(report):
        seen.append(report)
        stop.set()

    wiring.scheduler().run_loop(sessions, desk.clock, desk.settings, interval=3600, stop=stop, on_tick=on_tick)
    assert [r.sign_overdue for r in seen] == [1]


# --- two clocks at once, and the clock outside the test transaction -----------------------------------

@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clock-template") / "jiesu.db"
    engine = make_engine(f"sqlite:///{path}")
    seed_reference_data(engine)
    engine.dispose()
    return path


@pytest.fixture
def sqlite_url(sqlite_template, tmp_path) -> str:
    """A database of its own, committed to for real: a copy of the seeded template."""
    path = tmp_path / "jiesu.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request, sqlite_url) -> str:
    if request.param == "sqlite":
        return sqlite_url
    server = request.getfixturevalue("pg_server")
    if server is None:
        pytest.skip("needs a throwaway PostgreSQL server to create databases on")
    url = server.create_database(f"clock_{uuid.uuid4().hex[:8]}")
    engine = make_engine(url)
    seed_reference_data(engine)
    engine.dispose()
    return url


def make_backlog(engine, clock: FixedClock, settings: Settings, n: int) -> list[str]:
    with unit_of_work(make_sessionmaker(engine)) as s:
        d = Desk(s, clock, settings)
        return [d.signed(text=f"第{i}件 噪音扰民") for i in range(n)]


def test_two_clocks_at_once_act_once(fresh_url, settings):
    engine = make_engine(fresh_url, pool_size=4)
    try:
        clock = FixedClock(datetime(2024, 9, 30, 2, 0, tzinfo=UTC))
        numbers = make_backlog(engine, clock, settings, 30)
        clock.advance(timedelta(hours=3))  # every reply is late; every ticket was signed in time
        sessions = make_sessionmaker(engine)
        start = threading.Barrier(2)
        reports: list[RunReport] = []
        errors: list[BaseException] = []

        def one_clock() -> None:
            try:
                start.wait()
                reports.append(wiring.scheduler().run_once(sessions, clock, settings, batch=4))
            except BaseException as exc:  # noqa: BLE001 - the test reports it below
                errors.append(exc)

        threads = [threading.Thread(target=one_clock) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == []
        assert sum(r.reply_overdue for r in reports) == 30
        assert sum(r.escalated for r in reports) == 30
        assert sum(r.sign_overdue for r in reports) == 0
        with unit_of_work(sessions) as s:
            for number in numbers:
                ticket = s.scalar(select(Ticket).where(Ticket.number == number).options(selectinload(Ticket.events)))
                by_clock = Counter(e.action for e in ticket.events if e.actor == "clock")
                assert by_clock == {"mark_overdue": 1, "escalate": 1}, number
                assert ticket.reply_overdue and ticket.escalated and ticket.state == S.handling
                assert [e.seq for e in ticket.events] == list(range(1, len(ticket.events) + 1))
                assert ticket.state == service.replayed_state(ticket)
            assert jobs.tick(s, clock, settings).done == 0
    finally:
        engine.dispose()


def test_clock_command_once(sqlite_url, tmp_path):
    """`jiesu clock --once` on the real time: a ticket dispatched in 2024 is late by now."""
    engine = make_engine(sqlite_url)
    settings = Settings(var_dir=tmp_path, secret_key="test-secret", database_url=sqlite_url)
    clock = FixedClock(datetime(2024, 9, 30, 2, 0, tzinfo=UTC))
    with unit_of_work(make_sessionmaker(engine)) as s:
        d = Desk(s, clock, settings)
        late, replied, quiet = d.dispatched(), d.replied(), d.replied(no_callback=True)
    env = {"JIESU_DATABASE_URL": sqlite_url, "JIESU_VAR_DIR": str(tmp_path / "var"), "COLUMNS": "200"}
    with jiesu_env(env):
        result = CliRunner().invoke(cli, ["clock", "--once"])
        again = CliRunner().invoke(cli, ["clock", "--once"])
    assert result.exit_code == 0, result.output
    assert ("tick: sign overdue 1, reply overdue 1, escalated 1, callbacks queued 1, closed 1, rollups 1, "
            "expired articles 0, suggested 0, months 1, replies 0, hotspots 0, surges 0, skipped 0"  # months: public
            in result.output)
    assert "+08:00 tick:" in result.output
    assert again.exit_code == 0 and "tick: sign overdue 0, reply overdue 0, escalated 0" in again.output
    with unit_of_work(make_sessionmaker(engine)) as s:
        assert [a for a, _, _ in clock_events(s, late)] == ["mark_overdue", "mark_overdue", "escalate"]
        assert [a for a, _, _ in clock_events(s, replied)] == ["queue_callback"]
        assert ticket_of(s, quiet).state == S.closed
    engine.dispose()


def test_clock_command_refuses_an_old_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    os.environ["JIESU_DATABASE_URL"] = url
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["clock", "--once"])
    finally:
        os.environ.pop("JIESU_DATABASE_URL")
        get_settings.cache_clear()
    assert result.exit_code == 1 and "jiesu db upgrade" in result.output


def test_serve_runs_the_clock_unless_told_not_to(sqlite_url, tmp_path, monkeypatch):
    import uvicorn

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda application, **kw: served.append(application))
    monkeypatch.setenv("JIESU_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("JIESU_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        assert CliRunner().invoke(cli, ["serve"]).exit_code == 0
        assert CliRunner().invoke(cli, ["serve", "--no-clock"]).exit_code == 0
        assert CliRunner().invoke(cli, ["serve", "--clock-interval", "5"]).exit_code == 0
    finally:
        get_settings.cache_clear()
    assert [a.state.clock_interval for a in served] == [60.0, None, 5.0]


def test_the_app_runs_the_clock_while_it_is_up(sqlite_url, tmp_path):
    from fastapi.testclient import TestClient

    from jiesu.app import create_app

    engine = make_engine(sqlite_url)
    settings = Settings(var_dir=tmp_path, secret_key="test-secret", database_url=sqlite_url)
    clock = FixedClock(datetime(2024, 9, 30, 2, 0, tzinfo=UTC))
    sessions = make_sessionmaker(engine)
    with unit_of_work(sessions) as s:
        number = Desk(s, clock, settings).dispatched()
    clock.advance(timedelta(hours=1))
    app = create_app(settings, engine=engine, clock=clock, clock_interval=0.05)
    with TestClient(app):
        runner = app.state.job_runner
        assert runner is not None and runner.running
        for _ in range(200):
            with unit_of_work(sessions) as s:
                if s.scalar(select(Ticket.sign_overdue).where(Ticket.number == number)):
                    break
            threading.Event().wait(0.05)
        else:
            pytest.fail("the in-process clock did not mark the ticket")
    assert not runner.running and app.state.job_runner is None
    # without an interval the app never ticks by itself
    assert create_app(settings, engine=engine, clock=clock).state.clock_interval is None
    engine.dispose()


def test_the_clock_keeps_last_months_rollup_once(session, settings, clock):
    from sqlalchemy.orm import sessionmaker

    from jiesu.assessment.models import RateRollup

    sessions = sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint",
                            expire_on_commit=False)
    # 30 Sep 2024: August ended and settled long ago (assess_settle_days 3), September is running
    assert wiring.scheduler().run_once(sessions, clock, settings).rollups == 1
    assert session.get(RateRollup, "2024-08") is not None and session.get(RateRollup, "2024-09") is None
    assert wiring.scheduler().run_once(sessions, clock, settings).rollups == 0


def test_a_month_is_kept_only_after_its_settle_days(session, settings, desk):
    """September is not kept on 1 October: a dispatch of its last hour may still be signed in time, a return
    upheld. It is kept once assess_settle_days (3) have passed, with what happened meanwhile."""
    from jiesu.assessment import service as assessment
    from jiesu.assessment.models import RateRollup
    from tests.stories import bj

    clock = desk.clock
    sessions = sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint",
                            expire_on_commit=False)
    clock.set(bj("2024-09-30 23:30"))
    number = desk.dispatched(urgency=Urgency.normal)
    assert desk.ticket(number).sign_by == bj("2024-10-01 00:30")
    clock.set(bj("2024-10-01 00:10"))
    desk.act(desk.handler, number, Step.sign)  # within its sign deadline, in October
    assert wiring.scheduler().run_once(sessions, clock, settings).rollups == 1  # August, not September
    assert session.get(RateRollup, "2024-08") is not None and session.get(RateRollup, "2024-09") is None
    clock.set(bj("2024-10-03 23:59"))
    assert wiring.scheduler().run_once(sessions, clock, settings).rollups == 0
    assert session.get(RateRollup, "2024-09") is None
    clock.set(bj("2024-10-04 00:00"))
    assert wiring.scheduler().run_once(sessions, clock, settings).rollups == 1
    assert session.get(RateRollup, "2024-09") is not None
    r = assessment.ranking(session, SYSTEM, settings, clock, "2024-09", "street")
    (row,) = [row for row in r.rows if row.key == GUANYINSI]
    assert r.source == "rollup" and (row.counts.signed, row.counts.dispatched) == (1, 1)


def test_the_clock_expires_knowledge_articles_past_their_validity(session, settings, clock):
    from datetime import date

    from sqlalchemy.orm import sessionmaker

    from jiesu.knowledge.models import Article, ArticleStatus

    sessions = sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint",
                            expire_on_commit=False)
    now = clock.now()
    due, current = (Article(question=q, answer="请拨打12345咨询", status=ArticleStatus.published, valid_to=until,
                            created_at=now, created_by="test", updated_at=now, updated_by="test")
                    for q, until in (("旧政策", date(2024, 9, 1)), ("新政策", date(2024, 12, 31))))
    session.add_all([due, current])
    session.flush()  # the clock stands at 30 September 2024
    assert wiring.scheduler().run_once(sessions, clock, settings).expired_articles >= 1
    session.refresh(due)
    session.refresh(current)
    assert (due.status, current.status) == (ArticleStatus.expired, ArticleStatus.published)
