"""Text normalisation and Chinese word segmentation for routing.

jieba is set up once per process, lazily (importing this module costs nothing), offline, with a user
dictionary of the category-tree terms and the gazetteer's place names so that "噪音扰民" or "八里庄街道"
stay whole. jieba's dictionary cache goes to a folder we name (never jieba's default of the system temp
dir chosen behind our back), and its logger is silenced: the CLI writes CSV and JSON to stdout.
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from jiesu.config import get_settings
from jiesu.data import read_csv

_WS = re.compile(r"\s+")
_lock = threading.Lock()
_tokenizer = None  # jieba.Tokenizer once initialised
_cache_dir: Path | None = None

# Short place names ("东城") are also ordinary words in running text; only names at least this long go in.
MIN_PLACE_LEN = 3
CATEGORY_FREQ = 2000  # high enough that jieba keeps the whole term rather than its parts
PLACE_FREQ = 500


def normalize(text: str | None) -> str:
    """NFKC (full-width letters, digits and punctuation to their plain forms), whitespace runs to one space."""
    if not text:
        return ""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def set_cache_dir(path: str | Path) -> None:
    """Where jieba keeps its dictionary cache (call before the first segmentation; e.g. <var_dir>/cache)."""
    global _cache_dir
    _cache_dir = Path(path)


def _default_cache_dir() -> Path:
    if _cache_dir is not None:
        return _cache_dir
    try:
        return get_settings().var_dir / "cache" / "jieba"
    except Exception:  # noqa: BLE001 - a bad setting must not stop segmentation; a private temp dir does
        return Path(tempfile.mkdtemp(prefix="jiesu-jieba-"))


def dictionary_terms() -> dict[str, int]:
    """The user dictionary: category-tree terms and place names (word -> frequency)."""
    terms: dict[str, int] = {}
    for row in read_csv("teddy2020/categories.csv", required=("一级分类", "二级分类", "三级分类")):
        for col in ("一级分类", "二级分类", "三级分类"):
            for part in re.split(r"[、/,，()（）\s]+", normalize(row[col])):
                if len(part) >= 2:
                    terms[part] = CATEGORY_FREQ
    for name, cols in (("places/districts.csv", ("name", "short_name")),
                       ("places/streets.csv", ("name", "mca_name")),
                       ("places/communities.csv", ("name", "short_name"))):
        for row in read_csv(name):
            for col in cols:
                word = normalize(row.get(col, ""))
                if len(word) >= MIN_PLACE_LEN and " " not in word:
                    terms.setdefault(word, PLACE_FREQ)
    return terms


def _init():
    global _tokenizer
    if _tokenizer is not None:
        return _tokenizer
    with _lock:
        if _tokenizer is not None:
            return _tokenizer
        import jieba

        jieba.setLogLevel(logging.ERROR)  # "Building prefix dict ..." would land in the CLI's output
        logging.getLogger("jieba").setLevel(logging.ERROR)
        cache = _default_cache_dir().resolve()
        cache.mkdir(parents=True, exist_ok=True)
        tok = jieba.Tokenizer()
        tok.tmp_dir = str(cache)
        tok.cache_file = "jieba.cache"  # jieba joins it to tmp_dir itself
        tok.initialize()
        for word, freq in dictionary_terms().items():
            tok.add_word(word, freq)
        _tokenizer = tok
    return _tokenizer


def segment(text: str) -> list[str]:
    """The words of a normalised text, without spaces (HMM on: names and new words still come out whole)."""
    tok = _init()
    return [w for w in tok.lcut(normalize(text)) if not w.isspace()]


def segment_many(texts: Iterable[str]) -> list[list[str]]:
    tok = _init()
    return [[w for w in tok.lcut(normalize(t)) if not w.isspace()] for t in texts]
