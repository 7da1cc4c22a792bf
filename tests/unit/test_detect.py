"""Hot-spot and surge detection on a synthetic cube: what is injected is found, with the right label;
a flat background raises nothing; repeats count once; titles name the problem."""

from __future__ import annotations

import numpy as np
import pytest

from jiesu.hotspots.detect import (
    Cells,
    DayTypes,
    Geography,
    HotSpotMiner,
    mann_kendall,
    mine_hotspots,
    poisson_sf,
    repeats,
    scan_surges,
    title,
)

D0 = 19_000  # local day number of the first day of data
DAYS = 420
NCAT = 5


def small_city() -> Geography:
    """2 districts, 10 streets, 200 communities (places 12..211)."""
    places, level, parent = ["d0", "d1"], [2, 2], [-1, -1]
    for s in range(10):
        places.append(f"s{s}")
        level.append(1)
        parent.append(s % 2)
    for c in range(200):
        places.append(f"c{c}")
        level.append(0)
        parent.append(2 + c % 10)
    return Geography(places, np.array(level, np.int8), np.array(parent, np.int32))


COMMS = np.arange(12, 212)


def background(rng: np.random.Generator, rate: float = 0.05) -> np.ndarray:
    """(communities, categories, days) Poisson counts at one rate: a flat city."""
    return rng.poisson(rate, size=(len(COMMS), NCAT, DAYS))


def day_cells(cnt: np.ndarray) -> Cells:
    pl, ca, dd = np.nonzero(cnt)
    return Cells(COMMS[pl].astype(np.int32), ca.astype(np.int32), (dd + D0).astype(np.int32),
                 cnt[pl, ca, dd].astype(np.int32))


def test_flat_background_raises_no_hot_spot():
    rng = np.random.default_rng(7)
    miner = HotSpotMiner(day_cells(background(rng)), small_city())
    raised = [f for asof in range(D0 + 120, D0 + DAYS, 7) for f in miner.mine(asof)]
    assert raised == []


def test_a_new_hot_spot_at_a_community_is_found_there_and_labelled_new():
    rng = np.random.default_rng(1)
    cnt = background(rng)
    cnt[5, 2, DAYS - 21:] += rng.poisson(1.0, 21)  # three weeks of about one more ticket a day
    found = mine_hotspots(day_cells(cnt), small_city(), D0 + DAYS - 1)
    assert [(f.place, f.category, f.label) for f in found] == [(COMMS[5], 2, "new")]
    f = found[0]
    assert f.kind == "hotspot" and f.observed >= 15 and f.expected < 3 and f.p_value < 1e-6
    assert f.series is not None and len(f.series) == 12 and sum(f.series[-3:]) >= 15
    assert f.first_bucket >= D0 + DAYS - 21 - 7 and f.last_bucket == D0 + DAYS - 1


def test_a_year_long_hot_spot_is_persistent_and_not_repeated_at_its_street():
    rng = np.random.default_rng(2)
    cnt = background(rng)
    cnt[7, 1, :] += rng.poisson(0.6, DAYS)  # 天堂河: every week for more than a year
    found = mine_hotspots(day_cells(cnt), small_city(), D0 + DAYS - 1)
    assert [(f.place, f.category, f.label) for f in found] == [(COMMS[7], 1, "persistent")]


def test_a_rising_problem_is_intensifying():
    rng = np.random.default_rng(3)
    cnt = background(rng)
    ramp = np.linspace(0.0, 2.0, 84)
    cnt[9, 3, DAYS - 84:] += rng.poisson(ramp)
    cnt[9, 3, DAYS - 200:DAYS - 84] += rng.poisson(0.2, 116)  # it was there before, weaker
    found = mine_hotspots(day_cells(cnt), small_city(), D0 + DAYS - 1)
    assert [(f.place, f.label) for f in found] == [(COMMS[9], "intensifying")]


def test_a_one_day_burst_is_not_a_hot_spot():
    rng = np.random.default_rng(4)
    cnt = background(rng)
    cnt[11, 0, DAYS - 10] += 25
    assert mine_hotspots(day_cells(cnt), small_city(), D0 + DAYS - 1) == []


def test_a_street_wide_problem_is_raised_at_the_street_not_at_each_community():
    rng = np.random.default_rng(5)
    cnt = background(rng)
    street_comms = [i for i in range(200) if i % 10 == 4]  # the 20 communities of street s4
    for i in street_comms:
        cnt[i, 2, DAYS - 56:] += rng.poisson(0.12, 56)
    found = mine_hotspots(day_cells(cnt), small_city(), D0 + DAYS - 1)
    assert [(f.place, f.category) for f in found] == [(6, 2)]  # s4 is place 2 + 4


# ----------------------------------------------------------------- surges

def hour_cells(rng: np.random.Generator, extra: list[tuple[int, int, int, int]]) -> tuple[Cells, int]:
    """Hourly background over 60 days (office hours busier) plus (community, category, hour, n) bursts."""
    days = 60
    prof = np.array([1, 1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 9, 6, 7, 9, 9, 8, 7, 5, 4, 3, 2, 2, 1], float)
    lam = 0.05 * prof / prof.mean() / 24
    cnt = rng.poisson(np.broadcast_to(np.tile(lam, days), (len(COMMS), NCAT, days * 24)))
    for comm, cat, h, n in extra:
        cnt[comm, cat, h] += n
    pl, ca, hh = np.nonzero(cnt)
    h0 = D0 * 24
    return Cells(COMMS[pl].astype(np.int32), ca.astype(np.int32), (hh + h0).astype(np.int32),
                 cnt[pl, ca, hh].astype(np.int32)), h0


def calendar() -> DayTypes:
    days = np.arange(D0 - 10, D0 + 100)
    return DayTypes(D0 - 10, np.where((days + 3) % 7 >= 5, 1, 0).astype(np.int8))


def test_a_surge_within_three_hours_is_raised_at_the_next_hourly_check():
    rng = np.random.default_rng(11)
    onset = 50 * 24 + 10  # day 50, 10:00
    cells, h0 = hour_cells(rng, [(3, 4, onset, 3), (3, 4, onset + 1, 2), (3, 4, onset + 2, 2)])
    geo, cal = small_city(), calendar()
    assert scan_surges(cells, geo, cal, h0 + onset - 1) == []  # before it
    found = scan_surges(cells, geo, cal, h0 + onset + 2)  # the check at 13:00 covers 10:00-12:59
    assert [(f.place, f.category, f.kind, f.label) for f in found] == [(COMMS[3], 4, "surge", "surge")]
    f = found[0]
    assert f.observed == 7 and 0 < f.expected < 0.5 and f.p_value < 1e-8 and f.window_hours == 3
    assert (f.first_bucket, f.last_bucket) == (h0 + onset, h0 + onset + 2)


def test_quiet_hours_raise_no_surge():
    rng = np.random.default_rng(12)
    cells, h0 = hour_cells(rng, [])
    geo, cal = small_city(), calendar()
    assert [f for h in range(40 * 24, 60 * 24, 5) for f in scan_surges(cells, geo, cal, h0 + h)] == []


# ----------------------------------------------------------------- repeats, titles, statistics

def test_a_callers_near_identical_repeats_within_30_days_count_once():
    day = 86400.0
    caller = np.array(["a", "a", "a", "a", "b", "", ""], dtype=object)
    cell = np.array([1, 1, 1, 2, 1, 1, 1])
    at = np.array([0, 3 * day, 40 * day, 4 * day, 5 * day, 0, day])
    same = frozenset({"楼上", "漏水", "天花板", "物业"})
    near = frozenset({"楼上", "漏水", "天花板", "物业", "不管"})  # Jaccard 0.8
    terms = [same, near, same, same, same, same, same]
    # row 1 repeats row 0; row 2 is 40 days on; row 3 is another cell; row 4 another caller;
    # rows 5 and 6 have no caller at all
    assert repeats(caller, cell, at, terms).tolist() == [False, True, False, False, False, False, False]
    other = frozenset({"噪音", "施工", "夜间"})
    assert not repeats(caller[:2], cell[:2], at[:2], [same, other]).any()


def test_title_names_the_problem_not_its_places_or_stop_words():
    docs = [["天堂河社区", "楼顶", "漏水", "严重", "暖气不热"], ["漏水", "我们", "暖气不热", "停车"],
            ["停车", "漏水", "小区"], ["暖气不热", "停车", "漏水", "反映"]]
    background = {"漏水": 0.01, "暖气不热": 0.01, "停车": 0.02, "楼顶": 0.3}
    assert title(docs, background) == "漏水 · 暖气不热 · 停车"
    assert title([]) == ""
    # the pieces of the place's own name (jieba cuts 天堂河 into 天堂 + 河) say where, not what
    docs = [["天堂", "漏水"], ["天堂", "漏水", "停车"], ["天堂", "停车", "漏水"]]
    assert title(docs, place_names=["天堂河社区"]) == "漏水 · 停车"
    assert title(docs).startswith("天堂")


def test_poisson_tail_and_trend():
    assert poisson_sf(np.array([0]), np.array([2.0]))[0] == 1.0
    assert poisson_sf(np.array([3]), np.array([1.0]))[0] == pytest.approx(1 - np.exp(-1) * 2.5)
    z, p = mann_kendall(np.array([[1, 2, 3, 4, 5, 6, 7, 8], [3, 3, 3, 3, 3, 3, 3, 3]]))
    assert z[0] > 0 and p[0] < 0.01 and p[1] == 1.0
