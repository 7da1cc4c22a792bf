"""The pure rule of what text, dates and months are acceptable from outside (jiesu.inputs), and the edge's
limit per kind of body (jiesu.api.edge.body_limit)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from jiesu import inputs
from jiesu.api.edge import body_limit
from jiesu.limits import MAX_JSON_BYTES, MAX_OPEN311_BYTES, MAX_PHOTOS, MULTIPART_SLACK

BJ = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("text", ["", "楼道堆物", "a\tb\nc\r", "emoji 🚒", "\u200b", "x" * 5000])
def test_text_that_a_database_holds_is_acceptable(text):
    assert inputs.text_problem(text) is None


@pytest.mark.parametrize("text, word", [("a\x00b", "NUL"), ("\x00", "NUL"), ("a\ud800", "surrogate"),
                                        ("\udfff楼", "surrogate")])
def test_nul_and_lone_surrogates_are_not_text(text, word):
    assert word in inputs.text_problem(text)


def test_problems_name_the_path_of_the_bad_string_in_a_json_value():
    value = {"text": "ok", "co_units": ["a", "b\x00"], "attributes": {"color": "\ud83d"}, "n": 5, "ok": None}
    assert [where for where, _ in inputs.problems(value)] == ["co_units.1", "attributes.color"]
    assert inputs.first_problem({"k\x00": 1})[0] == "k\x00"
    assert inputs.first_problem("\x00") == ("body", "may not contain the NUL character (U+0000)")
    assert inputs.first_problem({"a": [1, 2.5, True, {"b": "c"}]}) is None


@pytest.mark.parametrize("text", ["", "   ", "\u200b", "\u200b\u200c\u200d\ufeff", "\x00", "\u3000\u00a0",
                                  "\u2060", "\u3164", "\u202e"])
def test_a_purpose_of_invisible_characters_is_not_visible(text):
    assert not inputs.visible(text)


@pytest.mark.parametrize("text", ["回访", "x", " 核实 ", "\u200b1"])
def test_a_purpose_with_one_drawn_character_is_visible(text):
    assert inputs.visible(text)


def test_a_plain_date_is_that_days_start_in_the_city():
    assert inputs.moment("2026-12-01", BJ) == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert inputs.moment(" 2026-12-01T09:30 ", BJ) == datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
    assert inputs.moment("2026-12-01T09:30:00Z", BJ) == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert inputs.moment("2026-12-01T09:30:00+08:00", BJ).utcoffset().total_seconds() == 8 * 3600
    assert inputs.moment("2026-12-01 09:30", BJ).tzinfo is not None


@pytest.mark.parametrize("text", ["0001-01-01", "9999-12-31", "9999-12-31T23:59:59+14:00", "1900-12-31",
                                  "2200-01-01T00:00Z", "tomorrow", "0", "1733000000", "2026-13-01", "2026-02-30",
                                  "2026-12-01T25:00", "2026-12-01X", ""])
def test_a_moment_out_of_range_or_not_iso_is_refused(text):
    with pytest.raises(ValueError):
        inputs.moment(text, BJ)


def test_months_and_days_are_in_the_same_range_of_years():
    assert inputs.month("2023-03") == "2023-03"
    assert inputs.day("2024-10-01") == date(2024, 10, 1)
    for bad in ("9999-12", "0001-01", "2023-13", "2023-3", "202303"):
        with pytest.raises(ValueError):
            inputs.month(bad)
    for bad in ("9999-12-31", "0001-01-01", "2023-02-29", "20230101"):
        with pytest.raises(ValueError):
            inputs.day(bad)


def test_each_kind_of_body_has_its_limit():
    ten_mb = 10 * 1024 * 1024
    assert body_limit("/api/v1/auth/login", "application/json", ten_mb) == MAX_JSON_BYTES
    assert body_limit("/login", "application/x-www-form-urlencoded", ten_mb) == MAX_JSON_BYTES
    assert body_limit("/open311/v2/requests.json", "multipart/form-data", ten_mb) == MAX_OPEN311_BYTES
    assert body_limit("/api/v1/tickets/1/attachments", "multipart/form-data", ten_mb) == ten_mb + MULTIPART_SLACK
    assert body_limit("/tickets/1/step", "multipart/form-data", ten_mb) == MAX_PHOTOS * ten_mb + MULTIPART_SLACK
