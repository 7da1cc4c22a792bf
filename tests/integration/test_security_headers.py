"""Issue 15, item 13 (part): the security headers on every answer, the API's and Open311's included, errors and
500s too; `Cache-Control: no-store` on what a request with credentials gets back; and an Open311 api_key in the
query string never written to the access log in clear."""

from __future__ import annotations

import io
import logging
import pydoc

import pytest
from fastapi.testclient import TestClient

from jiesu.cli import serve
from jiesu.permissions import SYSTEM, Role
from jiesu.units import users

PASSWORD = "correct-horse-9"
HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "same-origin"}


def assert_secure(r, where: str) -> None:
    for key, value in HEADERS.items():
        assert r.headers.get(key) == value, (where, key, r.status_code)
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"], where


def test_json_xml_errors_and_500s_carry_the_headers(app, session, clock):
    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/v1/test-boom", boom)
    users.create(session, SYSTEM, clock, username="op1", password=PASSWORD, role=Role.operator)
    client = TestClient(app, raise_server_exceptions=False)
    answers = {
        "health": client.get("/api/v1/health"),
        "open311 json": client.get("/open311/v2/services.json"),
        "open311 xml": client.get("/open311/v2/services.xml"),
        "open311 error": client.get("/open311/v2/requests/nope.json"),
        "401": client.get("/api/v1/auth/me"),
        "422": client.post("/api/v1/auth/login", json={}),
        "login": client.post("/api/v1/auth/login", json={"username": "op1", "password": PASSWORD}),
        "500": client.get("/api/v1/test-boom"),
    }
    assert answers["500"].status_code == 500
    for where, r in answers.items():
        assert_secure(r, where)


def test_answers_to_credentials_are_not_stored(app, session, clock):
    users.create(session, SYSTEM, clock, username="op1", password=PASSWORD, role=Role.operator)
    client = TestClient(app)
    login = client.post("/api/v1/auth/login", json={"username": "op1", "password": PASSWORD})
    assert login.headers["cache-control"] == "no-store"  # it carries a token
    bearer = {"Authorization": f"Bearer {login.json()['token']}"}
    for path in ("/api/v1/auth/me", "/api/v1/tickets", "/api/v1/health", "/open311/v2/services.json"):
        assert client.get(path, headers=bearer).headers.get("cache-control") == "no-store", path
    assert client.get("/open311/v2/services.json", params={"api_key": "k"}).headers["cache-control"] == "no-store"
    # the public answers and the static files keep their caching
    assert "cache-control" not in client.get("/open311/v2/services.json").headers
    page = TestClient(app)
    page.cookies.set("jiesu_session", "x")
    assert page.get("/static/app.css").headers.get("cache-control") != "no-store"
    assert page.get("/login").headers["cache-control"] == "no-store"


# -- the access log ------------------------------------------------------------------------------------------------

def access_line(config: dict, path: str) -> str:
    """What the access handler of a uvicorn logging config writes for a request, logged as uvicorn's h11 and
    httptools protocols log it (the path with its query string). Built from the config by hand, not by dictConfig,
    which would close every handler of the test process."""
    from uvicorn.logging import AccessFormatter

    spec = config["handlers"]["access"]
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(AccessFormatter(fmt=config["formatters"][spec["formatter"]]["fmt"], use_colors=False))
    for name in spec.get("filters", []):
        handler.addFilter(pydoc.locate(config["filters"][name]["()"])())
    logger = logging.getLogger("jiesu-test.access")
    logger.propagate, logger.level = False, logging.INFO
    logger.addHandler(handler)
    try:
        logger.info('%s - "%s %s HTTP/%s" %d', "203.0.113.9:4242", "POST", path, "1.1", 201)
    finally:
        logger.removeHandler(handler)
    return out.getvalue()


@pytest.mark.parametrize("path", ["/open311/v2/requests.json?api_key=s3cr3t-key&service_code=1",
                                  "/open311/v2/requests.json?service_code=1&API_KEY=s3cr3t-key",
                                  "/open311/v2/services.json?api_key=s3cr3t-key"])
def test_an_api_key_in_the_query_string_is_not_logged(path):
    line = access_line(serve.log_config(), path)
    assert "s3cr3t-key" not in line and "api_key=***" in line.lower() and "/open311/v2/" in line, line


def test_the_plain_uvicorn_config_would_have_logged_it():
    from uvicorn.config import LOGGING_CONFIG

    assert "s3cr3t-key" in access_line(LOGGING_CONFIG, "/open311/v2/requests.json?api_key=s3cr3t-key")


def test_serve_gives_uvicorn_that_config(monkeypatch, tmp_path):
    import uvicorn

    from jiesu import revisions
    from jiesu.config import get_settings

    given: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kw: given.append(kw))
    monkeypatch.setattr(revisions, "is_current", lambda engine: (True, None))
    monkeypatch.setenv("JIESU_DATABASE_URL", f"sqlite:///{tmp_path / 'j.db'}")
    monkeypatch.setenv("JIESU_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        for workers in (1, 2):
            serve.serve(host="127.0.0.1", port=8999, run_clock=False, clock_interval=60, workers=workers)
    finally:
        get_settings.cache_clear()
    for kw in given:
        assert "redact_secrets" in kw["log_config"]["handlers"]["access"]["filters"]
        assert kw["log_config"]["filters"]["redact_secrets"]["()"] == "jiesu.cli.serve.RedactSecrets"
    assert len(given) == 2
