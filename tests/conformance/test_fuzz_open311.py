"""Open311 (/open311/v2), fuzzed: NUL, lone surrogates, huge and negative numbers, far and plain dates and
oversized text (tests/conformance/nasty.py) in every path parameter and every argument, in JSON and in XML,
GET and the form-encoded POST with its api_key, on PostgreSQL (in XML, the values that break text:
the format changes how an answer is written, not how the arguments are read).

Open311 never answers 5xx: every failure leaves as the spec's error document, a back end's failure as a 400
"the back end could not be reached or was busy" and anything unexpected as a 400 "an internal failure". Those
two are 5xx in disguise, so they fail here as a 5xx does. Bad input must be a 400 that names the argument.

The routes are read from the app and the arguments from the service itself: each route is first sent a
plausible request while the names it reads (schemas.Arguments.one/first) are written down, then each name gets
each value. Every request runs in a savepoint that is rolled back after it.
"""

from __future__ import annotations

from functools import partial

import pytest
from sqlalchemy import select

from jiesu.open311 import schemas
from jiesu.open311 import service as open311
from jiesu.permissions import SYSTEM
from jiesu.taxonomy.models import Category
from tests.conformance import nasty

PREFIX = "/open311/v2"
FORMATS = ("json", "xml")
# What Open311Route answers for a failure that is not the client's (api/open311.py error_response).
# The noise service's own questions (its definition's attributes), asked in every POST.
ATTRIBUTES = [("attribute[NOISE_SOURCE]", "business"), ("attribute[NOISE_TIME][]", "night")]
HIDDEN_5XX = ("the back end could not be reached", "an internal failure")


class Open311:
    def __init__(self, client, session, clock, settings) -> None:
        self.client, self.session = client, session
        _, self.key = open311.create_key(session, SYSTEM, clock, "fuzz")
        self.code = session.scalar(select(Category.code).where(Category.name == "噪音污染", Category.level == 3))
        session.commit()
        made = self.client.post(f"{PREFIX}/requests.json", data={"api_key": self.key, "service_code": self.code,
                                                                "description": "楼下噪音", "lat": "39.86",
                                                                "long": "116.33", **dict(ATTRIBUTES)})
        assert made.status_code == 200, made.text
        self.number = made.json()[0]["service_request_id"]
        self.failures: list[str] = []
        self.sent = 0

    def send(self, method: str, path: str, pairs: list[tuple[str, str]], *, body: bytes | None = None,
             content_type: str = "application/x-www-form-urlencoded", what: str = ""):
        conn = self.session.connection()
        savepoint = conn.begin_nested()
        try:
            if method == "GET":
                r = self.client.get(path + (f"?{nasty.encode(pairs)}" if pairs else ""))
            else:
                content = body if body is not None else nasty.encode(pairs).encode()
                r = self.client.post(path, content=content, headers={"Content-Type": content_type})
        finally:
            savepoint.rollback()
        self.sent += 1
        if r.status_code >= 500 or any(s in r.text for s in HIDDEN_5XX):
            said = r.text[:160].replace("\n", " ")
            self.failures.append(f"{r.status_code} {method} {nasty.short(path, 70)}: {what} -> {said}")
        return r


@pytest.fixture
def o311(app, session, clock, settings) -> Open311:
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as c:
        yield Open311(c, session, clock, settings)


def read_names(monkeypatch, send) -> list[str]:
    """The argument names the service reads while answering `send()`."""
    names: list[str] = []
    one, first = schemas.Arguments.one, schemas.Arguments.first

    def recording(original):
        def read(self, name):
            names.append(name)
            return original(self, name)
        return read

    with monkeypatch.context() as m:
        m.setattr(schemas.Arguments, "one", recording(one))
        m.setattr(schemas.Arguments, "first", recording(first))
        send()
    return list(dict.fromkeys(names))


def fill(path: str, fmt: str, known: dict[str, str], **over: str) -> str:
    """The path with its format and parameters, `over` in place of the known values."""
    out = path.replace("{rest:path}", "{rest}").replace("{fmt}", fmt)
    for name, value in {**known, **over}.items():
        out = out.replace("{" + name + "}", nasty.q(value))
    return out


@nasty.ON_POSTGRESQL
def test_open311_answers_nasty_input_with_a_4xx_never_a_5xx(o311: Open311, app, monkeypatch):
    routes = [(path, r) for path, r in nasty.routes(app) if path.startswith(PREFIX + "/")]
    resources = [(path, r) for path, r in routes if "{rest:path}" not in path]
    known = {"service_code": o311.code, "service_request_id": o311.number, "token": "no-such-token",
             "rest": "servicez"}
    plausible = {"api_key": o311.key, "service_code": o311.code, "description": "楼下噪音扰民", "lat": "39.86",
                 "long": "116.33", "page": "1", "page_size": "10", "start_date": "2024-09-01T00:00:00+08:00",
                 "end_date": "2024-10-01T00:00:00+08:00", "status": "open"}
    read_by: dict[tuple[str, str], list[str]] = {}
    for path, route in routes:
        params = [p.alias for p in route.dependant.path_params if p.alias != "fmt"]
        for method in sorted(route.methods & {"GET", "POST"}):
            for fmt in FORMATS if "{fmt}" in path else FORMATS[:1]:
                url = partial(fill, path, fmt, {name: known[name] for name in params})
                extra = ATTRIBUTES if method == "POST" else []
                probe = partial(o311.send, method, url(), [*plausible.items(), *extra], what="plausible")
                args = read_names(monkeypatch, probe)
                read_by[(method, path)] = args
                base = [(a, plausible.get(a, "")) for a in args] + extra
                # XML differs from JSON in how the answer is written: the values that break text, there.
                for label, value in nasty.VALUES if fmt == "json" else nasty.TEXT_BREAKERS:
                    for name in params:
                        o311.send(method, url(**{name: value}), base, what=f"{fmt} path {name}={label}")
                    for name in [*args, *(a for a, _v in extra)]:
                        pairs = [(a, value if a == name else v) for a, v in base if a != name] + [(name, value)]
                        o311.send(method, url(), pairs, what=f"{fmt} {name}={label}")
                if method == "POST":
                    o311.send(method, url(), [], body=b"description=" + b"x" * nasty.OVERSIZED_BODY,
                              what=f"{fmt} a body of {nasty.OVERSIZED_BODY} bytes")
                    o311.send(method, url(), [], body=b'{"api_key": "\\ud800", "description": "a\\u0000b"}',
                              content_type="application/json", what=f"{fmt} a JSON body")
    # Every resource was sent its arguments: the lists and the POST read the spec's, the POST its api_key.
    assert {p for _m, p in read_by} == {p for p, _r in routes}
    assert {"service_request_id", "start_date", "end_date", "status", "page", "page_size"} <= set(
        read_by[("GET", f"{PREFIX}/requests.{{fmt}}")])
    assert {"api_key", "service_code", "description", "lat", "long", "media_url"} <= set(
        read_by[("POST", f"{PREFIX}/requests.{{fmt}}")])
    assert len(resources) >= 8
    assert not o311.failures, f"{len(o311.failures)} of {o311.sent} requests failed as a server fails:\n" + "\n".join(
        dict.fromkeys(o311.failures))
