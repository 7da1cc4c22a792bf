"""Password guessing (issue 15, item 1): logins are counted per username *and* source address, each one before
its password is checked, in one atomic statement. A burst of concurrent guesses gets no more passwords checked
than the limit, on PostgreSQL as on SQLite; a stranger's guesses lock only the stranger out; and a username
without an account is answered exactly like one with (the same 401s, then the same 429)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from jiesu import migrate
from jiesu.clock import FixedClock
from jiesu.config import Settings
from jiesu.db import make_engine, make_sessionmaker, unit_of_work
from jiesu.errors import AuthenticationFailed, TooManyAttempts
from jiesu.permissions import SYSTEM, Role
from jiesu.units import users
from jiesu.units.models import LoginAttempts
from tests import forms

PASSWORD = "correct-horse-9"
BURST = 30
START = datetime(2024, 9, 30, 2, 0, tzinfo=UTC)


def make(session, clock, username: str = "alice"):
    return users.create(session, SYSTEM, clock, username=username, password=PASSWORD, role=Role.operator)


def guess(session, clock, username: str, password: str, source: str) -> str:
    try:
        users.authenticate(session, clock, username, password, source=source)
    except TooManyAttempts:
        return "429"
    except AuthenticationFailed:
        return "401"
    return "200"


# -- the rule, in the service ------------------------------------------------------------------------------------

def test_a_strangers_guesses_lock_only_the_stranger_out(session, clock):
    make(session, clock)
    for _ in range(users.MAX_FAILED_LOGINS):
        assert guess(session, clock, "alice", "wrong-password", "203.0.113.9") == "401"
    assert guess(session, clock, "alice", PASSWORD, "203.0.113.9") == "429"  # even the right password waits
    assert guess(session, clock, "alice", PASSWORD, "198.51.100.7") == "200"  # the owner, at their own place
    clock.advance(users.LOCKOUT + timedelta(seconds=1))
    assert guess(session, clock, "alice", PASSWORD, "203.0.113.9") == "200"


def test_an_unknown_username_is_counted_and_refused_like_a_real_one(session, clock):
    make(session, clock)
    answers = {}
    for username in ("alice", "nobody"):
        answers[username] = [guess(session, clock, username, "wrong-password", "203.0.113.9")
                             for _ in range(users.MAX_FAILED_LOGINS + 1)]
    assert answers["alice"] == answers["nobody"] == ["401"] * users.MAX_FAILED_LOGINS + ["429"]
    with pytest.raises(TooManyAttempts) as real:
        users.authenticate(session, clock, "alice", "x", source="203.0.113.9")
    with pytest.raises(TooManyAttempts) as made_up:
        users.authenticate(session, clock, "nobody", "x", source="203.0.113.9")
    assert (real.value.message, real.value.field) == (made_up.value.message, made_up.value.field)


def test_a_success_and_a_new_password_start_the_count_again(session, clock):
    make(session, clock)
    for _ in range(users.MAX_FAILED_LOGINS - 1):
        assert guess(session, clock, "alice", "wrong-password", "a") == "401"
    assert guess(session, clock, "alice", PASSWORD, "a") == "200"
    for _ in range(users.MAX_FAILED_LOGINS):
        assert guess(session, clock, "alice", "wrong-password", "a") == "401"
    assert guess(session, clock, "alice", PASSWORD, "a") == "429"
    users.set_password(session, SYSTEM, clock, "alice", "an-administrators-reset")  # lifts every lock on alice
    assert guess(session, clock, "alice", "an-administrators-reset", "a") == "200"


def test_counts_nobody_adds_to_are_forgotten(session, clock):
    guess(session, clock, "nobody", "x", "a")
    clock.advance(users.FORGET_ATTEMPTS + timedelta(minutes=1))
    guess(session, clock, "somebody-else", "x", "b")  # a count that starts clears out the old ones
    assert session.scalars(select(LoginAttempts.username)).all() == ["somebody-else"]


# -- over HTTP: the API and the page go through the same rule ------------------------------------------------------

def test_the_api_counts_by_the_clients_address(session, clock, app):
    make(session, clock)
    stranger = TestClient(app, client=("203.0.113.9", 40000))
    owner = TestClient(app, client=("198.51.100.7", 40000))
    bodies = {}
    for username in ("alice", "nobody"):
        codes = [stranger.post("/api/v1/auth/login", json={"username": username, "password": "bad"})
                 for _ in range(users.MAX_FAILED_LOGINS + 1)]
        assert [r.status_code for r in codes] == [401] * users.MAX_FAILED_LOGINS + [429]
        assert 0 < int(codes[-1].headers["Retry-After"]) <= users.LOCKOUT.total_seconds()  # when to come back
        bodies[username] = [r.json() for r in codes]
    assert bodies["alice"] == bodies["nobody"]  # nothing tells which username has an account
    assert stranger.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 429
    assert owner.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 200


def test_the_login_page_counts_by_the_clients_address(session, clock, app):
    make(session, clock)
    stranger = TestClient(app, client=("203.0.113.9", 40000))
    owner = TestClient(app, client=("198.51.100.7", 40000))
    for username in ("alice", "nobody"):
        answers = [forms.post(stranger, "/login", {"username": username, "password": "bad"})
                   for _ in range(users.MAX_FAILED_LOGINS + 1)]
        assert [r.status_code for r in answers] == [401] * users.MAX_FAILED_LOGINS + [429]
        assert 0 < int(answers[-1].headers["Retry-After"]) <= users.LOCKOUT.total_seconds()
    r = forms.post(owner, "/login", {"username": "alice", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303


# -- a burst of concurrent guesses, on a database that commits (SQLite file, PostgreSQL) ---------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def committing(request, tmp_path, pg_server):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'burst.db'}"
    else:
        if pg_server is None:
            pytest.skip("needs the throwaway PostgreSQL server")
        url = pg_server.create_database("jiesu_login_burst")
    engine = make_engine(url, **({"pool_size": 2 * BURST + 4} if request.param == "postgresql" else {}))
    migrate.upgrade(engine)
    factory = make_sessionmaker(engine)
    clock = FixedClock(START)
    with unit_of_work(factory) as s:
        users.create(s, SYSTEM, clock, username="dispatcher", password=PASSWORD, role=Role.dispatcher)
    yield factory, clock
    engine.dispose()


def test_a_burst_of_wrong_passwords_gets_no_more_checks_than_the_limit(committing, tmp_path):
    """The issue's probe: 30 wrong passwords at once. Counted with a read-modify-write, PostgreSQL answered 30 x 401
    with the count at 1 (so a burst containing the right password logged in)."""
    from jiesu.app import create_app

    factory, clock = committing
    settings = Settings(var_dir=tmp_path, secret_key="test-secret", database_url="sqlite://")
    app = create_app(settings, engine=factory.kw["bind"], clock=clock)
    client = TestClient(app)
    barrier = threading.Barrier(BURST)
    codes: list[int] = [0] * BURST

    def run(i: int) -> None:
        barrier.wait(timeout=30)
        codes[i] = client.post("/api/v1/auth/login",
                               json={"username": "dispatcher", "password": f"bad{i}"}).status_code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(BURST)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert Counter(codes) == {401: users.MAX_FAILED_LOGINS, 429: BURST - users.MAX_FAILED_LOGINS}
    with unit_of_work(factory) as s:
        assert s.scalar(select(func.max(LoginAttempts.attempts))) == BURST
