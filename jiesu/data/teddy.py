"""The Teddy Cup 2020 corpus shipped in jiesu/data/teddy2020/: real citizens' messages, read and cleaned once.

Its places are anonymised (西地省, A市, A3区); `localise` makes them one Beijing district's and street's, and
`usable` says whether that can be done cleanly. The demo simulator draws its tickets' texts from here, and
the knowledge base its demo articles; neither imports the other.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache

from jiesu.data import read_csv
from jiesu.errors import DataSourceError
from jiesu.limits import MAX_TITLE

MAX_TEXT = 1500  # longer corpus messages are left out: nobody reads a 12,000-character call note


@dataclass(frozen=True)
class Message:
    text: str
    title: str
    label: str | None  # 一级标签, when the corpus has one
    answer: str = ""  # 答复意见, for 附件4


@dataclass(frozen=True)
class Corpus:
    labelled: dict[str, tuple[Message, ...]]  # by label
    hot: tuple[Message, ...]  # 附件3, unlabelled
    replied: tuple[Message, ...]  # 附件4, with the official answer
    guesser: LabelGuesser  # a label for an unlabelled text, learnt from the labelled ones


def clean(s: str | None) -> str:
    """Whitespace (ideographic spaces, Excel's _x000D_ too) made single spaces; None made empty."""
    return re.sub(r"\s+", " ", (s or "").replace("\u3000", " ").replace("_x000D_", " ")).strip()


_PROVINCE = re.compile(r"西地省")
_DISTRICT_STREET = re.compile(r"(?<![A-Za-z])[A-Z]\d{1,2}[区县市]([\u4e00-\u9fff]{2,5}?(?:街道|镇))")
_DISTRICT = re.compile(r"(?<![A-Za-z])[A-Z]\d{1,2}[区县市]")
_CITY = re.compile(r"(?<![A-Za-z])[A-Z]市")
_CITY_REPEATED = re.compile(r"(?:北京市){2,}")
_NOT_A_STREET = set("各和的及等在与、乡")
# What must not be left after localise: a text where one survives (PICCA市, IT市场) is not used.
PLACEHOLDER = re.compile(r"[A-Z]\d{0,2}[市县]|[A-Z]\d{1,2}区")


def localise(text: str, district: str, street: str) -> str:
    """The corpus's anonymised places made Beijing's: 西地省/A市 -> 北京市, A3区 -> the ticket's district, and
    a street named right after a district (A2区桂花坪街道) -> the ticket's street."""
    def district_street(m: re.Match) -> str:
        if _NOT_A_STREET & set(m.group(1)):
            return district + m.group(1)
        return district + street

    text = _PROVINCE.sub("北京市", text.replace("西地省会", "首都"))
    text = _DISTRICT_STREET.sub(district_street, text)
    text = _DISTRICT.sub(district, text)
    text = _CITY.sub("北京市", text)
    text = _CITY_REPEATED.sub("北京市", text)
    return text.replace("0731-", "010-")


def usable(*texts: str) -> bool:
    """Whether `localise` leaves no anonymised place in any of the texts."""
    return all(not PLACEHOLDER.search(t) or not PLACEHOLDER.search(localise(t, "朝阳区", "八里庄街道"))
               for t in texts)


@lru_cache(maxsize=1)
def load_corpus() -> Corpus:
    """The three message files shipped in jiesu/data/teddy2020/, in file order. Empty titles stay empty;
    over-long texts, and texts whose anonymised places cannot be replaced cleanly, are left out."""
    labelled: dict[str, list[Message]] = defaultdict(list)
    rows = read_csv("teddy2020/messages_labelled.csv", required=("留言详情",))
    label_col = next((c for c in ("一级标签", "一级分类") if rows and c in rows[0]), None)
    if label_col is None:
        raise DataSourceError("messages_labelled.csv: no label column (一级标签 or 一级分类)", field="source")
    for r in rows:
        text, title, label = clean(r["留言详情"]), clean(r.get("留言主题"))[:MAX_TITLE], clean(r[label_col])
        if 10 <= len(text) <= MAX_TEXT and label and usable(text, title):
            labelled[label].append(Message(text, title, label))
    hot = []
    for r in read_csv("teddy2020/messages_hot.csv", required=("留言详情",)):
        text, title = clean(r["留言详情"]), clean(r.get("留言主题"))[:MAX_TITLE]
        if 10 <= len(text) <= MAX_TEXT and usable(text, title):
            hot.append(Message(text, title, None))
    replied = []
    for r in read_csv("teddy2020/messages_replied.csv", required=("留言详情", "答复意见")):
        text, title, answer = clean(r["留言详情"]), clean(r.get("留言主题"))[:MAX_TITLE], clean(r["答复意见"])
        if 10 <= len(text) <= MAX_TEXT and 10 <= len(answer) <= MAX_TEXT and usable(text, title, answer):
            replied.append(Message(text, title, None, answer))
    return Corpus({k: tuple(v) for k, v in labelled.items()}, tuple(hot), tuple(replied), LabelGuesser(labelled))


def char_pairs(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


class LabelGuesser:
    """Naive Bayes over character pairs, trained on the labelled messages: the likeliest 一级标签 of a text."""

    PREFIX = 200  # characters of each text that count: the gist is at the start

    def __init__(self, labelled: dict[str, list[Message]]) -> None:
        counts: dict[str, Counter] = {}
        for label, messages in labelled.items():
            c: Counter = Counter()
            for m in messages:
                t = m.title + m.text[:self.PREFIX]
                c.update(t[i:i + 2] for i in range(len(t) - 1))
            counts[label] = c
        vocab = len(set().union(*counts.values())) if counts else 1
        total_docs = sum(len(v) for v in labelled.values()) or 1
        self.labels = sorted(counts)
        self.prior = {lb: math.log(len(labelled[lb]) / total_docs) for lb in self.labels}
        norm = {lb: math.log(sum(c.values()) + vocab) for lb, c in counts.items()}
        self.logp = {lb: {b: math.log(n + 1) - norm[lb] for b, n in c.items()} for lb, c in counts.items()}
        self.unseen = {lb: -norm[lb] for lb in counts}

    def guess(self, text: str, among: list[str] | None = None) -> str | None:
        pairs = char_pairs(text[:self.PREFIX * 2])
        best, best_label = -math.inf, None
        for lb in among or self.labels:
            if lb not in self.logp:
                continue
            logp, unseen = self.logp[lb], self.unseen[lb]
            score = self.prior[lb] + sum(logp.get(b, unseen) for b in pairs)
            if score > best:
                best, best_label = score, lb
        return best_label
