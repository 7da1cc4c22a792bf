"""Issue 15's workflow items, on SQLite and PostgreSQL: the survey link only for those who send it, and never
answered in a member of staff's name (item 5); a re-dispatched ticket leaves the old district's copy (item 7);
a replied ticket closes through the callback desk, never by hand with made-up answers (item 12); the survey link
on the public address (item 13). Concurrent notes (item 14) are in test_ticket_concurrency.py (PostgreSQL)."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from jiesu.assessment.models import FactKind, RateFact
from jiesu.callback import service as callback
from jiesu.callback.models import Callback, CallbackChannel, Resolution, Satisfaction
from jiesu.config import Settings
from jiesu.errors import InvalidInput, PermissionDenied, TicketNotFound, TransitionNotAllowed
from jiesu.permissions import SYSTEM
from jiesu.permissions import Role as R
from jiesu.tickets import attachments, service
from jiesu.tickets.models import TicketUnit, UnitRole
from jiesu.tickets.rules import Step
from jiesu.tickets.rules import TicketState as S
from jiesu.units import users
from jiesu.units.models import Unit, UnitKind
from tests import forms
from tests.integration.test_tickets import DISTRICT, STREET, Cast, Desk, handling, replied
from tests.stories import PASSWORD

CHANGPING = "110114000000"  # 昌平区人民政府: another district
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ANSWERED = callback.Answer(contacted=True, resolution=Resolution.resolved, satisfaction=Satisfaction.satisfied)


def login(client, username: str) -> None:
    r = forms.post(client, "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text


def logout(client) -> None:
    forms.post(client, "/logout")


def survey_links(html: str) -> list[str]:
    return re.findall(r'class="survey-link" href="([^"]+)"', html)


# --- item 7: a ticket that moves leaves the old district --------------------------------------------

def test_a_redispatched_ticket_leaves_the_old_districts_copy(desk: Desk, cast: Cast, clock):
    s = desk.session
    street = s.scalar(select(Unit).where(Unit.kind == UnitKind.street, Unit.code.startswith("110114"))
                      .order_by(Unit.code).limit(1))
    changping = users.actor_of(users.create(s, SYSTEM, clock, username="changping", password=PASSWORD,
                                            role=R.unit_handler, unit_code=CHANGPING))
    t = handling(desk, cast)

    def copies() -> list[str]:
        return sorted(s.scalars(select(Unit.code).join(TicketUnit, TicketUnit.unit_id == Unit.id)
                                .where(TicketUnit.ticket_id == t.id, TicketUnit.role == UnitRole.copy)))

    assert copies() == [DISTRICT]
    assert service.get(s, cast.district, t.number).number == t.number  # 大兴 reads its street's ticket
    desk.act(cast.handler, t, Step.return_, reason="属昌平区")
    desk.act(cast.dispatcher, t, Step.uphold_return, unit=street.code, reason="改派昌平区")
    assert copies() == [CHANGPING]  # the copy follows the ticket; 大兴's went
    assert [tu.unit.code for tu in t.units if tu.role == UnitRole.copy] == [CHANGPING]
    with pytest.raises(TicketNotFound):
        service.get(s, cast.district, t.number)
    with pytest.raises(TicketNotFound):
        attachments.add(s, cast.district, clock, desk.settings, t.number, "after.png", PNG)
    assert service.get(s, changping, t.number).main_unit.code == street.code


# --- item 12: close after a reply goes through the callback desk --------------------------------

def test_a_replied_ticket_is_not_closed_by_hand_with_made_up_answers(desk: Desk, cast: Cast):
    t = replied(desk, cast)
    for who in (cast.dispatcher, cast.admin, cast.callback):
        desk.refused(TransitionNotAllowed, who, t, Step.close, field="callback", resolved=True, satisfied="满意")
        desk.refused(TransitionNotAllowed, who, t, Step.close, field="callback")
        assert Step.close not in service.available_steps(who, t)  # no page offers it
    assert desk.session.scalar(select(func.count()).select_from(Callback).where(Callback.ticket_id == t.id)) == 0
    # The desk closes it with the callback: the row, the fact the three rates count, and the event naming it.
    out = callback.record(desk.session, cast.dispatcher, desk.clock, desk.settings, t.number, ANSWERED)
    assert out.result == "closed" and out.ticket.state == S.closed
    close = json.loads(out.ticket.events[-1].payload)
    assert close["callback"] == out.callback.id and close["resolved"] is True
    fact = desk.session.scalar(select(RateFact).where(RateFact.ticket_id == t.id))
    assert (fact.kind, fact.callback_id) == (FactKind.callback, out.callback.id)


def test_a_ticket_whose_citizen_wants_no_callback_closes_without_answers(desk: Desk, cast: Cast):
    t = desk.new(cast.operator, no_callback=True)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=STREET)
    desk.act(cast.handler, t, Step.sign)
    desk.act(cast.handler, t, Step.reply, text="已处理")
    assert Step.close in service.available_steps(cast.dispatcher, t)
    desk.refused(InvalidInput, cast.dispatcher, t, Step.close, field="resolved", resolved=True)
    desk.refused(InvalidInput, cast.dispatcher, t, Step.close, field="satisfied", satisfied="satisfied")
    desk.act(cast.dispatcher, t, Step.close, reason="市民不需回访")
    assert t.state == S.closed and json.loads(t.events[-1].payload)["no_callback"] is True


def test_the_close_step_over_http_sends_the_centre_to_the_callback_desk(client, desk: Desk, cast: Cast):
    t = replied(desk, cast)
    token = client.post("/api/v1/auth/login", json={"username": "dispatcher", "password": PASSWORD}).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    r = client.post(f"/api/v1/tickets/{t.number}/close", json={"resolved": True, "satisfied": "satisfied",
                                                                "callback": 1},  # not the client's to name
                    headers=headers)
    assert r.status_code == 409 and r.json()["error"]["field"] == "callback", r.text
    assert "/callback" in r.json()["error"]["message"]
    r = client.post(f"/api/v1/tickets/{t.number}/callback", json={"reached": True, "contacted": True,
                                                                   "resolution": "resolved",
                                                                   "satisfaction": "satisfied"}, headers=headers)
    assert r.status_code == 200 and r.json()["result"] == "closed"


# --- items 5 and 13: the survey link ---------------------------------------------------------------

def test_the_survey_link_is_shown_to_those_who_send_it(client, desk: Desk, cast: Cast):
    t = replied(desk, cast)
    token = callback.survey_token(desk.settings, t)
    shown = {}
    for username in ("callback", "dispatcher", "admin", "supervisor", "operator", "handler", "district"):
        login(client, username)
        page = client.get(f"/tickets/{t.number}")
        assert page.status_code == 200 and t.number in page.text
        shown[username] = survey_links(page.text)
        logout(client)
    base = "http://testserver/survey/"  # no public address set: the request's own
    assert shown == {"callback": [base + token], "dispatcher": [base + token], "admin": [base + token],
                     "supervisor": [], "operator": [], "handler": [], "district": []}
    client.app.state.settings.public_base_url = "https://12345.example.gov.cn"
    login(client, "callback")
    page = client.get(f"/tickets/{t.number}", headers={"Host": "evil.example"}).text
    assert survey_links(page) == [f"https://12345.example.gov.cn/survey/{token}"]


def test_the_public_base_url_setting():
    assert Settings(public_base_url="https://12345.example.gov.cn/").public_base_url == "https://12345.example.gov.cn"
    assert Settings().public_base_url == ""
    for bad in ("12345.example.gov.cn", "javascript:alert(1)", "https://x.cn/?a=1"):
        with pytest.raises(ValueError, match="public_base_url"):
            Settings(public_base_url=bad)


def test_staff_cannot_answer_the_survey_in_the_citizens_name(client, desk: Desk, cast: Cast):
    t = replied(desk, cast)
    token = callback.survey_token(desk.settings, t)
    answers = {"contacted": "1", "resolution": "resolved", "satisfaction": "satisfied"}
    for username in ("supervisor", "operator", "callback", "handler"):
        login(client, username)
        page = client.get(f"/survey/{token}")
        assert page.status_code == 200 and "工作人员" in page.text and 'class="survey-form"' not in page.text
        r = forms.post(client, f"/survey/{token}", data=answers)
        assert r.status_code == 403 and "回访台" in r.text, username
        logout(client)
    api_token = client.post("/api/v1/auth/login", json={"username": "supervisor", "password": PASSWORD}).json()
    r = client.post(f"/api/v1/survey/{token}", json={"contacted": True, "resolution": "resolved",
                                                     "satisfaction": "satisfied"},
                    headers={"Authorization": f"Bearer {api_token['token']}"})
    assert r.status_code == 403 and r.json()["error"]["field"] == "token"
    with pytest.raises(PermissionDenied):
        callback.answer_survey(desk.session, desk.clock, desk.settings, token, ANSWERED, actor=cast.dispatcher)
    assert desk.session.scalar(select(func.count()).select_from(Callback).where(Callback.ticket_id == t.id)) == 0
    desk.session.refresh(t)
    assert t.state == S.replied
    # The citizen the link was sent to answers it: without a login, as the link's holder.
    r = forms.post(client, f"/survey/{token}", data=answers)
    assert r.status_code == 200 and "感谢您的评价" in r.text
    cb = desk.session.scalar(select(Callback).where(Callback.ticket_id == t.id))
    assert (cb.agent, cb.channel) == ("survey", CallbackChannel.survey)


def test_the_citizen_who_made_the_request_answers_the_link_as_themself(desk: Desk, cast: Cast):
    t = desk.new(cast.citizen)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=STREET)
    desk.act(cast.handler, t, Step.sign)
    desk.act(cast.handler, t, Step.reply, text="已处理")
    token = callback.survey_token(desk.settings, t)
    out = callback.answer_survey(desk.session, desk.clock, desk.settings, token, ANSWERED, actor=cast.citizen)
    assert out.result == "closed" and out.callback.agent == cast.citizen.username
    assert out.ticket.events[-1].actor == cast.citizen.username
