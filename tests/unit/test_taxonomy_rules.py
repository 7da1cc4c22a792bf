"""Deadline maths (jiesu.taxonomy.rules.deadlines): pure, no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

import chinese_calendar
import pytest

from jiesu.calendar.rules import BusinessCalendar
from jiesu.taxonomy.rules import Deadlines, ReplyUnit, deadlines

CST = timezone(timedelta(hours=8))
CAL = BusinessCalendar()


@dataclass(frozen=True)
class Policy:
    dispatch_within_hours: float
    sign_within_hours: float
    reply_within: float
    reply_unit: ReplyUnit


EMERGENCY = Policy(1, 0.5, 2, ReplyUnit.hours)
UTILITY = Policy(1, 1, 24, ReplyUnit.hours)
NORMAL = Policy(2, 1, 7, ReplyUnit.business_days)
COMPLEX = Policy(2, 1, 15, ReplyUnit.business_days)


def at(mo: int, d: int, h: int = 0, mi: int = 0, y: int = 2024) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=CST)


def test_the_national_day_2024_data_this_file_relies_on():
    # Worked out by hand below: 1-7 October off; Saturday 12 October is a make-up working day.
    assert chinese_calendar.is_workday(date(2024, 9, 30))
    assert not any(chinese_calendar.is_workday(date(2024, 10, d)) for d in range(1, 8))
    assert [d for d in range(8, 22) if chinese_calendar.is_workday(date(2024, 10, d))] == [
        8, 9, 10, 11, 12, 14, 15, 16, 17, 18, 21]


def test_hours_policy_runs_around_the_clock_through_holidays():
    # an emergency reported on National Day itself: hours are hours. Not dispatched yet, so the unit's
    # time is counted from the latest allowed dispatch (11:00).
    d = deadlines(EMERGENCY, CAL, at(10, 1, 10))
    assert d == Deadlines(dispatch_by=at(10, 1, 11), sign_by=at(10, 1, 11, 30), reply_by=at(10, 1, 13))
    d = deadlines(UTILITY, CAL, at(9, 30, 22))
    assert (d.dispatch_by, d.sign_by, d.reply_by) == (at(9, 30, 23), at(10, 1), at(10, 1, 23))


def test_deadlines_always_come_in_order():
    for policy in (EMERGENCY, UTILITY, NORMAL, COMPLEX):
        d = deadlines(policy, CAL, at(9, 30, 10))
        assert d.dispatch_by <= d.sign_by <= d.reply_by


def test_normal_seven_business_days_over_national_day():
    # counted from the latest dispatch, 30 Sep 12:00: 12:00-24:00 is half a day; then 8, 9, 10, 11,
    # 12 (Sat, make-up), 14 Oct are six more; the remaining half runs out on 15 Oct at 12:00.
    d = deadlines(NORMAL, CAL, at(9, 30, 10))
    assert d.reply_by == at(10, 15, 12)
    assert (d.dispatch_by, d.sign_by) == (at(9, 30, 12), at(9, 30, 13))


def test_complex_fifteen_business_days_over_national_day():
    # as above to 14 Oct (6.5 days), then 15-18 Oct and 21-24 Oct (8 more): 25 Oct 12:00
    assert deadlines(COMPLEX, CAL, at(9, 30, 10)).reply_by == at(10, 25, 12)


def test_business_days_from_a_friday_skip_the_weekend():
    assert deadlines(Policy(1, 1, 1, ReplyUnit.business_days), CAL, at(11, 15, 10)).reply_by == at(11, 18, 11)


def test_business_days_from_inside_the_holiday_start_on_the_next_working_day():
    # nothing counts until 8 Oct 00:00; one whole working day then ends at its midnight
    assert deadlines(Policy(1, 1, 1, ReplyUnit.business_days), CAL, at(10, 3, 15)).reply_by == at(10, 9)


def test_fractional_business_days():
    assert deadlines(Policy(1, 1, 0.5, ReplyUnit.business_days), CAL, at(9, 30, 10)).reply_by == at(9, 30, 23)
    # from 11:00: 13 hours on 30 Sep, the other 5 on 8 Oct
    assert deadlines(Policy(1, 1, 0.75, ReplyUnit.business_days), CAL, at(9, 30, 10)).reply_by == at(10, 8, 5)


def test_dispatch_shifts_sign_and_reply_but_not_dispatch():
    created = at(9, 30, 10)
    d = deadlines(NORMAL, CAL, created, dispatched_at=at(9, 30, 11, 30))
    assert d.dispatch_by == at(9, 30, 12)  # still from creation
    assert d.sign_by == at(9, 30, 12, 30)
    assert d.reply_by == at(10, 15, 11, 30)
    e = deadlines(EMERGENCY, CAL, created, dispatched_at=at(9, 30, 10, 45))
    assert (e.dispatch_by, e.sign_by, e.reply_by) == (at(9, 30, 11), at(9, 30, 11, 15), at(9, 30, 12, 45))


def test_dispatch_into_the_holiday_moves_the_business_day_deadline():
    # created on the last working day before the holiday but dispatched on 1 Oct: the unit's 7 days
    # start on 8 Oct and end at midnight after the 7th working day (8-12, 14, 15 Oct)
    d = deadlines(NORMAL, CAL, at(9, 30, 23), dispatched_at=at(10, 1, 9))
    assert d.dispatch_by == at(10, 1, 1)
    assert d.sign_by == at(10, 1, 10)
    assert d.reply_by == at(10, 16)


def test_other_offsets_name_the_same_instants():
    utc_created = at(9, 30, 10).astimezone(UTC)
    assert deadlines(NORMAL, CAL, utc_created) == deadlines(NORMAL, CAL, at(9, 30, 10))


def test_calendar_overrides_are_honoured():
    cal = BusinessCalendar(overrides={date(2024, 10, 14): False})  # say, a local day off
    assert deadlines(NORMAL, cal, at(9, 30, 10)).reply_by == at(10, 16, 12)


def test_naive_datetimes_raise():
    with pytest.raises(ValueError, match="timezone-aware"):
        deadlines(NORMAL, CAL, datetime(2024, 9, 30, 10))  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone-aware"):
        deadlines(EMERGENCY, CAL, at(9, 30, 10), dispatched_at=datetime(2024, 9, 30, 11))  # noqa: DTZ001
