"""The PostgreSQL pool pings a connection only after it sat idle (jiesu.db.PING_AFTER_IDLE), not at every
checkout: a dead idle connection is replaced before use, a busy one costs no extra round trip."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from jiesu.db import make_engine


@pytest.fixture
def pg_url(pg_server):
    if pg_server is None:
        pytest.skip("needs the throwaway PostgreSQL server")
    return pg_server.create_database(f"jiesu_pool_{time.monotonic_ns()}")


def _pid(engine) -> int:
    with engine.connect() as c:
        return c.scalar(text("SELECT pg_backend_pid()"))


def _kill(engine, pid: int) -> None:
    with engine.connect() as c:
        assert c.scalar(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        c.commit()
    time.sleep(0.2)  # the backend is gone once the signal is handled


def _pings(engine, monkeypatch) -> list[int]:
    """Counts the pings (the dialect's do_ping, which pool_pre_ping runs too)."""
    seen: list[int] = []
    real = engine.dialect.do_ping

    def counting(dbapi_connection):
        seen.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counting)
    return seen


def test_a_connection_in_steady_use_is_not_pinged(pg_url, monkeypatch):
    engine = make_engine(pg_url, pool_size=1, max_overflow=0, ping_after_idle=60)
    try:
        pings = _pings(engine, monkeypatch)
        first = _pid(engine)
        assert [_pid(engine) for _ in range(5)] == [first] * 5  # the same connection, handed back and taken again
        assert pings == []
    finally:
        engine.dispose()


def test_a_connection_idle_for_long_is_pinged(pg_url, monkeypatch):
    engine = make_engine(pg_url, pool_size=1, max_overflow=0, ping_after_idle=0.2)
    try:
        pings = _pings(engine, monkeypatch)
        first = _pid(engine)
        time.sleep(0.3)
        assert _pid(engine) == first
        assert pings == [1]
    finally:
        engine.dispose()


def test_a_dead_connection_idle_for_long_is_replaced_before_use(pg_url):
    engine = make_engine(pg_url, pool_size=1, max_overflow=0, ping_after_idle=0.1)
    killer = make_engine(pg_url, pool_size=1, max_overflow=0)
    try:
        first = _pid(engine)
        _kill(killer, first)
        time.sleep(0.2)
        second = _pid(engine)  # no error reaches the caller: the ping found it dead, the pool reconnected
        assert second != first
    finally:
        engine.dispose()
        killer.dispose()


def test_a_dead_connection_in_steady_use_fails_once_then_the_pool_recovers(pg_url):
    engine = make_engine(pg_url, pool_size=2, max_overflow=0, ping_after_idle=3600)
    killer = make_engine(pg_url, pool_size=1, max_overflow=0)
    try:
        first = _pid(engine)
        _kill(killer, first)
        from sqlalchemy.exc import OperationalError

        with pytest.raises(OperationalError):  # met in use: the request that met it fails (the API says 503)
            _pid(engine)
        assert _pid(engine) != first  # the next one gets a new connection
    finally:
        engine.dispose()
        killer.dispose()
