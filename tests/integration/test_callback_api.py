"""The callback desk and the citizen's survey over HTTP, on SQLite and PostgreSQL: the queue with masked
contacts, recording answers (closed, reopened, retry, unreachable), the history, the public survey link and a
logged-in citizen's own survey; bad input is a 422 naming the field, a ticket not waiting is a 409."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jiesu.callback import service as callback
from jiesu.tickets import jobs
from jiesu.tickets.rules import Step
from tests.integration.test_tickets import STREET, Cast, Desk, handling, replied
from tests.stories import PASSWORD, at

OTHER_DISTRICT = "110114000000"  # 昌平区: STREET is in 大兴区 (110115)
ANSWERED = {"reached": True, "contacted": True, "resolution": "resolved", "satisfaction": "satisfied",
            "comment": "已解决，满意"}


@pytest.fixture
def who(client, cast):
    """Bearer headers for the cast, logged in through the API."""
    def login(actor) -> dict[str, str]:
        r = client.post("/api/v1/auth/login", json={"username": actor.username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}
    return login


def queued(desk: Desk, cast: Cast):
    """A replied ticket the clock has put in the callback queue."""
    t = replied(desk, cast)
    jobs.tick(desk.session, desk.clock, desk.settings)
    return t


def error(r, status: int, field: str | None = None, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    if field is not None:
        assert err["field"] == field, err
    if code is not None:
        assert err["code"] == code, err
    return err


def test_the_queue_shows_replied_tickets_with_the_contact_masked(client, desk, cast, who):
    t = queued(desk, cast)
    handling(desk, cast)  # not replied: not in the queue
    agent = who(cast.callback)
    r = client.get("/api/v1/callbacks/queue", headers=agent)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 1 and page["max_attempts"] == desk.settings.callback_attempts
    item = page["items"][0]
    assert item["number"] == t.number and item["attempts"] == 0 and item["round"] == 0
    assert item["unit_code"] == STREET and item["replied_at"] and item["excerpt"] == "楼下餐馆油烟扰民"
    assert item["contact"] == {"name": "张*", "phone": "138****0000", "masked": True}
    assert "13800000000" not in r.text and "张三" not in r.text
    # one attempt that did not reach the citizen: still queued, the attempt counted
    r = client.post(f"/api/v1/tickets/{t.number}/callback", json={"reached": False}, headers=agent)
    assert r.status_code == 200 and r.json()["result"] == "retry"
    item = client.get("/api/v1/callbacks/queue", headers=agent).json()["items"][0]
    assert item["attempts"] == 1 and item["last_attempt_at"]
    # the district filter
    for district, total in (("110115000000", 1), (OTHER_DISTRICT, 0)):
        r = client.get("/api/v1/callbacks/queue", params={"district": district}, headers=agent)
        assert r.json()["total"] == total


def test_the_queue_is_the_desks(client, desk, cast, who):
    error(client.get("/api/v1/callbacks/queue"), 401)
    for actor in (cast.handler, cast.supervisor, cast.citizen, cast.operator):
        error(client.get("/api/v1/callbacks/queue", headers=who(actor)), 403, code="permission_denied")
    for actor in (cast.dispatcher, cast.admin):
        assert client.get("/api/v1/callbacks/queue", headers=who(actor)).status_code == 200
    agent = who(cast.callback)
    error(client.get("/api/v1/callbacks/queue", params={"limit": 0}, headers=agent), 422, "limit")
    error(client.get("/api/v1/callbacks/queue", params={"offset": -1}, headers=agent), 422, "offset")
    error(client.get("/api/v1/callbacks/queue", params={"district": "1" * 33}, headers=agent), 422, "district")


def test_resolved_and_satisfied_closes_the_ticket(client, desk, cast, who):
    t = queued(desk, cast)
    agent = who(cast.callback)
    r = client.post(f"/api/v1/tickets/{t.number}/callback", json=ANSWERED, headers=agent)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["result"] == "closed"
    assert out["ticket"]["number"] == t.number and out["ticket"]["state"] == "closed"
    assert out["ticket"]["state_label"] == "已办结"
    cb = out["callback"]
    assert (cb["round"], cb["attempt"], cb["agent"], cb["channel"], cb["unit_code"]) == (0, 1, "callback", "phone",
                                                                                        STREET)
    assert (cb["contacted"], cb["resolution"], cb["satisfaction"], cb["comment"]) == (True, "resolved", "satisfied",
                                                                                     "已解决，满意")
    assert client.get("/api/v1/callbacks/queue", headers=agent).json()["total"] == 0
    ticket = client.get(f"/api/v1/tickets/{t.number}", headers=agent).json()
    assert ticket["state"] == "closed" and ticket["timeline"][-1]["action"] == "close"
    # called back already: a second answer is refused, and changes nothing
    r = client.post(f"/api/v1/tickets/{t.number}/callback", json=ANSWERED, headers=agent)
    error(r, 409, code="transition_not_allowed")
    assert len(client.get(f"/api/v1/tickets/{t.number}/callbacks", headers=agent).json()) == 1


def test_unresolved_reopens_to_the_same_unit_with_a_new_deadline(client, desk, cast, who, clock):
    t = queued(desk, cast)
    old_deadline = t.reply_by
    clock.advance(timedelta(days=2))
    body = {"reached": True, "contacted": False, "resolution": "unresolved", "satisfaction": "unsatisfied",
            "comment": "油烟依旧"}
    out = client.post(f"/api/v1/tickets/{t.number}/callback", json=body, headers=who(cast.callback)).json()
    assert out["result"] == "reopened"
    assert out["ticket"]["state"] == "handling" and out["ticket"]["reopened"] == 1
    assert at(out["ticket"]["reply_by"]) > old_deadline
    ticket = client.get(f"/api/v1/tickets/{t.number}", headers=who(cast.handler)).json()
    assert ticket["main_unit_code"] == STREET and ticket["state"] == "handling"


def test_three_unreached_attempts_close_the_ticket_as_unreachable(client, desk, cast, who, clock):
    t = queued(desk, cast)
    agent = who(cast.callback)
    results = []
    for _ in range(desk.settings.callback_attempts):
        r = client.post(f"/api/v1/tickets/{t.number}/callback", json={"reached": False, "comment": "无人接听"},
                        headers=agent)
        assert r.status_code == 200, r.text
        results.append((r.json()["result"], r.json()["callback"]["attempt"], r.json()["ticket"]["state"]))
        clock.advance(timedelta(hours=3))
    assert results == [("retry", 1, "replied"), ("retry", 2, "replied"), ("unreachable", 3, "closed")]
    history = client.get(f"/api/v1/tickets/{t.number}/callbacks", headers=agent).json()
    assert [(c["attempt"], c["reached"], c["resolution"]) for c in history] == [(1, False, None), (2, False, None),
                                                                                (3, False, None)]


@pytest.mark.parametrize(("body", "field"), [
    ({**ANSWERED, "resolution": "maybe"}, "resolution"),
    ({**ANSWERED, "satisfaction": "很满意"}, "satisfaction"),
    ({**ANSWERED, "reached": "yes"}, "reached"),
    ({**ANSWERED, "reached": 1}, "reached"),  # strict: a number is not a yes
    ({**ANSWERED, "contacted": "true"}, "contacted"),
    ({**ANSWERED, "comment": "长" * 2001}, "comment"),
    ({**ANSWERED, "comment": 5}, "comment"),
    ({"reached": True, "resolution": "resolved", "satisfaction": "satisfied"}, "contacted"),  # the service's rule
    ({"reached": True, "contacted": True, "satisfaction": "satisfied"}, "resolution"),
    ({"reached": True, "contacted": True, "resolution": "partly"}, "satisfaction"),
])
def test_bad_answers_are_422_naming_the_field(client, desk, cast, who, body, field):
    t = queued(desk, cast)
    agent = who(cast.callback)
    error(client.post(f"/api/v1/tickets/{t.number}/callback", json=body, headers=agent), 422, field)
    assert client.get(f"/api/v1/tickets/{t.number}/callbacks", headers=agent).json() == []
    assert client.get(f"/api/v1/tickets/{t.number}", headers=agent).json()["state"] == "replied"


def test_who_may_record_and_read_callbacks(client, desk, cast, who):
    t = desk.new(cast.citizen)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=STREET)
    desk.act(cast.handler, t, Step.sign)
    desk.act(cast.handler, t, Step.reply, text="已处理")
    url = f"/api/v1/tickets/{t.number}/callback"
    error(client.post(url, json=ANSWERED), 401)
    error(client.post(url, json=ANSWERED, headers=who(cast.handler)), 403)
    error(client.post(url, json=ANSWERED, headers=who(cast.citizen)), 403)
    error(client.post("/api/v1/tickets/20240930-999999/callback", json=ANSWERED, headers=who(cast.callback)), 404,
          code="ticket_not_found")
    handling_ticket = handling(desk, cast)
    error(client.post(f"/api/v1/tickets/{handling_ticket.number}/callback", json=ANSWERED,
                      headers=who(cast.callback)), 409, "state")
    assert client.post(url, json=ANSWERED, headers=who(cast.dispatcher)).json()["result"] == "closed"
    history = f"/api/v1/tickets/{t.number}/callbacks"
    assert len(client.get(history, headers=who(cast.citizen)).json()) == 1  # the citizen's own ticket
    assert len(client.get(history, headers=who(cast.supervisor)).json()) == 1
    error(client.get(history, headers=who(cast.handler)), 403)  # the unit sees the ticket, not the callbacks
    error(client.get(history, headers=who(cast.other_citizen)), 404)  # not theirs: no such ticket for them
    error(client.get(history), 401)


def test_the_public_survey_link(client, desk, cast):
    t = queued(desk, cast)
    token = callback.survey_token(desk.settings, t)
    r = client.get(f"/api/v1/survey/{token}")  # no login
    assert r.status_code == 200, r.text
    assert r.json() == {"number": t.number, "excerpt": "楼下餐馆油烟扰民", "unit_name": t.main_unit.name,
                        "replied_at": r.json()["replied_at"], "reply": "已处理"}
    assert "138" not in r.text and "张" not in r.text  # nothing personal
    error(client.post(f"/api/v1/survey/{token}", json={"contacted": True, "resolution": "resolved"}), 422,
          "satisfaction")
    error(client.post(f"/api/v1/survey/{token}", json={**ANSWERED, "contacted": "yes"}), 422, "contacted")
    body = {"contacted": True, "resolution": "partly", "satisfaction": "basically", "comment": "还行"}
    r = client.post(f"/api/v1/survey/{token}", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["result"] == "closed" and out["ticket"]["state"] == "closed"
    assert out["callback"]["channel"] == "survey" and out["callback"]["satisfaction"] == "basically"
    # answered: the link now says so, and a second answer is refused
    error(client.get(f"/api/v1/survey/{token}"), 409, "token")
    error(client.post(f"/api/v1/survey/{token}", json=body), 409, "token")


def test_a_survey_link_that_is_not_genuine(client, desk, cast):
    t = queued(desk, cast)
    token = callback.survey_token(desk.settings, t)
    error(client.get(f"/api/v1/survey/{token[:-3]}abc"), 404, "token", "survey_not_found")
    error(client.get(f"/api/v1/survey/{t.number}"), 404, "token")
    error(client.get("/api/v1/survey/" + "9" * 101), 422, "token")
    error(client.post(f"/api/v1/survey/{token[:-3]}abc", json={**ANSWERED, "reached": True}), 404, "token")
    # a reopened ticket's old link is over: its round was answered by phone
    client_answer = {"reached": True, "contacted": True, "resolution": "unresolved", "satisfaction": "unsatisfied"}
    callback.record(desk.session, cast.callback, desk.clock, desk.settings, t.number, callback.Answer(
        **{**client_answer, "resolution": callback.Resolution.unresolved,
           "satisfaction": callback.Satisfaction.unsatisfied}))
    desk.act(cast.handler, t, Step.reply, text="再次处理")
    error(client.get(f"/api/v1/survey/{token}"), 404, "token")
    assert client.get(f"/api/v1/survey/{callback.survey_token(desk.settings, t)}").status_code == 200


def test_a_logged_in_citizen_answers_their_own_survey(client, desk, cast, who):
    t = desk.new(cast.citizen)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=STREET)
    desk.act(cast.handler, t, Step.sign)
    desk.act(cast.handler, t, Step.reply, text="已协调餐馆加装净化器")
    body = {"contacted": True, "resolution": "unresolved", "satisfaction": "unsatisfied", "comment": "还是有油烟"}
    url = f"/api/v1/tickets/{t.number}/survey"
    error(client.post(url, json=body), 401)
    error(client.post(url, json=body, headers=who(cast.other_citizen)), 404)
    error(client.post(url, json=body, headers=who(cast.operator)), 403, "number")
    error(client.post(url, json={**body, "resolution": None}, headers=who(cast.citizen)), 422, "resolution")
    r = client.post(url, json=body, headers=who(cast.citizen))
    assert r.status_code == 200, r.text
    assert r.json()["result"] == "reopened" and r.json()["ticket"]["state"] == "handling"
    assert r.json()["callback"]["channel"] == "survey" and r.json()["callback"]["agent"] == "citizen"
    error(client.post(url, json=body, headers=who(cast.citizen)), 409)


def test_the_routes_are_documented(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert set(paths["/api/v1/callbacks/queue"]) == {"get"}
    assert set(paths["/api/v1/tickets/{number}/callback"]) == {"post"}
    assert set(paths["/api/v1/tickets/{number}/callbacks"]) == {"get"}
    assert set(paths["/api/v1/tickets/{number}/survey"]) == {"post"}
    assert set(paths["/api/v1/survey/{token}"]) == {"get", "post"}
    for method in ("get", "post"):  # public: no token asked for (the answer reads one if sent: staff are refused)
        op = paths["/api/v1/survey/{token}"][method]
        assert {} in op.get("security", [{}]) and {"404", "409", "422"} <= set(op["responses"])
    assert "403" in paths["/api/v1/survey/{token}"]["post"]["responses"]
    schema = client.get("/api/v1/openapi.json").json()["components"]["schemas"]["CallbackIn"]
    assert schema["properties"]["comment"]["maxLength"] == 2000
