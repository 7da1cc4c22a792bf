"""Schemathesis over the whole OpenAPI document of the real app, in process, logged in.

Every operation of `/api/v1/openapi.json` gets a bounded number of generated requests (examples, the
coverage phase's boundary cases and `MAX_EXAMPLES` fuzzed ones), once as an administrator and once as a
citizen, against the real application on a seeded SQLite database in a temporary folder. A response
fails the test when it is a 5xx, when its status code is not declared for the operation, when its body,
content type or headers do not match what the operation declares, when a request the document calls
invalid is accepted, or when an operation that declares a login answers without one (CHECKS). Half the
generated valid cases get real ticket numbers, codes, logins and workflow-step fields, so that the 200s
are checked too, not only the 404s and 422s. Mutating operations change the temporary database; that is
what it is for.

Each operation is its own test item (`schema.parametrize()`), so the document is read when the module is
collected, from an app that needs no database; `schemathesis.pytest.from_fixture` would defer that, but
schemathesis 4.32 reads `Function._nodeid`, which pytest 9.2 no longer has.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from jiesu.app import create_app
from jiesu.clock import SystemClock
from jiesu.config import Settings
from jiesu.db import make_engine, unit_of_work
from jiesu.permissions import SYSTEM, Role
from jiesu.places.models import Area
from jiesu.taxonomy.models import Category, RequestType
from jiesu.tickets import service as tickets
from jiesu.units import users
from jiesu.units.models import Unit, UnitKind
from tests.conformance import nasty
from tests.conftest import seed_reference_data

MAX_EXAMPLES = 15  # fuzzed cases per operation and role, on top of the examples and the coverage phase
ROLES = ("admin", "citizen")
PASSWORD = "conformance-12345"
CHECKS = [
    not_a_server_error,  # no 5xx
    status_code_conformance,  # every status is one the operation declares
    content_type_conformance, response_schema_conformance, response_headers_conformance,  # as declared
    negative_data_rejection,  # a request that breaks the document is refused with a 4xx
    ignored_auth, missing_required_header,  # an operation that declares a login refuses a request without one
]
# Not run: positive_data_acceptance, which expects every schema-valid request to succeed. A valid-looking
# code that names nothing (a calendar, a district, a unit) is rightly refused with 422 naming the field.


class Api:
    """The app, its database, and the logins the passes use."""

    def __init__(self, root: Path) -> None:
        self.engine = make_engine(f"sqlite:///{root / 'jiesu.db'}")
        seed_reference_data(self.engine)
        self.sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.clock = SystemClock()
        self.settings = Settings(var_dir=root / "var", secret_key="conformance", database_url=str(self.engine.url))
        with unit_of_work(self.sessions) as s:
            for role in ROLES:
                users.create(s, SYSTEM, self.clock, username=role, password=PASSWORD, role=Role(role))
        self.numbers = self._some_tickets()
        with self.engine.connect() as c:  # a few real codes per kind, so that lookups also find something
            self.codes = {
                "places": c.scalars(select(Area.code).order_by(Area.level, Area.code).limit(40)).all(),
                "units": c.scalars(select(Unit.code).where(Unit.kind != UnitKind.centre).order_by(Unit.id)
                                   .limit(40)).all(),
                "categories": c.scalars(select(Category.code).order_by(Category.code).limit(40)).all(),
            }
        self.app = create_app(self.settings, engine=self.engine, clock=self.clock)

    def _some_tickets(self) -> list[str]:
        """A few of the citizen's tickets, so that ticket paths also reach real tickets, not only 404s."""
        numbers = []
        with unit_of_work(self.sessions) as s:
            citizen = users.actor_of(users.get(s, SYSTEM, "citizen"))
            for i, kind in enumerate([RequestType.complaint, RequestType.help, RequestType.report] * 3):
                new = tickets.NewRequest(text=f"楼下噪音扰民 {i}", request_type=kind, channel=tickets.Channel.app,
                                         address="大兴区观音寺街道首座御园", area_code="110115009000",
                                         contact_name="张先生", contact_phone="13800000000")
                numbers.append(tickets.create_request(s, citizen, self.clock, self.settings, new).ticket.number)
        return numbers

    def fresh_token(self, username: str) -> str:
        with unit_of_work(self.sessions) as s:
            token, _ = users.issue_token(s, self.clock, users.get(s, SYSTEM, username), name="conformance")
        return token


def _document() -> dict:
    """The OpenAPI document as the app serves it; building the app touches no database."""
    placeholder = create_app(Settings(var_dir=Path("var"), secret_key="conformance", database_url="sqlite://"))
    return placeholder.openapi()


class LateApp:
    """The ASGI app schemathesis calls, in place when the module is collected; the `api` fixture puts the real
    one (with its database) behind it when the tests run."""

    app = None

    async def __call__(self, scope, receive, send) -> None:
        await self.app(scope, receive, send)


# The document is read when the module is collected (each operation is its own test); the database,
# the users and the app that answers are made by the `api` fixture, only when the tests run.
schema = schemathesis.openapi.from_dict(_document(), config=schemathesis.Config.from_dict({
    "seed": 12345,  # the same cases every run: a failure here is reproducible, not a flake
    "generation": {"max-examples": MAX_EXAMPLES},
}))
schema.app = LateApp()
_state: dict[str, Api] = {}


def _real(kind: str) -> st.SearchStrategy[str]:
    if kind == "numbers":
        return st.deferred(lambda: st.sampled_from(_state["api"].numbers))
    return st.deferred(lambda: st.sampled_from(_state["api"].codes[kind]))


def _real_path_parameters(path: str, params: dict) -> st.SearchStrategy[dict | None]:
    """A ticket, place, unit or category that exists: the 200s get checked too, not only the 404s."""
    kind = next((k for k in ("places", "units", "categories") if path.startswith(f"/api/v1/{k}/")), None)
    if "number" in params:
        return _real("numbers").map(lambda n: {**params, "number": n})
    if "code" in params and kind:
        return _real(kind).map(lambda c: {**params, "code": c})
    return st.none()


def _real_body(path: str, body: dict) -> st.SearchStrategy[dict | None]:
    if path == "/api/v1/auth/login":
        # The real users, right and wrong: a 200 with a token, 401s, and after five misses the lockout's 429.
        return st.builds(lambda u, p: {**body, "username": u, "password": p}, st.sampled_from(ROLES),
                         st.sampled_from([PASSWORD, "wrong-password-1"]))
    if path.startswith("/api/v1/tickets/{number}/"):
        # A workflow step whose fields name real units and tickets, so that some steps succeed (200 with the
        # ticket) and move the tickets on, instead of all failing on an unknown unit.
        return st.fixed_dictionaries({
            "reason": st.sampled_from(["", "不属于本单位职责", "已处理完毕"]),
            "text": st.sampled_from(["", "已到现场核实"]),
            "unit": _real("units"), "co_units": st.lists(_real("units"), max_size=2),
            "units": st.lists(_real("units"), min_size=1, max_size=2), "days": st.sampled_from([1.0, 2.5]),
            "parent": _real("numbers"), "resolved": st.booleans(),
            "satisfied": st.sampled_from(["satisfied", "basically", "unsatisfied"]),
        })
    return st.none()


@schema.hook("flatmap_case")
def real_data(ctx, case):
    # Half the time, real identifiers and plausible bodies in place of the generated ones; never in a case
    # generated to be invalid, which must stay invalid.
    def positive(location: ParameterLocation) -> bool:
        return case.meta is None or not case.meta.is_negative_at(location)

    path = ctx.operation.path
    params = st.none()
    if case.path_parameters and positive(ParameterLocation.PATH):
        params = st.one_of(st.none(), _real_path_parameters(path, case.path_parameters))
    body = st.none()
    if isinstance(case.body, dict) and positive(ParameterLocation.BODY):
        body = st.one_of(st.none(), _real_body(path, case.body))

    def apply(replacements: tuple[dict | None, dict | None]):
        new_params, new_body = replacements
        if new_params is not None:
            case.path_parameters = new_params
        if new_body is not None:
            case.body = new_body
        return case

    return st.tuples(params, body).map(apply)


def _nasty_for(value: object, where: ParameterLocation) -> st.SearchStrategy[object]:
    """A nasty value of the kind the generated one is (tests/conformance/nasty.py): text for text, huge and
    negative numbers for numbers. A lone surrogate only in a JSON body: a URL cannot carry one."""
    if isinstance(value, bool) or value is None:
        return st.nothing()
    if isinstance(value, int | float):
        return st.sampled_from([10**30, -1, -(10**30), 1e308])
    if isinstance(value, str):
        texts = [v for label, v in nasty.VALUES if where == ParameterLocation.BODY or label != "surrogate"]
        return st.sampled_from(texts)
    return st.nothing()


@schema.hook("flatmap_case")
def nasty_values(ctx, case):  # noqa: ARG001
    """Half the valid cases get one of their query, path or top-level body fields replaced by a nasty value
    (NUL, a lone surrogate, a huge or negative number, a far or plain date, oversized text)."""
    slots = []
    for where, values in ((ParameterLocation.QUERY, case.query), (ParameterLocation.PATH, case.path_parameters),
                          (ParameterLocation.BODY, case.body)):
        if isinstance(values, dict) and (case.meta is None or not case.meta.is_negative_at(where)):
            slots += [(where, name) for name, value in values.items()
                      if not isinstance(value, bool) and isinstance(value, int | float | str)]
    if not slots:
        return st.just(case)

    def put(choice):
        (where, name), value = choice
        target = {ParameterLocation.QUERY: case.query, ParameterLocation.PATH: case.path_parameters,
                  ParameterLocation.BODY: case.body}[where]
        target[name] = value
        return case

    def pick(slot):
        where, name = slot
        target = {ParameterLocation.QUERY: case.query, ParameterLocation.PATH: case.path_parameters,
                  ParameterLocation.BODY: case.body}[where]
        return st.tuples(st.just(slot), _nasty_for(target[name], where))

    return st.one_of(st.just(case), st.sampled_from(slots).flatmap(pick).map(put))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    a = Api(tmp_path_factory.mktemp("conformance"))
    _state["api"] = a
    LateApp.app = a.app
    yield a
    _state.clear()
    LateApp.app = None
    a.engine.dispose()


@pytest.fixture(scope="module", params=ROLES)
def role(request: pytest.FixtureRequest) -> str:
    return request.param


@schema.parametrize()
def test_every_operation_conforms(case, api: Api, role: str):
    # A new token for every request: a generated `POST /auth/logout` revokes the one it was sent with.
    sent = {name.lower() for name in case.headers or {}}
    if "authorization" in sent or case.meta is None or not case.meta.is_negative_at(ParameterLocation.HEADER):
        headers = {"Authorization": f"Bearer {api.fresh_token(role)}"}
    else:
        headers = None  # a case generated without the header it must have: it stays without it
    if role != ROLES[0]:
        # The passes generate the same cases: a key the first pass used would answer 409 (another sender's)
        # to every later one, and no request of theirs would be created.
        for name, value in list((case.headers or {}).items()):
            if name.lower() == "idempotency-key" and isinstance(value, str):
                case.headers[name] = f"{role[0]}{value}"[:128]
    case.call_and_validate(headers=headers, checks=CHECKS)


def test_the_document_covers_the_api(api: Api):
    """The run above is only as good as the document: every route under /api/v1 is in it."""
    paths = api.app.openapi()["paths"]
    routes = {path for path, r in nasty.routes(api.app) if path.startswith("/api/v1/") and r.include_in_schema
              and path != "/api/v1/openapi.json"}
    assert len(routes) > 50  # FastAPI 0.163 keeps included routers in app.routes, not their routes: walk them
    assert routes - set(paths) == set()


# --- the nasty values, every field, on PostgreSQL ---------------------------------------------------------------
# The pass above is random and runs on SQLite; this one is exhaustive over the fields and runs on PostgreSQL
# (a NUL breaks only PostgreSQL): every query and path parameter and every top-level field of every JSON body in
# the document gets the nasty values of its kind, as an administrator, each request in a savepoint rolled back.

DATES = [(label, v) for label, v in nasty.VALUES if label.startswith(("year-", "plain-", "far-"))]
NUMBERS = nasty.NUMBERS
METHODS = ("get", "post", "put", "patch", "delete")


def _resolve(doc: dict, node: dict) -> dict:
    while "$ref" in node:
        node = doc["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    options = [o for o in node.get("anyOf", []) if o.get("type") != "null"]
    return _resolve(doc, options[0]) if options and len(node.get("anyOf", [])) <= 2 else node


def _free_text(node: dict) -> bool:
    """A string any text may be sent to (no enum, pattern or format to refuse it first)."""
    return node.get("type") == "string" and not ({"enum", "pattern", "format"} & set(node))


def _values_for(node: dict, on_the_wire: bool) -> list[tuple[str, object]]:
    """The nasty values of a typed field's kind (a free text field gets them all, at once with the others)."""
    if node.get("type") in ("integer", "number"):
        if on_the_wire:
            return [*NUMBERS, *nasty.TEXT_BREAKERS[:1]]
        return [("huge", 10**30), ("negative", -1), ("huge-float", 1e308)]
    if node.get("format") in ("date", "date-time") or "pattern" in node:
        return [*DATES, *nasty.TEXT_BREAKERS[:1]]
    if "enum" in node or node.get("type") == "boolean":
        return nasty.TEXT_BREAKERS[:1] if on_the_wire else [("nul", "ab\x00cd")]
    return []


def _plausible(doc: dict, node: dict) -> object:
    node = _resolve(doc, node)
    if "default" in node:
        return node["default"]
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    if kind == "string":
        return {"date-time": "2024-09-30T10:00:00+08:00", "date": "2024-09-30"}.get(node.get("format"), "x")
    if kind in ("integer", "number"):
        return max(1, node.get("minimum", 1))
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object":
        return {k: _plausible(doc, v) for k, v in node.get("properties", {}).items() if k in node.get("required", [])}
    return None


def _fill(path: str, values: dict[str, str], **over: str) -> str:
    for n, v in {**values, **over}.items():
        path = path.replace("{" + n + "}", nasty.q(str(v)))
    return path


@pytest.fixture
def admin_token(session, clock) -> str:
    user = users.create(session, SYSTEM, clock, username="fuzz-admin", password=PASSWORD, role=Role.admin)
    token, _ = users.issue_token(session, clock, user, name="fuzz")
    session.commit()
    return token


@nasty.ON_POSTGRESQL
def test_nasty_values_in_every_field_never_answer_5xx(app, session, clock, settings, admin_token):
    from fastapi.testclient import TestClient

    doc = app.openapi()
    admin = users.actor_of(users.get(session, SYSTEM, "fuzz-admin"))
    new = tickets.NewRequest(text="楼下噪音扰民", request_type=RequestType.complaint, channel=tickets.Channel.hotline,
                             address="大兴区观音寺街道首座御园", area_code="110115009000")
    number = tickets.create_request(session, admin, clock, settings, new).ticket.number
    session.commit()
    known = {"number": number, "code": "110115009000", "day": "2024-09-30", "token": "x", "step": "publish"}
    failures, sent = [], 0
    client = TestClient(app, raise_server_exceptions=False)
    headers = {"Authorization": f"Bearer {admin_token}"}

    def send(method: str, path: str, query: list[tuple[str, str]], body: object, what: str) -> None:
        nonlocal sent
        url = path + (f"?{nasty.encode(query)}" if query else "")
        savepoint = session.connection().begin_nested()
        try:
            if body is None:
                r = client.request(method.upper(), url, headers=headers)
            else:  # json.dumps writes a lone surrogate as the escape "\\ud800"
                r = client.request(method.upper(), url, content=json.dumps(body).encode(),
                                   headers={**headers, "Content-Type": "application/json"})
        finally:
            savepoint.rollback()
        sent += 1
        if r.status_code >= 500:
            failures.append(f"{r.status_code} {method.upper()} {nasty.short(url, 90)}: {what}")

    operations = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()
                  if method in METHODS and path not in ("/api/v1/auth/logout",)]
    for path, method, op in operations:
        params = [(p["name"], p["in"], _resolve(doc, p.get("schema", {}))) for p in op.get("parameters", [])]
        path_params = {n: known.get(n, "1" if node.get("type") == "integer" else "x")
                       for n, where, node in params if where == "path"}
        query = [(n, node) for n, where, node in params if where == "query"]
        body_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        body_node = _resolve(doc, body_schema) if body_schema else None
        body = _plausible(doc, body_node) if body_node else None
        fields = body_node.get("properties", {}) if body_node else {}

        url = partial(_fill, path, path_params)
        free_query = [n for n, node in query if _free_text(node)]
        free_body = [n for n, node in fields.items() if _free_text(_resolve(doc, node))]
        for label, value in nasty.TEXTS:  # free text gets no numbers: in text they are text
            for group in nasty.at_once([(n, value) for n in free_query]):
                send(method, url(), group, body, f"query {[n for n, _v in group]}={label}")
            if free_body:
                send(method, url(), [], {**body, **{n: value for n in free_body}}, f"body {free_body}={label}")
        for n in path_params:
            for label, value in [*nasty.TEXT_BREAKERS, *NUMBERS]:
                send(method, url(**{n: value}), [], body, f"path {n}={label}")
        for n, node in query:
            for label, value in _values_for(node, on_the_wire=True):
                send(method, url(), [(n, str(value))], body, f"query {n}={label}")
        for n, node in fields.items():
            for label, value in _values_for(_resolve(doc, node), on_the_wire=False):
                send(method, url(), [], {**body, n: value}, f"body {n}={label}")
    assert len(operations) > 50 and sent > 500
    assert not failures, f"{len(failures)} of {sent} requests got a 5xx:\n" + "\n".join(dict.fromkeys(failures))
