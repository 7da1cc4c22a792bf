"""The citizens' app (/app): reporting with a place and photos through intake, following a similar request instead of
filing it again, 我的诉求 in a citizen's words, the survey, withdrawing and adding to a request; the staff's pages
closed to citizens, and one citizen's requests closed to another."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from jiesu.permissions import Role
from jiesu.tickets import following
from jiesu.tickets.models import Attachment, Channel, Request, Ticket, TicketFollower
from jiesu.tickets.rules import Step, TicketState
from jiesu.units.models import Unit
from tests import forms
from tests.integration.test_ticket_pages import GUANYINSI, PASSWORD, World, login

pytestmark = pytest.mark.integration
# A 1x1 PNG: the smallest photo the attachments accept.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")
LAMP = "首座御园小区门口的路灯坏了一个多星期，晚上一片漆黑，老人出门很不方便，请尽快修好。"


@pytest.fixture
def world(session, clock, settings) -> World:
    w = World(session, clock, settings)
    w.zhang = w.user("zhang", Role.citizen)
    w.li = w.user("li-citizen", Role.citizen)
    w.admin = w.user("boss", Role.admin)
    return w


def report(client, data: dict, files=None, **kw):
    page = client.get("/app/report")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)
    fields = {"idempotency_key": key, "request_type": "complaint", **data}
    return forms.post(client, "/app/report", fields, page="/app/report", files=files, follow_redirects=False, **kw)


def number_from(r) -> str:
    assert r.status_code == 303, r.text[:2000]
    return re.fullmatch(r"/app/requests/([0-9-]+)\?done=report", r.headers["location"]).group(1)


def unit_name(session, code: str) -> str:
    return session.scalar(select(Unit.name).where(Unit.code == code))


def test_a_citizen_lands_in_the_app_and_reports_with_a_place_and_a_photo(world, client, session):
    r = forms.post(client, "/login", {"username": "zhang", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app"
    home = client.get("/app").text
    assert 'href="/app/report"' in home and 'href="/app/requests"' in home and 'href="/public"' in home
    assert 'href="/tickets"' not in home and 'href="/docs"' not in home and 'href="/admin"' not in home
    assert 'rel="manifest" href="/app/manifest.webmanifest"' in home and "apple-touch-icon" in home
    assert "<main>" in home and '<body class="app-body">' in home and "<nav>" in home
    form = client.get("/app/report").text
    for field in ("text", "place-q", "address", "photos"):
        assert f'<label for="{field}">' in form  # every field labelled
    assert "用我的位置" in form and "诉求类型" in form

    page = client.get("/app/report")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)
    fields = {"idempotency_key": key, "request_type": "complaint", "text": LAMP, "area_code": GUANYINSI,
              "address": "首座御园南门"}
    r = forms.post(client, "/app/report", fields, page="/app/report",
                   files=[("photos", ("lamp.png", PNG, "image/png"))], follow_redirects=False)
    number = number_from(r)
    again = forms.post(client, "/app/report", fields, page="/app/report",
                       files=[("photos", ("lamp.png", PNG, "image/png"))], follow_redirects=False)
    assert number_from(again) == number  # a double tap: the same ticket, its photo once
    t = session.scalar(select(Ticket).where(Ticket.number == number))
    req = session.get(Request, t.request_id)
    assert req.channel == Channel.app and req.created_by == "zhang" and req.address == "首座御园南门"
    assert len(session.scalars(select(Attachment).where(Attachment.ticket_id == t.id)).all()) == 1
    assert session.scalar(select(Ticket).where(Ticket.request_id == req.id)).area_id is not None

    world.act(world.dispatcher, number, Step.dispatch, unit=GUANYINSI)
    world.act(world.gys, number, Step.sign)
    world.act(world.gys, number, Step.note, text="已联系路灯所，内部备注：周三派人")
    street = unit_name(session, GUANYINSI)
    mine = client.get("/app/requests").text
    assert number in mine and f"{street}正在处理" in mine
    detail = client.get(f"/app/requests/{number}").text
    assert f"已派至{street}" in detail and f"{street}已接单，正在处理" in detail and "诉求已受理" in detail
    assert "答复期限" in detail and "/api/v1/attachments/" in detail and LAMP in detail
    for secret in ("gys1", "disp1", "内部备注", "周三派人"):  # no staff username, no internal note
        assert secret not in mine and secret not in detail
    photo = client.get(re.search(r'src="(/api/v1/attachments/\d+)"', detail).group(1))
    assert photo.status_code == 200 and photo.content == PNG


def test_a_citizen_follows_a_similar_request_instead_of_filing_it(world, client, session):
    other = world.ticket(text=LAMP, area_code=GUANYINSI)  # filed on the phone by 张三丰 (13812345678)
    login(client, "zhang")
    r = client.get("/app/similar", params={"text": LAMP, "area_code": GUANYINSI})
    assert r.status_code == 200
    found = r.json()["similar"]
    assert [s["number"] for s in found] == [other]
    assert found[0]["status"] == f"已派至{unit_name(session, GUANYINSI)}" and found[0]["following"] is False
    assert "张三丰" not in r.text and "13812345678" not in r.text and "首座御园小区门口" not in r.text
    r = forms.post(client, f"/app/requests/{other}/follow", page="/app/report", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/app/requests/{other}?done=follow"
    assert session.scalar(select(Ticket.id).join(Request).where(Request.created_by == "zhang")) is None  # no new one
    listed = client.get("/app/requests").text
    assert other in listed.split('id="followed"')[1]
    detail = client.get(f"/app/requests/{other}").text
    assert "已加入关注" in detail and "取消关注" in detail
    for private in ("张三丰", "138", "首座御园小区门口", "disp1", "补充说明或照片", "撤回诉求"):
        assert private not in detail  # the public status only, and no actions on another's request
    assert client.get("/app/similar", params={"text": LAMP, "area_code": GUANYINSI}).json()["similar"][0]["following"]
    # the API: following again is the same following; the count, never who
    token = forms.token(client, "/app/report")
    r = client.post(f"/api/v1/tickets/{other}/follow", headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json() == {"number": other, "following": True, "followers": 1}
    r = forms.post(client, f"/app/requests/{other}/unfollow", page="/app/report", follow_redirects=False)
    assert r.headers["location"] == "/app/requests?done=unfollow"
    assert client.get(f"/app/requests/{other}").status_code == 404
    r = client.delete(f"/api/v1/tickets/{other}/follow", headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json()["following"] is False
    # staff do not follow; one's own request is followed already
    with pytest.raises(Exception, match="citizens"):
        following.follow(session, world.dispatcher, world.clock, other)


def citizens_ticket(world, client, text=LAMP) -> str:
    login(client, "zhang")
    return number_from(report(client, {"text": text, "area_code": GUANYINSI}))


def test_a_citizen_answers_the_survey_in_the_app(world, client, session):
    number = citizens_ticket(world, client)
    world.act(world.dispatcher, number, Step.dispatch, unit=GUANYINSI)
    world.act(world.gys, number, Step.sign)
    world.act(world.gys, number, Step.reply, text="路灯已于今日修复，感谢您的反映。")
    detail = client.get(f"/app/requests/{number}").text
    assert "路灯已于今日修复" in detail and "请您评价" in detail and f"{unit_name(session, GUANYINSI)}已答复" in detail
    assert "请评价" in client.get("/app/requests").text
    r = forms.post(client, f"/app/requests/{number}/survey", {"contacted": "1", "resolution": "resolved"},
                   page=f"/app/requests/{number}")
    assert r.status_code == 422 and 'data-field="satisfaction"' in r.text  # the field named
    r = forms.post(client, f"/app/requests/{number}/survey",
                   {"contacted": "1", "resolution": "resolved", "satisfaction": "satisfied", "comment": "很快"},
                   page=f"/app/requests/{number}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/app/requests/{number}?done=survey"
    session.expire_all()
    assert session.scalar(select(Ticket.state).where(Ticket.number == number)) == TicketState.closed
    detail = client.get(r.headers["location"]).text
    assert "感谢您的评价" in detail and "已办结" in detail and "请您评价" not in detail


def test_a_citizen_adds_a_note_and_a_photo_then_withdraws(world, client, session):
    number = citizens_ticket(world, client)
    r = forms.post(client, f"/app/requests/{number}/add", {"text": "晚上九点以后最黑"}, page=f"/app/requests/{number}",
                   files=[("photos", ("night.png", PNG, "image/png"))], follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/app/requests/{number}?done=add_info"
    detail = client.get(f"/app/requests/{number}").text
    assert "您补充了说明" in detail and "晚上九点以后最黑" in detail
    t = session.scalar(select(Ticket).where(Ticket.number == number))
    assert len(session.scalars(select(Attachment).where(Attachment.ticket_id == t.id)).all()) == 1
    r = forms.post(client, f"/app/requests/{number}/add", {"text": " "}, page=f"/app/requests/{number}")
    assert r.status_code == 422 and 'data-field="text"' in r.text
    r = forms.post(client, f"/app/requests/{number}/withdraw", {"reason": ""}, page=f"/app/requests/{number}")
    assert r.status_code == 422 and 'data-field="reason"' in r.text
    r = forms.post(client, f"/app/requests/{number}/withdraw", {"reason": "路灯已经修好了"},
                   page=f"/app/requests/{number}", follow_redirects=False)
    assert r.headers["location"] == f"/app/requests/{number}?done=withdraw"
    detail = client.get(r.headers["location"]).text
    assert "诉求已撤回" in detail and "撤回诉求" not in detail and "补充说明或照片" not in detail
    session.expire_all()
    assert session.scalar(select(Ticket.state).where(Ticket.number == number)) == TicketState.withdrawn


def test_a_citizen_opening_a_staff_page_is_sent_to_the_app(world, client):
    number = citizens_ticket(world, client)
    for path in ("/", "/tickets", "/tickets?state=new&mine=1"):  # what the staff's pages would show them
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/app", path
    for path in ("/queue", "/work", "/assessment", "/callbacks", "/console", "/units"):  # refused, as before
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 403, path
        assert 'href="/app/report"' in r.text and 'href="/app/requests"' in r.text and 'href="/tickets"' not in r.text
    r = client.get(f"/tickets/{number}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/app/requests/{number}"
    assert client.get("/places").status_code == 200  # the public pages stay open


def test_the_staff_keep_their_pages_and_see_the_links_of_their_role(world, client):
    login(client, "disp1")
    html = client.get("/").text
    assert 'href="/tickets"' in html and 'href="/public"' in html and 'href="/admin"' not in html
    assert client.get("/app", follow_redirects=False).headers["location"] == "/"
    client.post("/logout", data={"csrf_token": forms.token(client, "/")})
    login(client, "boss")
    assert 'href="/admin"' in client.get("/").text
    client.cookies.clear()
    anonymous = client.get("/").text
    assert 'href="/public"' in anonymous and 'href="/app"' not in anonymous.split("<main>")[0]
    assert client.get("/app", follow_redirects=False).headers["location"] == "/login?next=/app"


def test_another_citizen_can_neither_see_nor_act_on_a_request(world, client, session):
    number = citizens_ticket(world, client)
    client.cookies.clear()
    login(client, "li-citizen")
    assert client.get(f"/app/requests/{number}").status_code == 404
    assert number not in client.get("/app/requests").text
    page = "/app/report"
    for action, data in (("withdraw", {"reason": "不要了"}), ("add", {"text": "看看"}),
                         ("survey", {"contacted": "1", "resolution": "resolved", "satisfaction": "satisfied"})):
        r = forms.post(client, f"/app/requests/{number}/{action}", data, page=page)
        assert r.status_code == 404, action
    session.expire_all()
    assert session.scalar(select(Ticket.state).where(Ticket.number == number)) == TicketState.new
    assert client.get(f"/api/v1/tickets/{number}").status_code == 404
    assert session.scalars(select(TicketFollower)).all() == []


def test_bad_input_is_refused_naming_the_field(world, client, session):
    login(client, "zhang")
    cases = [({"text": ""}, "text"), ({"text": LAMP, "request_type": "gossip"}, "request_type"),
             ({"text": LAMP, "lng": "东经116", "lat": "39.7"}, "lng"), ({"text": LAMP, "lng": "116.3"}, "lat"),
             ({"text": LAMP, "area_code": "999999999999"}, "area_code")]
    for data, field in cases:
        r = report(client, data)
        assert r.status_code == 422, (data, r.status_code)
        assert f'data-field="{field}"' in r.text, (data, r.text[:3000])
        assert LAMP in r.text if data.get("text") else True  # what was typed is kept
    r = report(client, {"text": LAMP}, files=[("photos", (f"p{i}.png", PNG, "image/png")) for i in range(4)])
    assert r.status_code == 422 and 'data-field="photos"' in r.text
    r = report(client, {"text": LAMP}, files=[("photos", ("fake.png", b"not a photo", "image/png"))])
    assert r.status_code == 422 and 'data-field="file"' in r.text
    assert session.scalar(select(Ticket.id).join(Request).where(Request.created_by == "zhang")) is None
    assert client.get("/app/locate", params={"lng": "500", "lat": "39"}).status_code == 422
    assert client.get("/app/places", params={"q": "观音寺"}).json()["matches"][0]["name"].startswith("观音寺")
