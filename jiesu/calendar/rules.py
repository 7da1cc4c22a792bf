"""A pure business calendar: which days are working days, and deadline arithmetic over them.

Nothing here touches the database, files, the network or the clock: callers pass in the administrators'
overrides and the instants to work from, so every answer is deterministic and easy to test.

Two kinds of business time:

* business DAYS: every working day counts as 24 hours, from local midnight to the next local midnight;
  days off count nothing. "Reply within 1 business day" from Friday 10:00 ends Monday 10:00.
* working HOURS: only the work periods (09:00-12:00 and 13:30-18:00 by default) of working days count.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger("jiesu.calendar")

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_WORK_PERIODS: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(13, 30), time(18)))

# Ten years without a single working day can only be a data-entry mistake (say, every day overridden
# off); give up with an error instead of looping forever.
MAX_DAYS_OFF = 3660

_DAY_US = 86_400 * 1_000_000  # one business day, in microseconds
_HOUR_US = 3_600 * 1_000_000
_ONE_DAY = timedelta(days=1)


class BusinessCalendar:
    """Working days and deadlines for one calendar (a time zone, overrides and work periods)."""

    def __init__(
        self,
        tz: ZoneInfo = SHANGHAI,
        overrides: Mapping[date, bool] | None = None,
        work_periods: Sequence[tuple[time, time]] = DEFAULT_WORK_PERIODS,
        override_names: Mapping[date, str] | None = None,
    ) -> None:
        self.tz = tz
        self._overrides = {_as_date(day): bool(is_work) for day, is_work in (overrides or {}).items()}
        self._periods = _checked_periods(work_periods)
        # Deadline maths asks about the same dates over and over: remember the answers.
        self._workday: dict[date, bool] = {}
        # An administrator's name for a day they ruled on (元旦 2027) wins over the library's.
        self._names: dict[date, str | None] = {_as_date(d): n for d, n in (override_names or {}).items() if n}
        self._covered: dict[int, bool] = {}
        self._warned_years: set[int] = set()
        self._day_starts: dict[date, datetime] = {}
        self._intervals: dict[date, tuple[tuple[datetime, datetime], ...]] = {}

    # ----------------------------------------------------------------- days

    def covers(self, year: int) -> bool:
        """Whether chinese_calendar has the State Council's holiday data for this year."""
        if not MINYEAR <= year <= MAXYEAR:
            return False
        if year not in self._covered:
            try:
                chinese_calendar.is_workday(date(year, 1, 1))
                self._covered[year] = True
            except NotImplementedError:  # its "no available data for year ..." error
                self._covered[year] = False
        return self._covered[year]

    def uncovered_years(self, first: date, last: date) -> list[int]:
        """Years from `first` to `last` that neither the holiday data nor any override speaks for:
        deadlines there count Monday to Friday only, and whoever reads one should be told."""
        ruled = {d.year for d in self._overrides}
        return [y for y in range(first.year, last.year + 1) if not self.covers(y) and y not in ruled]

    def has_override(self, d: date) -> bool:
        """Whether an administrator has ruled on this date."""
        return _as_date(d) in self._overrides

    def is_workday(self, d: date) -> bool:
        """Override if there is one; else chinese_calendar (holidays and 调休); else Monday-Friday."""
        d = _as_date(d)
        if d not in self._workday:
            self._workday[d] = self._compute_workday(d)
        return self._workday[d]

    def _compute_workday(self, d: date) -> bool:
        if d in self._overrides:
            return self._overrides[d]
        try:
            return bool(chinese_calendar.is_workday(d))
        except NotImplementedError:
            # Outside the library's data: weekends only, until an administrator enters the notice.
            self._warn_uncovered(d.year)
            return d.weekday() < 5

    def _warn_uncovered(self, year: int) -> None:
        if year in self._warned_years:
            return
        self._warned_years.add(year)
        log.warning(
            "The holiday calendar does not cover %d: treating Monday to Friday as working days. "
            "Administrators can enter the State Council holiday notice for %d with "
            "`jiesu calendar set` / `jiesu calendar import`.",
            year,
            year,
        )

    def day_name(self, d: date) -> str | None:
        """The holiday a date belongs to, e.g. "National Day" (also for its make-up workdays), or None."""
        d = _as_date(d)
        if d not in self._names:
            try:
                self._names[d] = chinese_calendar.get_holiday_detail(d)[1]
            except NotImplementedError:
                self._names[d] = None
        return self._names[d]

    def next_workday(self, d: date) -> date:
        """The first working day strictly after d."""
        return next(self._workdays_from(_as_date(d) + _ONE_DAY))

    def workdays_between(self, d1: date, d2: date) -> int:
        """How many working days fall in (d1, d2]; negative (and antisymmetric) if d2 < d1."""
        d1, d2 = _as_date(d1), _as_date(d2)
        if d2 < d1:
            return -self.workdays_between(d2, d1)
        return sum(self.is_workday(d1 + timedelta(days=i)) for i in range(1, (d2 - d1).days + 1))

    def _workdays_from(self, first: date) -> Iterator[date]:
        """The working days on or after first, in order, without end; raises if they dry up."""
        day, days_off = first, 0
        while True:
            if self.is_workday(day):
                days_off = 0
                yield day
            else:
                days_off += 1
                if days_off >= MAX_DAYS_OFF:
                    raise ValueError(
                        f"no working day in the {MAX_DAYS_OFF} days from {day - timedelta(days=days_off - 1)}"
                        f" to {day}: check the calendar overrides"
                    )
            try:
                day += _ONE_DAY
            except OverflowError:
                raise ValueError("ran past the last date Python can represent") from None

    # --------------------------------------------------------- business days

    def add_business_days(self, start: datetime, n: int | float) -> datetime:
        """The earliest instant by which n business days (n * 24 h on working days) have gone by."""
        start = _to_utc(start, "start")
        remaining = _amount_us(n, _DAY_US, "n")
        if remaining == 0:
            return start
        first = self._local_date(start)
        for day in self._workdays_from(first):
            # Only the start day is entered part-way; later working days are available in full.
            pos = self._pos_in_day(start, day) if day == first else 0
            available = _DAY_US - pos
            if remaining <= available:  # "<=": ending exactly at midnight returns that midnight
                return self._instant_in_day(day, pos + remaining)
            remaining -= available
        raise AssertionError("unreachable: _workdays_from never runs out without raising")

    def business_days_between(self, a: datetime, b: datetime) -> float:
        """Business days (24 h units on working days) from a to b; negative if b is before a."""
        a, b = _to_utc(a, "a"), _to_utc(b, "b")
        if b < a:
            return -self.business_days_between(b, a)
        first, last = self._local_date(a), self._local_date(b)
        total, day = 0, first
        while day <= last:
            if self.is_workday(day):
                lo = self._pos_in_day(a, day) if day == first else 0
                hi = self._pos_in_day(b, day) if day == last else _DAY_US
                total += hi - lo
            day += _ONE_DAY
        return total / _DAY_US

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()

    def _day_start(self, d: date) -> datetime:
        """The first instant (in UTC) of local date d."""
        if d not in self._day_starts:
            self._day_starts[d] = datetime.combine(d, time(), tzinfo=self.tz).astimezone(UTC)
        return self._day_starts[d]

    def _day_length_us(self, d: date) -> int:
        # Subtract in UTC: aware datetimes sharing a tzinfo would subtract as wall-clock times.
        return _us(self._day_start(d + _ONE_DAY) - self._day_start(d))

    def _pos_in_day(self, instant: datetime, d: date) -> int:
        """How much business time of day d has gone by at instant, in microseconds.

        A day is always worth exactly 24 h of business time, so on a daylight-saving day (23 or 25 real
        hours, in zones that have them) real time is scaled; on every other day this is the elapsed time.
        """
        elapsed = _us(instant - self._day_start(d))
        length = self._day_length_us(d)
        if length != _DAY_US:
            elapsed = elapsed * _DAY_US // length
        return min(_DAY_US, max(0, elapsed))

    def _instant_in_day(self, d: date, pos: int) -> datetime:
        """The earliest instant at which pos microseconds of day d's business time have gone by."""
        length = self._day_length_us(d)
        real = pos if length == _DAY_US else -(-pos * length // _DAY_US)  # ceiling: the earliest instant
        return self._day_start(d) + timedelta(microseconds=real)

    # --------------------------------------------------------- working hours

    def add_working_hours(self, start: datetime, hours: int | float) -> datetime:
        """The earliest instant by which `hours` of working time (work periods of working days) went by."""
        start = _to_utc(start, "start")
        remaining = _amount_us(hours, _HOUR_US, "hours")
        if remaining == 0:
            return start
        for day in self._workdays_from(self._local_date(start)):
            for period_start, period_end in self._work_intervals(day):
                if period_end <= start:
                    continue
                begin = max(period_start, start)  # outside working time, wait for the next period
                available = _us(period_end - begin)
                if remaining <= available:  # "<=": ending at a period's end returns that end
                    return begin + timedelta(microseconds=remaining)
                remaining -= available
        raise AssertionError("unreachable: _workdays_from never runs out without raising")

    def working_hours_between(self, a: datetime, b: datetime) -> float:
        """Hours of working time from a to b; negative if b is before a."""
        a, b = _to_utc(a, "a"), _to_utc(b, "b")
        if b < a:
            return -self.working_hours_between(b, a)
        total, day, last = 0, self._local_date(a), self._local_date(b)
        while day <= last:
            for period_start, period_end in self._work_intervals(day):
                lo, hi = max(period_start, a), min(period_end, b)
                if hi > lo:
                    total += _us(hi - lo)
            day += _ONE_DAY
        return total / _HOUR_US

    def _work_intervals(self, d: date) -> tuple[tuple[datetime, datetime], ...]:
        """Day d's work periods as UTC instants; none on a day off."""
        if d not in self._intervals:
            intervals = []
            if self.is_workday(d):
                for local_start, local_end in self._periods:
                    s = datetime.combine(d, local_start, tzinfo=self.tz).astimezone(UTC)
                    e = datetime.combine(d, local_end, tzinfo=self.tz).astimezone(UTC)
                    intervals.append((s, max(s, e)))  # max(): a DST jump must not make a period negative
            self._intervals[d] = tuple(intervals)
        return self._intervals[d]


# ------------------------------------------------------------ time left


@dataclass(frozen=True)
class TimeLeft:
    """How long until a deadline, as a countdown shows it (or how long past it, when `overdue`).

    `business`: counted as business days are (a working day is 24 h, a day off counts nothing), the way
    the reply deadlines of business-day policies were set; otherwise on the clock, around the clock, the
    way sign deadlines and hour policies were set. days/hours/minutes are whole units of that count (days
    of 24 h), rounded down. `working_hours`: the time within the work periods of working days until the
    deadline (office hours left), 0 once it has passed."""

    overdue: bool
    business: bool
    days: int
    hours: int
    minutes: int
    working_hours: float

    @property
    def total_minutes(self) -> int:
        return (self.days * 24 + self.hours) * 60 + self.minutes


def time_left(calendar: BusinessCalendar, now: datetime, deadline: datetime, *, business: bool = True) -> TimeLeft:
    """The countdown to `deadline` at `now` in `calendar`: from Thursday 21:00 to Saturday 21:00 (a day off)
    is 1 business day and 3 hours; a deadline already passed gives how long ago, in the same count."""
    now, deadline = _to_utc(now, "now"), _to_utc(deadline, "deadline")
    overdue = deadline < now
    lo, hi = (deadline, now) if overdue else (now, deadline)
    span = round(calendar.business_days_between(lo, hi) * _DAY_US) if business else _us(hi - lo)
    minutes = span // (60 * 1_000_000)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    working = 0.0 if overdue else calendar.working_hours_between(now, deadline)
    return TimeLeft(overdue=overdue, business=business, days=days, hours=hours, minutes=mins,
                    working_hours=working)


# ------------------------------------------------------------------ helpers


def _as_date(d: date) -> date:
    # datetime is a subclass of date, but which local day an instant falls on depends on the time zone.
    if isinstance(d, datetime):
        raise TypeError(f"expected a date, not a datetime: {d!r}")
    if not isinstance(d, date):
        raise TypeError(f"expected a date, got {type(d).__name__}")
    return d


def _to_utc(dt: datetime, name: str) -> datetime:
    if not isinstance(dt, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {dt!r}")
    return dt.astimezone(UTC)


def _amount_us(amount: int | float, unit_us: int, name: str) -> int:
    """A non-negative amount of days or hours as whole microseconds (exact for integers)."""
    if not math.isfinite(amount):
        raise ValueError(f"{name} must be finite, got {amount!r}")
    if amount < 0:
        raise ValueError(f"{name} must not be negative, got {amount!r}")
    return round(amount * unit_us)


def _us(delta: timedelta) -> int:
    """A timedelta as an exact number of microseconds (total_seconds() is a float and rounds)."""
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _checked_periods(periods: Sequence[tuple[time, time]]) -> tuple[tuple[time, time], ...]:
    checked = tuple((start, end) for start, end in periods)
    if not checked:
        raise ValueError("work_periods must not be empty")
    for start, end in checked:
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError("work_periods are local wall-clock times: give them without tzinfo")
        if not start < end:
            raise ValueError(f"work period {start}-{end} must start before it ends (and not cross midnight)")
    for (_, previous_end), (next_start, _) in pairwise(checked):
        if next_start < previous_end:
            raise ValueError("work_periods must be in order and must not overlap")
    return checked
