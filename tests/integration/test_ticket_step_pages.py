"""Steps taken on the ticket page: the page offers what the workflow's table allows the person, a form posts
the step, a second post of the same form changes nothing, a refused step is said inline in the page's
language."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from jiesu.tickets import service
from jiesu.tickets.models import Ticket, TicketEvent
from jiesu.tickets.rules import Step, TicketState
from tests import forms
from tests.integration.test_ticket_pages import GUANYINSI, XINGSHOU, World, login

pytestmark = pytest.mark.integration


@pytest.fixture
def world(session, clock, settings) -> World:
    return World(session, clock, settings)


def offered(html: str) -> list[str]:
    return re.findall(r'action="/tickets/[0-9-]+/steps/(\w+)"', html)


def events(session, number: str) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(TicketEvent).join(Ticket)
                          .where(Ticket.number == number))


def step(client, number: str, name: str, data: dict, version: int | None, **kw):
    fields = {**data, **({"expected_version": str(version)} if version is not None else {})}
    return forms.post(client, f"/tickets/{number}/steps/{name}", fields, page=f"/tickets/{number}", **kw)


def test_each_person_is_offered_the_steps_the_table_allows(world, client):
    number = world.ticket(unit=None)
    login(client, "disp1")
    assert offered(client.get(f"/tickets/{number}").text) == ["dispatch", "merge", "escalate"]
    world.act(world.dispatcher, number, Step.dispatch,
              unit=GUANYINSI)
    forms.post(client, "/logout")
    login(client, "gys1")
    assert offered(client.get(f"/tickets/{number}").text) == ["sign", "return"]
    forms.post(client, "/logout")
    login(client, "xs1")  # another street's handler does not see the ticket at all
    assert client.get(f"/tickets/{number}").status_code == 404


def test_a_step_posted_twice_is_applied_once(world, client, session):
    number = world.ticket(unit=None)
    login(client, "disp1")
    version = session.scalar(select(Ticket.version).where(Ticket.number == number))
    before = events(session, number)
    r = step(client, number, "dispatch", {"unit": GUANYINSI, "next": "/tickets?state=new"}, version,
             follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/tickets?state=new&done=dispatch"
    assert events(session, number) == before + 1
    again = step(client, number, "dispatch", {"unit": XINGSHOU}, version)
    assert again.status_code == 409
    assert "此操作已经提交过" in again.text  # said in Chinese, on the ticket page as it is now
    assert events(session, number) == before + 1
    t = service.get(session, world.dispatcher, number)
    assert t.state == TicketState.dispatched and t.main_unit.code == GUANYINSI


def test_a_refused_step_is_said_inline_in_the_pages_language(world, client, session):
    number = world.ticket()
    login(client, "gys1")
    version = session.scalar(select(Ticket.version).where(Ticket.number == number))
    r = step(client, number, "return", {"reason": "  "}, version)
    assert r.status_code == 422 and "退单需要填写理由" in r.text
    assert 'class="error" role="alert"' in r.text
    r = step(client, number, "reply", {"text": "已处理"}, version)  # not signed yet
    assert r.status_code == 409 and "不能答复" in r.text
    client.cookies.set("lang", "en")
    r = step(client, number, "reply", {"text": "done"}, version)
    assert r.status_code == 409 and "cannot reply a ticket that is dispatched" in r.text
    assert events(session, number) == 2  # create, dispatch: nothing refused was written
    assert step(client, number, "no-such-step", {}, version).status_code == 404


def test_a_note_carries_its_photos(world, client, session):
    number = world.ticket()
    world.act(world.gys, number, Step.sign)
    login(client, "gys1")
    version = session.scalar(select(Ticket.version).where(Ticket.number == number))
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    r = client.post(f"/tickets/{number}/steps/note", data={"text": "已到现场查看", "expected_version": str(version),
                                                          "csrf_token": forms.token(client, f"/tickets/{number}")},
                    files=[("photos", ("site.png", png, "image/png"))], follow_redirects=False)
    assert r.status_code == 303
    listed = client.get(f"/api/v1/tickets/{number}/attachments").json()
    assert [a["filename"] for a in listed] == ["site.png"]
