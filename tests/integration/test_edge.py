"""What comes in at the edge (issue 15, items 2, 3, 4, 6 and 9), through the real app on SQLite and PostgreSQL:
text a database cannot hold (NUL, lone surrogates) is a 422 naming the field wherever it comes in; a date
without an offset is that day in the city; a body larger than its kind allows is a 413 that a client sending
its whole body first still reads; nothing accepted is cut; a contact read needs a purpose one can read."""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import sys
import tracemalloc
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import func, select

from jiesu.errors import InvalidInput
from jiesu.limits import MAX_DRAIN_BYTES, MAX_JSON_BYTES, MAX_REASON, MAX_TEXT
from jiesu.tickets.models import PersonalDataAccess, TicketEvent
from jiesu.tickets.rules import Step
from tests import forms
from tests.integration.test_tickets import handling
from tests.served import app_env, serving
from tests.stories import PASSWORD

pytestmark = pytest.mark.integration

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def bearer(client, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def refused(r, field: str, status: int = 422) -> dict:
    assert r.status_code == status, (r.request.url, r.text[:300])
    err = r.json()["error"]
    assert err["field"] == field, (r.request.url, err)
    return err


def events_of(session, ticket) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == ticket.id))


# --- 2. NUL and lone surrogates ---------------------------------------------------------------------------

def test_text_a_database_cannot_hold_is_a_422_naming_the_field(client, session, desk, cast):
    t = handling(desk, cast)
    before = events_of(session, t)
    op, disp, hand = (bearer(client, name) for name in ("operator", "dispatcher", "handler"))
    json_type = {"Content-Type": "application/json"}
    for r, field in [
        (client.get("/api/v1/places?q=%00"), "q"),
        (client.get("/api/v1/tickets?q=a%00b", headers=disp), "q"),
        (client.get("/api/v1/tickets?state=new&unit=%00", headers=disp), "unit"),
        (client.get("/api/v1/tickets/%00", headers=disp), "path"),
        (client.get(f"/api/v1/tickets/{t.number}%00", headers=disp), "path"),
        (client.post("/api/v1/auth/login", json={"username": "dispatcher\x00", "password": "x"}), "username"),
        (client.post("/api/v1/auth/login", content=b'{"username": "\\ud800", "password": "x"}', headers=json_type),
         "username"),
        (client.post("/api/v1/requests", headers={**op, **json_type},
                     content=b'{"text": "\\udfff\\u697c", "request_type": "complaint"}'), "text"),
        (client.post("/api/v1/requests", json={"text": "楼道堆物", "request_type": "complaint",
                                               "address": "观音寺\x00"}, headers=op), "address"),
        (client.post(f"/api/v1/tickets/{t.number}/note", json={"text": "进展\x00"}, headers=hand), "text"),
        (client.post(f"/api/v1/tickets/{t.number}/whistle", json={"units": ["ga-110115", "\x00"], "reason": "x"},
                     headers=hand), "units.1"),
        (client.post(f"/api/v1/tickets/{t.number}/attachments", files={"file": ("a.png", PNG, "image/png")},
                     data={"note": "\x00"}, headers=hand), "note"),
    ]:
        err = refused(r, field)
        assert err["code"] == "invalid_input" and ("NUL" in err["message"] or "surrogate" in err["message"])
    deep = b'{"a":' * 5000 + b'"\\u0000"' + b"}" * 5000  # deeper than the JSON parser goes: still a 422
    refused(client.post("/api/v1/auth/login", content=deep, headers=json_type), "body")
    refused(client.post("/api/v1/auth/login", content=b'{"a":' * 500 + b'"\\u0000"' + b"}" * 500,
                        headers=json_type), ".".join(["a"] * 500))
    assert events_of(session, t) == before
    assert client.get(f"/api/v1/tickets/{t.number}/attachments", headers=hand).json() == []

    # the pages: a urlencoded form (checked at the edge) and a multipart one (where the form is parsed)
    page = forms.post(client, "/login", {"username": "a\x00", "password": "x"}, headers={"Accept": "text/html"})
    assert page.status_code == 422 and "username" in page.text
    r = forms.post(client, "/login", {"username": "a\x00", "password": "x"}, files={"f": ("a.txt", b"1")})
    refused(r, "username")
    assert client.get("/tickets?q=%00", headers={"Accept": "text/html"}).status_code == 422

    # Open311 says so in its own shape, naming the field
    r = client.get("/open311/v2/requests.json?service_code=%00")
    assert r.status_code == 400 and "service_code" in r.json()[0]["description"], r.text
    r = client.post("/open311/v2/requests.xml", data={"api_key": "k", "description": "漏水\x00"})
    assert r.status_code == 400 and "<description>description: may not contain the NUL" in r.text, r.text
    r = client.post("/open311/v2/requests.json", data={"description": "\x00"}, files={"p": ("p.jpg", b"\xff\xd8")})
    assert r.status_code == 400 and r.json()[0]["description"].startswith("description:"), r.text


# --- 3. dates -------------------------------------------------------------------------------------------

def test_a_plain_date_is_that_day_in_the_city_and_a_far_one_is_a_422(client, desk, cast):
    t = desk.new(cast.operator)  # at 2024-09-30 10:00 in Beijing (02:00 UTC)
    admin, disp = bearer(client, "admin"), bearer(client, "dispatcher")

    def numbers(**params) -> list[str]:
        r = client.get("/api/v1/tickets", params=params, headers=disp)
        assert r.status_code == 200, r.text
        return [i["number"] for i in r.json()["items"]]

    assert t.number in numbers(created_from="2024-09-30")
    assert t.number not in numbers(created_from="2024-10-01")
    assert t.number not in numbers(created_to="2024-09-30")
    assert t.number not in numbers(created_to="2024-09-30T09:00")  # Beijing 09:00 is 01:00 UTC: before it
    assert t.number in numbers(created_from="2024-09-30T09:00", created_to="2024-09-30T11:00")
    assert t.number in numbers(created_from="2024-09-30T01:59Z", created_to="2024-09-30T10:01+08:00")
    for value in ("0001-01-01", "9999-12-31", "9999-12-31T23:59:59", "0001-01-01T00:00:00+14:00", "tomorrow",
                  "1727660000"):
        refused(client.get("/api/v1/tickets", params={"created_from": value}, headers=disp), "created_from")
    refused(client.get("/api/v1/tickets", params={"created_to": "9999-12-31"}, headers=disp), "created_to")
    for path in ("/api/v1/routing/accuracy", "/api/v1/knowledge/stats", "/api/v1/assessment/rates",
                 "/api/v1/assessment/trend"):
        for month in ("9999-12", "0001-01"):
            refused(client.get(path, params={"month": month}, headers=admin), "month")
    assert client.get("/api/v1/routing/accuracy", params={"month": "2024-09"}, headers=admin).status_code == 200
    refused(client.get("/api/v1/calendar/add-business-days", params={"start": "9999-12-30", "days": 100},
                       headers=admin), "start")
    r = client.get("/api/v1/calendar/add-business-days", params={"start": "2024-09-30", "days": 0}, headers=admin)
    assert r.status_code == 200 and r.json()["result_local"].startswith("2024-09-30T00:00:00+08:00"), r.text
    refused(client.get("/api/v1/calendar/days/0001-01-01", headers=admin), "day")
    for value in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"):  # Open311: its shape, the field named
        r = client.get("/open311/v2/requests.json", params={"start_date": value})
        assert r.status_code == 400 and r.json()[0]["description"].startswith("start_date must be"), r.text
    r = client.get("/open311/v2/requests.json", params={"start_date": "2024-09-30", "end_date": "2024-10-01"})
    assert r.status_code == 200, r.text


# --- 6. nothing accepted is cut ----------------------------------------------------------------------------

def test_a_reply_up_to_its_limit_is_kept_whole_and_a_longer_one_refused(client, session, desk, cast):
    t = handling(desk, cast)
    hand = bearer(client, "handler")
    note = "进展" * 1500  # 3,000 characters: more than a reason, less than a text
    r = client.post(f"/api/v1/tickets/{t.number}/note", json={"text": note}, headers=hand)
    assert r.status_code == 200, r.text[:300]
    reply = "答" * MAX_TEXT
    r = client.post(f"/api/v1/tickets/{t.number}/reply", json={"text": reply}, headers=hand)
    assert r.status_code == 200, r.text[:300]
    timeline = {e["action"]: e["reason"] for e in r.json()["timeline"]}
    assert timeline["note"] == note and timeline["reply"] == reply
    session.expire_all()
    stored = session.scalars(select(TicketEvent.reason).where(TicketEvent.ticket_id == t.id)).all()
    assert note in stored and reply in stored

    t2 = handling(desk, cast)
    refused(client.post(f"/api/v1/tickets/{t2.number}/note", json={"text": "x" * (MAX_TEXT + 1)}, headers=hand),
            "text")
    refused(client.post(f"/api/v1/tickets/{t2.number}/return", json={"reason": "x" * (MAX_REASON + 1)},
                        headers=hand), "reason")
    # the service refuses too, for every caller that is not the API (pages, CLI, importer)
    desk.refused(InvalidInput, cast.handler, t2, Step.note, field="text", text="x" * (MAX_TEXT + 1))
    desk.refused(InvalidInput, cast.handler, t2, Step.return_, field="reason", reason="x" * (MAX_REASON + 1))
    done = desk.act(cast.handler, t2, Step.return_, reason="y" * MAX_REASON)
    assert done.events[-1].reason == "y" * MAX_REASON


# --- 9. a purpose one can read ----------------------------------------------------------------------------

def test_a_contact_read_needs_a_visible_purpose(client, session, desk, cast):
    t = desk.new(cast.operator)
    disp = bearer(client, "dispatcher")
    url = f"/api/v1/tickets/{t.number}/contact"
    for purpose in ("%E2%80%8B", "%E2%80%8B%E2%80%8C%E2%80%8D%EF%BB%BF", "%00", "%E3%80%80%20", "%E2%81%A0"):
        r = client.get(f"{url}?purpose={purpose}", headers=disp)
        refused(r, "purpose")
        assert "13800000000" not in r.text
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(PersonalDataAccess)) == 0
    r = client.get(url, params={"purpose": " 回访核实 "}, headers=disp)
    assert r.status_code == 200 and r.json()["phone"] == "13800000000", r.text
    session.expire_all()
    assert session.scalars(select(PersonalDataAccess.purpose)).all() == ["回访核实"]


# --- 4. bodies ------------------------------------------------------------------------------------------

def test_a_body_larger_than_its_kind_allows_is_a_413(client, desk, cast):
    err = refused(client.post("/api/v1/auth/login", content=b" " * (MAX_JSON_BYTES + 1),
                              headers={"Content-Type": "application/json"}), "body", 413)
    assert err["code"] == "too_large"

    def chunks(size: int, chunk: int = 64 * 1024):  # sent without a Content-Length: counted as it streams
        for _ in range(size // chunk + 1):
            yield b" " * chunk

    refused(client.post("/api/v1/auth/login", content=chunks(2 * MAX_JSON_BYTES),
                        headers={"Content-Type": "application/json"}), "body", 413)
    refused(client.post("/tickets/x/steps/note", content=chunks(2 * MAX_JSON_BYTES),
                        headers={"Content-Type": "application/x-www-form-urlencoded"}), "body", 413)
    t = handling(desk, cast)
    hand = bearer(client, "handler")
    # one file per API upload: its multipart body may not pass the attachment limit (10 MB here) by much
    boundary = "b0undary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n").encode()

    def upload():
        yield head + PNG
        yield from chunks(11 * 1024 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post(f"/api/v1/tickets/{t.number}/attachments", content=upload(),
                    headers={**hand, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    refused(r, "body", 413)
    assert client.get(f"/api/v1/tickets/{t.number}/attachments", headers=hand).json() == []
    # a page asking for HTML gets the page
    r = client.post("/login", content=b"x" * (MAX_JSON_BYTES + 1), headers={
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"})
    assert r.status_code == 413 and "<html" in r.text


def _call(app, path: str, headers: list[tuple[bytes, bytes]], size: int, first: bytes = b"") -> tuple[int, int, int]:
    """The app called as a server would, with a body of `size` bytes (`first`, then spaces) made as it is read:
    (status, bytes the app read, the peak of memory allocated meanwhile)."""
    chunk = b" " * (256 * 1024)
    read = 0
    status = 0

    async def receive():
        nonlocal read
        if read >= size:
            await asyncio.sleep(3600)  # the client waits for the answer
        body = first if read == 0 and first else chunk
        read += len(body)
        return {"type": "http.request", "body": body, "more_body": read < size}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), *headers], "client": ("127.0.0.1", 5000),
             "server": ("testserver", 80)}
    tracemalloc.start()
    try:
        asyncio.run(asyncio.wait_for(app(scope, receive, send), 60))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return status, read, peak


def test_a_200_mb_body_is_neither_kept_nor_read_whole(app):
    declared = 200 * 1024 * 1024
    json_type = (b"content-type", b"application/json")
    status, read, peak = _call(app, "/api/v1/auth/login", [json_type, (b"content-length", str(declared).encode())],
                               declared)
    assert status == 413 and read == 0  # refused by its Content-Length, and too much to drain
    # without a Content-Length: read up to the limit, then drained (read and dropped) up to a bound
    status, read, peak = _call(app, "/api/v1/auth/login", [json_type], declared)
    assert status == 413 and read <= MAX_JSON_BYTES + MAX_DRAIN_BYTES + 512 * 1024, read
    assert peak < 8 * 1024 * 1024, peak
    head = b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n' + PNG
    status, read, peak = _call(app, "/api/v1/tickets/1/attachments",
                               [(b"content-type", b"multipart/form-data; boundary=x")], declared, head)
    assert status == 413 and peak < 16 * 1024 * 1024, peak


# --- 4. a client that sends its whole body before reading, against `jiesu serve` --------------------------

def test_a_served_413_is_read_by_a_client_that_sends_everything_first(tmp_path):
    env = app_env(tmp_path)
    done = subprocess.run([sys.executable, "-m", "jiesu.cli", "db", "upgrade"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    body = b"description=" + b"x" * (27 * 1024 * 1024)
    with serving(env, "--no-clock") as base:
        netloc = urlsplit(base).netloc
        for path, kind in (("/open311/v2/requests.json", "application/x-www-form-urlencoded"),
                           ("/api/v1/auth/login", "application/json"), ("/login", "application/x-www-form-urlencoded")):
            conn = http.client.HTTPConnection(netloc, timeout=60)
            try:
                conn.request("POST", path, body=body, headers={"Content-Type": kind})  # sends it all, then reads
                answer = conn.getresponse()
                text = answer.read().decode()
            finally:
                conn.close()
            assert answer.status == 413, (path, text[:300])
            assert "larger than" in (json.loads(text)[0]["description"] if path.startswith("/open311")
                                     else json.loads(text)["error"]["message"])
        # requests (schemathesis's and the Open311 clients' HTTP library) sends it all too before reading
        r = requests.post(f"{base}/open311/v2/requests.json", data=body, timeout=60,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 413 and "larger than" in r.json()[0]["description"], r.text[:300]
        # and the server is still up and answering
        conn = http.client.HTTPConnection(netloc, timeout=10)
        conn.request("GET", "/api/v1/health")
        assert conn.getresponse().status == 200
        conn.close()
