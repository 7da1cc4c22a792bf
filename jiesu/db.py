"""Engine, sessions and the column types every model shares."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, Executable, MetaData, Result, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

# Named constraints so that Alembic's batch mode on SQLite and PostgreSQL agree on names.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns aware UTC datetimes, refuses naive ones.

    SQLite has no time zones and hands back naive values; PostgreSQL's timestamptz hands back
    aware ones. This type makes both look the same to the code above it.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a time zone first")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; take it over
    # (SQLAlchemy's documented recipe), and turn on what SQLite leaves off by default.
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


WRITE = "jiesu_write"  # execution option: this transaction will write


def _sqlite_on_begin(conn: Any) -> None:
    # A deferred transaction that reads and then writes is refused at once ("database is locked") when
    # another writer got in between, whatever busy_timeout says. A transaction that will write takes the
    # write lock first and waits its turn; reads stay deferred, so they never wait for writers (WAL).
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # The pool hands a connection to one thread at a time; FastAPI runs handlers in a thread pool.
        kwargs.setdefault("connect_args", {}).setdefault("check_same_thread", False)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        # Plain postgresql:// means psycopg 3 here; psycopg2 is not a dependency.
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query \
            and "PGCONNECT_TIMEOUT" not in os.environ:
        kwargs.setdefault("connect_args", {}).setdefault("connect_timeout", CONNECT_TIMEOUT)
    ping_idle = kwargs.pop("ping_after_idle", PING_AFTER_IDLE)
    # FastAPI runs up to 40 handlers at once per process (JIESU_THREADS). Past pool_size, a returned connection
    # is closed and the next request connects anew: a new PostgreSQL backend each time.
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        event.listen(engine, "checkin", _mark_checkin)
        event.listen(engine, "checkout", partial(_ping_if_idle, engine.dialect, ping_idle))
    return engine


# Seconds a new connection to PostgreSQL may take (libpq waits forever by default). A server that is down refuses
# at once; one whose host is gone (a failover, a cut network) answers nothing, and without a limit every request
# thread would wait for the operating system's TCP timeout, minutes, instead of answering 503. The URL's own
# ?connect_timeout= or PGCONNECT_TIMEOUT wins.
CONNECT_TIMEOUT = 5


# A connection that sat in the pool longer than this is pinged before use; a busy one is not. SQLAlchemy's
# pool_pre_ping pings at every checkout: one more round trip per request, 15 % of the intake's time in
# benchmarks/intake.py. A server restarted meanwhile has, in practice, left its connections idle for longer
# than this; one that fails in use anyway is invalidated with every older connection of the pool (SQLAlchemy's
# disconnect handling), so a restart costs at most the request that met it, answered 503 (and retried safely
# with its Idempotency-Key), never a ticket.
PING_AFTER_IDLE = 2.0
_IDLE_SINCE = "jiesu_idle_since"


def _mark_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_if_idle(dialect: Any, after: float, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    since = record.info.get(_IDLE_SINCE)
    if since is None or time.monotonic() - since < after:
        return  # new (it has just connected) or in steady use
    try:
        dialect.do_ping(dbapi_connection)  # what pool_pre_ping runs
        dbapi_connection.rollback()
    except Exception as exc:
        # The pool throws this connection away and checks out another (up to three times).
        raise DisconnectionError(f"a pooled connection was dead after {time.monotonic() - since:.0f} s idle") \
            from exc


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def open_session(factory: sessionmaker[Session], *, write: bool = False) -> Session:
    """A new session. `write=True` says its work will write, so that SQLite takes its write lock when the
    transaction begins (see _sqlite_on_begin). A session bound to an engine does not connect yet."""
    bind = factory.kw.get("bind")
    if not write:
        return factory()
    if isinstance(bind, Engine):
        return factory(bind=bind.execution_options(**{WRITE: True}))
    session = factory()  # bound to one connection (the tests' outer transaction): begin here
    session.connection(execution_options={WRITE: True})
    return session


def execute_apart(session: Session, statement: Executable) -> Result:
    """Run one short write on a connection of its own that commits at once, so that the row it locks is
    free again before the session's own transaction goes on: for a hot row many requests touch. That is
    done on PostgreSQL with a session bound to an engine. SQLite has one writer at a time (a second
    connection would wait for this session's own write lock), and a session bound to one connection (the
    tests' rolled-back transactions) must keep its writes inside it: there it runs in the session."""
    bind = session.get_bind()
    if isinstance(bind, Engine) and bind.dialect.name == "postgresql":
        with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as own:
            result = own.execute(statement)
            return result.freeze()() if result.returns_rows else result
    return session.execute(statement)


class ReferenceCache:
    """Reference rows that every intake reads and that rarely change (a place by its code, the deadline
    policies), kept in this process for `ttl` seconds: each saves intake a round trip to the database. A change
    shows in other processes within `ttl`. Only for sessions bound to an engine (the app's and the CLI's): a
    session bound to one connection (a test's rolled-back transaction) always reads the database. A miss (None)
    is not kept, so that a place added meanwhile is found at once."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._rows: dict[tuple[Any, Any], tuple[Any, float]] = {}

    def get(self, session: Session, key: Any, load: Callable[[], Any]) -> Any:
        bind = session.get_bind()
        if not isinstance(bind, Engine):
            return load()
        # By the engine's pool: one per database, shared by the engines execution_options() derives (a writing
        # session's), and hashed by identity (hashing the URL took longer than the lookup).
        k = (bind.pool, key)
        hit = self._rows.get(k)
        now = time.monotonic()
        if hit is not None and now - hit[1] < self.ttl:
            return hit[0]
        value = load()
        if value is not None:
            if len(self._rows) > 50_000:
                self._rows.clear()
            self._rows[k] = (value, now)
        return value

    def clear(self) -> None:
        self._rows.clear()


def finish(session: Session, ok: bool) -> None:
    """End a unit of work: commit if it went well, else roll back; then give the connection back."""
    try:
        if ok:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


@contextmanager
def unit_of_work(factory: sessionmaker[Session], *, write: bool = False) -> Iterator[Session]:
    """The request or job boundary: commit on success, roll back on any error. `write=True` says the
    work will write, so that SQLite takes its write lock up front (see _sqlite_on_begin)."""
    session = open_session(factory, write=write)
    try:
        yield session
    except BaseException:
        finish(session, ok=False)
        raise
    finish(session, ok=True)
