"""A database that is away is a 503 with Retry-After, never a 500 nor a request that hangs: on the API, on the
pages, when every pooled connection is taken, when the driver reports a lost connection in other words than
OperationalError, and when PostgreSQL's host answers nothing at all. (tests/durability/test_pg_restart.py
restarts a real PostgreSQL under a real `jiesu serve`.)"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, InterfaceError, OperationalError

from jiesu import db
from jiesu.app import create_app
from jiesu.config import Settings


def test_every_pooled_connection_taken_is_503_not_500(engine: Engine, settings: Settings, clock):
    """The pool's wait for a free connection runs out (sqlalchemy.exc.TimeoutError, not a DBAPI error)."""
    small = db.make_engine(engine.url.render_as_string(hide_password=False), pool_size=1, max_overflow=0,
                           pool_timeout=0.2)
    app = create_app(settings, engine=small, clock=clock)
    try:
        with TestClient(app) as client:
            assert client.get("/api/v1/health").status_code == 200
            held = small.connect()
            try:
                r = client.get("/api/v1/health")
                assert r.status_code == 503, r.text
                assert r.headers["retry-after"] == "5"
                assert r.json()["error"]["code"] == "unavailable"
                page = client.get("/", headers={"Accept": "text/html"})
                assert page.status_code == 503 and page.headers["retry-after"] == "5"
                assert "系统繁忙" in page.text  # the site's error page, not a stack trace
            finally:
                held.close()
            assert client.get("/api/v1/health").status_code == 200
    finally:
        small.dispose()


def _app_raising(settings: Settings) -> FastAPI:
    app = create_app(settings)

    @app.get("/api/v1/lost")
    def lost() -> None:
        raise InterfaceError("SELECT 1", {}, Exception("the connection is closed"), connection_invalidated=True)

    @app.get("/api/v1/bad")
    def bad() -> None:
        raise DataError("SELECT 1", {}, Exception("invalid byte sequence"))

    return app


def test_a_connection_lost_in_other_words_is_503_and_a_driver_bug_still_500(settings: Settings):
    with TestClient(_app_raising(settings), raise_server_exceptions=False) as client:
        r = client.get("/api/v1/lost")
        assert r.status_code == 503 and r.headers["retry-after"] == "5", r.text
        r = client.get("/api/v1/bad")
        assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"


def test_a_database_host_that_answers_nothing_times_out(monkeypatch: pytest.MonkeyPatch):
    """A port that accepts the TCP connection and then says nothing (a host gone mid-way looks the same to
    libpq): connecting gives up after db.CONNECT_TIMEOUT instead of holding the request's thread for good."""
    pytest.importorskip("psycopg")
    monkeypatch.setattr(db, "CONNECT_TIMEOUT", 2)
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)  # never accepted, never answered
        port = mute.getsockname()[1]
        engine = db.make_engine(f"postgresql://nobody@127.0.0.1:{port}/nothing")
        outcome: list[BaseException | str] = []

        def connect() -> None:
            try:
                engine.connect().close()
                outcome.append("connected")
            except BaseException as exc:  # noqa: BLE001 - the test reads it below
                outcome.append(exc)

        started = time.monotonic()
        worker = threading.Thread(target=connect, daemon=True)
        worker.start()
        worker.join(timeout=10)
        took = time.monotonic() - started
    engine.dispose()
    assert not worker.is_alive(), "connecting to a host that answers nothing was still waiting after 10 s"
    assert len(outcome) == 1 and isinstance(outcome[0], OperationalError), outcome
    assert took < 8, f"gave up only after {took:.1f} s"
