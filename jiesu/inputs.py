"""What text, dates and months are acceptable from outside: one rule for the HTTP edge, the CLI and the importers.

Text may hold any character that UTF-8 can carry and a database can store: not NUL (PostgreSQL's text refuses
it) and not a lone surrogate (half of a UTF-16 pair: not encodable as UTF-8). A date or time is ISO 8601; one
without an offset is read in the city's time zone (a plain date is that day's start there), and its year is
between MIN_YEAR and MAX_YEAR, so that the day before and after, converted to any zone, are still dates.

Pure: the standard library only (no models, no SQLAlchemy, no HTTP).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime, time, tzinfo

MIN_YEAR, MAX_YEAR = 1901, 2199  # as the assessment's months (assessment/rules.py)

_BAD = re.compile("[\x00\ud800-\udfff]")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

# Characters that draw nothing although their category says "letter" (fillers used to fake an empty name).
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Categories that draw nothing: controls, format characters (zero-width space, joiners, direction marks),
# surrogates, private use, unassigned, and every kind of space.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def text_problem(value: str) -> str | None:
    """Why `value` cannot be taken as text, or None when it can."""
    found = _BAD.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "may not contain the NUL character (U+0000)"
    return f"may not contain a lone surrogate (U+{ord(found.group()):04X}): it is not valid UTF-8"


def problems(value: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """(field path, problem) for every unacceptable string in a JSON value: its keys and its values, at any
    depth (walked with a stack, not recursion: a JSON body may nest as deep as its parser allows). The path is
    dotted: "text", "co_units.0", "attributes.color"."""
    stack: list[tuple[tuple[str, ...], object]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                yield ".".join(where) or "body", problem
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                at = (*where, str(key))
                if isinstance(key, str) and (problem := text_problem(key)):
                    yield ".".join(at), "a key " + problem
                children.append((at, child))
            stack.extend(reversed(children))
        elif isinstance(item, list):
            stack.extend(reversed([((*where, str(i)), child) for i, child in enumerate(item)]))


def first_problem(value: object) -> tuple[str, str] | None:
    return next(problems(value), None)


def visible(value: str) -> bool:
    """Whether `value` has a character that shows: not only spaces, zero-width or control characters."""
    return any(unicodedata.category(ch) not in _INVISIBLE and ch not in _BLANK_LETTERS for ch in value)


def _year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"the year is {MIN_YEAR} to {MAX_YEAR}, not {year}")


def moment(value: str, tz: tzinfo) -> datetime:
    """An instant (aware: in its own offset, or in `tz` when it has none) from ISO 8601: `2024-10-01` (that
    day's start in `tz`), `2024-10-01T09:00` (in `tz`) or `2024-10-01T09:00:00+08:00` / `...Z`. Raises
    ValueError saying what is expected."""
    text = value.strip()
    expected = "an ISO 8601 date or time is expected, e.g. 2024-10-01 or 2024-10-01T09:00:00+08:00"
    if not (_ISO_DAY.match(text) or _ISO_START.match(text)) or len(text) > 40:
        raise ValueError(expected)
    _year(int(text[:4]))
    try:
        if _ISO_DAY.match(text):
            parsed = datetime.combine(date.fromisoformat(text), time())
        else:
            parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(expected) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def day(value: str) -> date:
    """A calendar day, YYYY-MM-DD, its year in range. Raises ValueError."""
    text = value.strip()
    if not _ISO_DAY.match(text):
        raise ValueError("a date is written YYYY-MM-DD, e.g. 2024-10-01")
    _year(int(text[:4]))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"no such day: {text}") from None


def month(value: str) -> str:
    """A month, YYYY-MM, its year in range; returned as written (stripped). Raises ValueError."""
    text = value.strip()
    found = _MONTH.match(text)
    if not found:
        raise ValueError("a month is written YYYY-MM, e.g. 2023-03")
    _year(int(found.group(1)))
    return text
