"""Routing's text helpers: normalisation, jieba with the category and place dictionary, quiet and offline."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jiesu.routing import text


@pytest.fixture(scope="module", autouse=True)
def _jieba_cache(tmp_path_factory):
    # effective only if nothing in this process segmented before; either way never jieba's default /tmp file
    text.set_cache_dir(tmp_path_factory.mktemp("jieba"))


@pytest.mark.parametrize(("raw", "clean"), [
    ("ＡＢＣ１２３，　你好", "ABC123, 你好"),  # full-width letters, digits, comma and ideographic space
    ("  小区\n\n门口\t积水  ", "小区 门口 积水"),
    ("", ""),
    (None, ""),
])
def test_normalize_folds_width_and_whitespace(raw, clean):
    assert text.normalize(raw) == clean


def test_dictionary_holds_category_terms_and_places():
    terms = text.dictionary_terms()
    assert "劳动和社会保障" in terms and "城乡建设" in terms  # first level of the tree
    assert "八里庄街道" in terms and "东华门街道" in terms  # streets from the gazetteer
    assert "东城" not in terms  # two-character short names would split ordinary words


def test_segment_keeps_place_and_category_terms_whole():
    words = text.segment("我住在八里庄街道，反映劳动和社会保障问题，小区门口积水")
    assert "八里庄街道" in words
    assert "劳动和社会保障" in words
    assert "积水" in words
    assert " " not in words and "" not in words


def test_segment_normalises_first():
    assert text.segment("ＡＢＣ１２３") == ["ABC123"]
    assert text.segment("   ") == []


def test_segment_many_matches_segment():
    docs = ["垃圾清运不及时", "公交车不按时发车"]
    assert text.segment_many(docs) == [text.segment(d) for d in docs]


def test_jieba_writes_its_cache_only_where_told_and_prints_nothing(tmp_path):
    cache = tmp_path / "cache"
    code = ("import sys; from jiesu.routing import text; "
            f"text.set_cache_dir({str(cache)!r}); words = text.segment('小区噪音扰民'); "
            "sys.stdout.write('|'.join(words))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout == "|".join(text.segment("小区噪音扰民"))  # nothing else on stdout
    assert "Building prefix dict" not in done.stderr  # jieba's logger is silenced too
    assert (cache / "jieba.cache").is_file()
