"""The REST API under /api/v1, through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.routing import APIRoute

from jiesu.api.deps import get_actor, require_login
from jiesu.api.v1 import (
    assessment,
    attachments,
    audit,
    auth,
    calendar,
    callback,
    hotspots,
    intake,
    knowledge,
    places,
    projects,
    routing,
    taxonomy,
    tickets,
    units,
)
from jiesu.permissions import SYSTEM, Role
from jiesu.units import users

PASSWORD = "correct-horse-9"


def make_user(session, clock, username: str, role: Role, unit_code: str | None = None):
    return users.create(session, SYSTEM, clock, username=username, password=PASSWORD, role=role, unit_code=unit_code)


def login(client, username: str, password: str = PASSWORD):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def operator(session, clock, client) -> dict[str, str]:
    make_user(session, clock, "op1", Role.operator)
    r = login(client, "op1")
    assert r.status_code == 200, r.text
    return bearer(r.json()["token"])


@pytest.fixture
def citizen(session, clock, client) -> dict[str, str]:
    make_user(session, clock, "cit1", Role.citizen)
    r = login(client, "cit1")
    assert r.status_code == 200, r.text
    return bearer(r.json()["token"])


def assert_error(r, status: int, code: str | None = None, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"code", "message", "field", "details"}
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["details"], list)
    if code is not None:
        assert err["code"] == code
    if field is not None:
        assert err["field"] == field
    return err


# ------------------------------------------------------------------ auth


def test_login_returns_a_bearer_token(session, clock, client):
    make_user(session, clock, "op1", Role.operator)
    r = login(client, "op1")
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["token"].startswith("jsu_") and len(body["token"]) > 20
    assert body["user"] == {"username": "op1", "display_name": "op1", "role": "operator", "unit_code": None,
                            "active": True}
    # 30 days from the fixed clock (2024-09-30T02:00Z)
    assert body["expires_at"].startswith("2024-10-30T02:00")


def test_wrong_password_is_401_naming_the_password(session, clock, client):
    make_user(session, clock, "op1", Role.operator)
    r = login(client, "op1", "wrong-password")
    assert_error(r, 401, "authentication_failed", "password")
    assert r.headers["www-authenticate"] == "Bearer"
    # an unknown user gets the very same answer
    r2 = login(client, "nobody", "wrong-password")
    assert r2.json() == r.json()


def test_login_body_is_validated(client):
    assert_error(client.post("/api/v1/auth/login", json={"username": "op1"}), 422, "invalid_input", "password")


def test_me_with_and_without_token(client, operator):
    r = client.get("/api/v1/auth/me", headers=operator)
    assert r.status_code == 200
    assert (r.json()["username"], r.json()["role"]) == ("op1", "operator")
    r = client.get("/api/v1/auth/me")
    assert_error(r, 401, "authentication_failed", "Authorization")
    assert r.headers["www-authenticate"] == "Bearer"


def test_logout_revokes_the_token(client, operator):
    assert client.get("/api/v1/auth/me", headers=operator).status_code == 200
    r = client.post("/api/v1/auth/logout", headers=operator)
    assert r.status_code == 204 and r.content == b""
    assert_error(client.get("/api/v1/auth/me", headers=operator), 401, "authentication_failed", "Authorization")
    # a second login gives a fresh token that works
    r = login(client, "op1")
    assert client.get("/api/v1/auth/me", headers=bearer(r.json()["token"])).status_code == 200


def test_unknown_token_is_401(client):
    assert_error(client.get("/api/v1/auth/me", headers=bearer("jsu_not-a-token")), 401, "authentication_failed",
                 "Authorization")


@pytest.mark.parametrize("header", ["Basic b3AxOnBhc3N3b3Jk", "Bearer", "Bearer    ", "token-without-scheme"])
def test_malformed_authorization_header_is_401(client, header):
    r = client.get("/api/v1/auth/me", headers={"Authorization": header})
    assert_error(r, 401, "authentication_failed", "Authorization")
    assert r.headers["www-authenticate"] == "Bearer"
    # also on a public endpoint: a broken header is never silently taken as anonymous
    assert_error(client.get("/api/v1/places/tree", headers={"Authorization": header}), 401)


# ------------------------------------------------------------------ places


def test_search_balizhuang_streets_is_ambiguous(client):
    r = client.get("/api/v1/places", params={"q": "八里庄", "level": "street"})
    assert r.status_code == 200
    body = r.json()
    assert body["query"] == "八里庄" and body["ambiguous"] is True and body["total"] == 2
    assert [(m["place"]["code"], m["place"]["path"], m["exact"]) for m in body["matches"]] == [
        ("110105015000", "北京市/朝阳区/八里庄街道", True), ("110108005000", "北京市/海淀区/八里庄街道", True)]
    assert {m["place"]["level"] for m in body["matches"]} == {"street"}


def test_search_guanyinsi_first_match(client):
    body = client.get("/api/v1/places", params={"q": "观音寺"}).json()
    first = body["matches"][0]
    assert first["place"]["code"] == "110115009000"
    assert first["place"]["path"] == "北京市/大兴区/观音寺街道"
    assert first["exact"] is True
    # 观音寺社区 is also called 观音寺: the street comes first, but the answer says it is not the only one
    assert body["matches"][1]["place"]["path"] == "北京市/大兴区/观音寺街道/观音寺社区"
    assert body["ambiguous"] is True
    assert body["total"] == 4


def test_search_limit_caps_matches_not_total(client):
    body = client.get("/api/v1/places", params={"q": "观音寺", "limit": 1}).json()
    assert len(body["matches"]) == 1 and body["total"] >= 2


def test_search_without_q_is_422(client):
    assert_error(client.get("/api/v1/places"), 422, "invalid_input", "q")


def test_search_with_blank_q_is_422(client):
    assert_error(client.get("/api/v1/places", params={"q": "   "}), 422, "invalid_input", "q")


def test_search_with_bad_limit_is_422(client):
    err = assert_error(client.get("/api/v1/places", params={"q": "观音寺", "limit": "abc"}), 422, "invalid_input",
                       "limit")
    assert err["details"][0]["field"] == "limit"
    assert_error(client.get("/api/v1/places", params={"q": "观音寺", "limit": 0}), 422, "invalid_input", "limit")


def test_search_with_bad_level_is_422(client):
    assert_error(client.get("/api/v1/places", params={"q": "观音寺", "level": "planet"}), 422, "invalid_input",
                 "level")


def test_place_detail(client):
    r = client.get("/api/v1/places/110115009000")
    assert r.status_code == 200
    body = r.json()
    assert (body["code"], body["name"], body["level"]) == ("110115009000", "观音寺街道", "street")
    assert body["path"] == "北京市/大兴区/观音寺街道"
    assert body["parent_code"] == "110115000000"
    assert body["district_code"] == "110115000000"
    assert body["children"] == 24
    assert isinstance(body["aliases"], list) and "观音寺" in body["aliases"]


def test_place_detail_lists_aliases(client):
    body = client.get("/api/v1/places/110101013006").json()
    assert "广外南里" in body["aliases"]
    assert body["children"] == 0


def test_place_children(client):
    kids = client.get("/api/v1/places/110115009000/children").json()
    assert len(kids) == 24 and {k["level"] for k in kids} == {"community"}
    assert_error(client.get("/api/v1/places/999/children"), 404, "place_not_found", "code")


def test_unknown_place_is_404(client):
    assert_error(client.get("/api/v1/places/999999999999"), 404, "place_not_found", "code")


def test_place_tree_is_the_city(client):
    body = client.get("/api/v1/places/tree").json()
    assert [(p["name"], p["level"]) for p in body] == [("北京市", "city")]
    city = client.get(f"/api/v1/places/{body[0]['code']}").json()
    assert city["children"] == 16 and city["parent_code"] is None


def test_locate(client):
    r = client.get("/api/v1/places/locate", params={"lng": 116.338033, "lat": 39.728908})
    assert r.status_code == 200
    assert (r.json()["code"], r.json()["name"]) == ("110115000000", "大兴区")
    r = client.get("/api/v1/places/locate", params={"lng": 121.47, "lat": 31.23})  # Shanghai
    assert r.status_code == 200 and r.json() is None
    assert_error(client.get("/api/v1/places/locate", params={"lng": 116.3, "lat": 100}), 422, "invalid_input", "lat")
    assert_error(client.get("/api/v1/places/locate", params={"lat": 39.7}), 422, "invalid_input", "lng")


# ------------------------------------------------------------------ units


def test_units_need_a_staff_login(client, citizen):
    r = client.get("/api/v1/units")
    assert_error(r, 401, "authentication_failed", "Authorization")
    assert r.headers["www-authenticate"] == "Bearer"
    r = client.get("/api/v1/units", headers=citizen)
    assert_error(r, 403, "permission_denied")
    assert "www-authenticate" not in r.headers


def test_units_for_an_operator(client, operator):
    r = client.get("/api/v1/units", headers=operator)
    assert r.status_code == 200
    body = r.json()
    assert body["total"] > 349 and (body["limit"], body["offset"]) == (50, 0) and len(body["items"]) == 50
    streets = client.get("/api/v1/units", params={"kind": "street", "limit": 1000}, headers=operator).json()
    assert streets["total"] == 349 and len(streets["items"]) == 349
    assert {u["kind"] for u in streets["items"]} == {"street"}
    assert all(u["area_code"] and u["area_path"].startswith("北京市/") for u in streets["items"])
    page2 = client.get("/api/v1/units", params={"kind": "street", "limit": 10, "offset": 345},
                       headers=operator).json()
    assert page2["total"] == 349 and len(page2["items"]) == 4


def test_units_bad_query_is_422(client, operator):
    assert_error(client.get("/api/v1/units", params={"kind": "castle"}, headers=operator), 422, "invalid_input",
                 "kind")
    assert_error(client.get("/api/v1/units", params={"limit": 1001}, headers=operator), 422, "invalid_input",
                 "limit")


def test_unit_detail(client, operator):
    street = client.get("/api/v1/units", params={"kind": "street", "q": "观音寺"}, headers=operator).json()
    assert street["total"] >= 1
    unit = next(u for u in street["items"] if u["area_code"] == "110115009000")
    r = client.get(f"/api/v1/units/{unit['code']}", headers=operator)
    assert r.status_code == 200
    assert r.json() == unit
    assert_error(client.get("/api/v1/units/no-such-unit", headers=operator), 404, "unit_not_found", "code")
    assert_error(client.get(f"/api/v1/units/{unit['code']}"), 401)


# ------------------------------------------------------------------ taxonomy


@pytest.mark.parametrize(("level", "n"), [(1, 15), (2, 118), (3, 517)])
def test_categories_per_level(client, level, n):
    r = client.get("/api/v1/categories", params={"level": level})
    assert r.status_code == 200
    items = r.json()
    assert len(items) == n
    assert {c["level"] for c in items} == {level}
    assert len({c["code"] for c in items}) == n


def test_categories_level_4_is_422(client):
    assert_error(client.get("/api/v1/categories", params={"level": 4}), 422, "invalid_input", "level")


def test_categories_by_parent_and_detail(client):
    top = client.get("/api/v1/categories", params={"level": 1}).json()[0]
    kids = client.get("/api/v1/categories", params={"parent_code": top["code"]}).json()
    assert kids and all(k["parent_code"] == top["code"] and k["level"] == 2 for k in kids)
    one = client.get(f"/api/v1/categories/{kids[0]['code']}").json()
    assert one == kids[0]
    assert_error(client.get("/api/v1/categories/99.99"), 404, "category_not_found", "code")
    assert_error(client.get("/api/v1/categories", params={"parent_code": "99"}), 422, "invalid_input", "parent_code")


def test_policy_for_water_supply(client):
    found = client.get("/api/v1/categories", params={"q": "自来水供应"}).json()
    assert [c["name"] for c in found] == ["自来水供应"]
    code = found[0]["code"]
    r = client.get(f"/api/v1/categories/{code}/policy", params={"urgency": "normal"})
    assert r.status_code == 200
    p = r.json()
    assert (p["scope"], p["urgency"], p["reply_within"], p["reply_unit"]) == (code, "normal", 24.0, "hours")
    p = client.get(f"/api/v1/categories/{code}/policy", params={"urgency": "emergency"}).json()
    assert (p["scope"], p["urgency"], p["reply_within"], p["reply_unit"]) == ("*", "emergency", 2.0, "hours")
    # no urgency: normal
    assert client.get(f"/api/v1/categories/{code}/policy").json()["scope"] == code
    assert_error(client.get(f"/api/v1/categories/{code}/policy", params={"urgency": "asap"}), 422,
                 "invalid_input", "urgency")
    assert_error(client.get("/api/v1/categories/99.99/policy"), 404, "category_not_found")


def test_request_types(client):
    r = client.get("/api/v1/request-types")
    assert r.status_code == 200
    assert [(t["code"], t["label"]) for t in r.json()] == [
        ("inquiry", "咨询"), ("help", "求助"), ("complaint", "投诉"), ("report", "举报"), ("suggestion", "建议"),
        ("praise", "表扬")]


def test_deadline_policies_list(client):
    rows = client.get("/api/v1/deadline-policies").json()
    assert {(p["scope"], p["urgency"]) for p in rows if p["scope"] == "*"} == {
        ("*", "emergency"), ("*", "normal"), ("*", "complex")}
    assert len(rows) == 3 + 2 * 5  # the defaults, and the five utilities at normal and complex urgency


# ------------------------------------------------------------------ calendar


def test_add_business_days_over_national_day(client, operator):
    r = client.get("/api/v1/calendar/add-business-days?start=2024-09-30T10:00%2B08:00&days=1", headers=operator)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["result_local"].startswith("2024-10-08T10:00")
    assert body["days"] == 1
    assert body["result"].replace("Z", "+00:00").startswith("2024-10-08T02:00:00")


def test_add_business_days_needs_staff(client, citizen):
    url = "/api/v1/calendar/add-business-days?start=2024-09-30T10:00%2B08:00&days=1"
    assert_error(client.get(url), 401)
    assert_error(client.get(url, headers=citizen), 403, "permission_denied")


def test_add_business_days_reads_a_naive_start_in_the_city(client, operator):
    # one parser for every date and time (jiesu.inputs.moment): no offset means the city's time zone
    r = client.get("/api/v1/calendar/add-business-days", params={"start": "2024-09-30T10:00", "days": 1},
                   headers=operator)
    assert r.status_code == 200 and r.json()["result_local"] == "2024-10-08T10:00:00+08:00", r.text
    r = client.get("/api/v1/calendar/add-business-days", params={"start": "2024-09-30T10:00+0800x", "days": 1},
                   headers=operator)
    assert_error(r, 422, "invalid_input", "start")
    r = client.get("/api/v1/calendar/add-business-days", params={"start": "2024-09-30T10:00+08:00", "days": -1},
                   headers=operator)
    assert_error(r, 422, "invalid_input", "days")


@pytest.mark.parametrize(("start", "days"), [("9999-12-30T00:00+08:00", 5), ("9999-12-31T10:00+08:00", 0.1),
                                             ("0001-01-01T00:00+08:00", 1)])
def test_add_business_days_beyond_the_representable_dates_is_422_not_500(client, operator, start, days):
    r = client.get("/api/v1/calendar/add-business-days", params={"start": start, "days": days}, headers=operator)
    assert_error(r, 422, "invalid_input", "start")


def test_describe_national_day(client, operator):
    r = client.get("/api/v1/calendar/days/2024-10-01", headers=operator)
    assert r.status_code == 200
    assert r.json() == {"day": "2024-10-01", "workday": False, "source": "holiday_data", "name": "国庆节"}
    makeup = client.get("/api/v1/calendar/days/2024-10-12", headers=operator).json()
    assert (makeup["workday"], makeup["name"]) == (True, "国庆节")
    assert_error(client.get("/api/v1/calendar/days/2024-13-01", headers=operator), 422, "invalid_input", "day")


def test_calendar_overrides_list_empty(client, operator):
    r = client.get("/api/v1/calendar/overrides", params={"year": 2027}, headers=operator)
    assert r.status_code == 200 and r.json() == []


# ------------------------------------------------------------------ meta


def test_health(client, engine):
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["database"] == engine.dialect.name and body["version"]


def test_unknown_path_is_404_in_the_error_shape(client):
    assert_error(client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_wrong_method_is_405_in_the_error_shape(client):
    r = client.post("/api/v1/places/tree")
    assert_error(r, 405, "method_not_allowed")
    assert "GET" in r.headers["allow"]


def _depends_on(dependant, func) -> bool:
    return any(d.call is func or _depends_on(d, func) for d in dependant.dependencies)


def test_openapi_declares_every_response(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    paths = {p: ops for p, ops in doc["paths"].items() if p.startswith("/api/v1")}
    assert "/api/v1/places" in paths and "/api/v1/calendar/add-business-days" in paths
    # the routers' own routes (the app holds included routers, not copies of their routes)
    modules = (assessment, attachments, audit, auth, calendar, callback, hotspots, intake, knowledge, places, projects,
               routing, taxonomy, tickets, units)
    routes = {("/api/v1" + route.path, m.lower()): route for module in modules
              for route in module.router.routes if isinstance(route, APIRoute) for m in route.methods}
    assert set(routes) | {("/api/v1/health", "get")} == {(p, m) for p, ops in paths.items() for m in ops}
    error_schema = doc["components"]["schemas"]["ErrorOut"]
    assert set(error_schema["properties"]) == {"error"}
    checked, with_token, with_login = 0, 0, 0
    for path, ops in paths.items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            route = routes.get((path, method))
            responses = op.get("responses") or {}
            assert any(s.startswith("2") for s in responses), f"{where}: no success response"
            for status, resp in responses.items():
                assert resp.get("description"), f"{where} {status}: no description"
                if status.startswith("4"):  # every error leaves in one shape, so say so
                    schema = resp.get("content", {}).get("application/json", {}).get("schema", {})
                    assert schema.get("$ref") == "#/components/schemas/ErrorOut", f"{where} {status}: {resp}"
            if op.get("parameters") or op.get("requestBody"):
                assert "422" in responses, f"{where}: parameters but no 422"
            if route and _depends_on(route.dependant, get_actor):  # a bad or expired token is a 401 anywhere
                assert "401" in responses, f"{where}: reads a token but does not declare 401"
                with_token += 1
            if route and _depends_on(route.dependant, require_login) and not path.startswith("/api/v1/auth"):
                assert {"401", "403"} <= set(responses), f"{where}: needs a login but does not declare 401/403"
                with_login += 1
            if "{code}" in path or "{number}" in path:
                assert "404" in responses, f"{where}: looks up a code but does not declare 404"
            checked += 1
    # all but login, request-types, workflow and health read a token; the ticket routes all need a login
    steps = len(tickets.PERSON_STEPS)
    # + 3 attachment routes, 5 routing routes (login needed) and places/resolve (login optional); 6 assessment
    # routes (login); 6 callback routes: 4 with a login, the citizen's survey link (2) with none (its answer reads
    # a token if one is sent: staff are refused); 10 knowledge routes: 8 with a login, search and one article
    # without (the citizens' app); following a ticket (POST and DELETE /tickets/{number}/follow, login); 2
    # phone-login routes (auth/phone/code, auth/phone/login) without a token; 7 hot-spot and surge routes (login);
    # 14 topic and project routes (login)
    assert (checked, with_token, with_login) == (83 + steps, 76 + steps, 61 + steps)


def test_failed_logins_are_kept_across_requests_and_lock_the_account(session, clock, client):
    make_user(session, clock, "guessme", Role.operator)
    for _ in range(users.MAX_FAILED_LOGINS):
        assert login(client, "guessme", "not-the-password").status_code == 401
    r = login(client, "guessme")  # the right password, too late
    assert_error(r, 429, "too_many_attempts", "password")
    clock.advance(users.LOCKOUT)
    clock.advance(timedelta(seconds=1))
    assert login(client, "guessme").status_code == 200


def test_a_new_password_ends_the_old_token(session, clock, client, operator):
    users.set_password(session, SYSTEM, clock, "op1", "a-brand-new-one")
    assert_error(client.get("/api/v1/auth/me", headers=operator), 401)


def test_a_deadline_into_a_year_without_holiday_data_says_so(client, operator):
    r = client.get("/api/v1/calendar/add-business-days", headers=operator,
                   params={"start": "2026-12-31T10:00+08:00", "days": 1})
    body = r.json()
    assert r.status_code == 200 and body["calendar_covered"] is False
    assert "2027 has no holiday data" in body["warnings"][0]
    covered = client.get("/api/v1/calendar/add-business-days", headers=operator,
                         params={"start": "2024-09-30T10:00+08:00", "days": 1}).json()
    assert (covered["calendar_covered"], covered["warnings"]) == (True, [])


def test_unknown_calendar_names_the_field(client, operator):
    r = client.get("/api/v1/calendar/add-business-days", headers=operator,
                   params={"start": "2024-09-30T10:00+08:00", "days": 1, "calendar": "nosuch"})
    assert_error(r, 422, "invalid_input", "calendar")


def test_openapi_declares_the_bearer_scheme(client):
    doc = client.get("/api/v1/openapi.json").json()
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert {"HTTPBearer": []} in doc["paths"]["/api/v1/units"]["get"]["security"]
