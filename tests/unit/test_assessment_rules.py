"""Assessment periods and formulas: pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jiesu.assessment import rules
from jiesu.assessment.formulas import Counts, Formula
from jiesu.config import Settings

BJ = ZoneInfo("Asia/Shanghai")


def test_calendar_month_in_beijing_time():
    assert rules.period_of(datetime(2023, 2, 28, 16, 30, tzinfo=UTC), BJ) == "2023-03"  # 1 March 00:30 in Beijing
    assert rules.period_of(datetime(2023, 2, 28, 15, 59, tzinfo=UTC), BJ) == "2023-02"
    assert rules.window("2023-12", BJ) == (datetime(2023, 11, 30, 16, tzinfo=UTC),
                                           datetime(2023, 12, 31, 16, tzinfo=UTC))


def test_a_month_from_the_19th_to_the_18th():
    assert rules.period_of(datetime(2023, 3, 18, 15, 59, tzinfo=UTC), BJ, 19) == "2023-03"  # 18 Mar 23:59
    assert rules.period_of(datetime(2023, 3, 18, 16, 0, tzinfo=UTC), BJ, 19) == "2023-04"  # 19 Mar 00:00
    assert rules.period_of(datetime(2023, 12, 20, 4, 0, tzinfo=UTC), BJ, 19) == "2024-01"  # across the year
    start, end = rules.window("2024-01", BJ, 19)
    assert (start.astimezone(BJ).date().isoformat(), end.astimezone(BJ).date().isoformat()) == (
        "2023-12-19", "2024-01-19")


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),  # noqa: DTZ001 (naive bounds)
                    timezones=st.just(UTC)),
       st.integers(min_value=1, max_value=28))
def test_every_instant_falls_in_the_window_of_its_period(at, start_day):
    start, end = rules.window(rules.period_of(at, BJ, start_day), BJ, start_day)
    assert start <= at < end


@pytest.mark.parametrize("bad", ["2023-13", "2023-3", "23-03", "", "2023-00", "2023-03-01"])
def test_a_bad_month_is_refused(bad):
    with pytest.raises(ValueError, match="YYYY-MM"):
        rules.parse_period(bad)


def test_shift_across_years():
    assert rules.shift("2023-01", -1) == "2022-12" and rules.shift("2023-12", 1) == "2024-01"
    assert rules.shift("2023-03", -14) == "2022-01"


def test_street_kinds():
    assert rules.street_kind("街道", "观音寺街道") == "街道"
    assert rules.street_kind("镇", "兴寿镇") == "乡镇" and rules.street_kind("地区", "南磨房地区") == "乡镇"
    assert rules.street_kind(None, "东花市街道") == "街道"


def test_default_formula_by_hand():
    f = Formula.from_settings(Settings(secret_key="x"))
    # 10 valid callbacks, 9 of them contacted; 20 dispatches: 16 signed in time, 3 late, 1 missed (2 pending)
    c = Counts(valid=10, contacted=9, resolved=7, partly=2, satisfied=6, basically=3, signed=16, late=3, missed=1,
               pending=2)
    assert (c.dispatched, c.not_in_time) == (20, 4)
    r = f.rates(c)
    assert (r.response, r.contact) == (pytest.approx(0.8), pytest.approx(0.9))
    assert (r.resolution, r.satisfaction) == (pytest.approx(0.7), pytest.approx(0.87))
    assert r.composite == pytest.approx(100 * (0.1 * 0.8 + 0.5 * 0.7 + 0.4 * 0.87))  # contact weighs 0
    assert Counts(valid=10, resolved=7, partly=2).unresolved == 1
    weighted = Formula(weight_response=0.1, weight_contact=0.1, weight_resolution=0.4, weight_satisfaction=0.4)
    assert weighted.rates(c).composite == pytest.approx(100 * (0.1 * 0.8 + 0.1 * 0.9 + 0.4 * 0.7 + 0.4 * 0.87))


def test_the_response_rate_is_signed_in_time_over_counted_dispatches_whatever_the_callbacks_say():
    r = Formula().rates(Counts(valid=4, contacted=0, signed=9, late=1))
    assert (r.response, r.contact) == (pytest.approx(0.9), 0)
    r = Formula().rates(Counts(valid=4, contacted=4, signed=0, missed=3, pending=5))  # pending is not counted
    assert (r.response, r.contact) == (0, 1)


def test_no_counted_dispatch_means_no_response_rate_and_the_others_scaled_up():
    f = Formula.from_settings(Settings(secret_key="x"))
    r = f.rates(Counts(valid=10, contacted=10, resolved=8, satisfied=5, basically=5, pending=3))
    assert r.response is None and r.contact == 1
    # weights 0.5 and 0.4 of the known rates, scaled to the full 1.0: x 1 / 0.9
    assert r.composite == pytest.approx(100 * (0.5 * 0.8 + 0.4 * 0.95) / 0.9)
    assert r.composite == pytest.approx(86.6666667)


def test_no_valid_callbacks_means_no_rates():
    r = Formula().rates(Counts())
    assert (r.response, r.resolution, r.satisfaction, r.composite, r.contact) == (None, None, None, None, None)
    r = Formula().rates(Counts(signed=3, late=1))  # dispatches signed, nobody called back yet
    assert r.response == pytest.approx(0.75) and (r.resolution, r.composite, r.contact) == (None, None, None)


def test_the_formulas_are_written_out_as_configured():
    f = Formula(weight_response=0.2, weight_resolution=0.4, weight_satisfaction=0.4, basically_factor=0.8,
                weight_contact=0.05)
    zh, en = f.describe(), f.describe("en")
    assert "响应率 = 签收时限内签收数 / 计入派单量" in zh
    assert "联系率 = 承办单位联系市民数 / 有效回访量" in zh
    assert any(line.startswith("计入派单量 = ") and "退单审核通过" in line for line in zh)
    assert any("0.2 × 响应率" in line and "0.05 × 联系率" in line for line in zh)
    assert "0.8 × 基本满意" in "\n".join(zh)
    assert "response rate = signed within the sign deadline / counted dispatches" in en
    assert "contact rate = contacted / valid" in en
    assert any("0.2 x response" in line and "0.05 x contact" in line for line in en)
    assert "0.8 x basically satisfied" in "\n".join(en)
    assert "响应率 = 承办单位联系市民数 / 有效回访量" not in zh  # the old definition is gone
