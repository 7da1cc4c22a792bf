"""Calendar use cases: administrators' overrides, and the BusinessCalendar a unit works by."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import chinese_calendar
from sqlalchemy import column, select, table
from sqlalchemy.orm import Session

from jiesu.audit import service as audit
from jiesu.calendar.models import CalendarOverride, DayKind
from jiesu.calendar.rules import BusinessCalendar
from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.errors import DataSourceError, InvalidInput
from jiesu.permissions import Actor, Permission, require

# Words an administrator may type for the two kinds of day, in either language.
KIND_WORDS = {"holiday": DayKind.holiday, "休": DayKind.holiday, "off": DayKind.holiday, "假": DayKind.holiday,
              "workday": DayKind.workday, "班": DayKind.workday, "work": DayKind.workday}


def parse_kind(word: str) -> DayKind:
    try:
        return KIND_WORDS[word.strip().lower()]
    except KeyError:
        raise InvalidInput(f"kind must be holiday or workday, not {word!r}", field="kind") from None


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"date must look like 2027-01-01, not {text!r}", field="date") from None


NAME_MAX = 64  # CalendarOverride.name is a VARCHAR(64): PostgreSQL refuses more, SQLite would keep it


def _check_name(name: str) -> str:
    if len(name) > NAME_MAX:
        raise InvalidInput(f"a day's name has at most {NAME_MAX} characters, not {len(name)}", field="name")
    return name


def set_day(session: Session, actor: Actor, clock: Clock, day: date, kind: DayKind, name: str = "",
            calendar: str = "default") -> CalendarOverride:
    require(actor, Permission.calendar_edit)
    check_new_name(calendar)
    _check_name(name)
    row = session.scalar(select(CalendarOverride).where(CalendarOverride.calendar == calendar,
                                                        CalendarOverride.day == day))
    before = day_snapshot(row) if row is not None else None
    if row is None:
        row = CalendarOverride(calendar=calendar, day=day)
        session.add(row)
    row.kind = kind
    row.name = name
    row.created_at = clock.now()
    row.created_by = actor.username
    session.flush()
    after = day_snapshot(row)
    if after != before:
        audit.record(session, actor, "calendar", day_key(day, calendar), "set", before, after, at=row.created_at)
    return row


def day_key(day: date, calendar: str = "default") -> str:
    """How the audit names an override: its date, and its calendar when not the default one."""
    return day.isoformat() if calendar == "default" else f"{calendar}:{day.isoformat()}"


def day_snapshot(row: CalendarOverride) -> dict:
    return {"calendar": row.calendar, "day": row.day.isoformat(), "kind": row.kind.value, "name": row.name}


def clear_day(session: Session, actor: Actor, day: date, calendar: str = "default", *,
              clock: Clock | None = None) -> bool:
    require(actor, Permission.calendar_edit)
    row = session.scalar(select(CalendarOverride).where(CalendarOverride.calendar == calendar,
                                                        CalendarOverride.day == day))
    if row is None:
        return False
    before = day_snapshot(row)
    session.delete(row)
    session.flush()
    audit.record(session, actor, "calendar", day_key(day, calendar), "clear", before, None,
                 at=clock.now() if clock else None)
    return True


def parse_days(rows: list[tuple[int, list[str]]], source: str) -> list[tuple[date, DayKind, str]]:
    """(row of the file, cells) of a notice's CSV -> (date, kind, name), all checked: an error names the row."""
    if rows and rows[0][1][0].strip().lower().lstrip("\ufeff") in ("date", "day", "日期"):
        rows = rows[1:]
    parsed = []
    for line, r in rows:
        if len(r) < 2:
            raise DataSourceError(f"{source} row {line}: need date,kind[,name]", field="path")
        try:
            parsed.append((parse_day(r[0]), parse_kind(r[1]), _check_name(r[2].strip()) if len(r) > 2 else ""))
        except InvalidInput as exc:
            raise DataSourceError(f"{source} row {line}: {exc.message}", field="path") from exc
    return parsed


def read_days(text: str, source: str = "upload") -> list[tuple[date, DayKind, str]]:
    """The rows of a notice's CSV text (what `jiesu calendar import` reads), checked; the error's field: file."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        rows = [(reader.line_num, r) for r in reader if r and any(c.strip() for c in r)]
        return parse_days(rows, source)
    except csv.Error as exc:
        raise InvalidInput(f"{source}: not a CSV file ({exc})", field="file") from exc
    except DataSourceError as exc:
        raise InvalidInput(exc.message, field="file") from exc


@dataclass
class DayChange:
    day: date
    before: CalendarOverride | None
    kind: DayKind
    name: str

    @property
    def unchanged(self) -> bool:
        return self.before is not None and (self.before.kind, self.before.name) == (self.kind, self.name)


def preview_days(session: Session, actor: Actor, days: list[tuple[date, DayKind, str]],
                 calendar: str = "default") -> list[DayChange]:
    """What importing `days` would change, nothing written: each day beside the override it replaces."""
    require(actor, Permission.calendar_edit)
    check_new_name(calendar)
    if len({d for d, _, _ in days}) != len(days):
        raise InvalidInput("a date occurs twice in the file", field="file")
    have = {r.day: r for r in session.scalars(select(CalendarOverride).where(
        CalendarOverride.calendar == calendar, CalendarOverride.day.in_([d for d, _, _ in days])))} if days else {}
    return [DayChange(d, have.get(d), k, n) for d, k, n in sorted(days)]


def import_days(session: Session, actor: Actor, clock: Clock, path: Path, calendar: str = "default") -> int:
    """A CSV of date,kind[,name] rows, e.g. the State Council's holiday notice for a year. All rows are
    checked before any is written, so a typo on line 9 does not leave half a year entered."""
    require(actor, Permission.calendar_edit)
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            # (row of the file, cells): an error names the row as an editor or spreadsheet shows it (header and
            # blank rows counted), not its position among the data rows
            rows = [(reader.line_num, r) for r in reader if r and any(c.strip() for c in r)]
    except OSError as exc:
        raise DataSourceError(f"{path}: {exc.strerror}", field="path") from exc
    except UnicodeDecodeError as exc:
        raise DataSourceError(f"{path.name}: not UTF-8 text (byte {exc.start}); save the file as UTF-8 CSV",
                              field="path") from exc
    parsed = parse_days(rows, path.name)
    for day, kind, name in parsed:
        set_day(session, actor, clock, day, kind, name, calendar)
    return len(parsed)


def list_days(session: Session, actor: Actor, year: int | None = None,
              calendar: str = "default") -> list[CalendarOverride]:
    require(actor, Permission.calendar_read)
    stmt = select(CalendarOverride).where(CalendarOverride.calendar == calendar)
    if year is not None:
        stmt = stmt.where(CalendarOverride.day >= date(year, 1, 1), CalendarOverride.day <= date(year, 12, 31))
    return list(session.scalars(stmt.order_by(CalendarOverride.day)))


def parse_periods(spec: str) -> tuple[tuple[time, time], ...]:
    """'09:00-12:00,13:30-18:00' -> ((09:00, 12:00), (13:30, 18:00))."""
    periods = []
    for part in spec.split(","):
        try:
            a, b = part.strip().split("-")
            start, end = time.fromisoformat(a.strip()), time.fromisoformat(b.strip())
        except ValueError:
            raise InvalidInput(f"work periods look like 09:00-12:00,13:30-18:00, not {spec!r}",
                               field="work_periods") from None
        if end <= start:
            raise InvalidInput(f"work period {part.strip()} ends before it starts", field="work_periods")
        periods.append((start, end))
    periods.sort()
    for (_, end), (start, _) in zip(periods, periods[1:], strict=False):
        if start < end:
            raise InvalidInput("work periods overlap", field="work_periods")
    return tuple(periods)


def load_calendar(session: Session, settings: Settings, calendar: str = "default") -> BusinessCalendar:
    """The calendar deadlines are computed in: the holiday data plus every override of `calendar`."""
    rows = session.execute(select(CalendarOverride.day, CalendarOverride.kind, CalendarOverride.name)
                           .where(CalendarOverride.calendar == calendar)).all()
    return BusinessCalendar(tz=settings.tz, overrides={day: kind == DayKind.workday for day, kind, _ in rows},
                            work_periods=parse_periods(settings.work_periods),
                            override_names={day: name for day, _, name in rows if name})


def business_calendar(session: Session, actor: Actor, settings: Settings,
                      calendar: str = "default") -> BusinessCalendar:
    """load_calendar for a user who asks to see it: checks their permission, and that the calendar
    exists, so that a typo is not silently answered from the default."""
    require(actor, Permission.calendar_read)
    check_known(session, calendar)
    return load_calendar(session, settings, calendar)


DEFAULT_CALENDAR = "default"
# Units name the calendar they work by (units.calendar); the calendar sits below units and reads that column
# without importing their model.
UNIT_CALENDARS = table("units", column("calendar"))
CALENDAR_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def known_calendars(session: Session) -> set[str]:
    """A calendar exists once it has an override or a unit works by it; 'default' always does."""
    names = set(session.scalars(select(CalendarOverride.calendar).distinct()))
    names |= set(session.scalars(select(UNIT_CALENDARS.c.calendar).distinct()))
    return names | {DEFAULT_CALENDAR}


def check_known(session: Session, calendar: str) -> None:
    if calendar not in known_calendars(session):
        raise InvalidInput(f"no calendar named {calendar!r}; known: {', '.join(sorted(known_calendars(session)))}",
                           field="calendar")


def check_new_name(calendar: str) -> None:
    if not CALENDAR_NAME.fullmatch(calendar):
        raise InvalidInput("a calendar name is 1-32 lower-case letters, digits, '-' or '_'", field="calendar")


def describe_day(cal: BusinessCalendar, day: date) -> dict:
    if cal.has_override(day):
        source = "override"
    elif cal.covers(day.year):
        source = "holiday_data"
    else:
        source = "weekday_fallback"
    name = cal.day_name(day)
    return {"day": day, "workday": cal.is_workday(day), "source": source, "name": HOLIDAY_NAMES_ZH.get(name, name)}


# chinese_calendar names holidays in English; the pages speak Chinese first.
HOLIDAY_NAMES_ZH = {h.value: h.chinese for h in chinese_calendar.Holiday}


def coverage_warnings(cal: BusinessCalendar, start: datetime, end: datetime) -> list[str]:
    """What a person reading a deadline from `start` to `end` must be told about the calendar."""
    years = cal.uncovered_years(start.astimezone(cal.tz).date(), end.astimezone(cal.tz).date())
    return [f"{y} has no holiday data and no overrides: only weekends are days off; enter the State Council's "
            f"notice with `jiesu calendar set` or `jiesu calendar import`" for y in years]
