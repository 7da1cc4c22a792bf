"""`jiesu db ...`: the database schema, migrated or checked."""

from __future__ import annotations

import typer

from jiesu import migrate
from jiesu.assessment import service as assessment
from jiesu.assessment.cli import clock, report_rebuilt
from jiesu.config import get_settings
from jiesu.db import make_engine
from jiesu.shell import console, fail, session_scope

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
    catch_up(settings)


def catch_up(settings) -> None:
    """What a migration leaves to the code, after `jiesu db upgrade` or `jiesu restore` of an older backup: a
    database made before the sign facts (revision 0011) gets them for every month from its event log, each old
    dispatch event first given the sign deadline it set, and the figures that changed are printed."""
    with session_scope(settings) as session:
        if not assessment.sign_facts_missing(session):
            return
        console.print("响应率 now counts dispatches signed within their deadline (联系率 keeps the contacted / "
                      "valid it was): every month's facts are rebuilt from the event log", highlight=False)
        exact, from_policy = assessment.backfill_sign_deadlines(session)
        console.print(f"sign deadlines kept on the dispatch events written before: {exact} as their ticket "
                      f"holds it, {from_policy} from their deadline policy", highlight=False)
        done = assessment.rebuild_and_compare(session, settings, clock(),
                                              assessment.periods_on_record(session, settings), since_signing=True)
    report_rebuilt(done)


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
