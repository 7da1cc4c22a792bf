"""`jiesu calendar ...`: the business calendar (holidays, make-up workdays, overrides) and deadline maths
on it."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from jiesu.calendar import service as calendar_service
from jiesu.clock import SystemClock
from jiesu.config import get_settings
from jiesu.permissions import SYSTEM
from jiesu.shell import console, err, fail, parse_instant, session_scope

calendar_app = typer.Typer(help="Business calendar: holidays, make-up workdays, deadline maths.",
                           no_args_is_help=True)


# Ten years of business days, or of office hours: past that the question is a typo.
SHIFT_LIMITS = {"days": 2600.0, "hours": 2600.0 * 8}


def _shift(start: str, amount: float, unit: str, calendar: str) -> None:
    if not math.isfinite(amount) or amount < 0 or amount > SHIFT_LIMITS[unit]:
        raise fail(f"{unit} must be a number from 0 to {SHIFT_LIMITS[unit]:g}", 2)
    settings = get_settings()
    at = parse_instant(start)
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
