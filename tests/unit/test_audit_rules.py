"""The audit's pure part: what changed, secrets never shown."""

from __future__ import annotations

from datetime import UTC, datetime

from jiesu.audit import rules


def test_only_what_differs_is_a_change_in_field_order():
    before = {"name": "观音寺街道", "active": True, "calendar": "default"}
    after = {"name": "观音寺街道办事处", "active": False, "calendar": "default", "parent": "110115"}
    assert rules.changes(before, after) == [("active", True, False), ("name", "观音寺街道", "观音寺街道办事处"),
                                            ("parent", None, "110115")]


def test_a_creation_and_a_deletion_list_every_field():
    assert rules.changes(None, {"code": "x", "n": 1}) == [("code", None, "x"), ("n", None, 1)]
    assert rules.changes({"code": "x"}, None) == [("code", "x", None)]


def test_secrets_say_that_they_changed_never_what_to():
    before = {"password_hash": "$argon2id$old", "role": "operator"}
    after = {"password_hash": "$argon2id$new", "role": "operator"}
    assert rules.changes(before, after) == [("password_hash", rules.HIDDEN, rules.HIDDEN)]
    assert rules.shown(after) == {"password_hash": rules.HIDDEN, "role": "operator"}
    assert rules.changes(before, before) == []


def test_values_are_kept_as_json_can_hold_them():
    at = datetime(2027, 1, 1, tzinfo=UTC)
    assert rules.shown({"at": at, "codes": ("a", "b"), "n": None}) == {"at": at.isoformat(), "codes": ["a", "b"],
                                                                       "n": None}
