"""The countdown to a deadline in business time (calendar.rules.time_left): days off count nothing, a passed
deadline says how long ago, and the clock count for deadlines that run around the clock."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from jiesu.calendar.rules import BusinessCalendar, time_left

CST = timezone(timedelta(hours=8))
CAL = BusinessCalendar()


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=CST)


def test_two_days_over_a_weekend_leave_one_business_day_and_three_hours() -> None:
    left = time_left(CAL, at(2024, 11, 14, 21), at(2024, 11, 16, 21))  # Thursday 21:00 -> Saturday 21:00
    assert (left.overdue, left.days, left.hours, left.minutes) == (False, 1, 3, 0)
    assert left.working_hours == 7.5  # Friday's work periods: 09:00-12:00 and 13:30-18:00
    clock = time_left(CAL, at(2024, 11, 14, 21), at(2024, 11, 16, 21), business=False)
    assert (clock.days, clock.hours) == (2, 0)


def test_the_national_day_holiday_counts_nothing() -> None:
    # Monday 30 September 10:00 to Tuesday 8 October 12:00: 1-7 October are off
    left = time_left(CAL, at(2024, 9, 30, 10), at(2024, 10, 8, 12))
    assert (left.days, left.hours, left.minutes) == (1, 2, 0)  # 14 h of Monday + 12 h of the 8th
    assert left.working_hours == 2 + 4.5 + 3
    assert time_left(CAL, at(2024, 9, 30, 10), at(2024, 10, 8, 12), business=False).days == 8


def test_an_administrators_day_off_counts_nothing_either() -> None:
    cal = BusinessCalendar(overrides={date(2024, 11, 15): False})  # Friday ruled off
    left = time_left(cal, at(2024, 11, 14, 21), at(2024, 11, 18, 9, 30))
    assert (left.days, left.hours, left.minutes) == (0, 12, 30)  # Thursday's last 3 h + Monday's first 9.5 h
    assert left.working_hours == 0.5


def test_a_passed_deadline_says_how_long_ago() -> None:
    left = time_left(CAL, at(2024, 11, 18, 10), at(2024, 11, 15, 18))  # due Friday 18:00, now Monday 10:00
    assert left.overdue and (left.days, left.hours) == (0, 16)  # Friday's last 6 h + Monday's first 10 h
    assert left.working_hours == 0
    clock = time_left(CAL, at(2024, 11, 18, 10), at(2024, 11, 15, 18), business=False)
    assert clock.overdue and (clock.days, clock.hours) == (2, 16)


def test_on_the_clock_a_weekend_hour_is_an_hour() -> None:
    # a sign deadline on Saturday: units sign around the clock, so an hour is left, not nothing
    assert time_left(CAL, at(2024, 11, 16, 10), at(2024, 11, 16, 11)).total_minutes == 0
    left = time_left(CAL, at(2024, 11, 16, 10), at(2024, 11, 16, 11), business=False)
    assert (left.overdue, left.total_minutes) == (False, 60)


def test_minutes_round_down_and_the_deadline_itself_is_not_late() -> None:
    left = time_left(CAL, at(2024, 11, 14, 10), at(2024, 11, 14, 10, 59) + timedelta(seconds=59))
    assert (left.hours, left.minutes) == (0, 59)
    now = time_left(CAL, at(2024, 11, 14, 10), at(2024, 11, 14, 10))
    assert not now.overdue and now.total_minutes == 0


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        time_left(CAL, datetime(2024, 11, 14, 10), at(2024, 11, 15))  # noqa: DTZ001
