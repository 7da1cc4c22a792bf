"""`jiesu backup FILE` and `jiesu restore FILE`, on SQLite and on PostgreSQL: a restored database answers every
read of the API exactly as the original did, byte for byte.

A small city is seeded through the services (places, units, categories, the demo logins, 150 simulated tickets
through the workflow, knowledge articles, an attachment, a pass of the clock), backed up by the real command,
restored by the real command into a new database, and then every GET operation of the app's OpenAPI document is
called on both, with the real ids of the seeded data, as each of several roles. The operations are read from
openapi(), not listed here: a new one is covered as soon as it exists (a new required parameter without a value
below fails the test, and says which).
"""

from __future__ import annotations

import io
import itertools
import os
import sqlite3
import threading
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from jiesu import migrate, revisions, wiring
from jiesu.app import create_app
from jiesu.callback import service as callback
from jiesu.cli import app as cli
from jiesu.cli.backup import backup_sqlite
from jiesu.clock import FixedClock
from jiesu.config import Settings
from jiesu.db import make_engine, make_sessionmaker, unit_of_work
from jiesu.demo import seed_demo
from jiesu.demo.cli import DEMO_PASSWORD, DEMO_USERS
from jiesu.hotspots.models import HotSpot, Project, Surge, Topic
from jiesu.knowledge import service as knowledge
from jiesu.knowledge.models import Article
from jiesu.permissions import SYSTEM
from jiesu.places.models import Area, AreaLevel
from jiesu.taxonomy.models import Category, RequestType
from jiesu.tickets import attachments
from jiesu.tickets import service as tickets
from jiesu.tickets.models import Attachment, Channel, Request, Ticket
from jiesu.tickets.rules import Step, TicketState
from jiesu.units import users
from tests.conftest import seed_reference_data
from tests.governance import make_governance
from tests.settings_env import jiesu_env

NOW = datetime(2024, 10, 16, 2, 0, tzinfo=UTC)  # the simulated present: Wednesday 10:00 in Beijing
READ_AT = FixedClock(NOW + timedelta(hours=1))  # both apps read at the same instant
# The administrator reads everything; a street's handler, a citizen and a visitor read their own scoped, masked or
# public views of the same. (The other centre roles read what the administrator reads, or less.)
ROLES = ("admin", "guanyinsi", "citizen", None)  # None: no login
STREET = "110115009000"  # 观音寺街道, guanyinsi's street
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


# --- the databases ------------------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(the original's URL, an empty database's URL to restore into), both committed for real: the commands
    work on databases, not on a test's rolled-back transaction."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'original.db'}", f"sqlite:///{tmp_path / 'restored' / 'jiesu.db'}"
        return
    if os.environ.get("JIESU_TEST_DATABASE_URL"):
        pytest.skip("the backup test creates databases of its own on a server (not JIESU_TEST_DATABASE_URL)")
    server = request.getfixturevalue("pg_server")
    if server is None:
        pytest.skip("PostgreSQL half skipped: no PostgreSQL server binaries")
    run = uuid.uuid4().hex[:8]
    yield server.create_database(f"backup_{run}"), server.create_database(f"restored_{run}")


def _seed(url: str, settings: Settings) -> dict[str, str]:
    """A small city with every kind of row the API reads; the demo logins' tokens."""
    engine = make_engine(url)
    try:
        seed_reference_data(engine)
        sessions = make_sessionmaker(engine)
        tokens = {}
        with unit_of_work(sessions) as s:
            for username, role, unit, display in DEMO_USERS:
                user = users.create(s, SYSTEM, FixedClock(NOW - timedelta(days=30)), username=username,
                                    password=DEMO_PASSWORD, role=role, display_name=display, unit_code=unit)
                tokens[username] = users.issue_token(s, FixedClock(NOW), user, name="backup-test")[0]
        seed_demo(sessions, NOW, settings, tickets=40, days=7, seed=7)
        clock = FixedClock(NOW)
        with unit_of_work(sessions) as s:
            knowledge.seed_demo(s, SYSTEM, clock, limit=12)
            # The citizen's own request, at guanyinsi's street, signed there, with a photo: reads with data for
            # the citizen and the street's handler too.
            actor = {name: users.actor_of(users.get(s, SYSTEM, name)) for name in ("citizen", "dispatcher",
                                                                                   "guanyinsi")}
            made = tickets.create_request(s, actor["citizen"], clock, settings, tickets.NewRequest(
                text="首座御园小区楼道堆放杂物，堵塞消防通道", request_type=RequestType.complaint,
                channel=Channel.app, area_code=STREET, contact_name="张先生", contact_phone="13800000000"))
            number = made.ticket.number
            tickets.act(s, actor["dispatcher"], clock, settings, number, Step.dispatch,
                        tickets.StepInput(unit=STREET))
            tickets.act(s, actor["guanyinsi"], clock, settings, number, Step.sign, tickets.StepInput())
            attachments.add(s, actor["guanyinsi"], clock, settings, number, "photo.png", PNG)
            make_governance(s, clock, settings, STREET, made.ticket.id)
        wiring.scheduler().run_once(sessions, clock, settings)  # overdue marks, callbacks queued, the rollups
        return tokens
    finally:
        engine.dispose()


def _ids(url: str, settings: Settings) -> dict[str, list[str]]:
    """Real ids of the seeded data, by the parameter they fill."""
    engine = make_engine(url)
    try:
        with unit_of_work(make_sessionmaker(engine)) as s:
            by_state = s.execute(select(Ticket.state, func.min(Ticket.number)).group_by(Ticket.state)).all()
            numbers = {n for _, n in by_state}
            numbers |= set(s.scalars(select(Ticket.number).join(Request, Request.id == Ticket.request_id)
                                     .where(Request.created_by == "citizen").order_by(Ticket.id).limit(1)))
            attachment = s.execute(select(Attachment.id, Ticket.number)
                                   .join(Ticket, Ticket.id == Attachment.ticket_id)).one()
            numbers.add(attachment.number)
            replied = s.scalars(select(Ticket).where(Ticket.state == TicketState.replied).order_by(Ticket.id)
                                .limit(2)).all()
            street = s.scalar(select(Area).where(Area.code == STREET))
            district = s.scalar(select(Area.code).where(Area.id == street.parent_id))
            community = s.scalar(select(Area.code).where(Area.parent_id == street.id,
                                                         Area.level == AreaLevel.community).order_by(Area.code))
            categories = [s.scalar(select(Category.code).where(Category.level == 1).order_by(Category.code)),
                          s.scalar(select(Category.code).join(Ticket, Ticket.category_id == Category.id)
                                   .order_by(Ticket.id))]
            articles = s.scalars(select(Article.id).order_by(Article.id).limit(2)).all()
            governance = {name: [str(s.scalar(select(func.min(model.id))))]
                          for name, model in (("hotspot_id", HotSpot), ("surge_id", Surge), ("topic_id", Topic),
                                              ("project_id", Project))}
            return {
                "number": sorted(numbers),
                "attachment_id": [str(attachment.id)],
                "token": [callback.survey_token(settings, t) for t in replied],
                "units": [STREET, "ga-110115"],
                "places": [district, STREET, community],
                "categories": [c for c in categories if c],
                "article_id": [str(a) for a in articles],
                **governance,
            }
    finally:
        engine.dispose()


# --- every read -----------------------------------------------------------------------------------------------

QUERY_VALUES = {  # required query parameters, by name: a value that finds something in the seeded city
    "purpose": ["回访核实诉求"],
    "lng": ["116.34"], "lat": ["39.73"],
    "text": ["大兴区观音寺街道首座御园"],
    "start": ["2024-09-30T10:00:00+08:00"], "days": ["5"],
    "month": ["2024-10"],
}


def _values(path: str, name: str, ids: dict[str, list[str]]) -> list[str]:
    if name == "code":  # /units/{code}, /places/{code}, /categories/{code}: the resource before it says which
        return ids[path.split("/")[3]]
    if name == "q":
        return ["观音寺"] if path.startswith("/api/v1/places") else ["停车"]
    if name == "day":
        return ["2024-10-01", "2024-10-12"]  # National Day; a make-up workday
    if name in ids:
        return ids[name]
    if name in QUERY_VALUES:
        return QUERY_VALUES[name]
    raise AssertionError(f"no value for the required parameter {name!r} of GET {path}: add one to test_backup.py")


def _urls(openapi: dict, ids: dict[str, list[str]]) -> dict[str, list[str]]:
    """Every GET operation of the document, as the URLs that call it with real ids."""
    out = {}
    for path, operations in openapi["paths"].items():
        op = operations.get("get")
        if op is None:
            continue
        params = [p for p in op.get("parameters", []) if p["in"] == "path" or p.get("required")]
        choices = [[(p, v) for v in _values(path, p["name"], ids)] for p in params]
        urls = []
        for combo in itertools.product(*choices):
            url, query = path, []
            for p, v in combo:
                if p["in"] == "path":
                    url = url.replace("{" + p["name"] + "}", quote(v, safe=""))
                else:
                    query.append(f"{p['name']}={quote(v, safe='')}")
            urls.append(url + ("?" + "&".join(query) if query else ""))
        out[path] = urls
    return out


def _read_everything(url: str, settings: Settings, tokens: dict[str, str], ids: dict[str, list[str]],
                     roles: tuple[str | None, ...] = ROLES
                     ) -> tuple[dict[str, tuple[int, str, bytes]], dict[str, list[str]]]:
    engine = make_engine(url)
    try:
        app = create_app(settings, engine=engine, clock=READ_AT)
        urls = _urls(app.openapi(), ids)
        answers = {}
        with TestClient(app) as client:
            for calls in urls.values():
                for call, role in itertools.product(calls, roles):
                    headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
                    r = client.get(call, headers=headers)
                    answers[f"{role or 'anonymous'} GET {call}"] = (r.status_code, r.headers.get("content-type", ""),
                                                                    r.content)
        return answers, urls
    finally:
        engine.dispose()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _content(answer: tuple[int, str, bytes]) -> tuple[int, str, bytes | dict[str, bytes]]:
    """The answer as compared: byte for byte, except that a workbook is compared part by part without the
    instant it was written (openpyxl stamps docProps/core.xml and the zip entries with the time of writing)."""
    status, kind, body = answer
    if kind.startswith(XLSX):
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            return status, kind, {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}
    return answer


def _same(before: dict, after: dict) -> None:
    assert before.keys() == after.keys()
    differ = [k for k in before if _content(before[k]) != _content(after[k])]
    shown = "\n".join(f"{k}:\n  before {before[k][0]} {before[k][2][:300]!r}\n  after  {after[k][0]} "
                      f"{after[k][2][:300]!r}" for k in differ[:5])
    assert not differ, f"{len(differ)} of {len(before)} reads answer differently after the restore:\n{shown}"


def _jiesu(url: str, settings: Settings, *args: str, **env: str):
    with jiesu_env({"JIESU_DATABASE_URL": url, "JIESU_VAR_DIR": str(settings.var_dir),
                    "JIESU_SECRET_KEY": settings.secret_key, "COLUMNS": "300", **env}):
        return CliRunner().invoke(cli, list(args))


# --- the tests ------------------------------------------------------------------------------------------------

def test_a_restored_database_answers_every_read_as_before(databases: tuple[str, str], tmp_path: Path):
    original, restored = databases
    settings = Settings(var_dir=tmp_path / "var", secret_key="backup-test", database_url=original,
                        token_cache_seconds=0)
    tokens = _seed(original, settings)
    ids = _ids(original, settings)
    file = tmp_path / "backups" / "jiesu.backup"

    done = _jiesu(original, settings, "backup", str(file))
    assert done.exit_code == 0, done.output
    assert "backed up" in done.output and file.stat().st_size > 0

    before, urls = _read_everything(original, settings, tokens, ids)  # after the backup: the same state
    # Every operation was really exercised: someone got its answer with data, not only refusals.
    unread = [p for p, calls in urls.items() if not any(before[f"{role or 'anonymous'} GET {c}"][0] == 200
                                                         for c in calls for role in ROLES)]
    assert not unread, f"operations no role could read with the seeded ids: {unread}"

    done = _jiesu(restored, settings, "restore", str(file))
    assert done.exit_code == 0, done.output
    assert "restored" in done.output and "schema at" in done.output
    engine = make_engine(restored)
    try:
        assert migrate.check(engine).is_current
    finally:
        engine.dispose()
    after, _ = _read_everything(restored, settings, tokens, ids)
    _same(before, after)

    # The restored database holds data now (and the reads above wrote an access log): no second restore over it
    # without --force; with it, the backup replaces what is there, and the answers are the original's again.
    done = _jiesu(restored, settings, "restore", str(file))
    assert done.exit_code == 1 and "--force" in done.output, done.output
    done = _jiesu(restored, settings, "restore", "--force", str(file))
    assert done.exit_code == 0, done.output
    again, _ = _read_everything(restored, settings, tokens, ids, roles=("admin",))
    _same({k: v for k, v in before.items() if k.startswith("admin ")}, again)


def test_restore_refuses_a_file_of_the_other_kind_and_what_is_no_backup(databases: tuple[str, str],
                                                                         tmp_path: Path):
    original, restored = databases
    settings = Settings(var_dir=tmp_path / "var", secret_key="backup-test", database_url=original)
    other = tmp_path / "other.backup"
    if original.startswith("sqlite"):
        other.write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 100)
        said = "is a PostgreSQL dump"
    else:
        with sqlite3.connect(other) as conn:
            conn.execute("CREATE TABLE alembic_version (version_num TEXT)")
        said = "is a SQLite database"
    done = _jiesu(restored, settings, "restore", str(other))
    assert done.exit_code == 1 and said in done.output, done.output
    junk = tmp_path / "notes.txt"
    junk.write_text("not a backup")
    done = _jiesu(restored, settings, "restore", str(junk))
    assert done.exit_code == 1 and "is not a Jiesu backup" in done.output, done.output
    done = _jiesu(restored, settings, "restore", str(tmp_path / "missing.backup"))
    assert done.exit_code == 1 and "there is no file" in done.output, done.output
    if original.startswith("postgresql"):  # PostgreSQL's tools missing: said, not a traceback
        done = _jiesu(original, settings, "backup", str(tmp_path / "x.backup"), JIESU_PG_BINDIR=str(tmp_path),
                      PATH=str(tmp_path))
        assert done.exit_code == 1 and "pg_dump is not installed" in done.output, done.output
        assert not (tmp_path / "x.backup").exists()


def test_a_sqlite_backup_is_consistent_while_another_connection_writes(tmp_path: Path):
    """The online backup copies one committed state however busy the writer: here every transaction of the
    writer adds a row to two tables, and every copy taken meanwhile must hold as many rows in both."""
    live = tmp_path / "live.db"
    with sqlite3.connect(live) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE a (n INTEGER)")
        conn.execute("CREATE TABLE b (n INTEGER)")
    stop = threading.Event()
    written = []

    def writer() -> None:
        conn = sqlite3.connect(live, timeout=30, isolation_level=None)
        n = 0
        while not stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO a VALUES (?)", (n,))
            conn.execute("INSERT INTO b VALUES (?)", (n,))
            conn.execute("COMMIT")
            n += 1
        written.append(n)
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        counts = []
        for i in range(10):
            copy = tmp_path / f"copy-{i}.db"
            backup_sqlite(live, copy)
            with sqlite3.connect(copy) as conn:
                counts.append((conn.execute("SELECT count(*) FROM a").fetchone()[0],
                               conn.execute("SELECT count(*) FROM b").fetchone()[0]))
                assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one file, no -wal
            assert not copy.with_name(copy.name + "-wal").exists()
    finally:
        stop.set()
        thread.join()
    assert all(a == b for a, b in counts), counts
    assert counts[-1][0] > counts[0][0] > 0 or written[0] > counts[-1][0], (counts, written)


def test_a_backup_of_an_older_schema_is_restored_at_the_newest(databases: tuple[str, str], tmp_path: Path):
    """A backup taken before the newest migration (an older Jiesu) comes back migrated to it, into a database
    that is migrated already but empty."""
    original, restored = databases
    settings = Settings(var_dir=tmp_path / "var", secret_key="backup-test", database_url=original)
    engine = make_engine(original)
    try:
        newest = revisions.head(engine)
        older = ScriptDirectory.from_config(revisions.alembic_config(original)).get_revision(newest).down_revision
        migrate.upgrade(engine, older)
    finally:
        engine.dispose()
    file = tmp_path / "older.backup"
    assert _jiesu(original, settings, "backup", str(file)).exit_code == 0
    # The database to restore into was made by `jiesu db upgrade`: its tables, no data (SQLite's search index
    # keeps its settings in a row), so no --force is needed, and the backup's tables replace its own.
    assert _jiesu(restored, settings, "db", "upgrade").exit_code == 0
    done = _jiesu(restored, settings, "restore", str(file))
    assert done.exit_code == 0 and f"schema at {newest}" in done.output, done.output
    engine = make_engine(restored)
    try:
        status = migrate.check(engine)
        assert status.is_current, (status.current, status.head, status.differences)
    finally:
        engine.dispose()
