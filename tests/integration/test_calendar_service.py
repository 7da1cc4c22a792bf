"""Administrators' calendar overrides and the BusinessCalendar loaded from them, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from jiesu.calendar import service
from jiesu.calendar.models import DayKind
from jiesu.errors import DataSourceError, InvalidInput, PermissionDenied
from jiesu.permissions import ANONYMOUS, SYSTEM, Actor, Role

CST = timezone(timedelta(hours=8))
OPERATOR = Actor("op", Role.operator)
CITIZEN = Actor("cit", Role.citizen)
NEW_YEARS_EVE = datetime(2026, 12, 31, 10, tzinfo=CST)  # a Thursday; 2027 is not in the holiday data


def one_day_after_new_years_eve(session, settings, calendar: str = "default") -> datetime:
    return service.load_calendar(session, settings, calendar).add_business_days(NEW_YEARS_EVE, 1).astimezone(CST)


def write(tmp_path, text: str, name: str = "days.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# ------------------------------------------------------------------ set and clear


def test_set_day_moves_a_deadline_and_clear_day_restores_it(session, clock, settings):
    assert one_day_after_new_years_eve(session, settings) == datetime(2027, 1, 1, 10, tzinfo=CST)
    row = service.set_day(session, SYSTEM, clock, date(2027, 1, 1), DayKind.holiday, "元旦")
    assert (row.day, row.kind, row.name, row.created_by, row.created_at) == (
        date(2027, 1, 1), DayKind.holiday, "元旦", "system", clock.now())
    assert one_day_after_new_years_eve(session, settings) == datetime(2027, 1, 4, 10, tzinfo=CST)
    assert service.clear_day(session, SYSTEM, date(2027, 1, 1)) is True
    assert one_day_after_new_years_eve(session, settings) == datetime(2027, 1, 1, 10, tzinfo=CST)
    assert service.clear_day(session, SYSTEM, date(2027, 1, 1)) is False  # nothing left to clear


def test_set_day_twice_updates_the_one_row(session, clock):
    service.set_day(session, SYSTEM, clock, date(2027, 1, 1), DayKind.holiday, "元旦")
    service.set_day(session, SYSTEM, clock, date(2027, 1, 1), DayKind.workday, "改为上班")
    [row] = service.list_days(session, OPERATOR, 2027)
    assert (row.kind, row.name) == (DayKind.workday, "改为上班")


def test_a_workday_override_beats_the_holiday_data(session, clock, settings):
    service.set_day(session, SYSTEM, clock, date(2024, 10, 1), DayKind.workday)
    cal = service.load_calendar(session, settings)
    assert cal.is_workday(date(2024, 10, 1))
    start = datetime(2024, 9, 30, 10, tzinfo=CST)
    assert cal.add_business_days(start, 1).astimezone(CST) == datetime(2024, 10, 1, 10, tzinfo=CST)


def test_calendars_are_separate(session, clock, settings):
    service.set_day(session, SYSTEM, clock, date(2027, 1, 1), DayKind.holiday, calendar="yanqing")
    assert one_day_after_new_years_eve(session, settings) == datetime(2027, 1, 1, 10, tzinfo=CST)
    assert one_day_after_new_years_eve(session, settings, "yanqing") == datetime(2027, 1, 4, 10, tzinfo=CST)
    assert service.list_days(session, OPERATOR, 2027) == []
    assert [r.day for r in service.list_days(session, OPERATOR, 2027, "yanqing")] == [date(2027, 1, 1)]


def test_list_days_by_year(session, clock):
    service.set_day(session, SYSTEM, clock, date(2027, 1, 1), DayKind.holiday)
    service.set_day(session, SYSTEM, clock, date(2026, 12, 31), DayKind.holiday)
    service.set_day(session, SYSTEM, clock, date(2027, 12, 31), DayKind.holiday)
    assert [r.day for r in service.list_days(session, OPERATOR, 2027)] == [date(2027, 1, 1), date(2027, 12, 31)]
    assert len(service.list_days(session, OPERATOR)) == 3


def test_a_day_name_longer_than_the_column_is_invalid_input(session, clock):
    # VARCHAR(64): PostgreSQL would refuse it with a database error, SQLite would keep it
    with pytest.raises(InvalidInput) as e:
        service.set_day(session, SYSTEM, clock, date(2027, 1, 1), DayKind.holiday, "节" * 65)
    assert e.value.field == "name"
    assert service.set_day(session, SYSTEM, clock, date(2027, 1, 1), DayKind.holiday, "节" * 64).name == "节" * 64


def test_only_admin_may_edit_days(session, clock, tmp_path):
    path = write(tmp_path, "2027-01-01,休\n")
    for actor in (OPERATOR, CITIZEN, ANONYMOUS):
        with pytest.raises(PermissionDenied):
            service.set_day(session, actor, clock, date(2027, 1, 1), DayKind.holiday)
        with pytest.raises(PermissionDenied):
            service.clear_day(session, actor, date(2027, 1, 1))
        with pytest.raises(PermissionDenied):
            service.import_days(session, actor, clock, path)
    assert service.list_days(session, OPERATOR) == []


def test_staff_may_read_the_calendar_citizens_may_not(session, settings):
    assert service.business_calendar(session, OPERATOR, settings).is_workday(date(2024, 10, 8))
    for actor in (CITIZEN, ANONYMOUS):
        with pytest.raises(PermissionDenied):
            service.business_calendar(session, actor, settings)
        with pytest.raises(PermissionDenied):
            service.list_days(session, actor)


# ------------------------------------------------------------------ import


def test_import_days_from_csv(session, clock, settings, tmp_path):
    path = write(tmp_path, "\ufeffdate,kind,name\n2027-01-01,休,元旦\n\n2027-02-06, 休 ,春节\n2027-02-07,班,春节调休\n"
                           "2027-02-08,Holiday\n")
    assert service.import_days(session, SYSTEM, clock, path) == 4
    rows = service.list_days(session, OPERATOR, 2027)
    assert [(r.day, r.kind, r.name) for r in rows] == [
        (date(2027, 1, 1), DayKind.holiday, "元旦"), (date(2027, 2, 6), DayKind.holiday, "春节"),
        (date(2027, 2, 7), DayKind.workday, "春节调休"), (date(2027, 2, 8), DayKind.holiday, "")]
    cal = service.load_calendar(session, settings)
    assert not cal.is_workday(date(2027, 2, 6)) and cal.is_workday(date(2027, 2, 7))  # a Saturday and a Sunday
    assert one_day_after_new_years_eve(session, settings) == datetime(2027, 1, 4, 10, tzinfo=CST)


def test_import_without_a_header(session, clock, tmp_path):
    assert service.import_days(session, SYSTEM, clock, write(tmp_path, "2027-01-01,休,元旦\n")) == 1


def test_one_bad_row_sets_none(session, clock, tmp_path):
    path = write(tmp_path, "date,kind,name\n2027-01-01,休,元旦\n\n2027-02-06,休,春节\n2027-02-07,休息,春节\n"
                           "2027-02-08,班\n")
    with pytest.raises(DataSourceError) as e:
        service.import_days(session, SYSTEM, clock, path)
    # row 5 of the file (header and blank row counted), as an editor or a spreadsheet shows it
    assert e.value.message.startswith("days.csv row 5:")
    assert "休息" in e.value.message
    assert service.list_days(session, OPERATOR) == []


@pytest.mark.parametrize(("text", "bad"), [
    ("2027-01-01,休\n2027-02-30,休\n", "row 2"),
    ("2027-01-01,休\n2027-02-06\n", "row 2"),
    ("2027-01-01,休\n2027-02-06,休," + "节" * 65 + "\n", "row 2"),
    ("date,kind\n2027/01/01,休\n", "row 2"),
])
def test_bad_rows_are_named(session, clock, tmp_path, text, bad):
    with pytest.raises(DataSourceError) as e:
        service.import_days(session, SYSTEM, clock, write(tmp_path, text))
    assert f"days.csv {bad}:" in e.value.message
    assert e.value.field == "path"
    assert service.list_days(session, OPERATOR) == []


def test_import_a_missing_file(session, clock, tmp_path):
    with pytest.raises(DataSourceError):
        service.import_days(session, SYSTEM, clock, tmp_path / "nope.csv")


def test_import_a_file_that_is_not_utf8(session, clock, tmp_path):
    path = write(tmp_path, "日期,类型,名称\n2027-01-01,休,元旦\n", encoding="gbk")
    with pytest.raises(DataSourceError) as e:
        service.import_days(session, SYSTEM, clock, path)
    assert "days.csv" in e.value.message and "UTF-8" in e.value.message
    assert service.list_days(session, OPERATOR) == []


# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize(("word", "kind"), [("holiday", DayKind.holiday), ("休", DayKind.holiday),
                                            ("假", DayKind.holiday), (" OFF ", DayKind.holiday),
                                            ("workday", DayKind.workday), ("班", DayKind.workday),
                                            ("Work", DayKind.workday)])
def test_parse_kind(word, kind):
    assert service.parse_kind(word) is kind


@pytest.mark.parametrize("word", ["", "休息", "maybe", "weekend"])
def test_parse_kind_rejects(word):
    with pytest.raises(InvalidInput) as e:
        service.parse_kind(word)
    assert e.value.field == "kind"


def test_parse_day():
    assert service.parse_day(" 2027-01-01 ") == date(2027, 1, 1)
    for bad in ("2027-02-30", "tomorrow", ""):
        with pytest.raises(InvalidInput) as e:
            service.parse_day(bad)
        assert e.value.field == "date"


def test_parse_periods():
    assert service.parse_periods("09:00-12:00,13:30-18:00") == ((time(9), time(12)), (time(13, 30), time(18)))
    assert service.parse_periods(" 13:30 - 18:00 , 09:00-12:00 ") == ((time(9), time(12)), (time(13, 30), time(18)))
    assert service.parse_periods("09:00-12:00,12:00-13:00") == ((time(9), time(12)), (time(12), time(13)))


@pytest.mark.parametrize(("spec", "words"), [
    ("", "look like"),
    ("9-12", "look like"),
    ("09:00-12:00,", "look like"),
    ("09:00-12:00-13:00", "look like"),
    ("09:00~12:00", "look like"),
    ("12:00-09:00", "ends before it starts"),
    ("09:00-09:00", "ends before it starts"),
    ("09:00-12:00,11:00-14:00", "overlap"),
    ("13:00-18:00,09:00-13:30", "overlap"),
])
def test_parse_periods_rejects(spec, words):
    with pytest.raises(InvalidInput) as e:
        service.parse_periods(spec)
    assert e.value.field == "work_periods"
    assert words in e.value.message


def test_load_calendar_uses_the_settings_work_periods(session, settings):
    settings.work_periods = "08:00-12:00"
    cal = service.load_calendar(session, settings)
    start = datetime(2024, 9, 30, 11, tzinfo=CST)
    assert cal.add_working_hours(start, 2).astimezone(CST) == datetime(2024, 10, 8, 9, tzinfo=CST)


# ------------------------------------------------------------------ describe_day


def test_describe_day_sources(session, clock, settings):
    service.set_day(session, SYSTEM, clock, date(2027, 1, 1), DayKind.holiday, "元旦")
    cal = service.load_calendar(session, settings)
    jan1 = service.describe_day(cal, date(2027, 1, 1))
    assert (jan1["day"], jan1["workday"], jan1["source"]) == (date(2027, 1, 1), False, "override")
    assert service.describe_day(cal, date(2024, 10, 1)) == {
        "day": date(2024, 10, 1), "workday": False, "source": "holiday_data", "name": "国庆节"}
    assert service.describe_day(cal, date(2024, 10, 12)) == {  # the make-up Saturday
        "day": date(2024, 10, 12), "workday": True, "source": "holiday_data", "name": "国庆节"}
    assert service.describe_day(cal, date(2024, 10, 9)) == {
        "day": date(2024, 10, 9), "workday": True, "source": "holiday_data", "name": None}
    assert service.describe_day(cal, date(2027, 1, 4)) == {
        "day": date(2027, 1, 4), "workday": True, "source": "weekday_fallback", "name": None}
    assert service.describe_day(cal, date(2027, 1, 2))["workday"] is False  # a Saturday, no data


def test_holiday_names_are_chinese():
    assert service.HOLIDAY_NAMES_ZH["Spring Festival"] == "春节"
    assert service.HOLIDAY_NAMES_ZH["National Day"] == "国庆节"


def test_an_administrators_day_name_is_shown(session, clock, settings):
    day = date(2027, 1, 1)
    assert service.describe_day(service.load_calendar(session, settings), day)["name"] is None
    service.set_day(session, SYSTEM, clock, day, DayKind.holiday, "元旦")
    info = service.describe_day(service.load_calendar(session, settings), day)
    assert info == {"day": day, "workday": False, "source": "override", "name": "元旦"}
