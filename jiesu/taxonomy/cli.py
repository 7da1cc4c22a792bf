"""`jiesu taxonomy ...`: request types, the 3-level category tree and its deadline policies, and the
deadlines a ticket would get."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from jiesu.calendar import service as calendar_service
from jiesu.clock import SystemClock
from jiesu.config import get_settings
from jiesu.permissions import SYSTEM
from jiesu.shell import console, parse_instant, session_scope
from jiesu.taxonomy import service as taxonomy_service
from jiesu.taxonomy.models import Urgency
from jiesu.taxonomy.rules import ReplyUnit, deadlines

taxonomy_app = typer.Typer(help="Request types, category tree, deadline policies.", no_args_is_help=True)


@taxonomy_app.command("import")
def taxonomy_import(source: Annotated[Path | None, typer.Argument(
        help="CSV with 一级分类,二级分类,三级分类; default: the shipped tree")] = None) -> None:
    """Import the 3-level category tree and write default deadline policies where none exist."""
    with session_scope() as session:
        report = taxonomy_service.import_tree(session, SYSTEM, source.resolve() if source else None)
        written = taxonomy_service.seed_default_policies(session, SYSTEM, SystemClock())
    levels = " / ".join(str(report.levels[k]) for k in (1, 2, 3))
    console.print(f"categories {levels} (levels 1/2/3); {report.inserted} new, {report.existing} kept; "
                  f"{written} default deadline polic{'y' if written == 1 else 'ies'} written")


@taxonomy_app.command("list")
def taxonomy_list(level: Annotated[int | None, typer.Option(min=1, max=3)] = None,
                  parent: Annotated[str | None, typer.Option(help="parent code")] = None,
                  q: Annotated[str | None, typer.Option(help="name contains")] = None) -> None:
    with session_scope() as session:
        for c in taxonomy_service.list_categories(session, SYSTEM, parent_code=parent, level=level, q=q):
            console.print(f"{c.code:10} {'  ' * (c.level - 1)}{c.name}")


@taxonomy_app.command("policies")
def taxonomy_policies() -> None:
    """The deadline policies (scope * is the default for every category)."""
    with session_scope() as session:
        table = Table(title="deadline policies")
        for col in ("scope", "category", "urgency", "dispatch h", "sign h", "reply", "note"):
            table.add_column(col)
        for p in taxonomy_service.list_policies(session, SYSTEM):
            cat = "" if p.scope == "*" else taxonomy_service.get(session, SYSTEM, p.scope).path
            reply = f"{p.reply_within:g} {'h' if p.reply_unit == ReplyUnit.hours else 'business days'}"
            table.add_row(p.scope, cat, p.urgency.value, f"{p.dispatch_within_hours:g}", f"{p.sign_within_hours:g}",
                          reply, p.note)
    console.print(table)


@taxonomy_app.command("set-policy")
def taxonomy_set_policy(
    scope: Annotated[str, typer.Argument(help="category code, or * for the default")],
    urgency: Annotated[Urgency, typer.Option()],
    dispatch_hours: Annotated[float, typer.Option(help="dispatch within N hours")],
    sign_hours: Annotated[float, typer.Option(help="sign within N hours, around the clock")],
    reply: Annotated[float, typer.Option(help="reply within N (see --reply-unit)")],
    reply_unit: Annotated[ReplyUnit, typer.Option()] = ReplyUnit.business_days,
    note: Annotated[str, typer.Option()] = "",
) -> None:
    """Set the deadline policy for a category (and everything below it) at one urgency."""
    with session_scope() as session:
        spec = taxonomy_service.PolicySpec(dispatch_hours, sign_hours, reply, reply_unit, note)
        taxonomy_service.set_policy(session, SYSTEM, SystemClock(), scope, urgency, spec)
    console.print(f"policy {scope} {urgency.value} set")


@taxonomy_app.command("deadlines")
def taxonomy_deadlines(
    start: Annotated[str, typer.Argument(help="when the ticket is created, e.g. 2026-12-28T10:00+08:00")],
    category: Annotated[str | None, typer.Option(help="category code")] = None,
    urgency: Annotated[Urgency, typer.Option()] = Urgency.normal,
) -> None:
    """The dispatch, sign and reply deadlines a ticket created at START would get."""
    settings = get_settings()
    at = parse_instant(start)
    with session_scope(settings) as session:
        policy = taxonomy_service.resolve_policy(session, SYSTEM, category, urgency)
        cal = calendar_service.load_calendar(session, settings)
        d = deadlines(policy, cal, at)
    tz = settings.tz
    console.print(f"policy: {policy.scope} {policy.urgency.value} ({policy.note})")
    console.print(f"dispatch by {d.dispatch_by.astimezone(tz).isoformat()}")
    console.print(f"sign by     {d.sign_by.astimezone(tz).isoformat()}")
    console.print(f"reply by    {d.reply_by.astimezone(tz).isoformat()}")
