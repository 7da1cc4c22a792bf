"""The brief's ticket stories, replayed end to end through the HTTP API with the clock moved as in
the articles. `Hotline` is the small client the stories (and the ticket API tests) share."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from jiesu.permissions import SYSTEM, Role
from jiesu.units import users

BEIJING = ZoneInfo("Asia/Shanghai")
PASSWORD = "correct-horse-9"


def bj(text: str) -> datetime:
    """'2023-03-14 08:30' in Beijing time, as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=BEIJING)


def at(value: str) -> datetime:
    """A datetime from the API's JSON."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Hotline:
    """Users logged in through POST /api/v1/auth/login, and the calls the stories make. Every answer
    to a step is checked: it is the step asked for, and its timeline replays to the state it shows."""

    def __init__(self, client, session, clock) -> None:
        self.client, self.session, self.clock = client, session, clock

    def login(self, username: str, role: Role, unit_code: str | None = None) -> dict[str, str]:
        users.create(self.session, SYSTEM, self.clock, username=username, password=PASSWORD, role=role,
                     unit_code=unit_code)
        r = self.client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    def create(self, who: dict, expect: int = 201, key: str | None = None, **body) -> dict:
        headers = dict(who) | ({"Idempotency-Key": key} if key else {})
        r = self.client.post("/api/v1/requests", json=body, headers=headers)
        assert r.status_code == expect, r.text
        out = r.json()
        if expect == 201 and out["ticket"]:
            check_timeline(out["ticket"])
        return out

    def step(self, who: dict, number: str, action: str, expect: int = 200, **body) -> dict:
        r = self.client.post(f"/api/v1/tickets/{number}/{action.replace('_', '-')}", json=body, headers=who)
        assert r.status_code == expect, r.text
        out = r.json()
        if expect == 200:
            check_timeline(out)
            assert out["timeline"][-1]["action"] == action, "the answer shows the step just taken"
        return out

    def call_back(self, who: dict, number: str, comment: str = "") -> dict:
        """The callback desk records a resolved, satisfied citizen (the close of a replied ticket); the ticket after."""
        r = self.client.post(f"/api/v1/tickets/{number}/callback", headers=who, json={
            "reached": True, "contacted": True, "resolution": "resolved", "satisfaction": "satisfied",
            "comment": comment})
        assert r.status_code == 200 and r.json()["result"] == "closed", r.text
        return self.get(who, number)

    def get(self, who: dict, number: str, expect: int = 200) -> dict:
        r = self.client.get(f"/api/v1/tickets/{number}", headers=who)
        assert r.status_code == expect, r.text
        out = r.json()
        if expect == 200:
            check_timeline(out)
        return out


def check_timeline(ticket: dict) -> None:
    """The timeline is the whole log, in order, and replays to the ticket's state."""
    timeline = ticket["timeline"]
    assert [e["seq"] for e in timeline] == list(range(1, len(timeline) + 1))
    state = None
    for e in timeline:
        assert e["from_state"] == state, timeline
        state = e["to_state"]
    assert state == ticket["state"]
    assert ticket["version"] == len(timeline)


def actions(ticket: dict) -> list[str]:
    return [e["action"] for e in ticket["timeline"]]


def event(ticket: dict, action: str) -> dict:
    found = [e for e in ticket["timeline"] if e["action"] == action]
    assert len(found) == 1, found
    return found[0]
