"""The pure business calendar: holidays, make-up workdays, overrides and deadline arithmetic."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jiesu.calendar.rules import BusinessCalendar

CST = timezone(timedelta(hours=8))  # what Asia/Shanghai has been since 1991
CAL = BusinessCalendar()  # shared: the property tests lean on its caches


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=CST)


def local(instant: datetime) -> datetime:
    return instant.astimezone(CST)


# ------------------------------------------------------------------ working days


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2024, 10, 1), False),  # 国庆 2024: Oct 1-7 off
        (date(2024, 10, 7), False),
        (date(2024, 10, 8), True),
        (date(2024, 10, 12), True),  # a make-up Saturday
        (date(2024, 2, 4), True),  # 春节 2024: make-up Sunday before...
        (date(2024, 2, 10), False),
        (date(2024, 2, 17), False),
        (date(2024, 2, 18), True),  # ...and after
        (date(2025, 1, 26), True),  # 春节 2025: make-up Sunday
        (date(2025, 1, 28), False),
        (date(2025, 2, 4), False),
        (date(2025, 2, 8), True),  # make-up Saturday
        (date(2025, 10, 8), False),  # 国庆 2025: Oct 1-8 off
        (date(2025, 10, 9), True),
        (date(2024, 11, 16), False),  # an ordinary weekend
        (date(2024, 11, 18), True),
    ],
)
def test_is_workday_follows_the_state_council_notice(day: date, expected: bool) -> None:
    assert CAL.is_workday(day) is expected


def test_day_name_and_coverage() -> None:
    assert CAL.day_name(date(2024, 10, 1)) == "National Day"
    assert CAL.day_name(date(2024, 10, 12)) == "National Day"  # the make-up day belongs to the holiday
    assert CAL.day_name(date(2024, 11, 15)) is None
    assert CAL.day_name(date(2027, 1, 1)) is None  # no data, no name
    assert CAL.covers(2004) and CAL.covers(2024) and CAL.covers(2026)
    assert not CAL.covers(2003) and not CAL.covers(2027)


def test_next_workday_and_workdays_between() -> None:
    assert CAL.next_workday(date(2024, 9, 30)) == date(2024, 10, 8)
    assert CAL.next_workday(date(2024, 2, 9)) == date(2024, 2, 18)
    assert CAL.next_workday(date(2024, 11, 15)) == date(2024, 11, 18)
    # (Sep 30, Oct 12]: Oct 8, 9, 10, 11 and the make-up Saturday the 12th
    assert CAL.workdays_between(date(2024, 9, 30), date(2024, 10, 12)) == 5
    assert CAL.workdays_between(date(2024, 10, 12), date(2024, 9, 30)) == -5
    assert CAL.workdays_between(date(2024, 10, 1), date(2024, 10, 1)) == 0


def test_datetimes_are_not_dates() -> None:
    with pytest.raises(TypeError):
        CAL.is_workday(at(2024, 10, 8, 10))


# ------------------------------------------------------------------ business days


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (at(2024, 9, 30, 10), at(2024, 10, 8, 10)),  # 国庆 2024
        (at(2025, 9, 30, 10), at(2025, 10, 9, 10)),  # 国庆 2025
        (at(2024, 2, 9, 10), at(2024, 2, 18, 10)),  # 春节 2024, lands on the make-up Sunday
        (at(2025, 1, 27, 10), at(2025, 2, 5, 10)),  # 春节 2025
        (at(2024, 11, 15, 10), at(2024, 11, 18, 10)),  # Friday -> Monday
        (at(2024, 11, 16, 15), at(2024, 11, 19, 0)),  # Saturday: all of Monday, ends at Tuesday 00:00
        (at(2024, 10, 11, 10), at(2024, 10, 12, 10)),  # Friday -> make-up Saturday
    ],
)
def test_add_one_business_day(start: datetime, expected: datetime) -> None:
    result = CAL.add_business_days(start, 1)
    assert result.tzinfo is UTC
    assert local(result) == expected
    assert CAL.business_days_between(start, result) == 1


def test_business_days_examples() -> None:
    assert CAL.add_business_days(at(2024, 11, 18, 10), 0.5) == at(2024, 11, 18, 22)
    # Friday 18:00 + 6 h ends at the very end of Friday: that midnight, not Monday 00:00.
    assert CAL.add_business_days(at(2024, 11, 15, 18), 0.25) == at(2024, 11, 16, 0)
    assert CAL.add_business_days(at(2024, 11, 18, 10), 5) == at(2024, 11, 25, 10)
    assert CAL.business_days_between(at(2024, 10, 8, 10), at(2024, 9, 30, 10)) == -1
    assert CAL.business_days_between(at(2024, 10, 1), at(2024, 10, 7, 23)) == 0  # all holiday
    start = at(2024, 11, 16, 15)
    assert CAL.add_business_days(start, 0) == start


def test_large_n_is_fast_and_consistent() -> None:
    start = at(2019, 3, 1, 9, 30)
    result = CAL.add_business_days(start, 500)
    assert CAL.business_days_between(start, result) == 500
    assert local(result).time() == time(9, 30)


def test_overrides_beat_chinese_calendar() -> None:
    extra_day_off = BusinessCalendar(overrides={date(2024, 10, 8): False})
    assert not extra_day_off.is_workday(date(2024, 10, 8))
    assert extra_day_off.add_business_days(at(2024, 9, 30, 10), 1) == at(2024, 10, 9, 10)

    holiday_worked = BusinessCalendar(overrides={date(2024, 10, 3): True})
    assert holiday_worked.add_business_days(at(2024, 9, 30, 10), 1) == at(2024, 10, 3, 10)


def test_each_working_day_is_worth_a_full_day_across_daylight_saving() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 2024-03-31 (a Sunday) has 23 hours in Berlin; make it a working day.
    cal = BusinessCalendar(tz=berlin, overrides={date(2024, 3, 31): True})
    start = datetime(2024, 3, 29, 10, tzinfo=berlin)
    result = cal.add_business_days(start, 2)
    assert result == datetime(2024, 4, 1, 10, tzinfo=berlin)
    assert cal.business_days_between(start, result) == 2


# ------------------------------------------------------------------ uncovered years


def test_uncovered_year_falls_back_to_weekends_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    cal = BusinessCalendar()
    assert not cal.covers(2027), "chinese_calendar now knows 2027: move these tests to a later year"
    with caplog.at_level(logging.WARNING, logger="jiesu.calendar"):
        assert cal.is_workday(date(2027, 1, 1))  # a Friday; really New Year's Day, but nobody said so
        assert not cal.is_workday(date(2027, 1, 2))
        assert cal.add_business_days(at(2026, 12, 31, 10), 1) == at(2027, 1, 1, 10)
        cal.add_business_days(at(2027, 1, 1), 30)
        assert not cal.is_workday(date(2003, 1, 4))  # before the data starts: a Saturday
    warnings = [r for r in caplog.records if r.name == "jiesu.calendar" and r.levelno == logging.WARNING]
    assert [("2027" in r.getMessage(), "2003" in r.getMessage()) for r in warnings] == [
        (True, False),
        (False, True),
    ]
    assert "jiesu calendar set" in warnings[0].getMessage()
    assert "jiesu calendar import" in warnings[0].getMessage()


def test_overrides_fill_in_an_uncovered_year(caplog: pytest.LogCaptureFixture) -> None:
    cal = BusinessCalendar(overrides={date(2027, 1, 1): False})
    with caplog.at_level(logging.WARNING, logger="jiesu.calendar"):
        assert not cal.is_workday(date(2027, 1, 1))
    assert not caplog.records  # the override answered; no fallback was needed
    assert cal.add_business_days(at(2026, 12, 31, 10), 1) == at(2027, 1, 4, 10)


def test_everything_off_raises_instead_of_hanging() -> None:
    first = date(2027, 1, 1)
    cal = BusinessCalendar(overrides={first + timedelta(days=i): False for i in range(3700)})
    with pytest.raises(ValueError, match="no working day"):
        cal.add_business_days(at(2027, 1, 1, 10), 1)
    with pytest.raises(ValueError, match="no working day"):
        cal.add_working_hours(at(2027, 1, 1, 10), 1)
    with pytest.raises(ValueError, match="no working day"):
        cal.next_workday(first)


# ------------------------------------------------------------------ working hours


def test_working_hours_examples() -> None:
    # 2024-11-15 is an ordinary Friday. 17:00-18:00 is one hour; the second is Monday 09:00-10:00.
    assert local(CAL.add_working_hours(at(2024, 11, 15, 17), 2)) == at(2024, 11, 18, 10)
    assert local(CAL.add_working_hours(at(2024, 11, 15, 17, 30), 2)) == at(2024, 11, 18, 10, 30)
    assert local(CAL.add_working_hours(at(2024, 11, 15, 11), 2)) == at(2024, 11, 15, 14, 30)  # lunch skipped
    assert CAL.add_working_hours(at(2024, 11, 15, 11), 1) == at(2024, 11, 15, 12)  # a period's end, not 13:30
    assert CAL.add_working_hours(at(2024, 11, 16, 8), 1) == at(2024, 11, 18, 10)  # waits for Monday 09:00
    assert CAL.add_working_hours(at(2024, 9, 30, 17), 2) == at(2024, 10, 8, 10)  # over 国庆
    assert CAL.working_hours_between(at(2024, 11, 18), at(2024, 11, 19)) == 7.5
    assert CAL.working_hours_between(at(2024, 11, 15, 14, 30), at(2024, 11, 15, 11)) == -2


def test_custom_work_periods() -> None:
    cal = BusinessCalendar(work_periods=[(time(8), time(16))])
    assert cal.add_working_hours(at(2024, 11, 15, 15), 2) == at(2024, 11, 18, 9)
    with pytest.raises(ValueError):
        BusinessCalendar(work_periods=[(time(9), time(12)), (time(11), time(14))])
    with pytest.raises(ValueError):
        BusinessCalendar(work_periods=[(time(12), time(9))])
    with pytest.raises(ValueError):
        BusinessCalendar(work_periods=[])


# ------------------------------------------------------------------ bad input


def test_naive_datetimes_are_refused() -> None:
    naive = at(2024, 11, 15, 10).replace(tzinfo=None)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add_business_days(naive, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.business_days_between(naive, at(2024, 11, 18))
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add_working_hours(naive, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.working_hours_between(at(2024, 11, 18), naive)


@pytest.mark.parametrize("n", [-1, -0.5, float("nan"), float("inf")])
def test_bad_amounts_are_refused(n: float) -> None:
    with pytest.raises(ValueError):
        CAL.add_business_days(at(2024, 11, 15, 10), n)
    with pytest.raises(ValueError):
        CAL.add_working_hours(at(2024, 11, 15, 10), n)


# ------------------------------------------------------------------ properties

_FIRST = datetime(2019, 1, 1, tzinfo=UTC)
_SPAN_US = int((datetime(2028, 1, 1, tzinfo=UTC) - _FIRST) / timedelta(microseconds=1)) - 1
_ZONES = st.sampled_from([CST, UTC])
# Boundaries matter most: midnights and the ends of work periods, as well as arbitrary instants.
_EDGES = [time(0), time(9), time(12), time(13, 30), time(18), time(23, 59, 59, 999_999)]

arbitrary_instants = st.integers(0, _SPAN_US).map(lambda us: _FIRST + timedelta(microseconds=us))
edge_instants = st.builds(
    lambda d, t: datetime.combine(d, t, tzinfo=CST),
    st.dates(date(2019, 1, 1), date(2027, 12, 31)),
    st.sampled_from(_EDGES),
)
instants = st.builds(lambda t, tz: t.astimezone(tz), st.one_of(arbitrary_instants, edge_instants), _ZONES)
day_counts = st.one_of(st.integers(0, 30), st.floats(0, 30, allow_nan=False, allow_infinity=False))
hour_counts = st.one_of(st.integers(0, 100), st.floats(0, 100, allow_nan=False, allow_infinity=False))

props = settings(max_examples=200, deadline=None)


@props
@given(instants, day_counts)
def test_business_days_never_go_back_and_invert(t: datetime, n: float) -> None:
    result = CAL.add_business_days(t, n)
    assert result >= t
    assert abs(CAL.business_days_between(t, result) - n) < 1e-9


@props
@given(instants, instants, day_counts)
def test_business_days_are_monotonic(t1: datetime, t2: datetime, n: float) -> None:
    t1, t2 = sorted([t1, t2])
    assert CAL.add_business_days(t1, n) <= CAL.add_business_days(t2, n)


@props
@given(instants, st.integers(0, 30), st.integers(0, 30))
def test_business_days_add_up(t: datetime, a: int, b: int) -> None:
    assert CAL.add_business_days(CAL.add_business_days(t, a), b) == CAL.add_business_days(t, a + b)


@props
@given(instants, st.integers(1, 30))
def test_whole_business_days_keep_the_time_of_day(t: datetime, n: int) -> None:
    start = t.astimezone(CAL.tz)
    if not CAL.is_workday(start.date()):
        return
    assert CAL.add_business_days(t, n).astimezone(CAL.tz).time() == start.time()


@props
@given(instants, hour_counts)
def test_working_hours_never_go_back_and_invert(t: datetime, hours: float) -> None:
    result = CAL.add_working_hours(t, hours)
    assert result >= t
    assert abs(CAL.working_hours_between(t, result) - hours) < 1e-9


@props
@given(instants, instants, hour_counts)
def test_working_hours_are_monotonic(t1: datetime, t2: datetime, hours: float) -> None:
    t1, t2 = sorted([t1, t2])
    assert CAL.add_working_hours(t1, hours) <= CAL.add_working_hours(t2, hours)
