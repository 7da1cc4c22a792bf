"""Translations: zh_CN is the source language; other languages come from locales/<lang>/LC_MESSAGES/jiesu.po,
and the domain's words (states, steps, kinds, roles, places' kinds ...) from jiesu.glossary.

The .po files are read directly (Babel's reader), so no compile step stands between an edit and the page.
A message with a `msgctxt` is keyed "context\\x04msgid", as gettext does: the same Chinese word may need two
English words (区 is "districts" on the home page, "District" as a place's kind).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

from jiesu import glossary

LOCALES = Path(__file__).parent / "locales"
LANGUAGES = {"zh_CN": "中文", "en": "English"}
CONTEXT_SEP = "\x04"
PLACE_KIND = "地名类型"  # the context of places' kinds and levels (街道, 社区, 区 ...)


@lru_cache
def catalogue(lang: str) -> dict[str, str]:
    """msgid (or "context\\x04msgid") -> text: the glossary's words, then the .po file's sentences. The .po
    does not repeat a glossary word; where a word means something else in a sentence's place (区 counts
    "districts" on the home page), the .po's entry is the one `_()` finds."""
    if lang == "zh_CN":
        return {}
    entries = glossary.translations(lang)
    entries |= {f"{PLACE_KIND}{CONTEXT_SEP}{zh}": word
                for zh, word in glossary.translations(lang, glossary.PLACE_KINDS).items()}
    path = LOCALES / lang / "LC_MESSAGES" / "jiesu.po"
    if path.exists():
        with open(path, "rb") as fh:
            cat = read_po(fh, locale=lang)
        entries |= {(f"{m.context}{CONTEXT_SEP}{m.id}" if m.context else m.id): m.string
                    for m in cat if m.id and m.string and isinstance(m.id, str)}
    return entries


def translator(lang: str) -> Callable[..., str]:
    messages = catalogue(lang)

    def gettext(text: str, **kwargs: object) -> str:
        out = messages.get(text, text)
        return out.format(**kwargs) if kwargs else out

    return gettext


def context_translator(lang: str, context: str) -> Callable[[str], str]:
    """Translate words of one context (pgettext); a word without a translation shows as it is."""
    messages = catalogue(lang)
    return lambda text: messages.get(f"{context}{CONTEXT_SEP}{text}", text)


def pick_language(query: str | None, cookie: str | None, default: str) -> str:
    """`?lang=` first, then the `lang` cookie, then the default. The browser's Accept-Language is not
    asked: the hotline's staff work in Chinese whatever their browser says, and English is chosen on
    purpose with the language link (which sets the cookie)."""
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    return default
