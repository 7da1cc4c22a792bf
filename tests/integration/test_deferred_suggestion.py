"""Smart dispatch after intake, on SQLite and PostgreSQL: the ticket is acknowledged first, the worker
(routing.service.suggest_pending, run by the clock and by `jiesu serve`) makes the same suggestion right
after, as the workflow step `suggest`; a ticket decided before its suggestion gets none."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from jiesu import wiring
from jiesu.config import Settings
from jiesu.db import make_engine, make_sessionmaker, unit_of_work
from jiesu.permissions import SYSTEM, Role
from jiesu.routing import service as routing
from jiesu.taxonomy.models import RequestType
from jiesu.tickets import service as tickets
from jiesu.tickets.models import Channel, Ticket
from tests.conftest import FixedClock
from tests.integration.test_clock import fresh_url, sqlite_template, sqlite_url  # noqa: F401 - fixtures
from tests.integration.test_routing import COMMUNITY, GROUP_RENTAL, STREET
from tests.stories import Hotline


@pytest.fixture
def settings(trained_var) -> Settings:
    return Settings(var_dir=trained_var, secret_key="test-secret", database_url="sqlite://")


@pytest.fixture
def hotline(client, session, clock) -> Hotline:
    return Hotline(client, session, clock)


@pytest.fixture
def desk(hotline):
    return {"op": hotline.login("op", Role.operator), "disp": hotline.login("disp", Role.dispatcher)}


def ticket_of(hotline, desk, number: str) -> dict:
    r = hotline.client.get(f"/api/v1/tickets/{number}", headers=desk["disp"])
    assert r.status_code == 200, r.text
    return r.json()


def test_intake_answers_first_and_the_worker_suggests_right_after(hotline, desk, session, clock, settings):
    out = hotline.create(desk["op"], **GROUP_RENTAL)
    assert out["suggestion"] is None and out["suggestion_pending"] is True
    number = out["ticket"]["number"]
    assert [e["action"] for e in out["ticket"]["timeline"]] == ["create"]

    assert routing.suggest_pending(session, clock, settings) == 1
    assert routing.suggest_pending(session, clock, settings) == 0  # nothing waits any more
    t = ticket_of(hotline, desk, number)
    assert [e["action"] for e in t["timeline"]] == ["create", "suggest"]
    event = t["timeline"][-1]
    assert event["action_label"] == "智能派单建议" and event["actor"] == "smart-dispatch"
    assert event["from_state"] == event["to_state"] == "new" and t["version"] == 2
    brief = event["payload"]["suggestion"]
    assert brief["unit"] == STREET and brief["category"] and brief["manual"] is False
    stored = json.loads(session.scalar(select(Ticket.suggestion).where(Ticket.number == number)))
    assert stored["main_unit"]["code"] == STREET and stored["category_name"] == "城乡建设"
    assert not session.scalar(select(Ticket.suggest_pending).where(Ticket.number == number))


def test_later_suggests_what_now_would_have(hotline, desk, session, clock, settings):
    now = hotline.client.post("/api/v1/requests?suggest=now", json=GROUP_RENTAL, headers=desk["op"]).json()
    later = hotline.create(desk["op"], **(GROUP_RENTAL | {"contact_phone": "13900000009"}))
    routing.suggest_pending(session, clock, settings)
    deferred = ticket_of(hotline, desk, later["ticket"]["number"])["timeline"][-1]["payload"]["suggestion"]
    assert now["suggestion_pending"] is False
    assert deferred["category"] == now["suggestion"]["category_code"]
    assert deferred["unit"] == now["suggestion"]["main_unit"]["code"]
    assert deferred["urgency"] == now["suggestion"]["urgency"]
    # the earlier ticket is the later one's duplicate, as it would have been at intake
    assert deferred["duplicates"] == [now["ticket"]["number"]]


def test_duplicates_are_the_tickets_before_it_never_itself(hotline, desk, session, clock, settings):
    first = hotline.create(desk["op"], **GROUP_RENTAL)["ticket"]["number"]
    second = hotline.create(desk["op"], **(GROUP_RENTAL | {"contact_phone": "13900000008"}))["ticket"]["number"]
    routing.suggest_pending(session, clock, settings)
    briefs = {n: ticket_of(hotline, desk, n)["timeline"][-1]["payload"]["suggestion"] for n in (first, second)}
    assert briefs[first]["duplicates"] == []
    assert briefs[second]["duplicates"] == [first]


def test_the_address_gives_the_area_when_the_worker_is_sure(hotline, desk, session, clock, settings):
    out = hotline.create(desk["op"], **GROUP_RENTAL)
    assert out["ticket"]["area_code"] is None
    routing.suggest_pending(session, clock, settings)
    t = ticket_of(hotline, desk, out["ticket"]["number"])
    assert t["area_code"] == COMMUNITY and t["district_code"] == "110115000000"
    assert t["timeline"][-1]["payload"]["area"] == COMMUNITY


def test_a_ticket_dispatched_before_its_suggestion_gets_none(hotline, desk, session, clock, settings):
    number = hotline.create(desk["op"], **GROUP_RENTAL)["ticket"]["number"]
    hotline.step(desk["disp"], number, "dispatch", unit=STREET)
    assert routing.suggest_pending(session, clock, settings) == 1  # taken off the list
    t = ticket_of(hotline, desk, number)
    assert [e["action"] for e in t["timeline"]] == ["create", "dispatch"] and t["version"] == 2
    assert "suggested" not in t["timeline"][-1]["payload"]
    assert not session.scalar(select(Ticket.suggest_pending).where(Ticket.number == number))
    assert routing.suggest_pending(session, clock, settings) == 0


def test_the_dispatch_after_a_deferred_suggestion_counts_for_accuracy(hotline, desk, session, clock, settings):
    number = hotline.create(desk["op"], **GROUP_RENTAL)["ticket"]["number"]
    routing.suggest_pending(session, clock, settings)
    out = hotline.step(desk["disp"], number, "dispatch", unit=STREET)
    assert out["timeline"][-1]["payload"]["suggested"]["unit"] == STREET
    acc = routing.accuracy(session, SYSTEM, settings, clock.now().astimezone(settings.tz).strftime("%Y-%m"))
    assert (acc.unit_judged, acc.unit_followed) == (1, 1)


def test_inquiries_answered_at_once_wait_for_nothing(hotline, desk, session, clock, settings):
    out = hotline.create(desk["op"], text="请问护照在哪里办理？", request_type="inquiry", direct_answer="出入境大厅")
    assert out["ticket"] is None and out["suggestion_pending"] is False
    assert routing.suggest_pending(session, clock, settings) == 0


def test_the_clock_runs_the_worker(hotline, desk, session, clock, settings):
    hotline.create(desk["op"], **GROUP_RENTAL)
    sessions = sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint",
                            expire_on_commit=False)
    report = wiring.scheduler().run_once(sessions, clock, settings)
    assert report.suggested == 1 and "suggested 1" in report.line()


def test_two_workers_at_once_suggest_once(fresh_url, trained_var):  # noqa: F811 - fixture
    settings = Settings(var_dir=trained_var, secret_key="test-secret", database_url=fresh_url)
    engine = make_engine(fresh_url, pool_size=4)
    clock = FixedClock(datetime(2024, 9, 30, 2, 0, tzinfo=UTC))
    try:
        sessions = make_sessionmaker(engine)
        with unit_of_work(sessions, write=True) as s:
            for i in range(30):
                new = tickets.NewRequest(text=f"第{i}件：{GROUP_RENTAL['text']}", request_type=RequestType.complaint,
                                         channel=Channel.app, address=GROUP_RENTAL["address"],
                                         contact_phone=f"1390000{i:04d}")
                tickets.create_request(s, SYSTEM, clock, settings, new, suggest_later=True)
        start = threading.Barrier(2)
        done: list[int] = []
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                start.wait()
                done.append(routing.run_suggestions(sessions, clock, settings))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        assert errors == [] and sum(done) == 30
        with unit_of_work(sessions) as s:
            for ticket in s.scalars(tickets.shaped(tickets.DETAIL)):
                assert Counter(e.action for e in ticket.events) == {"create": 1, "suggest": 1}, ticket.number
                assert not ticket.suggest_pending and ticket.suggestion
                assert ticket.state == tickets.replayed_state(ticket)
    finally:
        engine.dispose()


def test_a_suggestion_that_fails_does_not_hold_up_the_others(hotline, desk, session, clock, settings, monkeypatch):
    bad = hotline.create(desk["op"], **(GROUP_RENTAL | {"text": "这一件让建议出错"}))["ticket"]["number"]
    good = hotline.create(desk["op"], **(GROUP_RENTAL | {"contact_phone": "13900000007"}))["ticket"]["number"]
    real = routing.make_suggestion

    def failing(*args, **kwargs):
        if "出错" in kwargs["text"]:
            raise RuntimeError("the model file is broken")
        return real(*args, **kwargs)

    monkeypatch.setattr(routing, "make_suggestion", failing)
    assert routing.suggest_pending(session, clock, settings) == 2
    assert [e["action"] for e in ticket_of(hotline, desk, bad)["timeline"]] == ["create"]
    assert [e["action"] for e in ticket_of(hotline, desk, good)["timeline"]] == ["create", "suggest"]
    assert routing.suggest_pending(session, clock, settings) == 0


def test_a_database_failure_skips_no_ticket(hotline, desk, session, clock, settings, monkeypatch):
    """The database going away mid-batch (a restart, a lost connection) is no ticket's fault: the batch fails
    whole and every ticket still waits for its suggestion, instead of being planned as done without one."""
    number = hotline.create(desk["op"], **GROUP_RENTAL)["ticket"]["number"]
    real = routing.make_suggestion

    def lost(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(routing, "make_suggestion", lost)
    with pytest.raises(OperationalError):
        routing.suggest_pending(session, clock, settings)
    monkeypatch.setattr(routing, "make_suggestion", real)
    assert routing.suggest_pending(session, clock, settings) == 1
    assert [e["action"] for e in ticket_of(hotline, desk, number)["timeline"]] == ["create", "suggest"]


def test_a_retry_gets_the_first_answer_and_another_body_under_its_key_is_refused(hotline, desk):
    first = hotline.create(desk["op"], key="retry-1", **(GROUP_RENTAL | {"area_code": COMMUNITY}))
    again = hotline.client.post("/api/v1/requests", json=GROUP_RENTAL | {"area_code": COMMUNITY},
                                headers=desk["op"] | {"Idempotency-Key": "retry-1"})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["ticket"]["number"] == first["ticket"]["number"] and again.json()["replayed"] is True
    # Another body under the same key (here one that would fail on its own too): the key's misuse is named,
    # never the first ticket handed back as if it were this request's (issue 15, defect 10).
    other = hotline.client.post("/api/v1/requests", json=GROUP_RENTAL | {"area_code": "999999999999"},
                                headers=desk["op"] | {"Idempotency-Key": "retry-1"})
    assert other.status_code == 422 and other.json()["error"]["field"] == "Idempotency-Key"
    fresh = hotline.client.post("/api/v1/requests", json=GROUP_RENTAL | {"area_code": "999999999999"},
                                headers=desk["op"] | {"Idempotency-Key": "retry-2"})
    assert fresh.status_code == 422 and fresh.json()["error"]["field"] == "area_code"


def test_the_worker_reads_its_reference_rows_from_the_cache_and_a_new_rule_at_once(fresh_url, trained_var):  # noqa: F811
    """With sessions bound to an engine (the app's, the worker's), the area chain, the rules, the units and the
    categories come from routing's per-process cache: the same suggestion as read from the database, with no
    query for them the second time; a rule set in this process applies to the very next suggestion."""
    from sqlalchemy import event

    settings = Settings(var_dir=trained_var, secret_key="test-secret", database_url=fresh_url)
    engine = make_engine(fresh_url, pool_size=4)
    clock = FixedClock(datetime(2024, 9, 30, 2, 0, tzinfo=UTC))
    sessions = make_sessionmaker(engine)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_a: statements.append(sql))
    ask = {"text": GROUP_RENTAL["text"], "address": GROUP_RENTAL["address"], "area_code": COMMUNITY}
    try:
        routing._REFERENCE.clear()
        with unit_of_work(sessions) as s:
            first = routing.suggest(s, SYSTEM, clock, settings, **ask)
        read = len(statements)
        with unit_of_work(sessions) as s:
            again = routing.suggest(s, SYSTEM, clock, settings, **ask)
        assert again.to_dict() == first.to_dict()
        assert first.main_unit.code == STREET
        cached = len(statements) - read
        assert cached < read and not any("routing_rules" in q or "FROM units" in q for q in statements[read:])
        with unit_of_work(sessions, write=True) as s:
            routing.set_rule(s, SYSTEM, clock, category_scope="*", area_code=STREET, main="@community")
        with unit_of_work(sessions) as s:
            after = routing.suggest(s, SYSTEM, clock, settings, **ask)
        assert after.main_unit.code == COMMUNITY  # the new rule, not the cached rules of a moment ago
    finally:
        routing._REFERENCE.clear()
        engine.dispose()
