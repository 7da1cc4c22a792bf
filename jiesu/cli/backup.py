"""`jiesu backup FILE` and `jiesu restore FILE`: the whole database in one file, and back.

PostgreSQL: `pg_dump --format=custom` and `pg_restore` (the binaries from JIESU_PG_BINDIR, else the newest
/usr/lib/postgresql/*/bin, else PATH). SQLite: its online backup API, a consistent copy taken while `jiesu serve`
goes on writing (WAL: readers never wait for the writer, nor it for them), written out as a single file.

A restore refuses a file of the other kind, and a database that holds data unless told --force (then the
backup replaces it: on PostgreSQL in one transaction, on SQLite through the backup API, which takes the write
lock). It leaves the schema at the newest migration (a backup of an older Jiesu is upgraded). Attachments are
files in the var folder (JIESU_VAR_DIR/attachments), not in the database: copy that folder beside the backup.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import URL, make_url

from jiesu import migrate
from jiesu.cli.db import catch_up
from jiesu.config import get_settings
from jiesu.db import Base, make_engine
from jiesu.shell import console, fail

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"  # pg_dump's custom format
KINDS = {"sqlite": "a SQLite database", "postgresql": "a PostgreSQL dump (pg_dump's custom format)"}
VERSION_TABLE = "alembic_version"


class BackupError(Exception):
    """What went wrong, said in one sentence for the shell."""


# --- what a file and a database are -------------------------------------------------------------------------

def kind_of_file(path: Path) -> str | None:
    """'sqlite', 'postgresql' (a pg_dump custom archive), or None: by the file's first bytes."""
    with path.open("rb") as f:
        head = f.read(len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgresql"
    return None


def kind_of_url(url: URL) -> str:
    kind = url.get_backend_name()
    if kind not in KINDS:
        raise BackupError(f"cannot back up or restore a {kind} database: Jiesu runs on SQLite or PostgreSQL")
    if kind == "sqlite" and (not url.database or url.database == ":memory:"):
        raise BackupError("JIESU_DATABASE_URL is an in-memory SQLite database: there is nothing on disk")
    return kind


def tables_with_rows(engine: Engine) -> tuple[list[str], list[str]]:
    """(every table of the database, those of Jiesu's tables that hold at least one row). Alembic's own and the
    search index's (SQLite's FTS keeps a row of settings in a fresh one) are not data."""
    names = inspect(engine).get_table_names()
    ours = [t for t in names if t in Base.metadata.tables]
    preparer = engine.dialect.identifier_preparer
    with engine.connect() as conn:
        filled = [t for t in ours if conn.execute(text(f"SELECT 1 FROM {preparer.quote(t)} LIMIT 1")).first()]
    return names, filled


# --- PostgreSQL's own tools ---------------------------------------------------------------------------------

def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", Path(path).parent.name))


def pg_tool(name: str) -> Path:
    """pg_dump or pg_restore: from JIESU_PG_BINDIR, else the newest /usr/lib/postgresql/N/bin (a dump needs a
    pg_dump at least as new as the server), else PATH."""
    env = os.environ.get("JIESU_PG_BINDIR")
    candidates = [env] if env else sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    for c in candidates:
        if c and (Path(c) / name).is_file():
            return Path(c) / name
    found = shutil.which(name)
    if found:
        return Path(found)
    where = f"JIESU_PG_BINDIR={env}" if env else "/usr/lib/postgresql/*/bin and PATH"
    raise BackupError(f"{name} is not installed (looked in {where}): install PostgreSQL's client programs "
                      "(Debian: apt-get install postgresql-client) or set JIESU_PG_BINDIR")


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The connection as libpq's tools take it: a postgresql:// URI without the password, which goes in the
    environment (PGPASSWORD), not on a command line that `ps` shows."""
    env = {**os.environ}
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def _run(cmd: list[str], env: dict[str, str], what: str) -> str:
    """Run one of PostgreSQL's tools; its output, or a BackupError with the last lines it wrote."""
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, errors="replace")
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise BackupError(f"{what} failed ({Path(cmd[0]).name} exited with {done.returncode}): "
                          + (" / ".join(lines[-3:]) or "no message"))
    return done.stdout


# --- backup -------------------------------------------------------------------------------------------------

def backup_sqlite(database: Path, target: Path) -> None:
    if not database.is_file():
        raise BackupError(f"there is no database at {database}")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(database, timeout=30)
    try:
        copy = sqlite3.connect(partial)
        try:
            # One step (pages=-1): one read transaction, so one consistent state, however busy the writer.
            source.backup(copy, pages=-1)
            copy.execute("PRAGMA journal_mode=DELETE")  # the copy is one file, no -wal beside it
            check = copy.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            copy.close()
        if check != "ok":
            raise BackupError(f"the copy failed SQLite's check: {check}")
        os.replace(partial, target)
    finally:
        source.close()
        partial.unlink(missing_ok=True)  # left only by a failure


def backup_postgresql(url: URL, target: Path) -> None:
    uri, env = _libpq(url)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        _run([str(pg_tool("pg_dump")), "--format=custom", f"--file={partial}", f"--dbname={uri}"], env, "pg_dump")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)


def backup(url_text: str, target: Path) -> str:
    """Back the database up into `target` (replaced if it exists, only once the copy is whole); its kind."""
    url = make_url(url_text)
    kind = kind_of_url(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        backup_sqlite(Path(url.database), target)
    else:
        backup_postgresql(url, target)
    return kind


# --- restore ------------------------------------------------------------------------------------------------

def check_sqlite_backup(path: Path) -> None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a readable SQLite database: {exc}") from None
    if check != "ok":
        raise BackupError(f"{path} failed SQLite's check: {check}")
    if VERSION_TABLE not in tables:
        raise BackupError(f"{path} is a SQLite database but not Jiesu's (it has no {VERSION_TABLE} table)")


def restore_sqlite(source: Path, database: Path) -> None:
    check_sqlite_backup(source)
    database.parent.mkdir(parents=True, exist_ok=True)
    backup_file = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        live = sqlite3.connect(database, timeout=30)
        try:
            backup_file.backup(live, pages=-1)  # takes the write lock: a running server waits, then sees it whole
            live.execute("PRAGMA journal_mode=WAL")
        finally:
            live.close()
    finally:
        backup_file.close()


def restore_postgresql(source: Path, url: URL, *, present: list[str]) -> None:
    """pg_restore into the database, in one transaction: a failure leaves the database as it was. Replacing one
    that has tables (`present`), --clean drops what the dump holds first; and the tables a newer Jiesu made since
    the backup was taken (not in it) are dropped in the same transaction, before: their foreign keys would stop
    the dump's tables from being dropped, and the upgrade after the restore makes them again."""
    uri, env = _libpq(url)
    pg_restore = str(pg_tool("pg_restore"))
    listing = _run([pg_restore, "--list", str(source)], env, f"reading {source}")
    flags = ["--no-owner", "--no-privileges"] + (["--clean", "--if-exists"] if present else [])
    dumped = set(re.findall(r" TABLE public (\S+) ", listing))
    newer = [t for t in present if t not in dumped]
    if not newer:
        _run([pg_restore, *flags, "--single-transaction", "--exit-on-error", f"--dbname={uri}", str(source)], env,
             "pg_restore")
        return
    with tempfile.TemporaryDirectory(prefix="jiesu-restore-") as tmp:
        drops, script = Path(tmp) / "drop-newer.sql", Path(tmp) / "restore.sql"
        drops.write_text("".join(f'DROP TABLE IF EXISTS public."{t}" CASCADE;\n' for t in newer), encoding="utf-8")
        _run([pg_restore, *flags, f"--file={script}", str(source)], env, "pg_restore")
        _run([str(pg_tool("psql")), "-X", "-q", "--single-transaction", "-v", "ON_ERROR_STOP=1", f"--dbname={uri}",
              "-f", str(drops), "-f", str(script)], env, "psql (the restore's script)")


def restore(url_text: str, source: Path, *, force: bool) -> str:
    """Restore `source` into the configured database and migrate it to the newest schema; the revision."""
    url = make_url(url_text)
    kind = kind_of_url(url)
    if not source.is_file():
        raise BackupError(f"there is no file {source}")
    found = kind_of_file(source)
    if found is None:
        raise BackupError(f"{source} is not a Jiesu backup: neither {KINDS['sqlite']} nor {KINDS['postgresql']}")
    if found != kind:
        raise BackupError(f"{source} is {KINDS[found]}, but JIESU_DATABASE_URL is a {kind} database: restore it "
                          f"into a {found} database (or back the {kind} one up with `jiesu backup`)")
    existing = kind == "postgresql" or Path(url.database).exists()
    tables: list[str] = []
    if existing:
        engine = make_engine(url_text)
        try:
            tables, filled = tables_with_rows(engine)
        finally:
            engine.dispose()
        if filled and not force:
            raise BackupError(f"the database {url.render_as_string(hide_password=True)} holds data ({len(filled)} "
                              "tables with rows): restoring would replace all of it. Add --force to replace it")
    if kind == "sqlite":
        restore_sqlite(source, Path(url.database))
    else:
        restore_postgresql(source, url, present=tables)
    engine = make_engine(url_text)
    try:
        migrate.upgrade(engine)
        status = migrate.check(engine)
    finally:
        engine.dispose()
    if not status.is_current:
        raise BackupError(f"restored, but the schema is not current after the upgrade ({status.current} vs "
                          f"{status.head}): {'; '.join(status.differences[:3])}")
    return status.current or ""


# --- the commands -------------------------------------------------------------------------------------------

def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def backup_command(file: Annotated[Path, typer.Argument(help="the backup to write (replaced if it exists)",
                                                         dir_okay=False)]) -> None:
    """Back the whole database up into FILE: pg_dump's custom format on PostgreSQL, a copy by SQLite's online
    backup API on SQLite. Safe while `jiesu serve` runs."""
    settings = get_settings()
    started = time.perf_counter()
    try:
        kind = backup(settings.effective_database_url, file)
    except (BackupError, OSError, sqlite3.Error) as exc:
        raise fail(str(exc)) from None
    console.print(f"backed up {make_url(settings.effective_database_url).render_as_string(hide_password=True)} "
                  f"into {file} ({KINDS[kind]}, {_size(file)}) in {time.perf_counter() - started:.1f} s",
                  highlight=False, soft_wrap=True)


def restore_command(file: Annotated[Path, typer.Argument(help="a backup written by `jiesu backup`",
                                                          dir_okay=False)],
                    force: Annotated[bool, typer.Option("--force", help="replace a database that holds data")]
                    = False) -> None:
    """Restore FILE (written by `jiesu backup`) into the configured database, then migrate it to the newest
    schema. Refuses a database that holds data unless --force. Stop `jiesu serve` and `jiesu clock` first."""
    settings = get_settings()
    started = time.perf_counter()
    try:
        revision = restore(settings.effective_database_url, file, force=force)
    except (BackupError, OSError, sqlite3.Error) as exc:
        raise fail(str(exc)) from None
    where = make_url(settings.effective_database_url).render_as_string(hide_password=True)
    console.print(f"restored {file} into {where} in {time.perf_counter() - started:.1f} s; schema at {revision}",
                  highlight=False, soft_wrap=True)
    catch_up(settings)


__all__ = ["BackupError", "backup", "backup_command", "restore", "restore_command"]
