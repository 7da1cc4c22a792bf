"""The knowledge base's pure rules: words, the query's words and their weights, BM25, an article's life,
answers from replies, repeated replies."""

from __future__ import annotations

import math
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jiesu.knowledge import rules
from jiesu.knowledge.rules import ArticleStatus as S
from jiesu.knowledge.rules import Query, QueryTerm, Step


def test_clean_terms_keeps_words_of_letters_and_digits_only():
    words = ["我", "想", "咨询", "A2区", "的", "公租房", "，", "0731-8888", "2019", "self_service", "停车费", " "]
    assert rules.clean_terms(words) == ["a2区", "公租房", "self", "service", "停车费"]
    assert rules.clean_terms(["x" * 40]) == []


def test_document_terms_index_the_start_of_the_answer():
    q, a = rules.document_terms(["公租房", "怎么", "申请"], [f"词{i}" for i in range(100)])
    assert q == "公租房 申请"
    assert a.split() == [f"词{i}" for i in range(rules.ANSWER_WORDS)]


@given(st.lists(st.text(min_size=1, max_size=12), max_size=30))
def test_clean_terms_never_yield_what_an_index_would_cut_again(words):
    for t in rules.clean_terms(words):
        assert t and " " not in t and '"' not in t and "'" not in t and t == t.lower() and len(t) <= rules.MAX_TERM
        assert all(c.isalnum() for c in t)


def test_idf_falls_as_a_word_gets_common():
    assert rules.idf(1, 1000) > rules.idf(10, 1000) > rules.idf(500, 1000) > rules.idf(1000, 1000) > 0


def test_pick_terms_asks_the_rare_words_first_within_the_limits():
    n = 100_000
    df = {"公租房": 120, "申请": 9000, "材料": 2500, "户口": 800, "小区": 30000}
    q = rules.pick_terms(["申请", "公租房", "材料", "小区", "户口", "没见过"], df, n)
    assert [t.term for t in q.terms] == ["公租房", "户口", "材料"]  # 申请 and 小区 are in too many articles
    assert not q.require_all
    assert q.terms[0].idf == pytest.approx(math.log(1 + (n - 120 + 0.5) / 120.5))
    # the budget: the rarest words until their articles would be too many to rank
    q = rules.pick_terms(["公租房", "户口", "材料"], df, n, budget=1000)
    assert [t.term for t in q.terms] == ["公租房", "户口"]
    assert [t.term for t in rules.pick_terms(["a", "b", "c"], {"a": 1, "b": 2, "c": 3}, 10, max_terms=2).terms] \
        == ["a", "b"]


def test_pick_terms_when_every_word_is_common_asks_the_least_common_together():
    q = rules.pick_terms(["小区", "问题", "申请"], {"小区": 30000, "问题": 60000, "申请": 9000}, 100_000)
    assert q.require_all and [t.term for t in q.terms] == ["申请", "小区"]
    assert rules.fts5_match(q) == '"申请" AND "小区"'
    assert rules.tsquery_text(q) == "'申请' & '小区'"
    assert not rules.pick_terms(["没见过"], {}, 10)


def test_a_small_base_asks_every_word():
    df = {"a": 40, "b": 45, "c": 2}
    assert {t.term for t in rules.pick_terms(["a", "b", "c"], df, 50).terms} == {"a", "b", "c"}


def test_match_expressions():
    q = Query([QueryTerm("公租房", 1, 1.0), QueryTerm("a2区", 2, 0.5)])
    assert rules.fts5_match(q) == '"公租房" OR "a2区"'
    assert rules.tsquery_text(q) == "'公租房' | 'a2区'"
    assert rules.tsquery("it's") == "'it''s'"


def test_bm25_prefers_the_question_the_rare_word_and_the_short_article():
    q = [QueryTerm("户口", 10, rules.idf(10, 1000)), QueryTerm("材料", 300, rules.idf(300, 1000))]

    def score(question, answer):
        return rules.bm25(q, [(question, rules.QUESTION_WEIGHT), (answer, rules.ANSWER_WEIGHT)], avgdl=24)

    in_question = score(["户口", "登记"], ["派出所"] * 20)
    in_answer = score(["出生", "登记"], ["户口"] + ["派出所"] * 19)
    assert in_question > in_answer > 0
    assert score(["户口"], []) > score(["材料"], [])  # the rarer word
    assert score(["户口", "登记"], ["x"] * 5) > score(["户口", "登记"], ["x"] * 200)  # the shorter article
    assert score(["无关"], ["无关"]) == 0


def test_an_articles_life():
    assert rules.next_status(S.draft, Step.submit) == S.in_review
    assert rules.next_status(S.in_review, Step.approve) == S.published
    assert rules.next_status(S.in_review, Step.reject) == S.draft
    assert rules.next_status(S.published, Step.expire) == S.expired
    assert rules.next_status(S.expired, Step.revise) == S.draft
    assert rules.next_status(S.draft, Step.approve) is None  # review first
    assert rules.next_status(S.published, Step.submit) is None
    assert rules.next_status(S.expired, Step.expire) is None
    assert S.published not in rules.EDITABLE and S.draft in rules.EDITABLE
    assert set(rules.STATUS_LABELS) == set(S)


def test_live_means_published_and_valid_today():
    today = date(2024, 10, 1)
    assert rules.is_live(S.published, None, None, today)
    assert rules.is_live(S.published, today, today, today)
    assert not rules.is_live(S.published, date(2024, 10, 2), None, today)
    assert not rules.is_live(S.published, None, date(2024, 9, 30), today)
    for status in (S.draft, S.in_review, S.expired):
        assert not rules.is_live(status, None, None, today)


@pytest.mark.parametrize(("reply", "answer"), [
    ("网友“UU0081389”您好！您的留言已收悉。现将有关情况回复如下：您的建议市交通运输局已收集，在今后的公交线路优化调整工作中"
     "会认真考虑。感谢您对我们工作的支持、理解与监督！2018年10月12日",
     "您的建议市交通运输局已收集，在今后的公交线路优化调整工作中会认真考虑。"),
    ("网友：您好，建议您直接向县教育局咨询，联系电话：0745—8822452。",
     "建议您直接向县教育局咨询，联系电话：0745—8822452。"),
    ("尊敬的网友：您好！您的发帖我局已收悉，现回复如下：养老金的计算与缴费基数、缴费年限挂钩。如有疑问，欢迎致电。2018年4月18日",
     "养老金的计算与缴费基数、缴费年限挂钩。如有疑问，欢迎致电。"),
    ("经查，该路段路灯已修复。特此回复。北京市大兴区观音寺街道办事处", "经查，该路段路灯已修复。特此回复。"),
])
def test_answer_from_reply_keeps_the_substance(reply, answer):
    assert rules.answer_from_reply(reply) == answer


def test_substantive_answers():
    assert not rules.substantive("留言已收悉。")
    assert not rules.substantive("您反映的问题已转至L2县调查核处，请您耐心等待后续答复。")
    assert rules.substantive("新生儿出生一个月内，由父母一方持出生医学证明、户口簿到派出所办理出生登记。")


def test_question_from_title_or_first_sentence():
    assert rules.question_from("公租房怎么申请", "正文") == "公租房怎么申请"
    assert rules.question_from("", "我想问公租房怎么申请？家里三口人。") == "我想问公租房怎么申请？"
    assert len(rules.question_from("", "长" * 300)) == 200


def _reply(key, group, q, a):
    return rules.Reply(key, group, frozenset(q.split()), frozenset(a.split()))


def test_repeated_replies_group_the_same_answer_to_the_same_question():
    same_a = "经核实 路灯 线路 老化 已 更换 恢复 照明"
    replies = [
        _reply("1", "u1", "路灯 不亮 兴华路 晚上", same_a),
        _reply("2", "u1", "路灯 不亮 兴华路 走路", same_a),
        _reply("3", "u1", "兴华路 路灯 坏了 不亮", same_a + " 感谢"),
        _reply("4", "u2", "路灯 不亮 兴华路 晚上", same_a),  # another unit
        _reply("5", "u1", "油烟 扰民 餐馆", "责令 整改 油烟 净化"),
        _reply("6", "u1", "停车 收费 太贵", same_a),  # the same words, but not the same question
    ]
    [group] = rules.repeated_replies(replies, min_count=3)
    assert [r.key for r in group] == ["1", "2", "3"]
    assert rules.medoid(group).key in {"1", "2"}
    assert rules.repeated_replies(replies, min_count=4) == []
    assert rules.jaccard(frozenset(), frozenset({"a"})) == 0.0
