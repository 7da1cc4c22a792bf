"""A citizen's registration and login by mobile number and one-time code (issue 17, item 1), by page and by API,
on SQLite and PostgreSQL. The codes are read from a capturing sender named by the setting, as an SMS gateway
would be (JIESU_SMS_SENDER=module:Class)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from jiesu.audit.models import AuditEntry
from jiesu.config import Settings
from jiesu.permissions import SYSTEM, Role
from jiesu.units import phone as phones
from jiesu.units import users
from jiesu.units.models import PhoneCode, User
from tests import forms

NUMBER = "13812345678"
CODE = re.compile(r"验证码为 ([0-9]{6})")


class Capture:
    """The test's SMS gateway: keeps what it was asked to send."""

    sent: list[tuple[str, str]] = []

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, phone: str, text: str) -> None:
        Capture.sent.append((phone, text))


def last_code(phone: str = NUMBER) -> str:
    texts = [t for p, t in Capture.sent if p == phone]
    assert texts, f"no code sent to {phone}"
    return CODE.search(texts[-1]).group(1)


@pytest.fixture(autouse=True)
def _fresh_capture():
    Capture.sent = []


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(var_dir=tmp_path, secret_key="test-secret", database_url="sqlite://",
                    sms_sender=f"{__name__}:Capture")


def ask(client, phone: str = NUMBER):
    return client.post("/api/v1/auth/phone/code", json={"phone": phone})


def code_login(client, phone: str = NUMBER, code: str | None = None):
    return client.post("/api/v1/auth/phone/login", json={"phone": phone, "code": code or last_code()})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# -- by API ------------------------------------------------------------------------------------------------------

def test_the_first_code_login_registers_a_citizen_and_the_next_finds_them(client, session, clock):
    r = ask(client, "+86 138-1234-5678")
    assert r.status_code == 202, r.text
    assert r.json() == {"phone": NUMBER, "expires_in": 300, "resend_in": 60}
    r = code_login(client, "138 1234 5678")
    assert r.status_code == 200, r.text
    first = r.json()["user"]
    assert first["role"] == "citizen" and first["display_name"] == "市民5678" and first["unit_code"] is None
    assert re.fullmatch(r"c[0-9a-f]{12}", first["username"])  # random: nothing of the number in it
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {r.json()['token']}"})
    assert me.status_code == 200 and me.json()["username"] == first["username"]
    user = session.scalar(select(User).where(User.username == first["username"]))
    assert user.phone == NUMBER
    # the audit says who made the account: the phone sign-up, not the administrator's shell; and keeps no number
    made = session.scalars(select(AuditEntry).where(AuditEntry.key == first["username"])).all()
    assert [(e.actor, e.action) for e in made] == [("phone-signup", "create")] and NUMBER not in (made[0].after or "")

    clock.advance(timedelta(minutes=2))
    assert ask(client).status_code == 202
    again = code_login(client)
    assert again.status_code == 200 and again.json()["user"]["username"] == first["username"]
    assert session.scalar(select(User.id).where(User.phone == NUMBER)) == user.id


def test_a_code_is_used_up_by_its_login(client):
    ask(client)
    code = last_code()
    assert code_login(client, code=code).status_code == 200
    r = code_login(client, code=code)
    assert r.status_code == 401 and r.json()["error"]["field"] == "code"


def test_five_wrong_codes_burn_it(client):
    ask(client)
    code = last_code()
    for _ in range(phones.MAX_CODE_ATTEMPTS):
        r = code_login(client, code=wrong(code))
        assert r.status_code == 401 and r.json()["error"]["field"] == "code"
    assert code_login(client, code=code).status_code == 401  # the right one, too late


def test_four_wrong_codes_leave_the_fifth_try(client):
    ask(client)
    code = last_code()
    for _ in range(phones.MAX_CODE_ATTEMPTS - 1):
        assert code_login(client, code=wrong(code)).status_code == 401
    assert code_login(client, code=code).status_code == 200


def test_an_expired_code_is_refused(client, clock):
    ask(client)
    clock.advance(phones.CODE_TTL + timedelta(seconds=1))
    r = code_login(client)
    assert r.status_code == 401 and r.json()["error"]["field"] == "code"


def test_a_new_code_once_a_minute_and_a_few_an_hour(client, clock):
    assert ask(client).status_code == 202
    r = ask(client)
    assert r.status_code == 429 and r.json()["error"]["field"] == "phone"
    assert 0 < int(r.headers["Retry-After"]) <= 60
    clock.advance(timedelta(seconds=61))
    assert ask(client).status_code == 202
    assert len(Capture.sent) == 2  # the refused one sent nothing
    for _ in range(phones.PER_NUMBER_HOUR - 2):
        clock.advance(timedelta(seconds=61))
        assert ask(client).status_code == 202
    clock.advance(timedelta(seconds=61))
    r = ask(client)
    assert r.status_code == 429 and 60 < int(r.headers["Retry-After"]) <= 3600
    assert code_login(client).status_code == 200  # the last code sent still works
    clock.advance(timedelta(hours=1))
    assert ask(client).status_code == 202


def test_a_few_codes_an_hour_per_address(app, clock):
    one = TestClient(app, client=("203.0.113.9", 40000))
    other = TestClient(app, client=("198.51.100.7", 40000))
    numbers = [f"139000000{i:02d}" for i in range(phones.PER_SOURCE_HOUR + 1)]
    answers = [ask(one, n).status_code for n in numbers]
    assert answers == [202] * phones.PER_SOURCE_HOUR + [429]
    assert ask(other, numbers[-1]).status_code == 202  # another address is not held up


def test_the_code_is_never_stored_in_clear(client, session):
    ask(client)
    code = last_code()
    rows = session.execute(text("SELECT * FROM phone_codes")).all()
    assert len(rows) == 1
    assert all(code not in str(value) for value in rows[0])
    row = session.scalar(select(PhoneCode))
    assert row.phone == NUMBER and row.attempts == 0 and len(row.code_hash) == 64


@pytest.mark.parametrize("bad", ["12345", "1381234567", "abc", "12812345678"])
def test_a_malformed_number_is_422_naming_phone(client, bad):
    for r in (ask(client, bad), client.post("/api/v1/auth/phone/login", json={"phone": bad, "code": "123456"})):
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == "phone"
    assert Capture.sent == []


def test_a_malformed_code_is_422_naming_code(client):
    ask(client)
    r = client.post("/api/v1/auth/phone/login", json={"phone": NUMBER, "code": "12ab"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "code"


def test_the_answer_does_not_tell_whether_the_number_has_an_account(client, session, clock):
    ask(client)
    assert code_login(client).status_code == 200  # 138... has an account now
    clock.advance(timedelta(minutes=2))
    known, unknown = ask(client, NUMBER), ask(client, "13987654321")
    assert known.status_code == unknown.status_code == 202
    assert {k: v for k, v in known.json().items() if k != "phone"} == \
        {k: v for k, v in unknown.json().items() if k != "phone"}


@pytest.mark.parametrize("role", [Role.admin, Role.operator])
def test_a_staff_account_cannot_be_taken_over_by_phone(client, session, clock, role):
    staff = users.create(session, SYSTEM, clock, username="boss", password="correct-horse-9", role=role)
    staff.phone = NUMBER  # were a staff member's number ever on their account
    session.flush()
    assert ask(client).status_code == 202  # answered as any number
    r = code_login(client)
    assert r.status_code == 401, r.text
    assert "token" not in r.json()
    assert session.scalar(select(User.username).where(User.phone == NUMBER)) == "boss"
    assert session.scalar(select(User.id).where(User.role == Role.citizen, User.phone.is_not(None))) is None


def test_a_deactivated_citizen_cannot_log_in_by_phone(client, session, clock):
    ask(client)
    name = code_login(client).json()["user"]["username"]
    users.set_active(session, SYSTEM, name, False, clock)
    clock.advance(timedelta(minutes=2))
    ask(client)
    assert code_login(client).status_code == 401


def test_a_sender_that_fails_is_503_and_keeps_no_code(client, app, session):
    class Broken:
        def send(self, phone, text):
            raise ConnectionError("gateway down")

    app.state.code_sender = Broken()
    r = ask(client)
    assert r.status_code == 503 and r.json()["error"]["field"] == "phone"
    assert session.scalar(select(PhoneCode).where(PhoneCode.phone == NUMBER)) is None


# -- by page ---------------------------------------------------------------------------------------------------

def test_the_whole_flow_by_page(client, session):
    page = client.get("/login")
    assert page.status_code == 200
    assert 'action="/login/phone/code"' in page.text and 'autocomplete="tel"' in page.text
    assert 'inputmode="numeric"' in page.text and '<label for="login-phone">' in page.text
    r = forms.post(client, "/login/phone/code", {"phone": "138 1234 5678", "next": "/places"})
    assert r.status_code == 200, r.text
    assert 'autocomplete="one-time-code"' in r.text and '<label for="code">' in r.text
    assert "138****5678" in r.text and 'name="csrf_token"' in r.text
    r = forms.post(client, "/login/phone", {"phone": NUMBER, "code": last_code(), "next": "/places"},
                   follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/places"
    home = client.get("/")
    assert "市民5678" in home.text and NUMBER not in home.text
    user = session.scalar(select(User).where(User.phone == NUMBER))
    assert user.role == Role.citizen


def test_the_pages_say_which_field_is_wrong(client, clock):
    r = forms.post(client, "/login/phone/code", {"phone": "12345"})
    assert r.status_code == 422 and "手机号码" in r.text and 'aria-invalid="true"' in r.text
    assert Capture.sent == []
    forms.post(client, "/login/phone/code", {"phone": NUMBER})
    r = forms.post(client, "/login/phone", {"phone": NUMBER, "code": wrong(last_code())})
    assert r.status_code == 401 and "验证码错误" in r.text and 'id="code"' in r.text
    r = forms.post(client, "/login/phone", {"phone": NUMBER, "code": "12"})
    assert r.status_code == 422 and "6位数字验证码" in r.text
    r = forms.post(client, "/login/phone/code", {"phone": NUMBER})
    assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 60
    assert "秒后再试" in r.text and 'autocomplete="one-time-code"' in r.text  # the code already sent still works
    en = client.get("/login?lang=en")
    assert "Mobile number" in en.text and "Send me a code" in en.text


def test_the_forms_need_the_csrf_token(client):
    client.get("/login")
    assert client.post("/login/phone/code", data={"phone": NUMBER}).status_code == 403
    assert Capture.sent == []


def test_a_staff_number_is_refused_on_the_page(client, session, clock):
    staff = users.create(session, SYSTEM, clock, username="boss", password="correct-horse-9", role=Role.admin)
    staff.phone = NUMBER
    session.flush()
    forms.post(client, "/login/phone/code", {"phone": NUMBER})
    r = forms.post(client, "/login/phone", {"phone": NUMBER, "code": last_code()}, follow_redirects=False)
    assert r.status_code == 403 and "用户名和密码" in r.text
    assert client.get("/api/v1/auth/me").status_code == 401
