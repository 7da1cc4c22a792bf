"""`jiesu units ...` (handling units: bootstrap, list, show, add, edit) and `jiesu users ...` (users, roles,
passwords and API tokens)."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from jiesu.clock import SystemClock
from jiesu.permissions import SYSTEM, Role
from jiesu.shell import console, err, fail, session_scope
from jiesu.units import service as units_service
from jiesu.units import users as users_service
from jiesu.units.models import ROLE_LABELS, UNIT_KIND_LABELS, UnitKind

units_app = typer.Typer(help="Handling units: list, show, add, edit.", no_args_is_help=True)
users_app = typer.Typer(help="Users, roles and API tokens.", no_args_is_help=True)


@units_app.command("bootstrap")
def units_bootstrap() -> None:
    """Create the centre, district governments, street offices, community committees, departments with
    their district branches, and utilities, where they do not exist yet."""
    with session_scope() as session:
        report = units_service.bootstrap(session, SYSTEM)
    created = ", ".join(f"{n} {k}" for k, n in report.created.items() if n)
    console.print(f"created {report.total_created} unit(s){': ' + created if created else ''}; "
                  f"{report.existing} existed already")


@units_app.command("list")
def units_list(
    kind: Annotated[UnitKind | None, typer.Option(help="only units of this kind")] = None,
    district: Annotated[str | None, typer.Option(help="district code, e.g. 110115000000")] = None,
    parent: Annotated[str | None, typer.Option(help="parent unit code")] = None,
    q: Annotated[str | None, typer.Option(help="name contains")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """List units."""
    with session_scope() as session:
        items, total = units_service.list_units(session, SYSTEM, kind=kind, district_code=district,
                                                parent_code=parent, q=q, limit=limit, offset=offset)
        table = Table(title=f"{total} unit(s)" + (f", showing {offset + 1}-{offset + len(items)}" if items else ""))
        for col in ("code", "name", "kind", "parent", "area", "active"):
            table.add_column(col)
        for u in items:
            table.add_row(u.code, u.name, UNIT_KIND_LABELS[u.kind], u.parent.code if u.parent else "",
                          u.area.path if u.area else "", "yes" if u.active else "no")
    console.print(table)


@units_app.command("show")
def units_show(code: str) -> None:
    with session_scope() as session:
        u = units_service.get(session, SYSTEM, code)
        console.print(f"[bold]{u.name}[/] {u.code} ({UNIT_KIND_LABELS[u.kind]})")
        console.print(f"parent: {u.parent.name + ' ' + u.parent.code if u.parent else '-'}")
        console.print(f"area: {u.area.path if u.area else '-'}")
        console.print(f"phone: {u.phone or '-'}  calendar: {u.calendar}  active: {u.active}")


@units_app.command("add")
def units_add(
    code: str, name: str,
    kind: Annotated[UnitKind, typer.Option(help="kind of unit")],
    parent: Annotated[str | None, typer.Option(help="parent unit code")] = None,
    area: Annotated[str | None, typer.Option(help="code of the area it answers for")] = None,
    department: Annotated[str | None, typer.Option(help="department key, e.g. cgzf")] = None,
    phone: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Add a unit."""
    with session_scope() as session:
        u = units_service.create(session, SYSTEM, code=code, name=name, kind=kind, parent_code=parent,
                                 area_code=area, department_key=department, phone=phone)
        console.print(f"added {u.code} {u.name}")


@units_app.command("add-property")
def units_add_property(
    name: str,
    community: Annotated[str, typer.Option(help="code of the community the complex is in")],
    complex_name: Annotated[str, typer.Option("--complex", help="the residential complex, e.g. 首座御园")],
    code: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Register a property company for a residential complex (the complex is added if new)."""
    with session_scope() as session:
        u = units_service.register_property_company(session, SYSTEM, name=name, community_code=community,
                                                    complex_name=complex_name, code=code, phone=phone)
        console.print(f"added {u.code} {u.name} for {u.area.path}")


@units_app.command("edit")
def units_edit(
    code: str,
    name: Annotated[str | None, typer.Option()] = None,
    parent: Annotated[str | None, typer.Option(help="new parent unit code")] = None,
    area: Annotated[str | None, typer.Option(help="new area code")] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
    calendar: Annotated[str | None, typer.Option(help="calendar name the unit's deadlines use")] = None,
) -> None:
    """Change a unit."""
    with session_scope() as session:
        u = units_service.update(session, SYSTEM, code, name=name, parent_code=parent, area_code=area, phone=phone,
                                 active=active, calendar=calendar)
        console.print(f"{u.code} {u.name}: parent {u.parent.code if u.parent else '-'}, "
                      f"area {u.area.path if u.area else '-'}, active {u.active}")



# --- users ----------------------------------------------------------------------------------------

@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[Role, typer.Option(help="role")],
    unit: Annotated[str | None, typer.Option(help="unit code (needed for unit_handler, community_worker)")] = None,
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    password: Annotated[str | None, typer.Option(help="password; asked for when not given")] = None,
) -> None:
    """Add a user."""
    if password is None:
        if not sys.stdin.isatty():
            raise fail("give --password, or run in a terminal to be asked", 2)
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with session_scope() as session:
        u = users_service.create(session, SYSTEM, SystemClock(), username=username, password=password, role=role,
                                 display_name=name, unit_code=unit)
        console.print(f"added {u.username} ({ROLE_LABELS[u.role]}){' for ' + u.unit.name if u.unit else ''}")


@users_app.command("list")
def users_list(role: Annotated[Role | None, typer.Option()] = None) -> None:
    with session_scope() as session:
        items, total = users_service.list_users(session, SYSTEM, role=role, limit=1000)
        table = Table(title=f"{total} user(s)")
        for col in ("username", "name", "role", "unit", "active"):
            table.add_column(col)
        for u in items:
            table.add_row(u.username, u.display_name, f"{u.role.value} {ROLE_LABELS[u.role]}",
                          u.unit.name if u.unit else "", "yes" if u.active else "no")
    console.print(table)


@users_app.command("passwd")
def users_passwd(username: str, password: Annotated[str | None, typer.Option()] = None) -> None:
    """Set a user's password."""
    if password is None:
        if not sys.stdin.isatty():
            raise fail("give --password, or run in a terminal to be asked", 2)
        password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    with session_scope() as session:
        users_service.set_password(session, SYSTEM, SystemClock(), username, password)
    console.print(f"password of {username} changed")


@users_app.command("deactivate")
def users_deactivate(username: str) -> None:
    """Stop a user from logging in and revoke their tokens."""
    with session_scope() as session:
        users_service.set_active(session, SYSTEM, username, False, SystemClock())
    console.print(f"{username} deactivated")


@users_app.command("token")
def users_token(username: str, name: Annotated[str, typer.Option(help="what the token is for")] = "cli",
                days: Annotated[int, typer.Option(min=1, max=3650)] = 30) -> None:
    """Issue an API token for a user; it is printed once."""
    with session_scope() as session:
        user = users_service.get(session, SYSTEM, username)
        token, row = users_service.issue_token(session, SystemClock(), user, name=name, ttl=timedelta(days=days))
    console.print(token)
    err.print(f"expires {row.expires_at.isoformat() if row.expires_at else 'never'}")
