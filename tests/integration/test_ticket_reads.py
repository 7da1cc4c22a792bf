"""What reading tickets costs: the statements one request sends to the database, counted with SQLAlchemy's
`before_cursor_execute` event on the test's connection (the app's sessions use it too). The list of 50 tickets
and one ticket cost a handful of statements, however many units, copies and events the tickets have: a
relationship loaded row by row (lazy="raise" forbids it) would show here as one statement per row."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from sqlalchemy import event

from jiesu.callback import service as callback
from jiesu.callback.models import Resolution, Satisfaction
from jiesu.permissions import SYSTEM, Actor, Role
from jiesu.taxonomy.models import RequestType, Urgency
from jiesu.tickets import service
from jiesu.tickets.models import Channel
from jiesu.tickets.rules import Step
from jiesu.units import users
from tests import forms

PASSWORD = "correct-horse-9"
STREETS = ["110115009000", "110115001000"]  # 观音寺街道, 兴丰街道 (大兴区): their tickets are copied to the district
CO_UNITS = ["cgzf-110115", "zj-110115"]
POLICE = "ga-110115"
CATEGORIES = [None, "01.01.003"]
TICKETS = 64

# The most statements one request may send (measured before the one read path, on these 64 tickets: 161 for the
# API's list of 50, 60 for the page's, 13 for one ticket), not counting the test's own SAVEPOINTs. The login (a
# bearer token or the page's cookie, seen once already, so cached) is in it; so are the page's header (the user's
# name) and its district filter. API list: the count, the page (request, contact, place, category and main unit
# joined), the units. One ticket: the ticket, its units, its events, the tickets merged with it (the page: the
# header too, and the tickets merged with it in one statement with its parent, their summaries included: the
# parent's page lists its merged children, issue 14), and the page its photos and files (one statement).
LIMITS = {"api_list": 3, "page_list": 6, "api_one": 4, "page_one": 6}
SAVEPOINTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@dataclass
class Counter:
    statements: list[str] = field(default_factory=list)

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ARG002
        if not statement.lstrip().upper().startswith(SAVEPOINTS):  # the test's transaction, not the app's work
            self.statements.append(statement)


@contextmanager
def counted(session) -> Iterator[Counter]:
    """The statements sent on the test's connection meanwhile (the app's sessions are bound to it)."""
    counter = Counter()
    conn = session.connection()
    event.listen(conn, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(conn, "before_cursor_execute", counter)


class City:
    """64 tickets in every state the list shows: new, dispatched with co-units and the district's copy,
    signed, with departments whistled in, replied, closed, returned; each with a contact and its events."""

    def __init__(self, session, clock, settings) -> None:
        self.session, self.clock, self.settings = session, clock, settings
        self.dispatcher = self.user("disp1", Role.dispatcher)
        self.handlers = {code: self.user(f"h-{code}", Role.unit_handler, code) for code in STREETS}
        self.police = self.user("police1", Role.unit_handler, POLICE)
        self.callback = self.user("cb1", Role.callback_agent)
        self.numbers = [self.ticket(i) for i in range(TICKETS)]

    def user(self, username: str, role: Role, unit: str | None = None) -> Actor:
        return users.actor_of(users.create(self.session, SYSTEM, self.clock, username=username, password=PASSWORD,
                                           role=role, display_name=username, unit_code=unit))

    def act(self, actor: Actor, number: str, step: Step, **data) -> None:
        service.act(self.session, actor, self.clock, self.settings, number, step, service.StepInput(**data))

    def ticket(self, i: int) -> str:
        street = STREETS[i % 2]
        new = service.NewRequest(text=f"第{i}号诉求：楼道堆物，影响通行", request_type=RequestType.complaint,
                                 channel=Channel.hotline, address=f"某小区{i}号楼", area_code=street,
                                 contact_name="张三丰", contact_phone="13812345678",
                                 category_code=CATEGORIES[i % 2], urgency=Urgency.normal)
        number = service.create_request(self.session, self.dispatcher, self.clock, self.settings, new).ticket.number
        stage = i % 7
        if stage == 0:
            return number  # new
        handler = self.handlers[street]
        self.act(self.dispatcher, number, Step.dispatch, unit=street, co_units=CO_UNITS[: i % 3])
        if stage == 1:
            return number  # dispatched
        if stage == 2:
            self.act(handler, number, Step.return_, reason="不属于本街道")
            return number  # returned
        self.act(handler, number, Step.sign)
        self.act(handler, number, Step.note, text="已上门核实")
        if stage == 3:
            return number  # handling
        self.act(handler, number, Step.whistle, units=[POLICE], reason="需公安联合执法")
        self.act(self.police, number, Step.summons_sign)
        if stage == 4:
            return number  # handling, with a department summoned
        self.act(self.police, number, Step.summons_report, text="已联合执法")
        self.act(handler, number, Step.reply, text="已处理")
        if stage == 5:
            return number  # replied
        callback.record(self.session, self.callback, self.clock, self.settings, number, callback.Answer(
            contacted=True, resolution=Resolution.resolved, satisfaction=Satisfaction.satisfied, comment="回访完成"))
        return number  # closed


@pytest.fixture
def city(session, clock, settings) -> City:
    return City(session, clock, settings)


def bearer(client, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def log_in(client, username: str) -> None:
    r = forms.post(client, "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303


def cost(session, name: str, get) -> tuple[int, object]:
    """The statements of one request (after a first one that fills the caches a first request fills: the token's
    actor), and its answer."""
    get()
    with counted(session) as c:
        r = get()
    assert r.status_code == 200, r.text
    print(f"\n{name}: {len(c.statements)} statements")  # -s shows them: the report's numbers
    return len(c.statements), r


def test_the_api_list_of_50_costs_a_handful_of_statements(city, client, session):
    who = bearer(client, "disp1")
    n, r = cost(session, "GET /api/v1/tickets?limit=50", lambda: client.get("/api/v1/tickets", params={"limit": 50},
                                                                             headers=who))
    body = r.json()
    assert body["total"] == TICKETS and len(body["items"]) == 50
    assert any(len(t["units"]) >= 4 for t in body["items"])  # co-units, the district's copy, the police
    assert all(t["contact"] for t in body["items"])
    assert n <= LIMITS["api_list"]
    ten, _ = cost(session, "GET /api/v1/tickets?limit=10", lambda: client.get("/api/v1/tickets", params={"limit": 10},
                                                                              headers=who))
    assert ten == n  # the cost does not grow with the rows


def test_a_unit_and_a_filtered_list_cost_the_same(city, client, session):
    who = bearer(client, f"h-{STREETS[0]}")
    n, r = cost(session, "GET /api/v1/tickets?limit=50 (a street)",
                lambda: client.get("/api/v1/tickets", params={"limit": 50}, headers=who))
    assert r.json()["total"] == sum(1 for i in range(TICKETS) if i % 2 == 0 and i % 7)  # dispatched to it
    assert n <= LIMITS["api_list"]
    who = bearer(client, "disp1")
    n, r = cost(session, "GET /api/v1/tickets?limit=50&q=...&category_code=01", lambda: client.get(
        "/api/v1/tickets", params={"limit": 50, "q": "楼道堆物", "category_code": "01"}, headers=who))
    assert r.json()["total"] == TICKETS // 2
    assert n <= LIMITS["api_list"] + 1  # the category named by the filter is looked up


def test_the_page_list_of_50_costs_a_handful_of_statements(city, client, session):
    log_in(client, "disp1")
    n, r = cost(session, "GET /tickets", lambda: client.get("/tickets"))
    assert "共 64 个结果" in r.text and "观音寺街道办事处" in r.text
    assert n <= LIMITS["page_list"]


def test_one_ticket_costs_a_handful_of_statements(city, client, session):
    number = city.numbers[5]  # replied: a co-unit, the district's copy, the police, a dozen events
    who = bearer(client, "disp1")
    n, r = cost(session, "GET /api/v1/tickets/{number}", lambda: client.get(f"/api/v1/tickets/{number}",
                                                                             headers=who))
    assert len(r.json()["timeline"]) >= 8 and len(r.json()["units"]) >= 3
    assert n <= LIMITS["api_one"]
    log_in(client, "disp1")
    n, r = cost(session, "GET /tickets/{number}", lambda: client.get(f"/tickets/{number}"))
    assert "北京市公安局大兴区分局" in r.text
    assert n <= LIMITS["page_one"]
