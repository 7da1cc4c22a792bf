"""What the commands of `jiesu` share: the consoles, one-line errors, a unit of work per command, a progress
bar, an instant read from the shell. Every capability's cli.py imports this module; it imports no command.

The shell acts as the administrator (SYSTEM): whoever holds the shell holds the database anyway.
Domain errors become a red message and exit code 1, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session

from jiesu import revisions
from jiesu.config import Settings, get_settings
from jiesu.db import make_engine, make_sessionmaker, unit_of_work
from jiesu.errors import DomainError

console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


@contextmanager
def session_scope(settings: Settings | None = None) -> Iterator[Session]:
    """One unit of work for one command; domain errors end the command with a message."""
    settings = settings or get_settings()
    engine = make_engine(settings.effective_database_url)
    try:
        current, now, newest = revisions.is_current(engine)
        if not current:
            raise fail(f"the database schema is not current ({now or 'empty'} vs {newest}); "
                       "run `jiesu db upgrade` first")
        with unit_of_work(make_sessionmaker(engine)) as session:
            yield session
    except DomainError as exc:
        field = f" ({exc.field})" if exc.field else ""
        raise fail(f"{exc.message}{field}") from None
    finally:
        engine.dispose()


@contextmanager
def progress_bar() -> Iterator:
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=False) as bar:
        task = bar.add_task("starting", total=None)

        def update(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        yield update


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with its UTC offset, as the calendar and deadline commands take it."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"not an ISO 8601 instant: {text!r} (e.g. 2024-09-30T10:00+08:00)", 2) from None
    if value.tzinfo is None:
        raise fail(f"{text!r} needs a UTC offset, e.g. 2024-09-30T10:00+08:00", 2)
    return value
