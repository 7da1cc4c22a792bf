"""The `jiesu` command: everything an administrator or analyst does from a shell.

The shell acts as the administrator (SYSTEM): whoever holds the shell holds the database anyway.
Domain errors become a red message and exit code 1, never a traceback.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from jiesu import migrate
from jiesu.assessment.cli import assess_app
from jiesu.calendar import service as calendar_service
from jiesu.clock import SystemClock
from jiesu.config import Settings, get_settings
from jiesu.db import make_engine, make_sessionmaker, unit_of_work
from jiesu.errors import DomainError
from jiesu.knowledge.cli import knowledge_app
from jiesu.open311.cli import apikeys_app
from jiesu.permissions import SYSTEM, Role
from jiesu.places import service as places_service
from jiesu.places.models import AreaLevel
from jiesu.places.resolve import MAX_TEXT_LENGTH
from jiesu.routing.cli import routing_app
from jiesu.taxonomy import service as taxonomy_service
from jiesu.taxonomy.models import Urgency
from jiesu.taxonomy.rules import ReplyUnit
from jiesu.tickets.cli import tickets_app
from jiesu.units import service as units_service
from jiesu.units import users as users_service
from jiesu.units.models import ROLE_LABELS, UNIT_KIND_LABELS, UnitKind

app = typer.Typer(help="Jiesu 接诉即办: the 12345 citizen hotline platform.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
places_app = typer.Typer(help="Places: districts, streets/townships, communities.", no_args_is_help=True)
units_app = typer.Typer(help="Handling units: list, show, add, edit.", no_args_is_help=True)
users_app = typer.Typer(help="Users, roles and API tokens.", no_args_is_help=True)
taxonomy_app = typer.Typer(help="Request types, category tree, deadline policies.", no_args_is_help=True)
calendar_app = typer.Typer(help="Business calendar: holidays, make-up workdays, deadline maths.",
                           no_args_is_help=True)
demo_app = typer.Typer(help="The demo city.", no_args_is_help=True)
for sub, name in ((db_app, "db"), (places_app, "places"), (units_app, "units"), (users_app, "users"),
                  (taxonomy_app, "taxonomy"), (calendar_app, "calendar"), (demo_app, "demo")):
    app.add_typer(sub, name=name)
app.add_typer(routing_app, name="routing")
app.add_typer(tickets_app, name="tickets")
app.add_typer(assess_app, name="assess")
app.add_typer(apikeys_app, name="apikeys")
app.add_typer(knowledge_app, name="knowledge")

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
        status = migrate.check(engine)
        if status.current != status.head:
            raise fail(f"the database schema is not current ({status.current or 'empty'} vs {status.head}); "
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


# --- db -------------------------------------------------------------------------------------------

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


# --- places ---------------------------------------------------------------------------------------

@places_app.command("import")
def places_import(
    source: Annotated[Path | None, typer.Argument(help="folder with districts.csv, streets.csv, communities.csv "
                                                       "[districts.geojson]; default: Beijing, shipped")] = None,
    city: Annotated[str | None, typer.Option(help="the city's name (needed for a city other than Beijing)")] = None,
) -> None:
    """Import (or refresh) the gazetteer: districts, streets/townships, communities/villages, boundaries."""
    with session_scope() as session, progress_bar() as update:
        report = places_service.import_gazetteer(session, SYSTEM, source.resolve() if source else None,
                                                 city_name=city, progress=update)
    console.print(f"{report.city}: {report.districts} districts, {report.streets} streets/townships, "
                  f"{report.communities} communities/villages, {report.aliases} aliases, "
                  f"{report.boundaries} boundaries ({report.inserted} new, {report.updated} refreshed)")


@places_app.command("find")
def places_find(
    name: Annotated[str, typer.Argument(help="a name, short name or alias, e.g. 观音寺, 八里庄, 广外南里")],
    level: Annotated[AreaLevel | None, typer.Option(help="only this level")] = None,
    district: Annotated[str | None, typer.Option(help="only this district: its code or name (海淀区, 海淀)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Every place whose name contains NAME, with its full path: ambiguous names show all their places."""
    with session_scope() as session:
        district_code = _district_code(session, district) if district else None
        found = places_service.find(session, SYSTEM, name, level=level, district_code=district_code, limit=limit)
        matches, total = found.matches, found.total
        rows = [{"code": m.area.code, "name": m.area.name, "level": m.area.level.value, "kind": m.area.kind,
                 "path": m.area.path, "matched": m.matched, "exact": m.exact} for m in matches]
    if as_json:
        console.print_json(json.dumps({"query": name, "total": total, "ambiguous": found.ambiguous, "matches": rows},
                                      ensure_ascii=False))
        return
    if not rows:
        raise fail(f"no place matches {name!r}")
    title = f"{name}: {total} match(es)" + (f", first {len(rows)}" if total > len(rows) else "")
    if found.ambiguous:
        title += f"; {found.exact} places are named exactly so (*): say which district"
    table = Table(title=title)
    table.add_column("code", no_wrap=True)
    table.add_column("path", overflow="fold", ratio=3)  # the path tells ambiguous names apart: never cut it
    table.add_column("kind", no_wrap=True)
    table.add_column("matched", overflow="fold", ratio=1)
    for r in rows:
        table.add_row(r["code"], r["path"], r["kind"], r["matched"] + (" *" if r["exact"] else ""))
    console.print(table)


def _district_code(session: Session, text: str) -> str:
    if text.isdigit():
        return text
    districts = [m.area for m in places_service.find(session, SYSTEM, text, level=AreaLevel.district).matches
                 if m.exact]
    if len(districts) != 1:
        raise fail(f"{text!r} names no district (try 海淀区 or its code 110108000000)", 2)
    return districts[0].code


@places_app.command("show")
def places_show(code: str) -> None:
    """One place with its aliases and children."""
    with session_scope() as session:
        area = places_service.get(session, SYSTEM, code)
        aliases = [a.alias for a in places_service.aliases_of(session, SYSTEM, code)]
        kids = places_service.children(session, SYSTEM, code)
        console.print(f"[bold]{area.name}[/] {area.code} ({area.level.value}, {area.kind})\n{area.path}")
        if area.formal_name:
            console.print(f"formal name: {area.formal_name}")
        console.print(f"aliases: {', '.join(aliases) or '-'}")
        console.print(f"children: {len(kids)}" + (": " + ", ".join(k.short_name for k in kids[:30]) if kids else "")
                      + (" ..." if len(kids) > 30 else ""))


@places_app.command("stats")
def places_stats() -> None:
    """How many places of each level."""
    with session_scope() as session:
        for level, n in places_service.counts(session, SYSTEM).items():
            console.print(f"{level:10} {n}")


@places_app.command("alias")
def places_alias(code: str, alias: str) -> None:
    """Add a name people use for a place (kept across re-imports)."""
    with session_scope() as session:
        places_service.add_alias(session, SYSTEM, code, alias)
        console.print(f"{alias} -> {places_service.get(session, SYSTEM, code).path}")


@places_app.command("locate")
def places_locate(lng: float, lat: float) -> None:
    """The district that holds a point (GCJ-02 longitude and latitude, as the shipped boundaries)."""
    with session_scope() as session:
        area = places_service.locate(session, SYSTEM, lng, lat)
        if area is None:
            raise fail(f"({lng}, {lat}) is in no district")
        console.print(f"{area.code} {area.path}")


RESOLVE_COLUMNS = ["district_code", "street_code", "community_code", "confidence", "ambiguous"]


@places_app.command("resolve")
def places_resolve(
    text: Annotated[str | None, typer.Argument(help="an address or message, e.g. 大兴区首座御园二里5号楼")] = None,
    input_csv: Annotated[Path | None, typer.Option("--input", help="a UTF-8 CSV with a `text` column")] = None,
    output_csv: Annotated[Path | None, typer.Option("--output", help="where to write the CSV with the "
                                                                     "resolved columns appended")] = None,
    lng: Annotated[float | None, typer.Option(help="GCJ-02 longitude (with --lat)")] = None,
    lat: Annotated[float | None, typer.Option(help="GCJ-02 latitude (with --lng)")] = None,
) -> None:
    """District -> street/township -> community read from free text, as JSON on stdout; or, with
    --input/--output, a CSV with district_code, street_code, community_code, confidence, ambiguous appended."""
    from jiesu.places.schemas import ResolutionOut

    if text is not None and input_csv is not None:
        raise fail("give either a text or --input FILE.csv, not both", 2)
    if input_csv is None:
        if text is None:
            raise fail("give a text to resolve, or --input FILE.csv --output OUT.csv", 2)
        with session_scope() as session:
            found = places_service.resolve(session, SYSTEM, text, lng, lat)
            out = ResolutionOut.model_validate(found).model_dump(mode="json")
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    if output_csv is None:
        raise fail("--input needs --output OUT.csv", 2)
    header, rows = _read_text_csv(input_csv)
    column = header.index("text")
    counts = {"rows": 0, "ambiguous": 0, "unknown": 0}
    with session_scope() as session:
        out_rows = []
        for row in rows:
            value = (row[column] if column < len(row) else "").strip()
            found = places_service.resolve(session, SYSTEM, value[:MAX_TEXT_LENGTH]) if value else None
            counts["rows"] += 1
            counts["ambiguous"] += bool(found and found.ambiguous)
            counts["unknown"] += found is None or found.best is None
            out_rows.append(row + ([found.district_code or "", found.street_code or "", found.community_code or "",
                                    f"{found.confidence:.3f}", "true" if found.ambiguous else "false"]
                                   if found else ["", "", "", "0.000", "false"]))
    try:
        with open(output_csv, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header + RESOLVE_COLUMNS)
            writer.writerows(out_rows)
    except OSError as exc:
        raise fail(f"cannot write {output_csv}: {exc.strerror}") from None
    err.print(f"{counts['rows']} rows resolved, {counts['ambiguous']} ambiguous, {counts['unknown']} unknown "
              f"-> {output_csv}")


def _read_text_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header and rows of a UTF-8 CSV (a BOM, as Excel writes, is dropped) that has a `text` column."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            rows = list(reader)
    except FileNotFoundError:
        raise fail(f"no such file: {path}") from None
    except UnicodeDecodeError as exc:
        raise fail(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8 CSV") from None
    except (OSError, csv.Error) as exc:
        raise fail(f"cannot read {path}: {exc}") from None
    if not header or "text" not in header:
        raise fail(f"{path}: no `text` column (columns: {', '.join(header or []) or 'none'})")
    return header, rows


# --- units ----------------------------------------------------------------------------------------

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
    from datetime import timedelta

    with session_scope() as session:
        user = users_service.get(session, SYSTEM, username)
        token, row = users_service.issue_token(session, SystemClock(), user, name=name, ttl=timedelta(days=days))
    console.print(token)
    err.print(f"expires {row.expires_at.isoformat() if row.expires_at else 'never'}")


# --- taxonomy -------------------------------------------------------------------------------------

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
    from jiesu.taxonomy.rules import deadlines

    settings = get_settings()
    at = _parse_instant(start)
    with session_scope(settings) as session:
        policy = taxonomy_service.resolve_policy(session, SYSTEM, category, urgency)
        cal = calendar_service.load_calendar(session, settings)
        d = deadlines(policy, cal, at)
    tz = settings.tz
    console.print(f"policy: {policy.scope} {policy.urgency.value} ({policy.note})")
    console.print(f"dispatch by {d.dispatch_by.astimezone(tz).isoformat()}")
    console.print(f"sign by     {d.sign_by.astimezone(tz).isoformat()}")
    console.print(f"reply by    {d.reply_by.astimezone(tz).isoformat()}")


# --- calendar -------------------------------------------------------------------------------------

def _parse_instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"not an ISO 8601 instant: {text!r} (e.g. 2024-09-30T10:00+08:00)", 2) from None
    if value.tzinfo is None:
        raise fail(f"{text!r} needs a UTC offset, e.g. 2024-09-30T10:00+08:00", 2)
    return value


# Ten years of business days, or of office hours: past that the question is a typo.
SHIFT_LIMITS = {"days": 2600.0, "hours": 2600.0 * 8}


def _shift(start: str, amount: float, unit: str, calendar: str) -> None:
    if not math.isfinite(amount) or amount < 0 or amount > SHIFT_LIMITS[unit]:
        raise fail(f"{unit} must be a number from 0 to {SHIFT_LIMITS[unit]:g}", 2)
    settings = get_settings()
    at = _parse_instant(start)
    with session_scope(settings) as session:
        cal = calendar_service.business_calendar(session, SYSTEM, settings, calendar)
    try:
        result = cal.add_business_days(at, amount) if unit == "days" else cal.add_working_hours(at, amount)
    except (ValueError, OverflowError) as exc:  # past year 9999, or no working day left in the calendar
        raise fail(f"no answer for {start} plus {amount:g} {unit}: {exc}") from None
    for warning in calendar_service.coverage_warnings(cal, at, result):
        err.print(f"[yellow]warning:[/] {warning}")
    console.print(result.astimezone(settings.tz).isoformat())


START_ARG = typer.Argument(help="ISO 8601 instant with offset, e.g. 2024-09-30T10:00+08:00")


@calendar_app.command("add-business-days")
def calendar_add_business_days(
    start: Annotated[str, START_ARG],
    days: Annotated[float, typer.Argument(help="business days to add (may be fractional)")],
    calendar: Annotated[str, typer.Option(help="calendar name")] = "default",
) -> None:
    """Print the instant DAYS business days after START, in the city's time zone."""
    _shift(start, days, "days", calendar)


@calendar_app.command("add-working-hours")
def calendar_add_working_hours(
    start: Annotated[str, START_ARG],
    hours: Annotated[float, typer.Argument(help="office hours to add (JIESU_WORK_PERIODS)")],
    calendar: Annotated[str, typer.Option(help="calendar name")] = "default",
) -> None:
    """Print the instant HOURS office hours after START, in the city's time zone."""
    _shift(start, hours, "hours", calendar)


@calendar_app.command("set")
def calendar_set(
    day: Annotated[str, typer.Argument(help="date, e.g. 2027-01-01")],
    kind: Annotated[str, typer.Argument(help="holiday (休) or workday (班)")],
    name: Annotated[str, typer.Option(help="e.g. 元旦")] = "",
    calendar: Annotated[str, typer.Option()] = "default",
) -> None:
    """Declare one date a holiday or a working day (beats the holiday data)."""
    with session_scope() as session:
        row = calendar_service.set_day(session, SYSTEM, SystemClock(), calendar_service.parse_day(day),
                                       calendar_service.parse_kind(kind), name, calendar)
        console.print(f"{row.day.isoformat()} is now a {row.kind.value}{' (' + name + ')' if name else ''}")


@calendar_app.command("unset")
def calendar_unset(day: str, calendar: str = "default") -> None:
    """Remove an override; the holiday data (or the weekday rule) applies again."""
    with session_scope() as session:
        removed = calendar_service.clear_day(session, SYSTEM, calendar_service.parse_day(day), calendar)
    console.print(f"{day}: override removed" if removed else f"{day}: had no override")


@calendar_app.command("import")
def calendar_import(path: Path, calendar: str = "default") -> None:
    """Import a CSV of date,kind[,name] rows (e.g. a year's State Council holiday notice)."""
    with session_scope() as session:
        n = calendar_service.import_days(session, SYSTEM, SystemClock(), path, calendar)
    console.print(f"{n} day(s) set")


@calendar_app.command("show")
def calendar_show(year: Annotated[int, typer.Argument(min=1900, max=2200)], calendar: str = "default") -> None:
    """The days off on weekdays and working weekend days of a year, and where each ruling comes from."""
    from datetime import date, timedelta

    settings = get_settings()
    with session_scope(settings) as session:
        cal = calendar_service.business_calendar(session, SYSTEM, settings, calendar)
    if not cal.covers(year):
        err.print(f"[yellow]warning:[/] {year} is not in the holiday data: only weekends and the overrides "
                  "below are days off")
    table = Table(title=f"{year}: exceptions to Monday-Friday")
    for col in ("date", "weekday", "status", "source", "name"):
        table.add_column(col)
    d = date(year, 1, 1)
    while d.year == year:
        info = calendar_service.describe_day(cal, d)
        if info["workday"] == (d.weekday() >= 5) or info["source"] == "override":
            table.add_row(d.isoformat(), "一二三四五六日"[d.weekday()], "班 workday" if info["workday"] else "休 off",
                          info["source"], info["name"] or "")
        d += timedelta(days=1)
    console.print(table)


# --- demo and serve -------------------------------------------------------------------------------

DEMO_USERS = [
    ("admin", Role.admin, None, "系统管理员"),
    ("operator", Role.operator, None, "王芳"),
    ("dispatcher", Role.dispatcher, None, "李强"),
    ("guanyinsi", Role.unit_handler, "110115009000", "刘洋（观音寺街道）"),
    ("xingshou", Role.unit_handler, "110114116000", "孙磊（兴寿镇）"),
    ("callback", Role.callback_agent, None, "赵敏"),
    ("supervisor", Role.supervisor, None, "陈刚"),
    ("guangwainanli", Role.community_worker, "110101013006", "周静（广外南里社区）"),
    ("citizen", Role.citizen, None, "张先生"),
    # the departments the 群租 story whistles in, and the road section of the 安四路 story
    ("h-ga-110115", Role.unit_handler, "ga-110115", "吴警官（大兴公安分局）"),
    ("h-cgzf-110115", Role.unit_handler, "cgzf-110115", "郑队长（大兴城管执法局）"),
    ("h-zj-110115", Role.unit_handler, "zj-110115", "冯工（大兴住建委）"),
    ("h-jt-110114", Role.unit_handler, "jt-110114", "韩工（昌平交通局）"),
]
DEMO_PASSWORD = "jiesu12345"


TICKETS_OPT = typer.Option(min=0, max=200_000, help="tickets the simulator creates (0: none)")
DAYS_OPT = typer.Option(min=1, max=3650, help="spread over this many days before now")
SEED_OPT = typer.Option(help="random seed: the same seed gives the same city")
MODEL_OPT = typer.Option("--model", help="a trained classifier to copy in instead of training one: another var "
                                         "folder, or its models/ folder (default: the one in this var folder, "
                                         "else trained once)")


@demo_app.command("seed")
def demo_seed(tickets: Annotated[int, TICKETS_OPT] = 3000, days: Annotated[int, DAYS_OPT] = 90,
              seed: Annotated[int, SEED_OPT] = 12345, model: Annotated[Path | None, MODEL_OPT] = None) -> None:
    """Migrate, import Beijing's places and categories, create the units and the demo users, then let
    the simulator run a few thousand tickets through the workflow (idempotent: run it again at will)."""
    settings = get_settings()
    engine = make_engine(settings.effective_database_url)
    migrate.upgrade(engine)
    engine.dispose()
    clock = SystemClock()
    with session_scope(settings) as session, progress_bar() as update:
        report = places_service.import_gazetteer(session, SYSTEM, progress=update)
        unit_report = units_service.bootstrap(session, SYSTEM)
        tax = taxonomy_service.import_tree(session, SYSTEM)
        taxonomy_service.seed_default_policies(session, SYSTEM, clock)
        from jiesu.routing import service as routing_service

        routing_service.seed_default_rules(session, SYSTEM, clock)
        created = []
        for username, role, unit, display in DEMO_USERS:
            try:
                users_service.get(session, SYSTEM, username)
            except DomainError:
                users_service.create(session, SYSTEM, clock, username=username, password=DEMO_PASSWORD, role=role,
                                     display_name=display, unit_code=unit)
                created.append(username)
    console.print(f"places: {report.districts} districts, {report.streets} streets/townships, "
                  f"{report.communities} communities/villages")
    console.print(f"units: {unit_report.existing + unit_report.total_created}; categories: "
                  f"{' / '.join(str(tax.levels[k]) for k in (1, 2, 3))}")
    table = Table(title=f"demo logins (password for all: {DEMO_PASSWORD})")
    for col in ("username", "role", "who"):
        table.add_column(col)
    for username, role, _unit, display in DEMO_USERS:
        table.add_row(username, f"{role.value} {ROLE_LABELS[role]}", display)
    console.print(table)
    _train_if_missing(settings, model)
    _seed_knowledge(settings)
    if tickets:
        _simulate(settings, tickets, days, seed)


def _seed_knowledge(settings: Settings) -> None:
    """The knowledge base for direct answers: articles from the corpus's replied messages (once)."""
    from jiesu.knowledge import service as knowledge

    with session_scope(settings) as session:
        report = knowledge.seed_demo(session, SYSTEM, SystemClock())
    if report.created:
        console.print(f"knowledge base: {report.created} articles from the replied messages ({report.seconds:.1f} s)")
    else:
        console.print(f"knowledge base: {report.skipped} demo articles there already")


def _train_if_missing(settings: Settings, model: Path | None = None) -> None:
    """Smart dispatch needs its classifier: copied from --model, or trained here once (jiesu/demo/classifier.py)."""
    from jiesu.demo.classifier import ensure_classifier

    try:
        ensure_classifier(settings, model, say=console.print)
    except DomainError as exc:
        raise fail(exc.message) from None


def _simulate(settings: Settings, tickets: int, days: int, seed: int) -> None:
    from datetime import UTC

    from jiesu.demo import seed_demo

    engine = make_engine(settings.effective_database_url)
    try:
        with progress_bar() as update:
            report = seed_demo(make_sessionmaker(engine), datetime.now(UTC), settings, tickets=tickets, days=days,
                               seed=seed, progress=update)
    except DomainError as exc:
        raise fail(exc.message) from None
    finally:
        engine.dispose()
    if report.skipped:
        console.print(f"demo tickets: {report.message}")
        return
    states = ", ".join(f"{n} {state}" for state, n in sorted(report.states.items(), key=lambda kv: -kv[1]))
    console.print(f"demo tickets: {report.tickets} tickets and {report.direct_answers} direct answers over "
                  f"{days} days, {report.events} events in {report.seconds:.1f} s: {states}")


seed_app = typer.Typer(help="Seed data.", no_args_is_help=True)
app.add_typer(seed_app, name="seed")


@seed_app.command("demo")
def seed_demo_command(tickets: Annotated[int, TICKETS_OPT] = 3000, days: Annotated[int, DAYS_OPT] = 90,
                      seed: Annotated[int, SEED_OPT] = 12345) -> None:
    """The demo city: the same as `jiesu demo seed`."""
    demo_seed(tickets=tickets, days=days, seed=seed)


@app.command("serve")
def serve(host: Annotated[str | None, typer.Option()] = None,
          port: Annotated[int | None, typer.Option(min=1, max=65535)] = None,
          run_clock: Annotated[bool, typer.Option(
              "--clock/--no-clock", help="run the ticket clock in this process (production: --no-clock on every "
                                         "web process and one `jiesu clock`)")] = True,
          clock_interval: Annotated[float, typer.Option(min=1, help="seconds between clock ticks")] = 60.0,
          workers: Annotated[int, typer.Option(min=1, max=64, help="web worker processes (one per CPU serves "
                                                                   "the most; the clock runs once, beside them)")]
          = 1) -> None:
    """Serve the API and the pages (and, unless --no-clock, tick the ticket clock)."""
    import uvicorn

    from jiesu.app import create_app

    settings = get_settings()
    engine = make_engine(settings.effective_database_url)
    status = migrate.check(engine)
    if status.current != status.head:
        raise fail("the database schema is not current: run `jiesu db upgrade` (or `make demo`)")
    host, port = host or settings.host, port or settings.port
    console.print(f"Jiesu at http://{host}:{port}/  (API docs: http://{host}:{port}/docs)")
    if run_clock:
        logging.getLogger("jiesu.clock").setLevel(logging.INFO)
        console.print(f"the ticket clock ticks every {clock_interval:g} s in this process (--no-clock to leave "
                      "it to `jiesu clock`)")
    if workers == 1:
        uvicorn.run(create_app(settings, engine=engine, clock_interval=clock_interval if run_clock else None),
                    host=host, port=port, log_level="info")
        return
    # Several processes: each worker makes its app from the same JIESU_* environment, without a clock; the clock
    # ticks once, in this supervising process.
    runner = None
    if run_clock:
        from jiesu.clock import SystemClock
        from jiesu.tickets.jobs import ClockThread

        runner = ClockThread(make_sessionmaker(engine), SystemClock(), settings, interval=clock_interval)
        runner.start()
    try:
        uvicorn.run("jiesu.app:create_worker_app", factory=True, workers=workers, host=host, port=port,
                    log_level="info")
    finally:
        if runner is not None:
            runner.stop()


@app.command("clock")
def clock_command(
    interval: Annotated[float, typer.Option(min=1, help="seconds between ticks")] = 60.0,
    once: Annotated[bool, typer.Option("--once", help="tick once (until the backlog is done) and exit")] = False,
    batch: Annotated[int | None, typer.Option(min=1, max=10000, help="tickets per transaction "
                                                                     "[default: 500; 200 on SQLite]")] = None,
) -> None:
    """The ticket clock: mark overdue signs and replies, escalate, queue callbacks, close tickets whose
    citizen wants no callback; and smart dispatch's worker, which makes the suggestions intake left for later
    (every JIESU_SUGGEST_INTERVAL seconds). Safe to run beside `jiesu serve` and beside another `jiesu clock`.
    Stops cleanly on SIGTERM or Ctrl-C (the tick under way finishes)."""
    import signal
    import threading

    from jiesu.tickets import jobs

    settings = get_settings()
    engine = make_engine(settings.effective_database_url)
    try:
        status = migrate.check(engine)
        if status.current != status.head:
            raise fail("the database schema is not current: run `jiesu db upgrade` first")
        sessions = make_sessionmaker(engine)
        tz = settings.tz

        def say(report: jobs.TickReport) -> None:
            at = report.at.astimezone(tz).isoformat(timespec="seconds") if report.at else "-"
            console.print(f"{at} tick: {report.line()}", highlight=False, soft_wrap=True)

        if once:
            say(jobs.run_once(sessions, SystemClock(), settings, batch=batch))
            return
        stop = threading.Event()
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, lambda *_: stop.set())
        console.print(f"clock started: a tick every {interval:g} s on "
                      f"{engine.url.render_as_string(hide_password=True)}", highlight=False, soft_wrap=True)
        worker = threading.Thread(target=jobs.suggestion_loop, name="jiesu-suggest", daemon=True,
                                  args=(sessions, SystemClock(), settings),
                                  kwargs={"interval": settings.suggest_interval, "stop": stop})
        worker.start()
        try:
            jobs.run_loop(sessions, SystemClock(), settings, interval=interval, stop=stop, on_tick=say, batch=batch)
        finally:
            stop.set()
            worker.join(30)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        console.print("clock stopped")
    finally:
        engine.dispose()


def main() -> None:
    """Settings and database failures are a one-line message, not a traceback."""
    from pydantic import ValidationError
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

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



# --- routing: the rules table, one suggestion, accuracy (the classifier's commands are in jiesu/routing/cli.py) ---

rules_app = typer.Typer(help="The routing rules table: (category, area) → main unit and co-units.",
                        no_args_is_help=True)
routing_app.add_typer(rules_app, name="rules")


@rules_app.command("list")
def routing_rules_list() -> None:
    """Every routing rule, most general first."""
    from jiesu.routing import service as routing

    with session_scope() as session:
        rows = routing.list_rules(session, SYSTEM)
        table = Table("id", "category", "area", "main unit", "co-units", "active", "note")
        for r in rows:
            table.add_row(str(r.id), r.category_scope, r.area_code or "*", r.main,
                          ", ".join(json.loads(r.co_units)), "yes" if r.active else "no", r.note)
    console.print(table)
    console.print(f"{len(rows)} rules; with no rule, a request goes to the street/township of its place.")


@rules_app.command("set")
def routing_rules_set(
    category: Annotated[str, typer.Option(help="category code or prefix (e.g. 01.02), or * for any")],
    main: Annotated[str, typer.Option(help="unit code, or @street, @community, @district, @branch:<key>")],
    area: Annotated[str | None, typer.Option(help="district or street/township code (default: anywhere)")] = None,
    co: Annotated[list[str] | None, typer.Option(help="a co-unit (repeat the option for more)")] = None,
    note: Annotated[str, typer.Option()] = "",
    inactive: Annotated[bool, typer.Option("--inactive", help="keep the rule but do not apply it")] = False,
) -> None:
    """Add or replace the rule for (category, area)."""
    from jiesu.routing import service as routing

    with session_scope() as session:
        rule = routing.set_rule(session, SYSTEM, SystemClock(), category_scope=category, area_code=area, main=main,
                                co_units=co or [], note=note, active=not inactive)
        console.print(f"rule #{rule.id}: {rule.category_scope} @ {rule.area_code or '*'} → {rule.main} "
                      f"{json.loads(rule.co_units)}")


@rules_app.command("delete")
def routing_rules_delete(rule_id: Annotated[int, typer.Argument(min=1)]) -> None:
    """Delete a rule by its id."""
    from jiesu.routing import service as routing

    with session_scope() as session:
        routing.delete_rule(session, SYSTEM, rule_id)
    console.print(f"rule #{rule_id} deleted")


@rules_app.command("seed")
def routing_rules_seed() -> None:
    """The default rules (water, power, gas, heating to their companies, copied to the street)."""
    from jiesu.routing import service as routing

    with session_scope() as session:
        added = routing.seed_default_rules(session, SYSTEM, SystemClock())
    console.print(f"{added} default rules added")


@routing_app.command("suggest")
def routing_suggest(text: Annotated[str, typer.Argument(help="what the citizen said")],
                    address: Annotated[str, typer.Option()] = "",
                    area: Annotated[str | None, typer.Option(help="area code, if already known")] = None,
                    phone: Annotated[str | None, typer.Option(help="the caller's phone (finds repeats)")] = None,
                    ) -> None:
    """Print the suggestion for a request as JSON: category, place, unit(s), urgency, duplicates, reasons."""
    from jiesu.routing import service as routing

    settings = get_settings()
    with session_scope(settings) as session:
        s = routing.suggest(session, SYSTEM, SystemClock(), settings, text=text, address=address, area_code=area,
                            phone=phone)
        out = s.to_dict()
    typer.echo(json.dumps(out, ensure_ascii=False, indent=2, default=str))


@routing_app.command("accuracy")
def routing_accuracy(month: Annotated[str, typer.Option(help="YYYY-MM")]) -> None:
    """How often dispatchers followed the suggestions in a month, from the event log."""
    from jiesu.routing import service as routing

    settings = get_settings()
    with session_scope(settings) as session:
        a = routing.accuracy(session, SYSTEM, settings, month)

    def rate(followed: int, judged: int) -> str:
        return f"{followed / judged:.1%} ({followed} of {judged})" if judged else "n/a (none judged)"

    console.print(f"{a.month}: {a.dispatched} tickets dispatched with a suggestion, {a.manual} of them from the "
                  "manual queue")
    console.print(f"category followed: {rate(a.category_followed, a.category_judged)}")
    console.print(f"main unit followed: {rate(a.unit_followed, a.unit_judged)}")


if __name__ == "__main__":
    main()
