"""Where a database's schema stands against the newest migration, read without loading the models: every
command checks it before it works, and a capability's commands must not pull in the whole schema
(jiesu.models imports every capability) to do so. jiesu.migrate adds the drift from the models."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head(engine: Engine) -> str:
    return ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head() or ""


def current(conn: Connection, **opts) -> str | None:
    return MigrationContext.configure(conn, opts=opts).get_current_revision()


def is_current(engine: Engine) -> tuple[bool, str | None, str]:
    """(whether the database is at the newest migration, its revision, the newest)."""
    newest = head(engine)
    with engine.connect() as conn:
        now = current(conn)
    return now == newest, now, newest
