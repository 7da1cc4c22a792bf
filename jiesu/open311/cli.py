"""`jiesu apikeys ...`: the Open311 client systems' API keys."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from jiesu.clock import SystemClock
from jiesu.config import get_settings
from jiesu.open311 import service
from jiesu.permissions import SYSTEM
from jiesu.shell import session_scope

apikeys_app = typer.Typer(help="Open311 API keys: one per client system, shown once, revocable.",
                          no_args_is_help=True)
console = Console(highlight=False)


@apikeys_app.command("create")
def create(name: Annotated[str, typer.Argument(help="the client system, e.g. city-app (letters, digits, . _ -)")],
           note: Annotated[str, typer.Option(help="who runs it, whom to call")] = "") -> None:
    """Issue a key for a client system. The key is printed once: only its hash is kept."""
    with session_scope() as session:
        row, key = service.create_key(session, SYSTEM, SystemClock(), name, note)
        name = row.name
    console.print(f"API key for {name} (shown once; give it to the client system, which sends it as api_key):")
    typer.echo(key)


@apikeys_app.command("list")
def list_keys() -> None:
    """Every key: its client system, its first characters, when it was made and last used, whether revoked."""
    tz = get_settings().tz

    def when(value) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else "-"

    with session_scope() as session:
        rows = service.list_keys(session, SYSTEM)
        filed = service.submissions_by_key(session)
        table = Table("name", "key", "created", "last used", "requests", "revoked", "note")
        for r in rows:
            table.add_row(r.name, r.prefix + "…", when(r.created_at), when(r.last_used_at), str(filed[r.name]),
                          when(r.revoked_at), r.note)
    console.print(table)
    console.print(f"{len(rows)} key(s), {sum(1 for r in rows if r.revoked_at is None)} live")


@apikeys_app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="the client system whose key stops working")]) -> None:
    """Revoke a client system's key: its next POST is refused (403). Its requests stay as they are."""
    with session_scope() as session:
        row = service.revoke_key(session, SYSTEM, SystemClock(), name)
        name = row.name
    console.print(f"the key of {name} is revoked")
