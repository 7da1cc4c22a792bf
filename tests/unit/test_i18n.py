"""Every Chinese text the pages show has an English translation."""

import re
from pathlib import Path

from jiesu.units.models import ROLE_LABELS, UNIT_KIND_LABELS
from jiesu.web.i18n import catalogue, pick_language, translator

WEB = Path(__file__).resolve().parents[2] / "jiesu" / "web"
MSG = re.compile(r"""_\(\s*(["'])(.+?)\1""")


def template_msgids() -> set[str]:
    ids = set()
    for path in (WEB / "templates").glob("*.html"):
        ids |= {m.group(2) for m in MSG.finditer(path.read_text(encoding="utf-8"))}
    ids |= set(re.findall(r'(?:error|message)="([^"]+)"', (WEB / "pages.py").read_text(encoding="utf-8")))
    return ids


def test_every_page_text_is_translated():
    wanted = template_msgids() | set(ROLE_LABELS.values()) | set(UNIT_KIND_LABELS.values())
    assert len(wanted) > 40
    missing = sorted(wanted - set(catalogue("en")))
    assert missing == []


def test_translator_formats_and_falls_back():
    en = translator("en")
    assert en("共 {n} 个结果", n=3) == "3 result(s)"
    assert en("没有翻译的句子") == "没有翻译的句子"
    assert translator("zh_CN")("共 {n} 个结果", n=3) == "共 3 个结果"


def test_pick_language():
    assert pick_language("en", None, "zh_CN") == "en"
    assert pick_language(None, "en", "zh_CN") == "en"
    assert pick_language("fr", None, "zh_CN") == "zh_CN"
    assert pick_language(None, None, "zh_CN") == "zh_CN"
