"""The public page's masking of names (a reviewer found two full names before office titles in the replies)."""

from __future__ import annotations

import pytest

from jiesu.public.rules import mask


@pytest.mark.parametrize(("text", "masked"), [
    ("北京市财经学校肖建军校长不作为", "北京市财经学校某某校长不作为"),
    ("5.毛上辉局长不管事", "5.某某局长不管事"),
    ("王小明同志很负责", "某某同志很负责"),
    ("张先生反映", "某先生反映"),
    ("我叫刘洋，住3号楼501", "我叫某某，住*号楼***"),
])
def test_names_before_titles_and_forms_of_address_are_masked(text, masked):
    assert mask(text) == masked


@pytest.mark.parametrize("text", ["学校校长说会处理", "区局长到现场查看", "我们小区物业不管", "社区主任回复了"])
def test_words_that_are_not_names_stay(text):
    assert mask(text) == text
