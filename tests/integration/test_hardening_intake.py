"""Issue 15's intake defects, on SQLite and PostgreSQL: an Idempotency-Key is its sender's own and names one
request (defect 10); the channel is the server's to set and a citizen's urgency a request the dispatcher confirms
(defect 11)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from jiesu.open311 import service as open311
from jiesu.permissions import SYSTEM, Role
from jiesu.tickets.models import Request
from tests.integration.test_open311 import BASE, code_of, error_of
from tests.integration.test_open311 import STREET as O311_STREET
from tests.stories import Hotline

STREET = "110115009000"  # 大兴区观音寺街道
REQUEST = {"text": "小区门口路灯不亮", "request_type": "help", "area_code": STREET, "contact_phone": "13800000000"}


@pytest.fixture
def hotline(client, session, clock) -> Hotline:
    return Hotline(client, session, clock)


def requests_with(session, key: str) -> int:
    return session.scalar(select(func.count()).select_from(Request).where(Request.idempotency_key == key))


# --- defect 10: Idempotency-Key ------------------------------------------------------------------------------

def test_the_same_key_with_another_body_is_a_422_not_the_first_ticket(hotline, session):
    op = hotline.login("op", Role.operator)
    first = hotline.create(op, key="call-1", **REQUEST)
    again = hotline.create(op, key="call-1", **REQUEST)  # a true retry: the first answer
    assert again["replayed"] and again["ticket"]["number"] == first["ticket"]["number"]
    other = hotline.client.post("/api/v1/requests", json=REQUEST | {"text": "井盖丢失，有人掉进去了"},
                                headers=op | {"Idempotency-Key": "call-1"})
    assert other.status_code == 422, other.text
    assert other.json()["error"]["field"] == "Idempotency-Key"
    assert requests_with(session, "call-1") == 1
    # also when the suggestion is made inside the request (intake asks routing after checking the key)
    now = hotline.client.post("/api/v1/requests?suggest=now", json=REQUEST | {"title": "另一件事"},
                              headers=op | {"Idempotency-Key": "call-1"})
    assert now.status_code == 422 and now.json()["error"]["field"] == "Idempotency-Key"


def test_keys_are_each_senders_own(hotline, session):
    a = hotline.login("citizen-a", Role.citizen)
    b = hotline.login("citizen-b", Role.citizen)
    mine = hotline.create(a, key="app-42", **REQUEST)
    # Before: b's own first request with this key was refused (409) because a had taken it: a squat.
    theirs = hotline.create(b, key="app-42", **REQUEST | {"text": "楼道灯坏了"})
    assert not theirs["replayed"] and theirs["ticket"]["number"] != mine["ticket"]["number"]
    assert hotline.create(b, key="app-42", **REQUEST | {"text": "楼道灯坏了"})["ticket"]["number"] == \
        theirs["ticket"]["number"]
    scopes = session.scalars(select(Request.idempotency_scope).where(Request.idempotency_key == "app-42")
                             .order_by(Request.id)).all()
    assert scopes == ["citizen-a", "citizen-b"]


def test_a_direct_answers_key_names_one_answer(hotline, session):
    op = hotline.login("op", Role.operator)
    body = {"text": "户口迁移需要什么材料", "answer": "请携带身份证和户口本到派出所办理。"}
    first = hotline.client.post("/api/v1/knowledge/answers", json=body, headers=op | {"Idempotency-Key": "ans-1"})
    assert first.status_code == 201, first.text
    again = hotline.client.post("/api/v1/knowledge/answers", json=body, headers=op | {"Idempotency-Key": "ans-1"})
    assert again.status_code == 201 and again.json()["replayed"]
    other = hotline.client.post("/api/v1/knowledge/answers", json=body | {"answer": "请到街道办事处咨询。"},
                                headers=op | {"Idempotency-Key": "ans-1"})
    assert other.status_code == 422 and other.json()["error"]["field"] == "Idempotency-Key"
    assert requests_with(session, "ans-1") == 1


def test_open311_keys_are_each_clients_own_and_name_one_request(client, session, clock):
    one = open311.create_key(session, SYSTEM, clock, "city-app")[1]
    two = open311.create_key(session, SYSTEM, clock, "district-app")[1]
    code = code_of(session, "住房公积金")
    form = {"service_code": code, "address_id": O311_STREET, "description": "公积金提取咨询"}

    def post(key, idem, **more):
        return client.post(f"{BASE}/requests.json", data={"api_key": key, **form, **more},
                           headers={"Idempotency-Key": idem})

    first = post(one, "t-1")
    assert first.status_code == 200, first.text
    assert post(one, "t-1").headers["Idempotent-Replayed"] == "true"
    says = error_of(post(one, "t-1", description="另一件事"), 422)
    assert "Idempotency-Key" in says
    other = post(two, "t-1")  # another client's same key: its own request, not a 400 and not the first
    assert other.status_code == 200 and "Idempotent-Replayed" not in other.headers
    numbers = {first.json()[0]["service_request_id"], other.json()[0]["service_request_id"]}
    assert len(numbers) == 2
    assert {r["service_request_id"] for r in client.get(f"{BASE}/tokens/t-1.json").json()} == numbers


# --- defect 11: the channel is the server's, a citizen's urgency a request ---------------------------------------

@pytest.mark.parametrize("claimed", ["import", "open311", "hotline"])
def test_a_citizen_cannot_claim_a_channel_not_theirs(hotline, claimed):
    citizen = hotline.login("resident", Role.citizen)
    r = hotline.client.post("/api/v1/requests", json=REQUEST | {"channel": claimed}, headers=citizen)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "channel"


def test_the_server_sets_the_channel_from_who_sends(hotline, client):
    citizen = hotline.login("resident", Role.citizen)
    op = hotline.login("op", Role.operator)
    assert hotline.create(citizen, **REQUEST)["ticket"]["channel"] == "app"
    assert hotline.create(citizen, **REQUEST, channel="web")["ticket"]["channel"] == "web"
    assert hotline.create(op, **REQUEST)["ticket"]["channel"] == "hotline"
    for claimed in ("import", "open311"):  # nor the centre's staff: those are the importer's and Open311's
        r = client.post("/api/v1/requests", json=REQUEST | {"channel": claimed}, headers=op)
        assert r.status_code == 422 and r.json()["error"]["field"] == "channel"
    r = client.post("/api/v1/knowledge/answers", headers=op,
                    json={"text": "社保卡怎么补办", "answer": "到社保网点补办", "channel": "import"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "channel"


def test_a_citizens_emergency_is_asked_for_and_counts_once_the_dispatcher_confirms(hotline, session):
    from jiesu.tickets.models import Ticket

    citizen = hotline.login("resident", Role.citizen)
    op = hotline.login("op", Role.operator)
    dispatcher = hotline.login("disp", Role.dispatcher)
    asked = hotline.create(citizen, **REQUEST, urgency="emergency")["ticket"]
    by_phone = hotline.create(op, **REQUEST, urgency="emergency")["ticket"]
    ordinary = hotline.create(op, **REQUEST)["ticket"]
    # The operator on the phone decides; the citizen only asks: the ticket's deadlines are an ordinary one's.
    assert (by_phone["urgency"], by_phone["requested_urgency"]) == ("emergency", None)
    assert (asked["urgency"], asked["requested_urgency"]) == ("normal", "emergency")
    assert asked["dispatch_by"] == ordinary["dispatch_by"] != by_phone["dispatch_by"]
    assert asked["timeline"][0]["payload"]["requested_urgency"] == "emergency"
    # The dispatcher sees the request in the queue, and confirms it with the dispatch.
    from tests.integration.test_ticket_pages import login

    hotline.client.cookies.clear()
    login(hotline.client, "disp")
    queue = hotline.client.get("/queue").text
    row = queue[queue.index(f'id="t-{asked["number"]}"'):]
    row = row[:row.index("</tr>")]
    assert "市民申请紧急" in row and 'name="urgency" value="emergency"' in row
    plain = queue[queue.index(f'id="t-{ordinary["number"]}"'):]
    assert "市民申请紧急" not in plain[:plain.index("</tr>")]
    hotline.client.cookies.clear()
    unconfirmed = hotline.step(dispatcher, ordinary["number"], "dispatch", unit=STREET)
    confirmed = hotline.step(dispatcher, asked["number"], "dispatch", unit=STREET, urgency="emergency")
    assert (confirmed["urgency"], confirmed["requested_urgency"]) == ("emergency", None)
    assert confirmed["timeline"][-1]["payload"]["urgency"] == "emergency"
    assert confirmed["reply_by"] < unconfirmed["reply_by"]  # the emergency's deadlines, once confirmed
    t = session.scalar(select(Ticket).where(Ticket.number == asked["number"]))
    assert t.urgency.value == "emergency"
