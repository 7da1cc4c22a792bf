"""The knowledge base's pure rules: the words an article is found by, which of a query's words are asked,
how they weigh (BM25), an article's life (draft -> in review -> published -> expired), what of a unit's
reply makes an article's answer, and which replies say the same thing again and again. No I/O here.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from jiesu import glossary

# --- the words ---------------------------------------------------------------------------------------

# What a search term is made of: letters and digits only, so that SQLite's unicode61 tokenizer, PostgreSQL's
# 'simple' parser and this module cut the same words (an underscore or a hyphen would be cut differently).
_SEPARATORS = re.compile(r"[\W_]+")
_DIGITS = re.compile(r"\d+")
MAX_TERM = 32  # longer "words" are segmentation accidents (a URL, a run of letters)

# Function words and the hotline's own formulas: they say nothing about what the question is.
_STOP_TEXT = (
    "的 了 在 是 我 有 和 就 不 人 都 一 一个 上 也 很 到 说 要 去 你 会 着 没有 看 好 自己 这 那 他 她 它 们 我们 "
    "你们 他们 与 及 或 等 把 被 对 从 为 以 而 之 其 此 并 但 又 还 再 已 已经 将 让 给 向 于 由 如 若 则 即 吗 "
    "呢 吧 啊 呀 么 个 些 这个 那个 这些 那些 什么 怎么 怎么办 怎样 如何 为什么 哪里 哪些 多少 是否 能否 可以 能 "
    "可 请 请问 您 您好 你好 谢谢 感谢 希望 现在 目前 问题 情况 有关 相关 关于 进行 一下 一些 没 无 非常 比较 因为 "
    "所以 如果 虽然 网友 留言 收悉 回复 答复 如下 来信 反映 年 月 日 号 想 想要 想问 问 问问 需要 咨询 知道 告诉 "
    "帮 帮忙 麻烦 啥 谁 哪 哪个 怎么样 应该 地 过 呀 嘛 哦 呃 嗯 喂"
)
STOPWORDS = frozenset(_STOP_TEXT.split())


def clean_terms(words: Iterable[str]) -> list[str]:
    """The searchable words of segmented text, in order, lower-cased: pieces of letters and digits, not a
    stopword, not a bare number (dates, amounts and phone numbers match the wrong articles), not too long."""
    out = []
    for word in words:
        for piece in _SEPARATORS.split(word.lower()):
            if piece and piece not in STOPWORDS and len(piece) <= MAX_TERM and not _DIGITS.fullmatch(piece):
                out.append(piece)
    return out


# An answer is found by its first words: there a reply says what it is about; further on it lists details,
# names and numbers that match unrelated questions, and make every article's index entry longer to read.
ANSWER_WORDS = 64


def document_terms(question_words: Iterable[str], answer_words: Iterable[str]) -> tuple[str, str]:
    """What an article is found by: every word of its question, the first ANSWER_WORDS words of its answer."""
    return join_terms(clean_terms(question_words)), join_terms(clean_terms(answer_words)[:ANSWER_WORDS])


def join_terms(terms: Iterable[str]) -> str:
    """How an article keeps its words: space-separated, as both full-text indexes read them."""
    return " ".join(terms)


def unique_terms(*texts: str | None) -> set[str]:
    """The distinct words of stored term strings (what the document frequencies count)."""
    return {t for text in texts if text for t in text.split()}


# --- the ranking ---------------------------------------------------------------------------------------

MAX_QUERY_TERMS = 12  # the rarest words of a long caller's text say what it is about; more only cost time
MAX_DF_SHARE = 0.05  # a word in more than 5 % of the articles is left out of the query ...
MIN_DF_LIMIT = 1000  # ... once the base is large enough for that to matter (below, every word counts)
# The articles a query may make the database rank, at most (the sum of its words' document frequencies):
# ranking costs a few microseconds an article, and the rarest words decide the best answers anyway.
CANDIDATE_BUDGET = 4000  # measured: benchmarks/knowledge.py
FALLBACK_TERMS = 2  # when every word is too common, the two least common are asked, both required
K1, B = 1.2, 0.75  # BM25's usual constants (SQLite's bm25() uses the same)
QUESTION_WEIGHT, ANSWER_WEIGHT = 3.0, 1.0  # a word of the question counts three times one of the answer


def idf(df: int, n: int) -> float:
    """BM25's inverse document frequency (the non-negative form, as Lucene uses)."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


@dataclass(frozen=True)
class QueryTerm:
    term: str
    df: int
    idf: float


@dataclass(frozen=True)
class Query:
    terms: list[QueryTerm]  # rarest first
    require_all: bool = False  # every word must be there (the words are all common), else any of them

    def __bool__(self) -> bool:
        return bool(self.terms)


def pick_terms(terms: Sequence[str], df: dict[str, int], n: int, *, max_terms: int = MAX_QUERY_TERMS,
               max_share: float = MAX_DF_SHARE, budget: int = CANDIDATE_BUDGET) -> Query:
    """The words of a query worth asking, rarest first: known to the base, not in too many articles (a word
    in a third of them ranks nothing and makes the index read a third of the base), at most `max_terms`,
    and no more than the candidate budget allows. When every known word is too common, the least common
    ones are asked together (all required), so that a vague query still narrows down."""
    known = sorted({t for t in terms if df.get(t, 0) > 0}, key=lambda t: (df[t], t))
    if not known:
        return Query([])
    limit = max(max_share * n, MIN_DF_LIMIT)
    chosen, total = [], 0
    for t in known:
        if df[t] > limit or len(chosen) == max_terms or (chosen and total + df[t] > budget):
            break
        chosen.append(t)
        total += df[t]
    if not chosen:
        return Query([QueryTerm(t, df[t], idf(df[t], n)) for t in known[:FALLBACK_TERMS]], require_all=True)
    return Query([QueryTerm(t, df[t], idf(df[t], n)) for t in chosen])


def bm25(query: Iterable[QueryTerm], fields: Sequence[tuple[Sequence[str], float]], avgdl: float) -> float:
    """BM25 of one article as SQLite's FTS5 computes it with column weights: a word's frequency is the sum
    over the fields (the field's words, its weight) of weight x count; the article's length is all its words;
    `avgdl` the average length in the base. For tests and explanations: the databases rank themselves."""
    counts = [(Counter(words), weight) for words, weight in fields]
    length = sum(len(words) for words, _ in fields)
    norm = K1 * (1 - B + B * length / (avgdl or 1))
    score = 0.0
    for q in query:
        tf = sum(weight * c.get(q.term, 0) for c, weight in counts)
        if tf:
            score += q.idf * tf * (K1 + 1) / (tf + norm)
    return score


def fts5_match(query: Query) -> str:
    """An FTS5 MATCH expression: any (or all) of the words, each quoted (a word is letters and digits only)."""
    return (" AND " if query.require_all else " OR ").join(f'"{q.term}"' for q in query.terms)


def tsquery_text(query: Query) -> str:
    """The same as a to_tsquery('simple', ...) text."""
    return (" & " if query.require_all else " | ").join(tsquery(q.term) for q in query.terms)


def tsquery(term: str) -> str:
    """One word as a to_tsquery('simple', ...) operand."""
    return "'" + term.replace("'", "''") + "'"


# --- an article's life -------------------------------------------------------------------------------

class ArticleStatus(StrEnum):
    draft = "draft"  # being written; only its editors see it
    in_review = "in_review"  # submitted: waits for a reviewer
    published = "published"  # found by searches while valid (valid_from .. valid_to)
    expired = "expired"  # withdrawn or out of date: never found again


STATUS_LABELS = glossary.labels("article_status", ArticleStatus)


class Step(StrEnum):
    submit = "submit"  # the editor sends a draft to review
    approve = "approve"  # the reviewer publishes it
    reject = "reject"  # the reviewer sends it back to its editor, saying why
    expire = "expire"  # out of date: never shown again
    revise = "revise"  # take a published or expired article back to draft, to change it


class Who(StrEnum):
    editor = "editor"  # an administrator, or the department the article comes from
    reviewer = "reviewer"  # an administrator


TRANSITIONS: dict[Step, tuple[frozenset[ArticleStatus], ArticleStatus, Who]] = {
    Step.submit: (frozenset({ArticleStatus.draft}), ArticleStatus.in_review, Who.editor),
    Step.approve: (frozenset({ArticleStatus.in_review}), ArticleStatus.published, Who.reviewer),
    Step.reject: (frozenset({ArticleStatus.in_review}), ArticleStatus.draft, Who.reviewer),
    Step.expire: (frozenset({ArticleStatus.published, ArticleStatus.in_review, ArticleStatus.draft}),
                  ArticleStatus.expired, Who.editor),
    Step.revise: (frozenset({ArticleStatus.published, ArticleStatus.expired}), ArticleStatus.draft, Who.editor),
}
EDITABLE = frozenset({ArticleStatus.draft, ArticleStatus.in_review})  # a published article is revised first


def next_status(status: ArticleStatus, step: Step) -> ArticleStatus | None:
    """Where `step` takes an article in `status`, or None when it may not be taken from there."""
    sources, target, _ = TRANSITIONS[step]
    return target if status in sources else None


def is_live(status: ArticleStatus, valid_from: date | None, valid_to: date | None, today: date) -> bool:
    """Whether an article answers questions today: published, and within its validity."""
    return (status == ArticleStatus.published and (valid_from is None or valid_from <= today)
            and (valid_to is None or today <= valid_to))


# --- articles from units' replies ------------------------------------------------------------------------

_OPENING = re.compile(r"^.{0,160}?(?:(?:回复|答复|说明|反馈)如下|处理情况如下|调查核实情况如下)\s*[:：]\s*")
_GREETING = re.compile(r"^(?:尊敬的)?(?:网友|市民|群众|先生|女士)?\s*[“\"]?[\w]{0,24}[”\"]?\s*[:：,，]?\s*"
                       r"(?:您好|你好)\s*[!！,，。:：]?\s*")
_RECEIVED = re.compile(r"^(?:您的|你的)?(?:留言|来信|诉求|问题)[^。！!]{0,30}(?:收悉|收到)[^。！!]{0,30}[。！!]\s*")
_DATE_END = re.compile(r"[\s。，,]*(?:\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}[-/.]\d{1,2}[-/.]\d{1,2})"
                       r"\s*[。.]?\s*$")
_SIGNATURE_END = re.compile(r"[。！!]\s*[\u4e00-\u9fff]{2,20}(?:办公室|局|委员会|街道办事处|政府|中心|公司)\s*$")
_RECEIVED_END = re.compile(r"(?<=.{30})[。！!]?\s*(?:\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)?\s*"
                           r"(?:您的|你的)?(?:留言|来信)已收悉.*$")
_THANKS_END = re.compile(r"[^。！!]{0,12}(?:感谢|谢谢)[^。！!]{0,40}[。！!]?\s*$")


def answer_from_reply(reply: str) -> str:
    """The substance of a unit's reply, fit to answer the next citizen who asks the same: without the
    salutation to one person, the 'your message was received' formula, the thanks, signature and date."""
    text = re.sub(r"\s+", " ", reply.replace("\u3000", " ")).strip()
    text = _RECEIVED_END.sub("", text).strip()
    for _ in range(2):  # the date may follow the signature, which may follow the thanks
        text = _DATE_END.sub("", text).strip()
        text = _SIGNATURE_END.sub("。", text).strip()
        text = _THANKS_END.sub("", text).strip()
    opened = _OPENING.sub("", text, count=1)
    if opened != text and len(opened) >= 10:
        text = opened
    else:
        text = _GREETING.sub("", text, count=1)
        text = _RECEIVED.sub("", text, count=1)
    text = text.strip(" ，,")
    if text and text[-1] not in "。！!？?）)”\"":
        text += "。"
    return text


_FORWARDED = re.compile(r"已转(?:至|交|给|相关)|转相关部门|转交|敬请关注后续|已有相关单位作出回复|耐心等待")
MIN_ANSWER = 30


def substantive(answer: str) -> bool:
    """Whether a reply's answer says something another citizen can use: not a line saying the message was
    passed on or received."""
    return len(answer) >= MIN_ANSWER and not (len(answer) < 120 and _FORWARDED.search(answer))


def question_from(title: str, text: str, limit: int = 200) -> str:
    """An article's question from a citizen's message: its title when it has one, else its first sentence."""
    title = title.strip()
    if title:
        return title[:limit]
    first = re.split(r"(?<=[。！？!?])", text.strip(), maxsplit=1)[0]
    return first[:limit]


# --- proposals: the same answer, again and again -----------------------------------------------------------

def jaccard(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True)
class Reply:
    """One unit's reply to one ticket: the words of the question asked and of the answer given."""

    key: str  # the ticket's number
    group: str  # replies are compared within one unit and category
    question: frozenset[str]
    answer: frozenset[str]


def repeated_replies(replies: Sequence[Reply], *, min_count: int = 3, question_similarity: float = 0.25,
                     answer_similarity: float = 0.5) -> list[list[Reply]]:
    """Groups of replies that answer the same question the same way: within one unit and category, each
    reply joins the first group whose first reply asks a similar question (word overlap) and answers it
    similarly; groups of at least `min_count`, largest first. Greedy, in the given order (oldest first)."""
    groups: list[list[Reply]] = []
    by_group: dict[str, list[list[Reply]]] = {}
    for r in replies:
        if not r.answer:
            continue
        for g in by_group.setdefault(r.group, []):
            seed = g[0]
            if jaccard(seed.answer, r.answer) >= answer_similarity and \
                    jaccard(seed.question, r.question) >= question_similarity:
                g.append(r)
                break
        else:
            g = [r]
            by_group[r.group].append(g)
            groups.append(g)
    found = [g for g in groups if len({r.key for r in g}) >= min_count]
    return sorted(found, key=lambda g: (-len(g), g[0].key))


def medoid(group: Sequence[Reply]) -> Reply:
    """The reply most like the others (the group's most typical answer)."""
    return max(group, key=lambda r: (sum(jaccard(r.answer, o.answer) for o in group), r.key))
