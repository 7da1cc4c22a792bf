"""Fixtures: every integration test runs on SQLite and on a throwaway PostgreSQL 15, each test
inside a transaction that is rolled back, on a schema built by the migrations and seeded once.

The slow things happen once per run: the category classifier is trained once (`trained_var`), and the demo
city is seeded once (`demo_var`, with that classifier); a test that needs the demo takes a copy of it
(tests/served.py `demo_env`). Every test is marked with its tier, its folder's name (TIERS), so that
`pytest -m "unit or integration"` and the Makefile's test-fast and test-e2e run one tier.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
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
TIERS = ("unit", "integration", "e2e", "conformance", "durability", "stories")  # folders of tests/, and markers
DEMO_TICKETS, DEMO_DAYS = 500, 10  # enough for two Open311 pages of 200 in the last 6 days, and for rankings
_pg_skip_reason: str | None = None


def pytest_configure(config: pytest.Config) -> None:  # noqa: ARG001
    wiring.load()  # as every jiesu process does: the listeners (the assessment's facts) subscribed


@pytest.hookimpl(tryfirst=True)  # before -m reads the markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:  # noqa: ARG001
    """Each test gets its tier's marker from its folder: tests/e2e/... is `e2e`, and so on."""
    here = Path(__file__).resolve().parent
    for item in items:
        try:
            tier = item.path.resolve().relative_to(here).parts[0]
        except ValueError:
            continue
        if tier in TIERS:
            item.add_marker(tier)


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


def made_once(name: str, tmp_root: Path, make: Callable[[Path], str]) -> tuple[Path, str]:
    """A folder `make` fills (and what it printed), made once per run of the suite: in the session's tmp_root, or,
    when the run is two pytest processes at once (tests/tiers.sh), in the folder they share (JIESU_TEST_SHARED),
    by whichever asks first while the other waits on the lock."""
    shared = os.environ.get("JIESU_TEST_SHARED")
    if not shared:
        path = tmp_root / name
        return path, make(path)
    path, done = Path(shared) / name, Path(shared) / f"{name}.done"
    with open(Path(shared) / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(path, ignore_errors=True)  # a half-made one, from a process that failed in `make`
            done.write_text(make(path), encoding="utf-8")
    return path, done.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def trained_routing(tmp_root: Path) -> tuple[Path, str]:
    """The category classifier, trained once per test session by the real `jiesu routing train` on the shipped
    corpus: its var folder and the command's output. Every test that needs a model reads this one, and the demo
    seed copies it in; nothing writes to it."""
    from typer.testing import CliRunner

    from jiesu.cli import app
    from tests.settings_env import jiesu_env

    def train(var: Path) -> str:
        with jiesu_env({"JIESU_VAR_DIR": str(var), "COLUMNS": "200"}):
            result = CliRunner().invoke(app, ["routing", "train"])
        assert result.exit_code == 0, f"jiesu routing train -> {result.exit_code}\n{result.output}"
        return result.output

    return made_once("trained-var", tmp_root, train)


@pytest.fixture(scope="session")
def trained_var(trained_routing: tuple[Path, str]) -> Path:
    """A var folder with the category classifier trained once per test session on the shipped corpus."""
    return trained_routing[0]


@pytest.fixture(scope="session")
def demo_var(tmp_root: Path, trained_var: Path) -> Path:
    """The demo city, seeded once per test session by the real `jiesu demo seed` in a subprocess, as `make demo`
    does, on a SQLite file (DEMO_DB), with the session's classifier copied in (--model) instead of trained again.
    Nobody serves or writes this folder: a test takes its own copy (tests/served.py demo_env)."""
    from tests.served import DEMO_DB, app_env, jiesu

    def seed(var: Path) -> str:
        return jiesu(app_env(var, DEMO_DB, COLUMNS="200"), "demo", "seed", "--tickets", str(DEMO_TICKETS), "--days",
                     str(DEMO_DAYS), "--model", str(trained_var), timeout=600)

    return made_once("demo-var", tmp_root, seed)[0]
