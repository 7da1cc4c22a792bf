"""Every page route, fuzzed: NUL, lone surrogates, huge and negative numbers, far and plain dates and oversized
text (tests/conformance/nasty.py) in each of its query, path and form fields, on PostgreSQL. Zero 5xx.

The routes, and the fields of each, are read from the app (FastAPI's own description of each handler's
parameters), not listed here: a page added tomorrow is fuzzed tomorrow. Each route is sent as the first of the
visitor and the demo roles that it does not refuse or send to the login page, logged in, with the session's CSRF
token. Every request runs in a savepoint that is rolled back after it, so each one meets the same tickets in the
same states (a value that is accepted does not move the ticket on for the next). The workflow's step route is
sent once per step a person may take, as a person the table lets take it, on a ticket in a state that offers it.

Bounded: one request per (route, form field, value), where free text (a field of 200 characters or more) gets
only the values that break text; one per (route, typed query field, value), one per (route, value) with every text
field of a query at once (numbers left out: in text they are text), and one oversized body per POST route.
"""

from __future__ import annotations

import pytest
from fastapi.params import File
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from jiesu.callback import service as callback
from jiesu.permissions import SYSTEM, Role
from jiesu.taxonomy.models import RequestType
from jiesu.tickets import service as tickets
from jiesu.tickets.models import Channel
from jiesu.tickets.rules import PERSON_STEPS, TRANSITIONS, Step
from jiesu.units import auth, users
from tests import forms
from tests.conformance import nasty
from tests.governance import make_governance
from tests.integration.test_tickets import cheap_passwords  # noqa: F401 (a fixture)

STREET, OTHER, POLICE = "110115009000", "110114116000", "ga-110115"  # 观音寺街道, 兴寿镇, 大兴公安分局
PASSWORD = "fuzz-pages-12345"
BASE = "http://testserver"
# Who may be logged in, in the order a route is tried: the first it does not refuse fuzzes it.
PEOPLE = {"visitor": None, "citizen": (Role.citizen, None), "operator": (Role.operator, None),
          "dispatcher": (Role.dispatcher, None), "handler": (Role.unit_handler, STREET),
          "callback": (Role.callback_agent, None), "supervisor": (Role.supervisor, None), "admin": (Role.admin, None),
          "police": (Role.unit_handler, POLICE)}
# How far a ticket is taken, by whom, for the step route (each step is sent on the first that offers it).
STAGES = {
    "new": [],
    "dispatched": [("dispatcher", Step.dispatch, {"unit": STREET})],
    "handling": [("dispatcher", Step.dispatch, {"unit": STREET}), ("handler", Step.sign, {})],
    "returned": [("dispatcher", Step.dispatch, {"unit": STREET}), ("handler", Step.return_, {"reason": "非本单位"})],
    "extension": [("dispatcher", Step.dispatch, {"unit": STREET}), ("handler", Step.sign, {}),
                  ("handler", Step.request_extension, {"reason": "需协调", "days": 2})],
    "summoned": [("dispatcher", Step.dispatch, {"unit": STREET}), ("handler", Step.sign, {}),
                 ("handler", Step.whistle, {"units": [POLICE], "reason": "联合执法"})],
    "replied": [("dispatcher", Step.dispatch, {"unit": STREET}), ("handler", Step.sign, {}),
                ("handler", Step.reply, {"text": "已处理"})],
}
STAGES["replied, no callback"] = STAGES["replied"]
NO_CALLBACK = {"replied, no callback"}  # the citizen asked not to be called back: the centre may close by hand
STAGES["the citizen's own"] = STAGES["dispatched"]  # filed in the app: the citizen adds to it (add_info)
FILED_BY = {"the citizen's own": "citizen"}  # who files a stage's ticket (else the operator, on the phone)
FREE_TEXT = 200  # characters: a form field this long or longer (or unbounded) is free text
# A valid value for each form field a nasty value is not in: the handler gets past its own checks to the service.
PLAUSIBLE = {"reason": "现场核实", "text": "楼下噪音扰民", "unit": STREET, "units": OTHER, "co_units": OTHER,
             "days": "2", "category": "", "reached": "1", "contacted": "1", "resolution": "resolved",
             "satisfaction": "satisfied", "comment": "好", "action": "ticket", "request_type": "complaint",
             "urgency": "normal", "address": "大兴区观音寺街道首座御园", "contact_name": "张先生",
             "contact_phone": "13800000000", "username": "nobody", "password": "wrong-password", "next": "/"}


class Pages:
    """The app on the test's database, a logged-in client per person, and tickets in every stage."""

    def __init__(self, app, session, clock, settings) -> None:
        self.app, self.session, self.clock, self.settings = app, session, clock, settings
        self.actors = {}
        for name, spec in PEOPLE.items():
            if spec is not None:
                role, unit = spec
                user = users.create(session, SYSTEM, clock, username=f"fuzz-{name}", password=PASSWORD, role=role,
                                    unit_code=unit)
                self.actors[name] = users.actor_of(user)
        self.stage = {name: self._ticket(steps, no_callback=name in NO_CALLBACK, by=FILED_BY.get(name, "operator"))
                      for name, steps in STAGES.items()}
        replied = self._ticket(STAGES["replied"])
        self.governance = {k: str(v) for k, v in make_governance(session, clock, settings, STREET).items()}
        self.survey = callback.survey_token(settings, tickets.get(session, SYSTEM, replied))
        session.commit()
        self.clients = {}
        for name in PEOPLE:
            c = TestClient(app, base_url=BASE, raise_server_exceptions=False)
            if name != "visitor":
                r = forms.post(c, "/login", {"username": f"fuzz-{name}", "password": PASSWORD},
                               follow_redirects=False)
                assert r.status_code == 303, (name, r.status_code)
            self.clients[name] = (c, forms.token(c, "/login"))
        self.failures: list[str] = []
        self.sent = 0

    def _ticket(self, steps, no_callback: bool = False, by: str = "operator") -> str:
        new = tickets.NewRequest(text="楼下餐馆油烟扰民", request_type=RequestType.complaint, channel=Channel.hotline,
                                 address="首座御园3号楼", area_code=STREET, contact_name="张三",
                                 contact_phone="13800000000", no_callback=no_callback)
        number = tickets.create_request(self.session, self.actors[by], self.clock, self.settings,
                                        new).ticket.number
        for who, step, data in steps:
            tickets.act(self.session, self.actors[who], self.clock, self.settings, number, step,
                        tickets.StepInput(**data))
        return number

    def send(self, who: str, method: str, path: str, query: list[tuple[str, str]] | None = None,
             form: list[tuple[str, str]] | None = None, *, what: str = ""):
        """One request in a savepoint rolled back after it; a 5xx is written down with its repro."""
        client, token = self.clients[who]
        url = path + (f"?{nasty.encode(query)}" if query else "")
        conn = self.session.connection()
        savepoint = conn.begin_nested()
        try:
            if method == "GET":
                r = client.get(url, follow_redirects=False, headers={"Accept": "text/html"})
            else:
                content = nasty.encode([*(form or []), ("csrf_token", token)]).encode()
                r = client.post(url, content=content, follow_redirects=False,
                                headers={"Accept": "text/html", "Content-Type": "application/x-www-form-urlencoded"})
        finally:
            savepoint.rollback()
        self.sent += 1
        if r.status_code >= 500:
            self.failures.append(f"{r.status_code} {method} {nasty.short(path, 80)} as {who}: {what}")
        return r


@pytest.fixture
def pages(app, session, clock, settings, cheap_passwords, monkeypatch) -> Pages:  # noqa: F811
    # An unknown username is checked against a dummy hash made at import with the real (slow) cost.
    monkeypatch.setattr(auth, "DUMMY_HASH", auth.hash_password("not-a-real-password"))
    return Pages(app, session, clock, settings)


def page_routes(app) -> list[APIRoute]:
    """The routes the pages' modules (jiesu/web/*_pages.py, pages.py) declare."""
    found = [r for path, r in nasty.routes(app) if r.endpoint.__module__.startswith("jiesu.web.")]
    assert all(path == r.path for path, r in nasty.routes(app) if r in found)  # no prefix: fields_of reads r.path
    return found


def fields_of(route: APIRoute):
    """(path, query, form) fields of a route: query (name, is_text) pairs; form fields by name with the values
    each gets (files left out)."""
    d = route.dependant
    path = [f.alias for f in d.path_params]
    query = [(f.alias, f.field_info.annotation is str) for f in d.query_params]
    form = {f.alias: values_for(f) for f in d.body_params if not isinstance(f.field_info, File)}
    return path, query, form


def values_for(field) -> list[tuple[str, str]]:
    """Every nasty value for a short field (a code, a number, a flag, a choice: a value the handler reads);
    the ones that break text for free text (a field of 200 characters or more: a date or a number in it is text)."""
    longest = next((m.max_length for m in field.field_info.metadata if hasattr(m, "max_length")), None)
    return nasty.TEXT_BREAKERS if longest is None or longest >= FREE_TEXT else nasty.VALUES


def _path_values(p: Pages, route: APIRoute) -> dict[str, str]:
    # A real thing for each path parameter, so that the fuzzed fields reach the service, not a 404.
    number = p.stage["replied"] if route.path.startswith("/callbacks/") else p.stage["handling"]
    known = {"number": number, "code": STREET, "token": p.survey, "fmt": "csv", "attachment_id": "1",
             # the public page's places, and the administrators' things (the demo's own)
             "district": "110115000000", "street": STREET, "username": "operator", "name": "fuzz-key",
             "article_id": "1", "rule_id": "1", "day": "2027-01-01", "step": "submit", **p.governance}
    # a step each workflow has, with a form field to fuzz (the articles' review is the default)
    for prefix, step in (("/hotspots/", "dismiss"), ("/surges/", "dismiss"), ("/projects/", "cancel")):
        if route.path.startswith(prefix):
            known["step"] = step
    names = fields_of(route)[0]
    assert set(names) <= set(known), f"{route.path}: give its new path parameter a real value here"
    return {name: known[name] for name in names}


def _fill(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", nasty.q(value))
    return path


def reaching(p: Pages, route: APIRoute, method: str, path: str, form: list[tuple[str, str]]) -> str:
    """The first person the route answers (not a refusal, not the login page)."""
    for who in PEOPLE:
        r = p.send(who, method, path, form=form if method == "POST" else None, what="plausible")
        if r.status_code != 403 and not r.headers.get("location", "").startswith("/login"):
            return who
    pytest.fail(f"nobody reaches {method} {route.path}")


def fuzz_route(p: Pages, route: APIRoute, method: str) -> None:
    names, query, form_fields = fields_of(route)
    base_path = _path_values(p, route)
    plausible_form = [(f, PLAUSIBLE.get(f, "")) for f in form_fields]
    who = reaching(p, route, method, _fill(route.path, base_path), plausible_form)
    for label, value in nasty.VALUES:
        text_value = (label, value) in nasty.TEXTS
        for name in names:  # each path parameter
            p.send(who, method, _fill(route.path, {**base_path, name: value}), form=plausible_form,
                   what=f"path {name}={label}")
        text = [(name, value) for name, is_text in query if is_text]
        # Every text query field at once (they are read independently), or one by one where a URL would be too long.
        for group in nasty.at_once(text) if text_value else []:
            p.send(who, method, _fill(route.path, base_path), query=group,
                   what=f"query {[n for n, _ in group]}={label}")
        for name, is_text in query:
            if not is_text:
                p.send(who, method, _fill(route.path, base_path), query=[(name, value)], what=f"query {name}={label}")
        for name, values in form_fields.items():
            if (label, value) in values:
                form = [(f, value if f == name else v) for f, v in plausible_form]
                p.send(who, method, _fill(route.path, base_path), form=form, what=f"form {name}={label}")
    if method == "POST":
        field = next(iter(form_fields), "x")  # with the CSRF token: the handler's own limits answer, not the check
        p.send(who, method, _fill(route.path, base_path), form=[(field, "x" * nasty.OVERSIZED_BODY)],
               what=f"a body of {nasty.OVERSIZED_BODY} bytes")


def fuzz_steps(p: Pages, route: APIRoute) -> set[Step]:
    """The step route, once per step a person may take, as someone allowed, on a ticket that offers it."""
    _, _, form_fields = fields_of(route)
    reached: set[Step] = set()
    for step in sorted(PERSON_STEPS, key=lambda s: s.value):
        found = next(((who, number) for number in p.stage.values() for who, actor in p.actors.items()
                      if step in tickets.available_steps(actor, tickets.get(p.session, SYSTEM, number))), None)
        assert found is not None, f"no stage offers {step} to anyone: add one to STAGES"
        who, number = found
        reached.add(step)
        path = f"/tickets/{number}/steps/{step.value.replace('_', '-')}"
        plausible = [(f, PLAUSIBLE.get(f, "")) for f in form_fields]
        # A note: every field (the fields every step shares among them). A dispatch: every field (its optional
        # ones too) with the text breakers. Each step: the fields it needs (the workflow's table).
        fields = {name: nasty.TEXT_BREAKERS if step == Step.dispatch else values for name, values in form_fields.items()
                  if step in (Step.note, Step.dispatch) or name in TRANSITIONS[step].needs}
        for name, values in fields.items():
            for label, value in values:
                form = [(f, value if f == name else v) for f, v in plausible]
                p.send(who, "POST", path, form=form, what=f"step {step.value} form {name}={label}")
    for label, value in nasty.VALUES:  # the step and the number themselves
        p.send("dispatcher", "POST", f"/tickets/{nasty.q(value)}/steps/note", form=[("text", "x")],
               what=f"path number={label}")
        p.send("dispatcher", "POST", f"/tickets/{p.stage['new']}/steps/{nasty.q(value)}", form=[("text", "x")],
               what=f"path step={label}")
    p.send("handler", "POST", f"/tickets/{p.stage['handling']}/steps/note", form=[("text", "x" * nasty.OVERSIZED_BODY)],
           what=f"a body of {nasty.OVERSIZED_BODY} bytes")
    return reached


@nasty.ON_POSTGRESQL
def test_no_page_answers_nasty_input_with_a_5xx(pages: Pages, app):
    routes = page_routes(app)
    fuzzed: set[tuple[str, str]] = set()
    steps: set[Step] = set()
    for route in routes:
        for method in sorted(route.methods - {"HEAD"}):
            if route.path == "/tickets/{number}/steps/{step}":
                steps = fuzz_steps(pages, route)
            else:
                fuzz_route(pages, route, method)
            fuzzed.add((method, route.path))
    # Every page route the app has was fuzzed, the forms among them, and the workflow's steps people take.
    assert fuzzed == {(m, r.path) for r in routes for m in r.methods - {"HEAD"}}
    assert {("POST", "/console"), ("POST", "/login"), ("POST", "/callbacks/{number}"), ("POST", "/survey/{token}"),
            ("GET", "/tickets"), ("GET", "/assessment/behind")} <= fuzzed
    assert steps == set(PERSON_STEPS), steps
    assert not pages.failures, f"{len(pages.failures)} of {pages.sent} requests got a 5xx:\n" + "\n".join(
        dict.fromkeys(pages.failures))
