"""`jiesu db ...`: the database schema, migrated or checked."""

from __future__ import annotations

import typer

from jiesu import migrate
from jiesu.config import get_settings
from jiesu.db import make_engine
from jiesu.shell import console, fail

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema (creates the SQLite file if needed)."""
    settings = get_settings()
    engine = make_engine(settings.effective_database_url)
    migrate.upgrade(engine)
    status = migrate.check(engine)
    console.print(f"schema at {status.current} on {engine.url.render_as_string(hide_password=True)}")
    engine.dispose()


@db_app.command("check")
def db_check() -> None:
    """Say whether the schema is current; exit 1 if it is not."""
    settings = get_settings()
    engine = make_engine(settings.effective_database_url)
    status = migrate.check(engine)
    engine.dispose()
    if status.is_current:
        console.print(f"schema is current ({status.current})")
        return
    if status.current != status.head:
        raise fail(f"schema is at {status.current or 'nothing (empty database)'}, newest is {status.head}: "
                   "run `jiesu db upgrade`")
    raise fail("schema is at the newest revision but differs from the models:\n  " + "\n  ".join(status.differences))
