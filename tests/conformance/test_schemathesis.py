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

from collections.abc import Iterator
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
    routes = {r.path for r in api.app.routes if getattr(r, "path", "").startswith("/api/v1/")
              and getattr(r, "include_in_schema", True) and r.path != "/api/v1/openapi.json"}
    assert routes - set(paths) == set()
