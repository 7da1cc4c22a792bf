"""`make demo` gives every printed login real work: on a copy of the session's demo city (the real `jiesu demo seed`,
tests/conftest.py demo_var), each login's home page counts something waiting for it, the named streets and the
departments they whistle in have tickets in every open state, and the dispatcher's new tickets carry smart
dispatch's suggestion."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import aliased

from jiesu.app import create_app
from jiesu.config import Settings
from jiesu.db import make_engine
from jiesu.demo.cli import DEMO_PASSWORD, DEMO_USERS
from jiesu.demo.simulator import NAMED_COMMUNITIES, NAMED_STREETS
from jiesu.permissions import Role
from jiesu.tickets.models import SummonsState, Ticket, TicketUnit, UnitRole
from jiesu.tickets.rules import TicketState as S
from jiesu.units.models import Unit
from tests import forms
from tests.served import copy_demo

APP_COUNT = re.compile(r'<a class="app-count[^"]*" href="[^"]+"><b>(\d+)</b><span>([^<]+)</span>')
CARD = re.compile(r'<a class="card waiting-([a-z_]+)[^"]*" href="([^"]+)" data-count="(\d+)">')


@pytest.fixture(scope="module")
def demo(request, tmp_path_factory):
    """A private copy of the session's demo city: its settings and engine."""
    var = copy_demo(request.getfixturevalue("demo_var"), tmp_path_factory.mktemp("demo-work"), "work.db")
    settings = Settings(var_dir=var, database_url=f"sqlite:///{var / 'work.db'}")
    engine = make_engine(settings.effective_database_url)
    yield settings, engine
    engine.dispose()


def test_every_login_has_work_on_its_home_page(demo):
    settings, engine = demo
    with TestClient(create_app(settings, engine=engine)) as client:
        for username, role, _unit, _display in DEMO_USERS:
            r = forms.post(client, "/login", {"username": username, "password": DEMO_PASSWORD},
                           follow_redirects=False)
            assert r.status_code == 303, username
            if role == Role.citizen:  # a citizen's home is the app: their requests in hand, one to rate
                counts = {label: int(n) for n, label in APP_COUNT.findall(client.get("/app").text)}
                assert counts.get("办理中", 0) > 0 and counts.get("待评价", 0) > 0, (username, counts)
            else:
                counts = {key: int(n) for key, _href, n in CARD.findall(client.get("/").text)}
                assert counts and sum(counts.values()) > 0, (username, counts)
            forms.post(client, "/logout", page="/")
        # the counts each one works from, in particular
        for username, keys in (("guanyinsi", ("to_sign", "handling")), ("xingshou", ("to_sign",)),
                               ("h-ga-110115", ("to_sign", "handling", "summoned")),
                               ("h-jt-110114", ("to_sign", "handling", "summoned")),
                               ("guangwainanli", ("to_sign", "handling", "community")),
                               ("dispatcher", ("to_dispatch", "returned", "extension", "duplicates", "overdue")),
                               ("callback", ("callback",)), ("supervisor", ("sign_overdue",))):
            forms.post(client, "/login", {"username": username, "password": DEMO_PASSWORD})
            counts = {key: int(n) for key, _href, n in CARD.findall(client.get("/").text)}
            assert all(counts.get(k, 0) > 0 for k in keys), (username, counts)
            forms.post(client, "/logout", page="/")


def test_named_units_have_tickets_in_every_open_state(demo):
    _settings, engine = demo
    with engine.connect() as c:
        by_unit = Counter(c.execute(select(Unit.code, Ticket.state).select_from(Ticket)
                                    .join(Unit, Unit.id == Ticket.main_unit_id)
                                    .where(Unit.code.in_([*NAMED_STREETS, *NAMED_COMMUNITIES,
                                                          *(d for ds in NAMED_STREETS.values() for d in ds)]))).all())
        for code, departments in NAMED_STREETS.items():
            for state in (S.dispatched, S.handling, S.replied):
                assert by_unit[(code, state)] > 0, (code, state)
            for dept in departments:
                for state in (S.dispatched, S.handling, S.replied):
                    assert by_unit[(dept, state)] > 0, (dept, state)
        for code in NAMED_COMMUNITIES:
            assert by_unit[(code, S.dispatched)] > 0 and by_unit[(code, S.handling)] > 0
        # extensions asked, summons waiting (summoned, and reported for duty but not done)
        asked = c.execute(select(Unit.code).select_from(Ticket).join(Unit, Unit.id == Ticket.main_unit_id).where(
            Ticket.state == S.handling, Ticket.extension_days_requested.is_not(None))).scalars().all()
        assert set(NAMED_STREETS) <= set(asked)
        summoned = aliased(Unit)
        waiting = Counter(c.execute(select(summoned.code, TicketUnit.state).select_from(TicketUnit)
                                    .join(summoned, summoned.id == TicketUnit.unit_id)
                                    .join(Ticket, Ticket.id == TicketUnit.ticket_id)
                                    .where(TicketUnit.role == UnitRole.summoned, Ticket.state == S.handling)).all())
        for dept in (d for ds in NAMED_STREETS.values() for d in ds):
            assert waiting[(dept, SummonsState.summoned)] > 0, dept
        assert waiting[("ga-110115", SummonsState.signed)] > 0 and waiting[("jt-110114", SummonsState.signed)] > 0


def test_the_dispatchers_new_tickets_carry_their_suggestions(demo):
    _settings, engine = demo
    with engine.connect() as c:
        new = c.execute(select(Ticket.number, Ticket.suggestion).where(Ticket.state == S.new)).all()
        returned = c.execute(select(Ticket.number).where(Ticket.state == S.returned)).all()
    assert len(new) >= 3 and len(returned) >= 2
    suggestions = {number: json.loads(raw) for number, raw in new if raw}
    assert set(suggestions) == {number for number, _ in new}
    assert all(s["category_code"] and "manual" in s and "main_unit" in s for s in suggestions.values())
    assert any(s.get("duplicates") for s in suggestions.values())  # a second call about an open ticket
