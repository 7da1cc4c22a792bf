"""The category tree and the deadline policies, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from jiesu.errors import CategoryNotFound, DataSourceError, InvalidInput, PermissionDenied
from jiesu.permissions import ANONYMOUS, SYSTEM, Actor, Role
from jiesu.taxonomy import service
from jiesu.taxonomy.models import Category, DeadlinePolicy, Urgency
from jiesu.taxonomy.rules import ReplyUnit
from jiesu.taxonomy.service import PolicySpec

OPERATOR = Actor("op", Role.operator)
CODE_PATTERN = {1: r"\d{2}", 2: r"\d{2}\.\d{2}", 3: r"\d{2}\.\d{2}\.\d{3}"}
UTILITIES = ("自来水供应", "电力供应", "燃气供应", "冬季采暖", "通信保障")


def all_codes(session) -> dict[str, str]:
    return {c.path: c.code for c in session.scalars(select(Category))}


def write_csv(tmp_path, text: str, name: str = "tree.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# ------------------------------------------------------------------ the tree


def test_counts(session):
    assert service.counts(session, ANONYMOUS) == {1: 15, 2: 118, 3: 517}
    assert len(service.list_categories(session, ANONYMOUS, level=1)) == 15
    assert len(service.list_categories(session, ANONYMOUS, level=2)) == 118
    assert len(service.list_categories(session, ANONYMOUS, level=3)) == 517


def test_import_twice_inserts_nothing_and_keeps_codes(session):
    before = all_codes(session)
    report = service.import_tree(session, SYSTEM)
    assert report.inserted == 0
    assert report.existing == 15 + 118 + 517
    assert report.levels == {1: 15, 2: 118, 3: 517}
    assert all_codes(session) == before


def test_codes_are_dotted_nested_and_unique(session):
    cats = list(session.scalars(select(Category).options(joinedload(Category.parent))))
    assert len(cats) == 650
    assert len({c.code for c in cats}) == 650
    assert len({c.path for c in cats}) == 650
    for c in cats:
        assert re.fullmatch(CODE_PATTERN[c.level], c.code), (c.code, c.level)
        if c.level == 1:
            assert c.parent is None and c.path == c.name
        else:
            assert c.code.startswith(c.parent.code + ".") and c.parent.level == c.level - 1
            assert c.path == f"{c.parent.path}/{c.name}"
    first = service.get(session, ANONYMOUS, "01")
    assert (first.name, first.level) == ("城乡建设", 1)
    assert service.get(session, ANONYMOUS, "01.02").path == "城乡建设/城市建设和市政管理"
    assert service.get(session, ANONYMOUS, "01.02.003").parent.code == "01.02"
    with pytest.raises(CategoryNotFound):
        service.get(session, ANONYMOUS, "1.2.3")


def test_other_occurs_under_many_parents(session):
    others = service.list_categories(session, ANONYMOUS, q="其他")
    others = [c for c in others if c.name == "其他"]
    assert len(others) > 50
    assert len({c.code for c in others}) == len(others)
    assert len({c.parent_id for c in others}) == len(others)  # at most one 其他 per parent


def test_list_by_parent_and_name(session):
    kids = service.list_categories(session, ANONYMOUS, parent_code="01.01")
    assert [(c.code, c.name) for c in kids] == [("01.01.001", "事故处理"), ("01.01.002", "安全生产管理"),
                                                ("01.01.003", "安全隐患")]
    assert [c.code for c in service.list_categories(session, ANONYMOUS, q="自来水供应")] == ["01.02.016"]
    assert service.list_categories(session, ANONYMOUS, q="%") == []  # LIKE wildcards are literal
    with pytest.raises(InvalidInput) as e:
        service.list_categories(session, ANONYMOUS, level=4)
    assert e.value.field == "level"


def test_import_adds_new_nodes_with_the_next_free_code(session, tmp_path):
    before = all_codes(session)
    path = write_csv(tmp_path, "一级分类,二级分类,三级分类\n城乡建设,安全生产,新的三级分类\n新一级,新二级,新三级\n"
                               "城乡建设,安全生产,事故处理\n")
    report = service.import_tree(session, SYSTEM, path)
    assert report.inserted == 4
    after = all_codes(session)
    assert {p: c for p, c in after.items() if p in before} == before  # nothing renumbered
    assert after["城乡建设/安全生产/新的三级分类"] == "01.01.004"
    assert after["新一级"] == "16"
    assert after["新一级/新二级"] == "16.01"
    assert after["新一级/新二级/新三级"] == "16.01.001"


def test_import_accepts_a_byte_order_mark(session, tmp_path):
    path = write_csv(tmp_path, "\ufeff一级分类,二级分类,三级分类\n城乡建设,安全生产,事故处理\n")
    assert service.import_tree(session, SYSTEM, path).inserted == 0


def test_csv_missing_a_column(session, tmp_path):
    path = write_csv(tmp_path, "一级分类,二级分类\n城乡建设,安全生产\n")
    with pytest.raises(DataSourceError) as e:
        service.import_tree(session, SYSTEM, path)
    assert "三级分类" in e.value.message and "tree.csv" in e.value.message


def test_csv_missing_file(session, tmp_path):
    with pytest.raises(DataSourceError):
        service.import_tree(session, SYSTEM, tmp_path / "nope.csv")


def test_csv_row_without_a_name(session, tmp_path):
    path = write_csv(tmp_path, "一级分类,二级分类,三级分类\n城乡建设,安全生产,事故处理\n,,\n")
    with pytest.raises(DataSourceError) as e:
        service.import_tree(session, SYSTEM, path)
    assert "line 3" in e.value.message


def test_csv_not_utf8_is_a_data_source_error(session, tmp_path):
    # Excel in China saves CSV as GBK by default: say so, do not crash with a UnicodeDecodeError
    path = write_csv(tmp_path, "一级分类,二级分类,三级分类\n城乡建设,安全生产,事故处理\n", encoding="gbk")
    with pytest.raises(DataSourceError) as e:
        service.import_tree(session, SYSTEM, path)
    assert "tree.csv" in e.value.message and "UTF-8" in e.value.message


def test_import_from_the_shared_copy_matches_the_shipped_one(session, shared_data):
    before = all_codes(session)
    report = service.import_tree(session, SYSTEM, shared_data / "teddy2020" / "categories.csv")
    assert report.inserted == 0
    assert report.levels == {1: 15, 2: 118, 3: 517}
    assert all_codes(session) == before


def test_only_admin_imports(session):
    with pytest.raises(PermissionDenied):
        service.import_tree(session, OPERATOR)
    with pytest.raises(PermissionDenied):
        service.import_tree(session, ANONYMOUS)


# ------------------------------------------------------------------ deadline policies


def test_default_policies(session):
    rows = {(p.scope, p.urgency): p for p in service.list_policies(session, ANONYMOUS)}
    assert len(rows) == 3 + 2 * len(UTILITIES)  # utilities: normal and complex
    e, n, c = (rows[("*", u)] for u in (Urgency.emergency, Urgency.normal, Urgency.complex))
    assert (e.reply_within, e.reply_unit) == (2, ReplyUnit.hours)
    assert (n.reply_within, n.reply_unit) == (7, ReplyUnit.business_days)
    assert (c.reply_within, c.reply_unit) == (15, ReplyUnit.business_days)


@pytest.mark.parametrize("name", UTILITIES)
def test_utilities_reply_within_24_hours(session, name):
    [cat] = [c for c in service.list_categories(session, ANONYMOUS, q=name) if c.name == name]
    for urgency in (Urgency.normal, Urgency.complex):  # a complex gas ticket must not get 15 business days
        p = service.resolve_policy(session, ANONYMOUS, cat.code, urgency)
        assert (p.scope, p.reply_within, p.reply_unit) == (cat.code, 24, ReplyUnit.hours)
    # an emergency keeps the shorter default
    e = service.resolve_policy(session, ANONYMOUS, cat.code, Urgency.emergency)
    assert (e.scope, e.reply_within, e.reply_unit) == ("*", 2, ReplyUnit.hours)


def test_reply_may_not_come_before_sign(session, clock):
    with pytest.raises(InvalidInput) as e:
        service.set_policy(session, SYSTEM, clock, "*", Urgency.normal,
                           PolicySpec(5, 10, 2, ReplyUnit.hours))
    assert e.value.field == "reply_within"


def test_most_specific_scope_wins(session, clock):
    spec = PolicySpec(3, 2, 5, ReplyUnit.business_days, "城乡建设：5个工作日")
    service.set_policy(session, SYSTEM, clock, "01", Urgency.normal, spec)
    child = service.resolve_policy(session, ANONYMOUS, "01.01.001", Urgency.normal)
    assert (child.scope, child.reply_within, child.dispatch_within_hours) == ("01", 5, 3)
    assert service.resolve_policy(session, ANONYMOUS, "01.01", Urgency.normal).scope == "01"
    assert service.resolve_policy(session, ANONYMOUS, "01", Urgency.normal).scope == "01"
    # a utility below 01 keeps its own, more specific policy
    assert service.resolve_policy(session, ANONYMOUS, "01.02.016", Urgency.normal).scope == "01.02.016"
    # an unrelated category and another urgency keep the default
    assert service.resolve_policy(session, ANONYMOUS, "02.01.001", Urgency.normal).scope == "*"
    assert service.resolve_policy(session, ANONYMOUS, "01.01.001", Urgency.complex).scope == "*"
    # a level-2 policy beats the level-1 one
    service.set_policy(session, SYSTEM, clock, "01.01", Urgency.normal, PolicySpec(1, 1, 3, ReplyUnit.business_days))
    assert service.resolve_policy(session, ANONYMOUS, "01.01.001", Urgency.normal).scope == "01.01"
    assert service.resolve_policy(session, ANONYMOUS, "01.03.001", Urgency.normal).scope == "01"


def test_resolve_without_a_category_is_the_default(session):
    assert service.resolve_policy(session, ANONYMOUS, None, Urgency.complex).scope == "*"
    with pytest.raises(CategoryNotFound):
        service.resolve_policy(session, ANONYMOUS, "99.99", Urgency.normal)


def test_set_policy_updates_in_place(session, clock):
    row = service.set_policy(session, SYSTEM, clock, "*", Urgency.normal,
                             PolicySpec(2, 1, 10, ReplyUnit.business_days, "十个工作日"))
    assert (row.reply_within, row.note, row.updated_by, row.updated_at) == (10, "十个工作日", "system", clock.now())
    count = Counter((p.scope, p.urgency) for p in session.scalars(select(DeadlinePolicy)))
    assert count[("*", Urgency.normal)] == 1


@pytest.mark.parametrize("field", ["dispatch_within_hours", "sign_within_hours", "reply_within"])
@pytest.mark.parametrize("value", [0, -1, -0.5, float("nan"), float("inf")])
def test_set_policy_rejects_non_positive_or_non_finite_amounts(session, clock, field, value):
    values = {"dispatch_within_hours": 1, "sign_within_hours": 1, "reply_within": 24, field: value}
    spec = PolicySpec(**values, reply_unit=ReplyUnit.hours)
    with pytest.raises(InvalidInput) as e:
        service.set_policy(session, SYSTEM, clock, "*", Urgency.emergency, spec)
    assert e.value.field == field
    assert service.resolve_policy(session, ANONYMOUS, None, Urgency.emergency).reply_within == 2  # unchanged


def test_set_policy_rejects_a_year_of_business_days(session, clock):
    with pytest.raises(InvalidInput) as e:
        service.set_policy(session, SYSTEM, clock, "*", Urgency.complex,
                           PolicySpec(1, 1, 367, ReplyUnit.business_days))
    assert e.value.field == "reply_within"
    # the same number of hours is fine
    assert service.set_policy(session, SYSTEM, clock, "*", Urgency.complex,
                              PolicySpec(1, 1, 367, ReplyUnit.hours)).reply_within == 367


@pytest.mark.parametrize("scope", ["99", "01.99.001", "城乡建设", "", "**"])
def test_set_policy_rejects_an_unknown_scope(session, clock, scope):
    with pytest.raises(InvalidInput) as e:
        service.set_policy(session, SYSTEM, clock, scope, Urgency.normal, PolicySpec(1, 1, 1, ReplyUnit.hours))
    assert e.value.field == "scope"


def test_only_admin_sets_policies(session, clock):
    with pytest.raises(PermissionDenied):
        service.set_policy(session, OPERATOR, clock, "*", Urgency.normal, PolicySpec(1, 1, 1, ReplyUnit.hours))
    with pytest.raises(PermissionDenied):
        service.seed_default_policies(session, OPERATOR, clock)


def test_seed_keeps_an_administrators_edit(session, clock):
    assert service.seed_default_policies(session, SYSTEM, clock) == 0  # all there already
    edited = PolicySpec(4, 2, 5, ReplyUnit.business_days, "五天")
    service.set_policy(session, SYSTEM, clock, "*", Urgency.normal, edited)
    service.set_policy(session, SYSTEM, clock, "01.02.016", Urgency.normal, PolicySpec(1, 1, 12, ReplyUnit.hours))
    assert service.seed_default_policies(session, SYSTEM, clock) == 0
    default = service.resolve_policy(session, ANONYMOUS, None, Urgency.normal)
    assert (default.dispatch_within_hours, default.reply_within, default.note) == (4, 5, "五天")
    assert service.resolve_policy(session, ANONYMOUS, "01.02.016", Urgency.normal).reply_within == 12


def test_seed_fills_in_what_is_missing(session, clock):
    for row in session.scalars(select(DeadlinePolicy).where(DeadlinePolicy.scope != "*")):
        session.delete(row)
    session.flush()
    assert service.seed_default_policies(session, SYSTEM, clock) == 2 * len(UTILITIES)
    assert service.resolve_policy(session, ANONYMOUS, "08.01.002", Urgency.normal).reply_within == 24
