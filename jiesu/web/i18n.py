"""Translations: zh_CN is the source language; other languages come from locales/<lang>/LC_MESSAGES/jiesu.po.

The .po files are read directly (Babel's reader), so no compile step stands between an edit and the page.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

LOCALES = Path(__file__).parent / "locales"
LANGUAGES = {"zh_CN": "中文", "en": "English"}


@lru_cache
def catalogue(lang: str) -> dict[str, str]:
    path = LOCALES / lang / "LC_MESSAGES" / "jiesu.po"
    if lang == "zh_CN" or not path.exists():
        return {}
    with open(path, "rb") as fh:
        cat = read_po(fh, locale=lang)
    return {m.id: m.string for m in cat if m.id and m.string and isinstance(m.id, str)}


def translator(lang: str):
    messages = catalogue(lang)

    def gettext(text: str, **kwargs: object) -> str:
        out = messages.get(text, text)
        return out.format(**kwargs) if kwargs else out

    return gettext


def pick_language(query: str | None, cookie: str | None, accept: str | None, default: str) -> str:
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    if accept and not cookie:
        first = accept.split(",")[0].strip().lower()
        if first.startswith("en"):
            return "en"
        if first.startswith("zh"):
            return "zh_CN"
    return default
