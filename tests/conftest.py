"""Fixtures: every integration test runs on SQLite and on a throwaway PostgreSQL 15, each test
inside a transaction that is rolled back, on a schema built by the migrations and seeded once."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from jiesu import migrate, wiring
from jiesu.clock import FixedClock
from jiesu.config import Settings
from jiesu.db import make_engine, unit_of_work
from jiesu.permissions import SYSTEM
from jiesu.places import service as places
from jiesu.routing import service as routing
from jiesu.taxonomy import service as taxonomy
from jiesu.units import service as units
from tests import pg

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
_pg_skip_reason: str | None = None


def pytest_configure(config: pytest.Config) -> None:  # noqa: ARG001
    wiring.load()  # as every jiesu process does: the listeners (the assessment's facts) subscribed


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"jiesu: PostgreSQL tests use {os.environ.get('JIESU_TEST_DATABASE_URL') or 'a throwaway server'}"]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if _pg_skip_reason:
        terminalreporter.write_line(f"jiesu: THE POSTGRESQL HALF WAS SKIPPED: {_pg_skip_reason}", yellow=True,
                                    bold=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.Server | None]:
    global _pg_skip_reason
    if os.environ.get("JIESU_TEST_DATABASE_URL"):
        yield None
        return
    try:
        server = pg.start()
    except pg.Unavailable as exc:
        _pg_skip_reason = str(exc)
        if os.environ.get("CI"):
            raise  # on CI a missing PostgreSQL is a broken install, not a laptop
        yield None
        return
    yield server
    server.stop()


def seed_reference_data(engine: Engine) -> None:
    """What every integration test may assume: Beijing's places, the units, the category tree and
    the default deadline policies, committed once per database."""
    migrate.upgrade(engine)
    clock = FixedClock(datetime(2024, 1, 1, tzinfo=UTC))
    with unit_of_work(sessionmaker(bind=engine)) as s:
        places.import_gazetteer(s, SYSTEM)
        units.bootstrap(s, SYSTEM)
        taxonomy.import_tree(s, SYSTEM)
        taxonomy.seed_default_policies(s, SYSTEM, clock)
        routing.seed_default_rules(s, SYSTEM, clock)


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("sqlite") / "jiesu.db"
    engine = make_engine(f"sqlite:///{path}")
    seed_reference_data(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgresql_engine(pg_server: pg.Server | None) -> Iterator[Engine]:
    url = os.environ.get("JIESU_TEST_DATABASE_URL")
    if not url:
        if pg_server is None:
            pytest.skip(f"PostgreSQL half skipped: {_pg_skip_reason}")
        url = pg_server.create_database("jiesu_test")
    engine = make_engine(url)
    seed_reference_data(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose commits are savepoints inside one transaction that is rolled back at the end."""
    connection = engine.connect()
    transaction = connection.begin()
    s = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield s
    finally:
        s.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2024, 9, 30, 2, 0, tzinfo=UTC))  # Monday 10:00 in Beijing


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path, secret_key="test-secret", database_url="sqlite://")


@pytest.fixture
def app(engine: Engine, session: Session, settings: Settings, clock: FixedClock):
    """The real app, its sessions joined to the test's rolled-back transaction."""
    from jiesu.app import create_app

    application = create_app(settings, engine=engine, clock=clock)
    application.state.sessions = sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint",
                                              expire_on_commit=False)
    return application


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"needs the project's shared data at {SHARED} (not shipped in the package)")
    return SHARED


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="jiesu-test-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
def trained_var(tmp_root: Path) -> Path:
    """A var folder with the category classifier trained once per test session on the shipped corpus."""
    from jiesu.routing import classifier

    var = tmp_root / "trained-var"
    classifier.train(Settings(var_dir=var, secret_key="test-secret", database_url="sqlite://"))
    return var
