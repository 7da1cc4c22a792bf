"""Pure dispatch logic, no I/O: urgency triggers, duplicate similarity, which routing rule applies.

Each function says why it decided, so that a dispatcher can see the reason beside the suggestion.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

# --- urgency ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trigger:
    name: str  # what the dispatcher reads
    pattern: re.Pattern[str]
    season: tuple[tuple[int, int], tuple[int, int]] | None = None  # (month, day) from, to; wraps the year end


def _p(*words: str) -> re.Pattern[str]:
    return re.compile("|".join(words))


# What Beijing's hotline treats as needing hours, not days (MISSION.md): danger to life, a whole building
# without water, power or heat, gas. A negation right before the trigger ("没有闻到煤气味") is not enough to
# skip it: a dispatcher checks in seconds, a missed gas leak cannot be undone.
TRIGGERS: tuple[Trigger, ...] = (
    Trigger("燃气泄漏", _p("煤气味", "燃气味", "天然气味", "漏气", "燃气泄漏", "煤气泄漏", "闻到.{0,4}气味")),
    Trigger("人员被困", _p("被困", "困在电梯", "电梯困人", "关在电梯", "出不来了", "困住")),
    Trigger("积水内涝", _p("积水", "内涝", "淹了", "被淹", "漫进", "倒灌", "水漫", "冒水")),
    Trigger("停电", _p("停电", "断电", "没电了", "没有电")),
    Trigger("停水", _p("停水", "断水", "没水了", "没有水")),
    Trigger("冬季无供暖", _p("暖气不热", "没有暖气", "没暖气", "不供暖", "停暖", "暖气停", "暖气漏水", "室温.{0,6}度"),
            season=((11, 15), (3, 15))),
    Trigger("火情", _p("着火", "起火", "冒烟", "火灾")),
    Trigger("人身安全", _p("坠落", "塌陷", "倒塌", "触电", "砸伤", "有人受伤", "危及生命", "掉下来")),
)


@dataclass(frozen=True)
class UrgencyFinding:
    emergency: bool
    triggers: list[str]  # e.g. ["燃气泄漏: 煤气味"]


def in_season(day: date, season: tuple[tuple[int, int], tuple[int, int]] | None) -> bool:
    if season is None:
        return True
    start, end = season
    md = (day.month, day.day)
    return start <= md <= end if start <= end else md >= start or md <= end


def urgency(text: str, today: date) -> UrgencyFinding:
    """Which emergency triggers the text contains (and, for seasonal ones, whether it is the season)."""
    found = []
    for trigger in TRIGGERS:
        m = trigger.pattern.search(text)
        if m and in_season(today, trigger.season):
            found.append(f"{trigger.name}: {m.group(0)}")
    return UrgencyFinding(emergency=bool(found), triggers=found)


# --- duplicates -------------------------------------------------------------------------------------

def cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(n * b[t] for t, n in a.items() if t in b)
    return dot / math.sqrt(sum(n * n for n in a.values()) * sum(n * n for n in b.values()))


@dataclass(frozen=True)
class Candidate:
    number: str
    tokens: Counter[str]
    same_area: bool  # the same community (or street when no community is known)
    same_category: bool
    same_phone: bool


@dataclass(frozen=True)
class DuplicateFinding:
    number: str
    score: float
    reasons: list[str]


DUPLICATE_THRESHOLD = 0.45
REPEAT_THRESHOLD = 0.35  # the same citizen again: less text in common is enough


def duplicate_score(tokens: Counter[str], c: Candidate) -> DuplicateFinding:
    """Text similarity, raised by the same place and category; the same caller with similar text is a
    repeat. The weights are chosen so that similar text alone at another place does not pass."""
    text = cosine(tokens, c.tokens)
    score = text * (0.6 + 0.25 * c.same_area + 0.15 * c.same_category)
    reasons = [f"文本相似度 {text:.2f}"]
    common = [t for t, _ in (tokens & c.tokens).most_common(6)]
    if common:
        reasons.append("共同词: " + " ".join(common))
    if c.same_area:
        reasons.append("同一地点")
    if c.same_category:
        reasons.append("同一类别")
    if c.same_phone:
        reasons.append("同一来电人重复诉求")
        score = max(score, text + 0.1)
    return DuplicateFinding(c.number, round(min(score, 1.0), 3), reasons)


def duplicates(tokens: Counter[str], candidates: Iterable[Candidate], limit: int = 5) -> list[DuplicateFinding]:
    found = []
    for c in candidates:
        # The best any candidate can score is its text similarity plus 0.1: below the bar, skip the reasons.
        if not c.tokens or not (tokens.keys() & c.tokens.keys()):
            continue
        f = duplicate_score(tokens, c)
        if f.score >= (REPEAT_THRESHOLD if c.same_phone else DUPLICATE_THRESHOLD):
            found.append(f)
    return sorted(found, key=lambda f: -f.score)[:limit]


# --- routing rules ----------------------------------------------------------------------------------

# Symbolic targets a rule may name instead of a unit code: resolved against the request's place.
STREET, COMMUNITY, DISTRICT = "@street", "@community", "@district"
BRANCH = "@branch:"  # @branch:cgzf is the 城管执法 branch of the request's district
SYMBOLS = (STREET, COMMUNITY, DISTRICT)
ANY = "*"


def valid_target(token: str) -> bool:
    return token in SYMBOLS or (token.startswith(BRANCH) and len(token) > len(BRANCH)) or (
        bool(token) and not token.startswith("@"))


@dataclass(frozen=True)
class RuleView:
    id: int
    category_scope: str  # a dotted category code, its prefix, or "*"
    area_code: str | None  # a district or street code, or None for anywhere
    main: str
    co_units: tuple[str, ...]


def _scope_matches(scope: str, category_code: str | None) -> int:
    """-1 when the scope does not cover the category, else how specific it is (more dots, more specific)."""
    if scope == ANY:
        return 0
    if category_code and (category_code == scope or category_code.startswith(scope + ".")):
        return 1 + scope.count(".")
    return -1


def best_rule(rules: Sequence[RuleView], category_code: str | None, area_codes: Sequence[str]) -> RuleView | None:
    """The most specific rule for this category and place: the category scope first, then the place
    (street before district before anywhere)."""
    best, best_key = None, None
    for r in rules:
        spec = _scope_matches(r.category_scope, category_code)
        if spec < 0:
            continue
        if r.area_code is None:
            place = 0
        elif r.area_code in area_codes:
            place = len(area_codes) - area_codes.index(r.area_code)  # area_codes: most specific first
        else:
            continue
        key = (spec, place, -r.id)
        if best_key is None or key > best_key:
            best, best_key = r, key
    return best


# Words every call has ("I reported it, please solve it soon"): they make unrelated calls look alike.
STOPWORDS = frozenset((
    "希望", "有关", "部门", "尽快", "处理", "问题", "还是", "没有", "解决", "反映", "存在", "我们",
    "他们", "你们", "请求", "要求", "投诉", "举报", "咨询", "市民", "来电", "情况", "现在", "目前",
    "已经", "一直", "非常", "相关", "进行", "可以", "能够", "是否", "这个", "那个", "什么", "怎么",
    "为什么", "上次", "还在", "一下", "一个", "这样", "因为", "所以", "但是", "而且", "如果", "需要",
    "造成", "严重", "影响", "给予", "帮助", "谢谢", "您好", "你好", "政府", "领导", "请问", "关于",
))


def tokens_of(words: Iterable[str]) -> Counter[str]:
    """Words that say what the problem is: no single characters, punctuation, digits or filler words."""
    return Counter(w for w in words if len(w) > 1 and not w.isdigit() and w not in STOPWORDS and re.search(r"\w", w))
