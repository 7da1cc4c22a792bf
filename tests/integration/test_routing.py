"""Smart dispatch end to end, on SQLite and PostgreSQL: the suggestion at intake (category, place, unit,
urgency, duplicates, reasons), the manual queue, the rules table, and accuracy read back from the event log."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from jiesu.config import Settings
from jiesu.permissions import SYSTEM, Role
from jiesu.routing import service as routing
from jiesu.tickets.models import Ticket, TicketEvent
from tests.stories import Hotline

STREET = "110115009000"  # 大兴区观音寺街道
COMMUNITY = "110115009016"  # 首座御园二里社区
GROUP_RENTAL = {"text": "首座御园二里5号楼有群租房，一套房住了二十多人，楼道堆满杂物，存在消防隐患，"
                        "希望有关部门尽快处理。",
                "request_type": "complaint", "address": "大兴区首座御园二里5号楼", "contact_phone": "13800000001"}


@pytest.fixture
def settings(trained_var) -> Settings:
    # The suggestion inside the intake request; tests/integration/test_deferred_suggestion.py has the worker's.
    return Settings(var_dir=trained_var, secret_key="test-secret", database_url="sqlite://", suggest_at_intake=True)


@pytest.fixture
def hotline(client, session, clock) -> Hotline:
    return Hotline(client, session, clock)


@pytest.fixture
def desk(hotline):
    return {"op": hotline.login("op", Role.operator), "disp": hotline.login("disp", Role.dispatcher),
            "admin": hotline.login("root", Role.admin), "citizen": hotline.login("citizen", Role.citizen)}


def test_a_new_request_comes_with_its_suggestion_and_reasons(hotline, desk):
    out = hotline.create(desk["op"], **GROUP_RENTAL)
    s = out["suggestion"]
    assert s["category_name"] == "城乡建设" and s["category_code"] and s["category_reasons"]
    assert s["place"]["community_code"] == COMMUNITY and s["place"]["street_code"] == STREET
    assert not s["place"]["ambiguous"] and any("首座御园二里" in r for r in s["place"]["reasons"])
    assert s["main_unit"]["code"] == STREET and any("属地街道" in r for r in s["unit_reasons"])
    assert s["urgency"] == "normal" and s["urgency_reasons"] == []
    assert s["duplicates"] == [] and s["model_version"]
    assert s["manual"] is (s["confidence"] < routing.MANUAL_BELOW)
    assert out["ticket"]["manual_review"] is s["manual"]
    [created] = out["ticket"]["timeline"]
    assert created["payload"]["suggestion"]["unit"] == STREET  # the proposal is in the log


def test_a_water_outage_goes_to_the_water_company_copied_to_the_street_as_an_emergency(hotline, desk):
    out = hotline.create(desk["op"], text="首座御园二里小区从昨晚开始停水，自来水一直没有来，老人孩子没法做饭。",
                         request_type="help", address="大兴区首座御园二里")
    s = out["suggestion"]
    assert s["urgency"] == "emergency" and any(r.startswith("停水") for r in s["urgency_reasons"])
    # The model names first-level categories; the utility rule is for the leaf 自来水供应, which the operator picks.
    r = hotline.client.post("/api/v1/routing/suggest", headers=desk["op"],
                            json={"text": "小区停水了", "address": "大兴区首座御园二里",
                                  "category_code": _water(hotline)})
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["main_unit"]["code"] == "water" and [u["code"] for u in s["co_units"]] == [STREET]
    assert any("派单规则" in r for r in s["unit_reasons"])


def _water(hotline) -> str:
    from jiesu.taxonomy.models import Category

    return hotline.session.scalar(select(Category.code).where(Category.name == "自来水供应"))


def test_duplicates_and_repeats_are_proposed(hotline, desk):
    first = hotline.create(desk["op"], **GROUP_RENTAL)["ticket"]["number"]
    similar = "首座御园二里5号楼群租房住了很多人，楼道杂物多，有消防隐患。"
    again = hotline.create(desk["op"], **(GROUP_RENTAL | {"contact_phone": "13900000000", "text": similar}))
    found = {d["number"]: d for d in again["suggestion"]["duplicates"]}
    assert first in found and "同一地点" in found[first]["reasons"]
    elsewhere = hotline.create(desk["op"], **(GROUP_RENTAL | {"address": "昌平区兴寿镇", "contact_phone": "137000",
                                                              "text": "兴寿镇有一处群租房，楼道堆满杂物。"}))
    assert first not in {d["number"] for d in elsewhere["suggestion"]["duplicates"]}
    again_by_phone = "我上次反映的群租房问题还是没有解决，楼道杂物还在"
    repeat = hotline.create(desk["op"], **(GROUP_RENTAL | {"address": "", "text": again_by_phone}))
    assert any("同一来电人重复诉求" in d["reasons"] for d in repeat["suggestion"]["duplicates"])


def test_an_ambiguous_place_goes_to_the_manual_queue(hotline, desk):
    out = hotline.create(desk["op"], text="香屯村的路面坑洼很多，下雨天积水出行困难", request_type="complaint",
                         address="香屯村")
    s = out["suggestion"]
    assert s["manual"] and s["main_unit"] is None and s["place"]["ambiguous"]
    assert {a["code"][:6] for a in s["place"]["alternatives"]} == {"110114", "110119"}
    assert any("地点" in r for r in s["manual_reasons"])
    number = out["ticket"]["number"]
    queue = hotline.client.get("/api/v1/tickets", params={"manual": "true"}, headers=desk["disp"]).json()
    assert number in [t["number"] for t in queue["items"]]
    # The dispatcher decides: the ticket leaves the queue.
    hotline.step(desk["disp"], number, "dispatch", unit="110114116000")
    queue = hotline.client.get("/api/v1/tickets", params={"manual": "true"}, headers=desk["disp"]).json()
    assert number not in [t["number"] for t in queue["items"]]


def test_a_citizen_does_not_see_the_suggestion(hotline, desk):
    out = hotline.create(desk["citizen"], **GROUP_RENTAL)
    assert out["suggestion"] is None and out["ticket"]["number"]
    assert hotline.session.scalar(select(Ticket.suggestion).where(Ticket.number == out["ticket"]["number"]))


def test_the_decision_beside_the_suggestion_gives_accuracy_and_corrections(hotline, desk, session, settings):
    from jiesu.taxonomy.models import Category

    followed = hotline.create(desk["op"], **GROUP_RENTAL)
    s = followed["suggestion"]
    hotline.step(desk["disp"], followed["ticket"]["number"], "dispatch", unit=s["main_unit"]["code"],
                 category=s["category_code"])
    other = session.scalar(select(Category.code).where(Category.level == 1, Category.code != s["category_code"]))
    corrected = hotline.create(desk["op"], **(GROUP_RENTAL | {"contact_phone": "13600000000"}))
    out = hotline.step(desk["disp"], corrected["ticket"]["number"], "dispatch", unit="110115009016", category=other)
    payload = out["timeline"][-1]["payload"]
    assert payload["suggested"]["category"] == s["category_code"] and payload["category"] == other
    month = hotline.clock.now().astimezone(settings.tz).strftime("%Y-%m")
    a = hotline.client.get("/api/v1/routing/accuracy", params={"month": month}, headers=desk["disp"]).json()
    assert (a["dispatched"], a["category_judged"], a["category_followed"]) == (2, 2, 1)
    assert (a["unit_judged"], a["unit_followed"]) == (2, 1) and a["category_rate"] == 0.5
    fixes = routing.corrections(session, SYSTEM)
    assert [text for _t, text, _label in fixes] == [GROUP_RENTAL["text"]]
    assert hotline.client.get("/api/v1/routing/accuracy", params={"month": "2023-13"},
                              headers=desk["disp"]).status_code == 422


def test_the_rules_table_is_for_administrators(hotline, desk, session):
    body = {"category_scope": "*", "area_code": "110115000000", "main": "@street", "co_units": ["@branch:cgzf"]}
    assert hotline.client.put("/api/v1/routing/rules", json=body, headers=desk["op"]).status_code == 403
    r = hotline.client.put("/api/v1/routing/rules", json=body, headers=desk["admin"])
    assert r.status_code == 200, r.text
    rule = r.json()
    s = hotline.client.post("/api/v1/routing/suggest", headers=desk["op"], json={"text": "楼下噪音扰民",
                                                                                  "area_code": COMMUNITY}).json()
    assert s["main_unit"]["code"] == STREET and [u["code"] for u in s["co_units"]] == ["cgzf-110115"]
    assert any(f"#{rule['id']}" in r for r in s["unit_reasons"])
    for bad, field in [({"main": "@city"}, "main"), ({"co_units": ["no-such-unit"]}, "co_units"),
                       ({"area_code": COMMUNITY}, "area_code"), ({"category_scope": "99.99"}, "category_scope"),
                       ({"co_units": ["@branch:nope"]}, "co_units")]:
        r = hotline.client.put("/api/v1/routing/rules", json=body | bad, headers=desk["admin"])
        assert r.status_code == 422 and r.json()["error"]["field"] == field, (bad, r.text)
    assert hotline.client.delete(f"/api/v1/routing/rules/{rule['id']}", headers=desk["admin"]).status_code == 204
    assert hotline.client.delete(f"/api/v1/routing/rules/{rule['id']}", headers=desk["admin"]).status_code == 404
    listed = hotline.client.get("/api/v1/routing/rules", headers=desk["op"]).json()
    assert {r["main"] for r in listed} >= {"water", "power", "gas", "heating"}  # the defaults


def test_the_suggestion_is_on_the_create_event(hotline, desk, session):
    number = hotline.create(desk["op"], **GROUP_RENTAL)["ticket"]["number"]
    payload = session.scalar(select(TicketEvent.payload).join(Ticket).where(Ticket.number == number))
    brief = json.loads(payload)["suggestion"]
    assert set(brief) >= {"category", "unit", "urgency", "confidence", "manual", "duplicates", "model"}
