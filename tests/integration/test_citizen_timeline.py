"""A citizen's view of a ticket's timeline (issue 15, item 1): the unit that acted, never a staff member's
username, on the API (the ticket, a step's answer) and on the ticket page; the staff still see who did what."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from jiesu import glossary
from jiesu.permissions import SYSTEM, Role
from jiesu.taxonomy.models import RequestType
from jiesu.tickets import attachments, service
from jiesu.tickets.models import Channel
from jiesu.tickets.rules import Step
from jiesu.units import service as units
from jiesu.units import users
from tests import forms
from tests.integration.test_attachments import PNG

PASSWORD = "correct-horse-9"
GUANYINSI = "110115009000"  # 观音寺街道
STAFF = ("disp-wang", "gys-li")


@pytest.fixture
def handled(session, clock, settings):
    """A citizen's request, dispatched by disp-wang (no unit) to 观音寺街道, signed and noted by gys-li there."""
    made = {name: users.actor_of(users.create(session, SYSTEM, clock, username=name, password=PASSWORD, role=role,
                                              display_name=name, unit_code=unit))
            for name, role, unit in [("citizen-zhao", Role.citizen, None), ("disp-wang", Role.dispatcher, None),
                                     ("gys-li", Role.unit_handler, GUANYINSI)]}
    number = service.create_request(session, made["citizen-zhao"], clock, settings, service.NewRequest(
        text="楼下餐馆油烟扰民", request_type=RequestType.complaint, channel=Channel.app, area_code=GUANYINSI,
        contact_name="赵六", contact_phone="13800000000")).ticket.number

    def act(name: str, step: Step, **data) -> None:
        service.act(session, made[name], clock, settings, number, step, service.StepInput(**data))

    act("disp-wang", Step.dispatch, unit=GUANYINSI)
    act("gys-li", Step.sign)
    act("gys-li", Step.note, text="已联系餐馆，约定明日整改")
    session.commit()
    return number, units.get(session, SYSTEM, GUANYINSI).name


def bearer(client, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_a_citizen_sees_units_on_the_api_and_the_staff_see_names(handled, client):
    number, street = handled
    centre = glossary.label("unit_kind", "centre")
    mine = client.get(f"/api/v1/tickets/{number}", headers=bearer(client, "citizen-zhao")).json()
    told = [(e["action"], e["actor"]) for e in mine["timeline"]]
    assert told == [("create", "citizen-zhao"), ("dispatch", centre), ("sign", street), ("note", street)]
    assert not any(name in str(mine) for name in STAFF)
    theirs = client.get(f"/api/v1/tickets/{number}", headers=bearer(client, "disp-wang")).json()
    assert [e["actor"] for e in theirs["timeline"]] == ["citizen-zhao", "disp-wang", "gys-li", "gys-li"]


def test_a_citizen_sees_units_on_the_ticket_page(handled, app):
    number, street = handled
    citizen, staff = TestClient(app), TestClient(app)
    for client, username in ((citizen, "citizen-zhao"), (staff, "disp-wang")):
        assert forms.post(client, "/login", {"username": username, "password": PASSWORD},
                          follow_redirects=False).status_code == 303
    r = citizen.get(f"/tickets/{number}", follow_redirects=False)  # a citizen's ticket page is the app's
    assert r.status_code == 303 and r.headers["location"] == f"/app/requests/{number}"
    page = citizen.get(r.headers["location"]).text
    assert f"已派至{street}" in page and f"{street}已接单，正在处理" in page
    assert not any(name in page for name in STAFF)
    assert re.findall(r'<td class="ev-who">(.*?) <span', staff.get(f"/tickets/{number}").text) == [
        "citizen-zhao", "disp-wang", "gys-li", "gys-li"]
    english = citizen.get(f"/app/requests/{number}", params={"lang": "en"}).text
    assert f"<title>{number} · My requests" in english and f"Dispatched to {street}" in english


def test_a_citizen_is_told_the_role_not_the_username_of_who_attached_a_file(handled, client, app, session, clock,
                                                                             settings):
    number, _ = handled
    staff = users.actor_of(users.get(session, SYSTEM, "gys-li"))
    attachments.add(session, staff, clock, settings, number, "after.png", PNG)
    session.commit()
    mine = client.get(f"/api/v1/tickets/{number}/attachments", headers=bearer(client, "citizen-zhao")).json()
    assert [a["uploaded_by"] for a in mine] == [glossary.label("role", "unit_handler")]
    theirs = client.get(f"/api/v1/tickets/{number}/attachments", headers=bearer(client, "disp-wang")).json()
    assert [a["uploaded_by"] for a in theirs] == ["gys-li"]
    citizen = TestClient(app)
    assert forms.post(citizen, "/login", {"username": "citizen-zhao", "password": PASSWORD},
                      follow_redirects=False).status_code == 303
    page = citizen.get(f"/tickets/{number}").text  # sent to the app's page of the request
    assert "after.png" in page and glossary.label("role", "unit_handler") in page
    assert not any(name in page for name in STAFF)
