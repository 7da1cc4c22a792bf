"""A form post that did not come from one of Jiesu's own pages changes nothing: without the session's CSRF
token, with another session's token, or from another origin (another port of the same host is another
origin). The API with the login cookie needs the page's token as a header; with a bearer token it does not.
Every response carries the security headers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from jiesu.permissions import SYSTEM, Role
from jiesu.tickets.models import Ticket
from jiesu.units import users
from tests import forms

pytestmark = pytest.mark.integration

CALL = {"action": "ticket", "text": "楼道里堆满杂物，堵住了消防通道，请处理。", "request_type": "complaint"}


PASSWORD = "correct-horse-9"
BASE = "http://127.0.0.1:8000"


@pytest.fixture
def operator(app, session, clock):
    users.create(session, SYSTEM, clock, username="op1", password=PASSWORD, role=Role.operator, display_name="op1")
    client = TestClient(app, base_url=BASE)
    r = forms.post(client, "/login", {"username": "op1", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303
    return client


def tickets(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Ticket))


def test_a_form_without_its_token_or_from_another_origin_changes_nothing(operator, session):
    before = tickets(session)
    good = forms.token(operator, "/console")
    refused = [
        operator.post("/console", data=CALL),  # no token
        operator.post("/console", data={**CALL, "csrf_token": "x" * 43}),  # a made-up one
        operator.post("/console", data={**CALL, "csrf_token": good}, headers={"Origin": "http://127.0.0.1:9999"}),
        operator.post("/console", data={**CALL, "csrf_token": good},
                      headers={"Referer": "http://evil.example/attack.html"}),
        operator.post("/console", data={**CALL, "csrf_token": good}, headers={"Origin": "null"}),
    ]
    for r in refused:
        assert r.status_code == 403, r.text[:300]
    assert tickets(session) == before
    page = operator.post("/console", data=CALL, headers={"Accept": "text/html"})
    assert page.status_code == 403 and "表单已过期或并非来自本站" in page.text
    # the same post from the page itself goes through
    r = operator.post("/console", data={**CALL, "csrf_token": good}, headers={"Origin": "http://127.0.0.1:8000"},
                      follow_redirects=False)
    assert r.status_code == 303 and tickets(session) == before + 1


def test_a_token_belongs_to_its_session(app, operator, session):
    other = TestClient(app, base_url=BASE)
    stolen = forms.token(other, "/login")
    before = tickets(session)
    assert operator.post("/console", data={**CALL, "csrf_token": stolen}).status_code == 403
    assert tickets(session) == before


def test_the_api_with_the_login_cookie_needs_the_pages_token(operator, session, app):
    body = {"text": "小区门口路灯坏了一个月了", "channel": "hotline", "request_type": "complaint"}
    before = tickets(session)
    assert operator.post("/api/v1/requests", json=body).status_code == 403
    assert operator.post("/api/v1/requests", json=body, headers={"Origin": "http://127.0.0.1:9999",
                                                                  "X-CSRF-Token": forms.token(operator, "/console")}
                         ).status_code == 403
    assert tickets(session) == before
    r = operator.post("/api/v1/requests", json=body, headers={"X-CSRF-Token": forms.token(operator, "/console")})
    assert r.status_code == 201, r.text
    # a program with a bearer token is not a browser: no token needed
    program = TestClient(app)
    login = program.post("/api/v1/auth/login", json={"username": "op1", "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {login.json()['token']}"}
    assert program.post("/api/v1/requests", json=body, headers=bearer).status_code == 201
    assert tickets(session) == before + 2


def test_every_response_carries_the_security_headers(app):
    client = TestClient(app)
    for path in ("/", "/login", "/api/v1/health", "/static/app.css", "/no-such-page"):
        h = client.get(path).headers
        assert "frame-ancestors 'none'" in h["content-security-policy"], path
        assert "script-src 'self';" in h["content-security-policy"], path
        assert h["x-content-type-options"] == "nosniff", path
    assert "'unsafe-inline'" in client.get("/docs").headers["content-security-policy"].split("script-src")[1]


def test_the_session_cookie_is_secure_only_when_set(engine, settings):
    from jiesu.app import create_app

    plain = TestClient(create_app(settings, engine=engine)).get("/login").headers["set-cookie"].lower()
    assert "jiesu_session=" in plain and "secure" not in plain
    secure = create_app(settings.model_copy(update={"cookie_secure": True}), engine=engine)
    cookie = TestClient(secure, base_url="https://jiesu.example").get("/login").headers["set-cookie"].lower()
    assert "jiesu_session=" in cookie and "secure" in cookie
