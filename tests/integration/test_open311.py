"""Open311 GeoReport v2 on SQLite and PostgreSQL: API keys, the service list and definitions, a POST through the
common intake (channel, category, place, deadlines, suggestion, idempotency), the spec's errors for bad input
(never a 5xx), and the requests read back with every filter, status from the workflow, paging and extensions."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from datetime import timedelta
from unittest.mock import Mock

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from jiesu.api import deps
from jiesu.callback import service as callback
from jiesu.callback.models import Resolution, Satisfaction
from jiesu.errors import Conflict, InvalidInput, PermissionDenied
from jiesu.open311 import service as open311
from jiesu.open311.models import ApiKey, Open311Submission
from jiesu.permissions import SYSTEM, Actor, Role
from jiesu.taxonomy.models import Category, RequestType, Urgency
from jiesu.tickets import service as tickets
from jiesu.tickets.models import Channel, Request, Ticket
from jiesu.tickets.rules import Step
from jiesu.units.models import Unit

BASE = "/open311/v2"
STREET = "110115009000"  # 大兴区观音寺街道
COMMUNITY = "110115009016"  # 首座御园二里社区
FENGTAI = (39.86, 116.33)  # WGS84 lat, long in 丰台区
LOS_ANGELES = (34.0522, -118.2437)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def key(session, clock) -> str:
    return open311.create_key(session, SYSTEM, clock, "city-app", "the city's own app")[1]


def code_of(session, name: str) -> str:
    return session.scalar(select(Category.code).where(Category.name == name, Category.level == 3))


def post(client, fmt: str = "json", headers: dict | None = None, **form):
    return client.post(f"{BASE}/requests.{fmt}", data=form, headers=headers or {})


def error_of(r, status: int) -> str:
    """The spec's error document, in JSON: a list of {code, description}; returns the descriptions."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    body = r.json()
    assert isinstance(body, list) and body and all(set(e) == {"code", "description"} for e in body), body
    assert body[0]["code"] == status and "internal failure" not in r.text
    return " | ".join(e["description"] for e in body)


# --- API keys -------------------------------------------------------------------------------------------

def test_api_keys_are_stored_hashed_listed_and_revocable(session, clock):
    row, key = open311.create_key(session, SYSTEM, clock, "civic-bot")
    assert key.startswith("o311_") and len(key) > 40
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest() and key not in (row.key_hash, row.prefix)
    assert session.scalar(select(ApiKey).where(ApiKey.key_hash == key)) is None  # never stored in clear
    assert open311.check_key(session, key).name == "civic-bot"
    assert [k.name for k in open311.list_keys(session, SYSTEM)] == ["civic-bot"]
    with pytest.raises(Conflict):
        open311.create_key(session, SYSTEM, clock, "civic-bot")
    with pytest.raises(InvalidInput):
        open311.create_key(session, SYSTEM, clock, "bad name!")
    with pytest.raises(PermissionDenied):
        open311.create_key(session, Actor("op", Role.operator), clock, "other")
    open311.revoke_key(session, SYSTEM, clock, "civic-bot")
    with pytest.raises(PermissionDenied):
        open311.check_key(session, key)


# --- discovery, services, definitions ---------------------------------------------------------------------

def test_discovery_in_both_formats(client):
    doc = client.get(f"{BASE}/discovery.json").json()
    assert set(doc) == {"changeset", "contact", "key_service", "endpoints"}
    [endpoint] = doc["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and endpoint["type"] == "production"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    r = client.get(f"{BASE}/discovery.xml")
    assert r.headers["content-type"] == "text/xml; charset=utf-8"
    assert r.text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    assert "<formats><format>text/xml</format><format>application/json</format></formats>" in r.text


def test_services_are_the_leaf_categories_with_attributes_where_a_category_asks_for_more(client, session):
    services = client.get(f"{BASE}/services.json").json()
    leaves = session.scalars(select(Category).where(Category.level == 3)).all()
    assert len(services) == len(leaves) == 517
    by_name = {s["service_name"]: s for s in services}
    water = by_name["自来水供应"]
    assert water == {"service_code": code_of(session, "自来水供应"), "service_name": "自来水供应",
                     "description": "城乡建设 / 城市建设和市政管理 / 自来水供应", "metadata": True, "type": "realtime",
                     "keywords": "城市建设和市政管理, 自来水供应, 停水, 水压, 水质, 爆管", "group": "城乡建设"}
    assert by_name["住房公积金"]["metadata"] is False
    assert all(isinstance(s["service_code"], str) for s in services)
    assert len({s["service_code"] for s in services}) == 517
    # "其他" under many parents is told apart by its parent
    assert "城市建设和市政管理（其他）" in by_name
    definition = client.get(f"{BASE}/services/{water['service_code']}.json").json()
    assert definition["service_code"] == water["service_code"]
    scope, danger, since = definition["attributes"]
    assert scope["code"] == "SCOPE" and scope["datatype"] == "singlevaluelist" and scope["required"] is True
    assert scope["order"] == 1 and {"key": "building", "name": "整栋楼 (the building)"} in scope["values"]
    assert danger["code"] == "DANGER" and since["datatype"] == "datetime" and "values" not in since
    gas = client.get(f"{BASE}/services/{code_of(session, '燃气供应')}.json").json()
    assert gas["attributes"][0]["variable"] is False  # information only
    plain = client.get(f"{BASE}/services/{by_name['住房公积金']['service_code']}.json").json()
    assert plain["attributes"] == []
    xml = client.get(f"{BASE}/services/{water['service_code']}.xml").text
    assert "<service_definition><service_code>" in xml and "<attributes><attribute><variable>true</variable>" in xml
    assert "<values><value><key>household</key>" in xml


def test_unknown_service_format_resource_and_jurisdiction_are_404(client, session):
    assert "not a service" in error_of(client.get(f"{BASE}/services/99.99.999.json"), 404)
    level2 = session.scalar(select(Category.code).where(Category.level == 2))
    assert "not a service" in error_of(client.get(f"{BASE}/services/{level2}.json"), 404)  # not a leaf
    assert ".json or .xml" in error_of(client.get(f"{BASE}/services.html"), 404)
    assert "no resource" in error_of(client.get(f"{BASE}/servicez.json"), 404)
    assert "beijing.gov.cn" in error_of(client.get(f"{BASE}/services.json", params={"jurisdiction_id": "sf.gov"}),
                                        404)
    assert client.get(f"{BASE}/services.json", params={"jurisdiction_id": "beijing.gov.cn"}).status_code == 200
    assert client.get(f"{BASE}/services.json", params={"jurisdiction_id": ""}).status_code == 200  # empty = absent
    r = client.get(f"{BASE}/services/99.99.999.xml")
    assert r.status_code == 404 and r.headers["content-type"] == "text/xml; charset=utf-8"
    assert r.text.startswith('<?xml version="1.0" encoding="utf-8"?>\n<errors><error><code>404</code><description>')
    assert "only GET" in error_of(client.delete(f"{BASE}/services.json"), 400)


# --- POST ----------------------------------------------------------------------------------------------

def test_a_post_goes_through_the_common_intake(client, session, key, clock):
    water = code_of(session, "自来水供应")
    r = post(client, api_key=key, service_code=water, lat=str(FENGTAI[0]), long=str(FENGTAI[1]),
             description="小区从早上开始停水，老人打电话 13812345678", phone="13800000000", first_name="芳",
             last_name="王", email="wang@example.org", account_id="u-42", media_url="http://example.org/p.jpg",
             **{"attribute[SCOPE]": "building", "attribute[DANGER]": "no",
                "attribute[SINCE]": "2024-09-30T07:00:00+08:00", "attribute[UNKNOWN]": "ignored"})
    assert r.status_code == 200, r.text
    [made] = r.json()
    assert set(made) == {"service_request_id", "service_notice", "account_id"} and made["account_id"] == "u-42"
    assert "24小时内反馈" in made["service_notice"]  # the utility's deadline policy
    ticket = tickets.by_number(session, made["service_request_id"])
    request = ticket.request
    assert request.channel == Channel.open311 and request.created_by == "open311:city-app"
    assert request.request_type == RequestType.help and ticket.category.code == water
    assert ticket.area.code == "110106000000"  # 丰台区, from the coordinates (WGS84 -> GCJ-02 -> district)
    assert ticket.dispatch_by == clock.now() + timedelta(hours=1)  # the utility policy's dispatch deadline
    assert "影响范围：整栋楼" in request.text and "是否危及人身安全：否" in request.text
    assert "【照片/媒体】http://example.org/p.jpg" in request.text
    assert request.contact.phone == "13800000000" and request.contact.name == "王芳" and not request.no_callback
    suggestion = json.loads(ticket.suggestion)
    assert suggestion["main_unit"]["code"] == "water"  # the routing rule for 自来水供应
    created = ticket.events[0]
    assert json.loads(created.payload)["channel"] == "open311"
    sub = session.scalar(select(Open311Submission).where(Open311Submission.request_id == request.id))
    assert sub.service_code == water and sub.email == "wang@example.org" and sub.media_url.endswith("p.jpg")
    assert [a["code"] for a in json.loads(sub.attributes)] == ["SCOPE", "DANGER", "SINCE"]
    assert session.get(ApiKey, sub.api_key_id).last_used_at == clock.now()


def test_a_post_by_address_or_area_code_and_an_emergency(client, session, key):
    gas = code_of(session, "燃气供应")
    r = post(client, api_key=key, service_code=gas, address_string="大兴区首座御园二里5号楼",
             description="楼道里有很重的燃气味", **{"attribute[SCOPE]": "building", "attribute[DANGER]": "yes"})
    assert r.status_code == 200, r.text
    ticket = tickets.by_number(session, r.json()[0]["service_request_id"])
    assert ticket.urgency == Urgency.emergency and ticket.area.code == COMMUNITY
    assert ticket.request.no_callback  # no phone: nobody to call back
    r = post(client, "xml", api_key=key, service_code=code_of(session, "住房公积金"), address_id=STREET)
    assert r.status_code == 200 and r.headers["content-type"] == "text/xml; charset=utf-8"
    assert "<service_requests><request><service_request_id>" in r.text and "<account_id></account_id>" in r.text
    number = r.text.split("<service_request_id>")[1].split("<")[0]
    ticket = tickets.by_number(session, number)
    assert ticket.area.code == STREET and "未附描述" in ticket.request.text


def test_multivaluelist_and_query_string_api_key(client, session, key):
    noise = code_of(session, "噪音污染")
    body = [("service_code", noise), ("address_string", "大兴区观音寺街道"),
            ("attribute[NOISE_SOURCE]", "construction"),
            ("attribute[NOISE_TIME][]", "night"), ("attribute[NOISE_TIME][]", "holiday")]
    r = client.post(f"{BASE}/requests.json", params={"api_key": key}, content=_form(body),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    ticket = tickets.by_number(session, r.json()[0]["service_request_id"])
    assert "发生时段：夜间 22–6时、周末节假日" in ticket.request.text


def _form(pairs) -> str:
    from urllib.parse import urlencode

    return urlencode(pairs)


def test_idempotency_key_replays_and_is_the_token(client, session, key):
    code = code_of(session, "住房公积金")
    first = post(client, headers={"Idempotency-Key": "app-7781"}, api_key=key, service_code=code,
                 address_id=STREET, account_id="a1")
    again = post(client, headers={"Idempotency-Key": "app-7781"}, api_key=key, service_code=code,
                 address_id=STREET)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert session.scalar(select(Request.id).where(Request.idempotency_key == "app-7781")) is not None
    number = first.json()[0]["service_request_id"]
    assert client.get(f"{BASE}/tokens/app-7781.json").json() == [{"service_request_id": number, "token": "app-7781"}]
    assert client.get(f"{BASE}/tokens/app-7781.xml").text.endswith(
        f"<service_requests><request><service_request_id>{number}</service_request_id><token>app-7781</token>"
        "</request></service_requests>")
    assert "token" in error_of(client.get(f"{BASE}/tokens/nothing.json"), 404)


@pytest.mark.parametrize(("form", "status", "says"), [
    ({}, 400, "service_code is required"),
    ({"service_code": "7", "lat": "34.05", "long": "-118.24"}, 404, "not a service"),
    ({"service_code": "WATER"}, 400, "a location is required"),
    ({"service_code": "WATER", "lat": "39.9"}, 400, "both lat and long"),
    ({"service_code": "WATER", "lat": "abc", "long": "116.4"}, 400, "decimal number"),
    ({"service_code": "WATER", "lat": "NaN", "long": "116.4"}, 400, "between -90 and 90"),
    ({"service_code": "WATER", "lat": "91", "long": "116.4"}, 400, "between -90 and 90"),
    ({"service_code": "WATER", "lat": "39.9", "long": "inf"}, 400, "between -180 and 180"),
    ({"service_code": "WATER", "lat": str(LOS_ANGELES[0]), "long": str(LOS_ANGELES[1])}, 400,
     "outside the jurisdiction"),
    ({"service_code": "WATER", "lat": "-33.86", "long": "151.21"}, 400, "outside the jurisdiction"),
    ({"service_code": "WATER", "address_string": "1600 Pennsylvania Ave NW"}, 400, "names no place"),
    ({"service_code": "WATER", "address_id": "999"}, 400, "address_id"),
    ({"service_code": "WATER", "address_id": STREET}, 400, "attribute[SCOPE] is required"),
    ({"service_code": "WATER", "address_id": STREET, "attribute[SCOPE]": "galaxy", "attribute[DANGER]": "no"}, 400,
     "is not one of"),
    ({"service_code": "WATER", "address_id": STREET, "attribute[SCOPE]": "building", "attribute[DANGER]": "no",
      "attribute[SINCE]": "yesterday"}, 400, "ISO 8601"),
    ({"service_code": "HOUSING", "address_id": STREET, "description": "x" * 4001}, 400, "at most 4000"),
    ({"service_code": "HOUSING", "address_id": STREET, "media_url": "javascript:alert(1)"}, 400, "media_url"),
    ({"service_code": "HOUSING", "address_id": STREET, "phone": "call me"}, 400, "phone"),
    ({"service_code": "HOUSING", "address_id": STREET, "email": "nobody"}, 400, "email"),
    ({"service_code": "HOUSING", "address_id": STREET, "request_type": "gossip"}, 400, "request_type"),
    ({"service_code": "HOUSING", "address_id": STREET, "first_name": "名" * 70}, 400, "first_name"),
    ({"service_code": "HOUSING", "address_id": STREET, "attribute[X": "1"}, 400, "attribute[CODE]"),
    ({"service_code": "HOUSING", "address_id": STREET, "jurisdiction_id": "la.gov"}, 404, "jurisdiction"),
])
def test_bad_posts_get_the_spec_error(client, session, key, form, status, says):
    codes = {"WATER": code_of(session, "自来水供应"), "HOUSING": code_of(session, "住房公积金")}
    if "service_code" in form:
        form = form | {"service_code": codes.get(form["service_code"], form["service_code"])}
    before = session.scalar(select(Ticket.id).order_by(Ticket.id.desc()).limit(1))
    assert says in error_of(post(client, api_key=key, **form), status)
    assert session.scalar(select(Ticket.id).order_by(Ticket.id.desc()).limit(1)) == before  # nothing was filed


def test_several_problems_are_listed_together(client, key):
    body = post(client, api_key=key, service_code="7", lat=str(LOS_ANGELES[0]), long=str(LOS_ANGELES[1])).json()
    assert [e["code"] for e in body] == [404, 400]
    assert "not a service" in body[0]["description"] and "outside" in body[1]["description"]


def test_keys_and_bodies(client, session, clock, key):
    code = code_of(session, "住房公积金")
    assert "api_key missing" in error_of(post(client, service_code=code, address_id=STREET), 403)
    assert "Invalid api_key" in error_of(post(client, api_key="o311_guess", service_code=code, address_id=STREET), 403)
    open311.revoke_key(session, SYSTEM, clock, "city-app")
    r = post(client, "xml", api_key=key, service_code=code, address_id=STREET)
    assert r.status_code == 403 and "<errors><error><code>403</code>" in r.text
    _, key = open311.create_key(session, SYSTEM, clock, "second")
    huge = "description=" + "x" * (300 * 1024)
    r = client.post(f"{BASE}/requests.json", content=huge, headers=FORM)
    assert "larger than" in error_of(r, 413)

    def chunks():  # no Content-Length: the cap holds while reading
        for _ in range(100):
            yield b"x" * 10_000

    r = client.post(f"{BASE}/requests.json", content=chunks(),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert "larger than" in error_of(r, 413)
    r = client.post(f"{BASE}/requests.json", json={"api_key": key, "service_code": code})
    assert "x-www-form-urlencoded" in error_of(r, 400)
    r = client.post(f"{BASE}/requests.json", content=b"api_key=\xff\xfe", headers={"Content-Type":
                                                                                  "application/x-www-form-urlencoded"})
    assert "UTF-8" in error_of(r, 400)
    many = "&".join(f"f{i}=1" for i in range(600))
    r = client.post(f"{BASE}/requests.json", content=many, headers=FORM)
    assert "fields" in error_of(r, 400)
    r = client.post(f"{BASE}/requests.json", files={"photo": ("p.jpg", b"\xff\xd8", "image/jpeg")},
                    data={"api_key": key, "service_code": code, "address_id": STREET})
    assert r.status_code == 200, r.text  # multipart: the fields are read, the file is not kept


# --- GET requests ------------------------------------------------------------------------------------------

def _file(client, key, session, name="住房公积金", **form) -> str:
    r = post(client, api_key=key, service_code=code_of(session, name), address_id=STREET, **form)
    assert r.status_code == 200, r.text
    return r.json()[0]["service_request_id"]


def _close(session, clock, settings, number: str, reply: str) -> None:
    street = session.scalar(select(Unit).where(Unit.code == STREET))
    handler = Actor("handler-o311", Role.unit_handler, unit_id=street.id)
    tickets.act(session, SYSTEM, clock, settings, number, Step.dispatch, tickets.StepInput(unit=STREET))
    clock.advance(timedelta(hours=1))
    tickets.act(session, handler, clock, settings, number, Step.sign)
    clock.advance(timedelta(hours=2))
    tickets.act(session, handler, clock, settings, number, Step.reply, tickets.StepInput(text=reply))
    clock.advance(timedelta(hours=1))
    callback.record(session, SYSTEM, clock, settings, number, callback.Answer(
        contacted=True, resolution=Resolution.resolved, satisfaction=Satisfaction.satisfied))


def test_status_notes_and_agency_come_from_the_workflow(client, session, clock, settings, key):
    number = _file(client, key, session, description="公积金提取问题")
    [doc] = client.get(f"{BASE}/requests/{number}.json").json()
    assert doc["status"] == "open" and "等待派单" in doc["status_notes"]
    assert doc["agency_responsible"] == "市民热线服务中心" and doc["expected_datetime"] is None
    assert doc["address"] == "北京市大兴区观音寺街道" and doc["address_id"] == STREET
    _close(session, clock, settings, number, "已联系市民，说明办理流程，电话 13912345678")
    [doc] = client.get(f"{BASE}/requests/{number}.json").json()
    street = session.scalar(select(Unit.name).where(Unit.code == STREET))
    assert doc["status"] == "closed" and doc["agency_responsible"] == street
    assert doc["status_notes"] == "已办结：已联系市民，说明办理流程，电话 139****5678"  # the reply, phone masked
    assert doc["updated_datetime"] == clock.now().astimezone(settings.tz).isoformat(timespec="seconds")
    assert doc["expected_datetime"] is not None
    [ext] = client.get(f"{BASE}/requests/{number}.json", params={"extensions": "true"}).json()
    assert [n["type"] for n in ext["notes"]] == ["submitted", "opened", "activity", "activity", "closed"]
    assert ext["notes"][1]["summary"] == f"派单：{street}" and ext["notes"][3]["description"].endswith("139****5678")
    assert ext["notes"][2]["description"] is None  # only what was meant for the citizen is shown
    assert ext["extended_attributes"]["channel"] == "open311" and ext["extended_attributes"]["state"] == "closed"
    assert "notes" not in doc  # plain v2 without extensions=true
    assert "Service request not found" in error_of(client.get(f"{BASE}/requests/20990101-999999.json"), 404)


def test_every_filter(client, session, clock, settings, key):
    a = _file(client, key, session)
    clock.advance(timedelta(days=1))
    b = _file(client, key, session, name="自来水供应", **{"attribute[SCOPE]": "household", "attribute[DANGER]": "no"})
    clock.advance(timedelta(days=1))
    c = _file(client, key, session)
    _close(session, clock, settings, c, "已答复")

    def ids(**params) -> list[str]:
        r = client.get(f"{BASE}/requests.json", params=params)
        assert r.status_code == 200, r.text
        return [d["service_request_id"] for d in r.json()]

    assert ids()[:3] == [c, b, a]  # newest first, the default window
    assert ids(service_request_id=f"{a},{c}") == [c, a]
    assert ids(service_request_id=a, status="closed") == [a]  # the id list overrides every other filter
    assert ids(service_code=code_of(session, "自来水供应")) == [b]
    water_parent = code_of(session, "自来水供应").rsplit(".", 1)[0]
    assert b in ids(service_code=water_parent)  # a level-2 code takes its leaves
    assert c not in ids(status="open") and ids(status="closed")[0] == c
    assert set(ids(status="open,closed")) >= {a, b, c}
    created_b = session.scalar(select(Ticket.created_at).where(Ticket.number == b))
    day = timedelta(hours=12)
    assert ids(start_date=(created_b - day).isoformat(), end_date=(created_b + day).isoformat()) == [b]
    assert ids(start_date=(created_b - day).isoformat().replace("+00:00", "Z"),
               end_date=(created_b + day).isoformat()) == [b]
    assert ids(page_size=1) == [c] and ids(page_size=1, page=2) == [b] and ids(page_size=1, page=3)[:1] == [a]
    assert ids(page_size=2, page=500) == []
    assert ids(updated_after=clock.now().isoformat()) == [c]
    assert "90 days" in error_of(client.get(f"{BASE}/requests.json", params={"start_date": "2024-01-01T00:00:00Z",
                                                                             "end_date": "2024-06-01T00:00:00Z"}), 400)
    assert "before" in error_of(client.get(f"{BASE}/requests.json", params={"start_date": "2024-06-01T00:00:00Z",
                                                                            "end_date": "2024-05-01T00:00:00Z"}), 400)
    for params, says in (({"start_date": "last week"}, "W3C"), ({"status": "pending"}, "status"),
                         ({"page_size": "0"}, "page_size"), ({"page": "-1"}, "page"),
                         ({"extensions": "maybe"}, "extensions"),
                         ({"service_request_id": ",".join(str(i) for i in range(1001))}, "at most")):
        assert says in error_of(client.get(f"{BASE}/requests.json", params=params), 400)
    xml = client.get(f"{BASE}/requests.xml", params={"service_request_id": f"{a},{b}", "extensions": "true"}).text
    assert xml.count("<request><service_request_id>") == 2 and "<notes><note><datetime>" in xml
    assert ("<attributes><attribute><label>影响范围</label><name>SCOPE</name><value>本户</value><code>household</code>"
            in xml)
    assert client.get(f"{BASE}/requests.json", params={"service_code": "99.99.999"}).json() == []


def test_other_channels_show_what_the_city_did_not_what_the_citizen_said(client, session, clock, settings):
    made = tickets.create_request(session, SYSTEM, clock, settings, tickets.NewRequest(
        text="我是张三，电话13800001111，住在5号楼302，楼上漏水", title="楼上漏水", request_type=RequestType.help,
        channel=Channel.hotline, address="大兴区首座御园二里5号楼302", area_code=COMMUNITY, lng=116.33, lat=39.74,
        contact_name="张三", contact_phone="13800001111"))
    [doc] = client.get(f"{BASE}/requests/{made.ticket.number}.json").json()
    assert doc["description"] == "楼上漏水" and "13800001111" not in json.dumps(doc, ensure_ascii=False)
    assert doc["address"].endswith("首座御园二里社区") and doc["lat"] is None and doc["long"] is None
    assert doc["service_code"] == open311.UNCLASSIFIED and doc["media_url"] is None
    assert made.ticket.number in [d["service_request_id"] for d in client.get(
        f"{BASE}/requests.json", params={"service_code": open311.UNCLASSIFIED}).json()]


def test_service_request_updates(client, session, clock, settings, key):
    number = _file(client, key, session)
    _close(session, clock, settings, number, "已答复，电话 13912345678")
    updates = client.get(f"{BASE}/servicerequestupdates.json", params={"service_request_id": number}).json()
    assert [u["status"] for u in updates] == ["open", "action_scheduled", "in_progress", "in_progress", "fixed"]
    assert all(set(u) == {"update_id", "service_request_id", "status", "updated_datetime", "description",
                          "media_url"} for u in updates)
    assert len({u["update_id"] for u in updates}) == 5 and updates[3]["description"] == "已答复，电话 139****5678"
    window = client.get(f"{BASE}/servicerequestupdates.json", params={
        "start_date": (clock.now() - timedelta(minutes=30)).isoformat(), "end_date": clock.now().isoformat()}).json()
    assert [u["status"] for u in window if u["service_request_id"] == number] == ["fixed"]
    xml = client.get(f"{BASE}/servicerequestupdates.xml", params={"service_request_id": number}).text
    assert "<service_request_updates><request_update><update_id>" in xml and xml.count("<request_update>") == 5


def test_replies_to_other_channels_stay_inside(client, session, clock, settings):
    made = tickets.create_request(session, SYSTEM, clock, settings, tickets.NewRequest(
        text="楼上漏水", title="楼上漏水", request_type=RequestType.help, channel=Channel.hotline, area_code=STREET))
    _close(session, clock, settings, made.ticket.number, "王女士您好，已联系物业维修")
    [doc] = client.get(f"{BASE}/requests/{made.ticket.number}.json", params={"extensions": "true"}).json()
    assert doc["status"] == "closed" and doc["status_notes"] == "已办结"
    assert "王女士" not in json.dumps(doc, ensure_ascii=False)
    updates = client.get(f"{BASE}/servicerequestupdates.json", params={"service_request_id": made.ticket.number})
    assert "王女士" not in updates.text and updates.json()[3]["description"] == "答复"


def test_coordinates_round_trip_in_wgs84(client, session, key):
    number = _file(client, key, session, lat="39.86", long="116.33")
    [doc] = client.get(f"{BASE}/requests/{number}.json").json()
    assert doc["lat"] == pytest.approx(39.86, abs=1e-6) and doc["long"] == pytest.approx(116.33, abs=1e-6)
    request = session.scalar(select(Request).join(Ticket).where(Ticket.number == number))
    assert request.lng - 116.33 > 0.004  # stored in GCJ-02, as the city's maps


# --- never a 5xx -----------------------------------------------------------------------------------------

FIELDS = ["service_code", "lat", "long", "address_string", "address_id", "description", "media_url", "email",
          "device_id", "account_id", "first_name", "last_name", "phone", "request_type", "jurisdiction_id",
          "attribute[SCOPE]", "attribute[DANGER]", "attribute[NOISE_TIME][]", "attribute[SINCE]", "attribute[",
          "service_request_id", "start_date", "end_date", "status", "page", "page_size", "extensions",
          "updated_after", "service_code[]"]
VALUES = st.one_of(st.text(max_size=40), st.sampled_from(
    ["01.02.016", "04.02.003", "39.86", "116.33", "NaN", "-inf", "1e308", "0", "-1", "9999-12-31T23:59:59+14:00",
     "0001-01-01T00:00:00Z", "2024-09-30T08:00:00+08:00", "open,closed", "true", "building", "yes", "110115009000",
     "http://example.org/a.jpg", "\x00\x01<&>", "北京市大兴区观音寺街道", "20240930-000001"]))


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=st.lists(st.tuples(st.sampled_from(FIELDS), VALUES), max_size=8),
       path=st.sampled_from(["requests", "servicerequestupdates", "services", "requests/20240930-000001",
                             "tokens/x", "discovery"]),
       fmt=st.sampled_from(["json", "xml"]))
def test_any_input_gets_an_answer_or_the_spec_error_never_a_5xx(client, key, form, path, fmt):
    r = client.get(f"{BASE}/{path}.{fmt}", params=form)
    assert r.status_code in (200, 400, 404), r.text
    posted = client.post(f"{BASE}/requests.{fmt}", content=_form([("api_key", key), *form]), headers=FORM)
    assert posted.status_code in (200, 400, 403, 404), posted.text
    for answer in (r, posted):
        assert "internal failure" not in answer.text  # a bug answered 400 is still a bug
        if fmt == "json":
            answer.json()
        else:
            assert answer.text.startswith('<?xml version="1.0" encoding="utf-8"?>')
            ET.fromstring(answer.content)


def test_a_failure_when_the_request_commits_leaves_in_the_specs_shape(client, session, key, monkeypatch):
    """The request's session commits after the route has answered (api/deps.get_session): a failure there (the
    database gone, a conflict) still leaves as Open311's error document, not Jiesu's JSON error."""
    lost = OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))
    monkeypatch.setattr(deps, "finish", Mock(side_effect=lost))
    for fmt in ("json", "xml"):
        r = post(client, fmt, api_key=key, service_code=code_of(session, "自来水供应"), lat=str(FENGTAI[0]),
                 long=str(FENGTAI[1]), description="小区停水一天了")
        assert r.status_code == 400, r.text
        if fmt == "json":
            assert "back end could not be reached" in error_of(r, 400)
        else:
            assert r.headers["content-type"].startswith("text/xml")
            assert ET.fromstring(r.content).tag == "errors" and "back end could not be reached" in r.text
