"""Smart dispatch's pure rules: urgency triggers, duplicate scores, which routing rule applies."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from jiesu.routing import rules
from jiesu.routing.rules import Candidate, RuleView

WINTER, SUMMER = date(2024, 1, 10), date(2024, 7, 10)


@pytest.mark.parametrize(("text", "trigger"), [
    ("楼道里有很浓的煤气味，请尽快来人", "燃气泄漏"),
    ("电梯困人了，三个人被困在里面", "人员被困"),
    ("小区门口积水很深，车都过不去", "积水内涝"),
    ("整栋楼停电两个小时了", "停电"),
    ("从昨晚开始停水，老人孩子没法做饭", "停水"),
])
def test_emergencies_are_flagged_with_their_trigger(text, trigger):
    finding = rules.urgency(text, SUMMER)
    assert finding.emergency
    assert any(t.startswith(trigger + ":") for t in finding.triggers), finding.triggers


def test_no_heating_is_an_emergency_in_deep_winter_only():
    text = "家里暖气不热，室温只有12度"
    assert rules.urgency(text, WINTER).emergency
    assert rules.urgency(text, date(2023, 11, 20)).emergency
    assert not rules.urgency(text, SUMMER).emergency


def test_an_ordinary_request_is_not_an_emergency():
    finding = rules.urgency("小区里车太多了，希望规划停车位", WINTER)
    assert not finding.emergency and finding.triggers == []


def test_season_wraps_the_year_end():
    season = ((11, 15), (3, 15))
    assert rules.in_season(date(2024, 12, 31), season) and rules.in_season(date(2024, 3, 15), season)
    assert not rules.in_season(date(2024, 3, 16), season) and not rules.in_season(date(2024, 11, 14), season)


def tokens(*words: str) -> Counter[str]:
    return Counter(words)


def test_similar_text_at_the_same_place_is_a_duplicate_with_reasons():
    new = tokens("群租", "房屋", "消防", "隐患", "楼道")
    other = Candidate("20240930-000001", tokens("群租", "房屋", "隐患", "杂物"), same_area=True, same_category=True,
                      same_phone=False)
    [found] = rules.duplicates(new, [other])
    assert found.number == "20240930-000001" and found.score >= rules.DUPLICATE_THRESHOLD
    assert "同一地点" in found.reasons and any("群租" in r for r in found.reasons)


def test_similar_text_elsewhere_is_not_enough():
    new = tokens("群租", "房屋", "消防", "隐患", "楼道")
    other = Candidate("x", tokens("群租", "房屋", "隐患", "杂物"), same_area=False, same_category=False,
                      same_phone=False)
    assert rules.duplicates(new, [other]) == []


def test_the_same_caller_repeating_is_caught():
    new = tokens("噪音", "施工", "夜间", "扰民")
    other = Candidate("y", tokens("夜间", "施工", "噪音", "工地"), same_area=False, same_category=False,
                      same_phone=True)
    [found] = rules.duplicates(new, [other])
    assert "同一来电人重复诉求" in found.reasons


def test_unrelated_text_at_the_same_place_is_not_a_duplicate():
    new = tokens("路灯", "不亮")
    other = Candidate("z", tokens("垃圾", "清运", "异味"), same_area=True, same_category=True, same_phone=False)
    assert rules.duplicates(new, [other]) == []


def test_the_most_specific_rule_wins():
    table = [RuleView(1, "*", None, "@street", ()), RuleView(2, "01", None, "@street", ("@branch:cgzf",)),
             RuleView(3, "01.02", None, "water", ("@street",)),
             RuleView(4, "01.02", "110115000000", "water", ("@street", "@district")),
             RuleView(5, "02", None, "@district", ())]
    chain = ["110115009016", "110115009000", "110115000000"]
    assert rules.best_rule(table, "01.02.003", chain).id == 4
    assert rules.best_rule(table, "01.02.003", ["110101013006", "110101013000", "110101000000"]).id == 3
    assert rules.best_rule(table, "01.05", chain).id == 2
    assert rules.best_rule(table, "07", chain).id == 1
    assert rules.best_rule(table, None, chain).id == 1
    assert rules.best_rule(table[1:], "07", chain) is None


def test_targets_are_checked():
    assert all(rules.valid_target(t) for t in ("@street", "@community", "@district", "@branch:cgzf", "water"))
    assert not any(rules.valid_target(t) for t in ("", "@branch:", "@city"))


def test_tokens_drop_single_characters_digits_and_punctuation():
    assert rules.tokens_of(["小区", "的", "5", "，", "停车", "2023"]) == Counter({"小区": 1, "停车": 1})
