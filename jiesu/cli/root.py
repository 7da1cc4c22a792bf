"""The root of `jiesu`: its own commands (db, serve, clock, backup, restore) and every command group a capability's
wiring names (jiesu.wiring.load().commands), added as this module is imported; and `main`, the console script.

The shell acts as the administrator (SYSTEM): whoever holds the shell holds the database anyway.
Domain errors become a red message and exit code 1, never a traceback.
"""

from __future__ import annotations

import logging
import sys

import typer
from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from jiesu import wiring
from jiesu.cli import backup, db, serve
from jiesu.registry import resolve
from jiesu.shell import err

app = typer.Typer(help="Jiesu 接诉即办: the 12345 citizen hotline platform.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
app.command("serve")(serve.serve)
app.command("clock")(serve.clock_command)
app.add_typer(db.db_app, name="db")
app.command("backup")(backup.backup_command)
app.command("restore")(backup.restore_command)
for name, ref in wiring.load().commands:  # every capability's commands, as its wiring names them
    app.add_typer(resolve(ref), name=name)


def main() -> None:
    """Settings and database failures are a one-line message, not a traceback."""
    wiring.load()  # the listeners: a callback recorded from the shell writes its assessment fact too

    logging.basicConfig(format="%(levelname)s: %(message)s", level=logging.WARNING)
    # the calendar commands print their own coverage warnings
    logging.getLogger("jiesu.calendar").setLevel(logging.ERROR)
    try:
        app()
    except ValidationError as exc:
        problems = "; ".join(f"JIESU_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        err.print(f"[bold red]error:[/] bad setting: {problems}")
        sys.exit(2)
    except (NoSuchModuleError, ArgumentError) as exc:
        err.print(f"[bold red]error:[/] JIESU_DATABASE_URL is not a database Jiesu can use ({exc}); "
                  "use sqlite:///path or postgresql://user@host/db")
        sys.exit(2)
    except OperationalError as exc:
        err.print(f"[bold red]error:[/] cannot reach the database: {str(exc.orig).strip().splitlines()[0]}")
        sys.exit(1)
