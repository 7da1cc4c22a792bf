"""The project's effect as a difference in differences (hotspots.rules.did), the choice of comparison places, the
month windows, the project workflow's table, and the topic candidates' themes and score."""

from __future__ import annotations

import numpy as np
import pytest

from jiesu.hotspots import rules
from jiesu.hotspots.rules import ProjectStatus as P
from jiesu.hotspots.rules import ProjectStep


def test_a_known_synthetic_case_gives_the_known_effect():
    # The project's place: 30 a month before, 10 after. Three flat-ish comparisons change by +1, +2, +3
    # (mean +2): the effect is (10 - 30) - 2 = -22 a month, -22/30 of the level before.
    comparisons = {"a": ([5, 5, 5], [6, 6, 6]), "b": ([8, 8, 8], [10, 10, 10]), "c": ([4, 4, 4], [7, 7, 7])}
    e = rules.did([30, 30, 30], [10, 10, 10], comparisons)
    assert e is not None
    assert e.before == 30 and e.after == 10 and e.change == -20
    assert e.comparison_change == pytest.approx(2.0)
    assert e.effect == pytest.approx(-22.0)
    assert e.percent == pytest.approx(-22 / 30)
    assert e.places == 3
    # Leave-one-out placebo: +1 - 2.5, +2 - 2, +3 - 1.5
    assert e.placebo == pytest.approx([-1.5, 0.0, 1.5])
    assert e.low == pytest.approx(-22 - np.quantile([-1.5, 0, 1.5], 0.975))
    assert e.high == pytest.approx(-22 - np.quantile([-1.5, 0, 1.5], 0.025))
    assert e.low < e.effect < e.high
    assert "-22.00" in e.formula() and "-73.3%" in e.formula()


def test_means_are_per_month_so_unequal_windows_compare():
    e = rules.did([12, 12, 12, 12], [6, 6], {"a": ([3, 3, 3, 3], [3, 3])})
    assert e.effect == pytest.approx(-6.0) and e.percent == pytest.approx(-0.5)
    assert e.low is None and e.high is None and e.placebo == []  # one comparison place: no interval


def test_no_comparison_places_or_no_months_after_is_none_not_a_guess():
    assert rules.did([30, 30], [10, 10], {}) is None
    assert rules.did([30, 30], [], {"a": ([1], [1])}) is None
    with pytest.raises(ValueError, match="before and after"):
        rules.did([30], [10], {"a": ([1], [])})


def test_a_place_with_nothing_before_has_no_percent():
    e = rules.did([0, 0], [2, 2], {"a": ([1, 1], [1, 1])})
    assert e.effect == 2 and e.percent is None and "实施前为0" in e.formula()


def test_nearest_takes_the_same_district_first_then_the_city():
    volumes = {"d1": 10.0, "d2": 50.0, "x1": 29.0, "x2": 31.0, "x3": 1.0}
    assert rules.nearest(30.0, volumes, k=2, preferred={"d1", "d2"}) == ["d1", "d2"]
    assert rules.nearest(30.0, volumes, k=3, preferred={"d1"}) == ["d1", "x1", "x2"]
    assert rules.nearest(30.0, volumes, k=10) == ["x1", "x2", "d1", "d2", "x3"]


def test_month_windows_skip_the_works_month_and_stop_at_the_last_full_month():
    assert rules.month_windows(12, 30, months=3) == ([9, 10, 11], [13, 14, 15])
    assert rules.month_windows(12, 14, months=6) == ([6, 7, 8, 9, 10, 11], [13, 14])
    assert rules.month_windows(12, 12, months=3)[1] == []  # the works month is the last full one: no after yet
    assert rules.month_windows(12, 14, months=3, skip_start=False)[1] == [12, 13, 14]


def test_the_project_transition_table():
    assert rules.replay_project([ProjectStep.start, ProjectStep.finish]) == P.done
    assert rules.replay_project([ProjectStep.cancel]) == P.cancelled
    assert rules.project_transition(P.done, ProjectStep.cancel) is None
    assert rules.project_transition(P.planned, ProjectStep.finish) is None
    assert rules.PROJECT_TRANSITIONS[ProjectStep.cancel].needs_reason
    with pytest.raises(ValueError):
        rules.replay_project([ProjectStep.start, ProjectStep.start])


def _facts(rows):
    """rows: (category, street, district, month, reached, unsatisfied, words)"""
    cols = list(zip(*rows, strict=True))
    return rules.TicketFacts(*(np.array(c, dtype=np.int32) for c in cols[:6]), terms=[frozenset(w) for w in cols[6]])


def test_themes_are_frequent_distinctive_words_of_a_category():
    # Category 0 is about parking (停车 in 12 of its tickets); 噪音 is everywhere, so not distinctive.
    rows = [(0, i % 6, i % 3, i % 12, 1, int(i < 6), {"停车", "噪音"}) for i in range(12)]
    rows += [(1, i % 4, i % 2, i % 3, 0, 0, {"噪音", "油烟"}) for i in range(24)]
    facts = _facts(rows)
    found = rules.themes(facts.category, facts.terms, 2, min_tickets=5)
    assert (0, "停车") in found and (1, "油烟") in found
    assert all(w != "噪音" for _, w in found)
    ranked = rules.rank_topics(facts, 2, n_streets=6, n_districts=3, months=12, min_tickets=5)
    parking = next(c for c in ranked if c.keyword == "停车")
    assert parking.tickets == 12 and parking.streets == 6 and parking.districts == 3
    assert parking.evenness == pytest.approx(1.0)  # 4 in each of the 3 districts
    assert parking.months_present == 12 and parking.dissatisfaction == pytest.approx(0.5)
    # every part in [0, 1]; the score is 100 × the weighted sum the formula states
    assert parking.score == pytest.approx(round(100 * sum(rules.WEIGHTS[k] * v for k, v in parking.parts.items()), 1))
    oil = next(c for c in ranked if c.keyword == "油烟")
    assert oil.months_present == 3 and oil.dissatisfaction is None
    assert ranked[0].keyword == "停车"  # fewer tickets, but persistent, widespread and with unhappy callers


def test_words_that_come_together_are_one_theme():
    # 停车 and 车位 together in 10 of 12 tickets: one theme; 充电 alone in its own 12 tickets: another
    rows = [(0, i, 0, 0, 0, 0, {"停车", "车位"} if i < 10 else {"停车"}) for i in range(12)]
    rows += [(0, i, 0, 0, 0, 0, {"充电"}) for i in range(12)]
    rows += [(1, i, 0, 0, 0, 0, {"噪音"}) for i in range(30)]
    ranked = rules.rank_topics(_facts(rows), 2, n_streets=12, n_districts=1, months=1, min_tickets=5)
    assert sorted(c.keyword for c in ranked if c.category == 0) == ["停车 车位", "充电"]
    both = next(c for c in ranked if c.keyword == "停车 车位")
    assert both.tickets == 12  # any of its words selects a ticket


def test_a_word_of_one_street_is_no_city_wide_topic():
    # 天堂 (of 天堂河) in 20 tickets, 19 of them from street 3: a place's problem, left to its hot spot; 停车 in
    # 12 streets is a topic; 号楼 (where in a complex) never is
    rows = [(0, 3 if i < 19 else 5, 0, 0, 0, 0, {"天堂", "号楼"}) for i in range(20)]
    rows += [(0, i, 0, 0, 0, 0, {"停车", "号楼"}) for i in range(12)]
    rows += [(1, i, 0, 0, 0, 0, {"噪音"}) for i in range(30)]
    ranked = rules.rank_topics(_facts(rows), 2, n_streets=12, n_districts=1, months=1, min_tickets=5)
    assert [c.keyword for c in ranked if c.category == 0] == ["停车"]
