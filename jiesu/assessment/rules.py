"""Assessment periods: which month a moment is assessed in. Pure: no database.

With start day 1 the period is the calendar month. With start day D (2-28) the period "2023-03" runs from
D February 00:00 to D March 00:00, local time: the 19th-to-18th months some districts assess by.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
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


# --- the response rate: did the unit sign the ticket in time? -------------------------------------------

class SignStatus(StrEnum):
    """How one unit's hold of one ticket (from its dispatch there) stands as to signing."""

    open = "open"  # dispatched, not signed yet: waiting until its sign deadline, then a miss
    on_time = "on_time"  # signed within the sign deadline: responded
    late = "late"  # signed after it
    unsigned = "unsigned"  # left the unit's hands (merged, withdrawn) unsigned after its deadline had passed
    void = "void"  # ... before its deadline: there was nothing to sign for, not counted
    returned = "returned"  # returned (退单) unsigned within its deadline: answered; not counted until the centre rules
    upheld_return = "upheld_return"  # the centre ruled it not this unit's ticket: not counted against it


@dataclass
class Spell:
    """One unit's hold of one ticket, from the dispatch (or re-dispatch) that sent it there."""

    unit: str  # the unit's code, as the event's payload names it
    dispatched_at: datetime
    sign_by: datetime | None  # None: an event written before the deadline was kept on it (see `replay`)
    signed_at: datetime | None = None
    status: SignStatus = SignStatus.open


# The steps that start, end or answer a unit's hold. Any other step leaves the spells as they are.
SIGN_ACTIONS = frozenset({"dispatch", "sign", "return", "uphold_return", "reject_return", "mark_overdue",
                          "merge", "withdraw", "import"})


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def replay(events: Iterable[tuple[str, datetime, dict]]) -> list[Spell]:
    """A ticket's spells from its events (action, at, payload) in order. The one rule of the response rate:
    the live facts (written step by step) and `jiesu assess rebuild` (from the event log) both call it.

    - dispatch / uphold_return start a spell for the unit named, with the sign deadline the step set; an upheld
      return ends the spell before it as `upheld_return` (re-dispatched: it counts for the unit that holds it).
    - sign answers the open spell: on time when at or before its deadline.
    - return (退单) of an unsigned ticket within its deadline answers the dispatch too: the spell is `returned`,
      counted neither way while the centre reviews it. Upheld, it is `upheld_return`; rejected, the unit signs
      against the new deadline the centre gives. A return after the deadline had passed answers nothing: the
      spell stays open on its old deadline (a miss, or a late sign once the rejected ticket is signed).
    - merge / withdraw end an open spell: unsigned if its deadline had passed, void if not (or if returned).
    - Events written before the deadline was kept on them carry no `sign_by`: the clock's mark_overdue (sign)
      says the deadline had passed by then, and a sign with no deadline known and no such mark is on time.
    - import (intake.history) carries the old system's unit, dispatch time, sign deadline and sign time when it
      kept them; without a dispatch time and a deadline there is no spell: the rate is left empty, not guessed.
    """
    spells: list[Spell] = []
    for action, at, payload in events:
        if action not in SIGN_ACTIONS:
            continue
        if action == "import":
            spells.extend(_imported(payload))
            continue
        current = spells[-1] if spells else None
        is_open = current is not None and current.status in (SignStatus.open, SignStatus.returned)
        if action in ("dispatch", "uphold_return") and payload.get("unit"):
            if action == "uphold_return" and current is not None and current.status != SignStatus.upheld_return:
                current.status = SignStatus.upheld_return
            spells.append(Spell(payload["unit"], at, _moment(payload.get("sign_by"))))
        elif not is_open:
            continue
        elif action == "sign":
            current.signed_at = at
            on_time = current.sign_by is None or at <= current.sign_by
            current.status = SignStatus.on_time if on_time else SignStatus.late
        elif action == "return":
            if current.status == SignStatus.open and (current.sign_by is None or at <= current.sign_by):
                current.status = SignStatus.returned
        elif action == "reject_return":
            if current.status == SignStatus.returned:
                current.status = SignStatus.open
                current.sign_by = _moment(payload.get("sign_by")) or current.sign_by
        elif action == "mark_overdue":
            if payload.get("deadline") == "sign" and current.sign_by is None:
                current.sign_by = at
        else:  # merge, withdraw
            missed = current.status == SignStatus.open and current.sign_by is not None and at > current.sign_by
            current.status = SignStatus.unsigned if missed else SignStatus.void
    return spells


def _imported(payload: dict) -> list[Spell]:
    unit, sent, due = payload.get("unit"), _moment(payload.get("dispatched_at")), _moment(payload.get("sign_by"))
    if not (unit and sent and due):
        return []
    signed = _moment(payload.get("signed_at"))
    status = SignStatus.open if signed is None else SignStatus.on_time if signed <= due else SignStatus.late
    return [Spell(unit, sent, due, signed, status)]


# How a spell counts at a moment: the cells of the ranking (FactKind's sign_* values).
COUNTED = ("sign_on_time", "sign_late", "sign_missed")  # the response rate's denominator


def sign_kind(status: SignStatus, sign_by: datetime | None, now: datetime) -> str:
    """What a spell counts as at `now`: an open one is a miss once its deadline has passed (a sign at the
    deadline itself is in time), pending until then."""
    if status == SignStatus.open:
        return "sign_missed" if sign_by is not None and sign_by < now else "sign_pending"
    return {SignStatus.on_time: "sign_on_time", SignStatus.late: "sign_late", SignStatus.unsigned: "sign_missed",
            SignStatus.void: "sign_void", SignStatus.returned: "sign_returned",
            SignStatus.upheld_return: "sign_upheld"}[status]
