"""Assessment periods: which month a moment is assessed in. Pure: no database.

With start day 1 the period is the calendar month. With start day D (2-28) the period "2023-03" runs from
D February 00:00 to D March 00:00, local time: the 19th-to-18th months some districts assess by.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
FIRST_YEAR, LAST_YEAR = 1901, 2199  # so that the month before and after are real dates too


def _split(text: str) -> tuple[int, int]:
    m = PERIOD.match(text.strip())
    if not m:
        raise ValueError(f"a month is written YYYY-MM (e.g. 2023-03), not {text!r}")
    return int(m.group(1)), int(m.group(2))


def parse_period(text: str) -> tuple[int, int]:
    y, m = _split(text)
    if not FIRST_YEAR <= y <= LAST_YEAR:
        raise ValueError(f"the month's year is {FIRST_YEAR} to {LAST_YEAR}, not {y:04d}")
    return y, m


def shift(period: str, months: int) -> str:
    y, m = _split(period)
    k = y * 12 + (m - 1) + months
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


def period_of(at: datetime, tz: ZoneInfo, start_day: int = 1) -> str:
    """The period an instant (aware) is assessed in."""
    local = at.astimezone(tz)
    period = f"{local.year:04d}-{local.month:02d}"
    return shift(period, 1) if start_day > 1 and local.day >= start_day else period


def window(period: str, tz: ZoneInfo, start_day: int = 1) -> tuple[datetime, datetime]:
    """[start, end) of a period, in UTC."""
    y, m = parse_period(period)
    if start_day > 1:
        py, pm = _split(shift(period, -1))
        start, end = date(py, pm, start_day), date(y, m, start_day)
    else:
        ny, nm = _split(shift(period, 1))
        start, end = date(y, m, 1), date(ny, nm, 1)

    def utc(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, tzinfo=tz).astimezone(UTC)

    return utc(start), utc(end)


def street_kind(area_kind: str | None, name: str) -> str:
    """街道 or 乡镇: streets are ranked against their own kind. 地区 offices govern former townships."""
    if (area_kind or "") == "街道" or (not area_kind and name.endswith("街道")):
        return "街道"
    return "乡镇"
