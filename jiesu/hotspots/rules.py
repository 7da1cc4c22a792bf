"""The hot spot's and the surge's workflows: the tables that say which step goes from which status to which.

Pure: no database, no models. The service looks a step up here, applies it and writes the event row in the
same transaction. Who may take a step is the permission table's (hotspot_manage), not this one's.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from jiesu import glossary


class HotSpotStatus(StrEnum):
    open = "open"  # 待处理: found, nobody has looked at it yet
    watched = "watched"  # 关注中: a supervisor keeps an eye on it
    project = "project"  # 已立项: a proactive project takes it on (set by projects.create, via to_project)
    dismissed = "dismissed"  # 已排除: not a problem to act on (a reason is required)


class HotSpotLabel(StrEnum):
    """The trend, as emerging-hot-spot analysis labels a place × category over the weeks it spans."""

    new = "new"  # 新出现
    intensifying = "intensifying"  # 加剧
    persistent = "persistent"  # 持续
    sporadic = "sporadic"  # 零星
    diminishing = "diminishing"  # 减弱


class SurgeStatus(StrEnum):
    raised = "raised"  # 待确认
    acknowledged = "acknowledged"  # 已确认
    dismissed = "dismissed"  # 已排除 (a reason is required)


class HotSpotStep(StrEnum):
    watch = "watch"  # 关注
    unwatch = "unwatch"  # 取消关注
    dismiss = "dismiss"  # 排除
    reopen = "reopen"  # 重新打开: a person, or the miner when a dismissed one has grown markedly
    project = "project"  # 立项: only through service.to_project (the projects capability calls it)


class SurgeStep(StrEnum):
    acknowledge = "acknowledge"  # 确认
    dismiss = "dismiss"  # 排除


STATUS_LABELS = glossary.labels("hotspot_status", HotSpotStatus)
LABEL_LABELS = glossary.labels("hotspot_label", HotSpotLabel)
SURGE_STATUS_LABELS = glossary.labels("surge_status", SurgeStatus)


@dataclass(frozen=True)
class Transition:
    step: str
    sources: frozenset[str]
    target: str
    needs: tuple[str, ...] = ()  # fields that must be present and non-empty


H = HotSpotStatus
S = SurgeStatus

# Reading one row tells the whole rule for one step.
HOTSPOT_TRANSITIONS: dict[HotSpotStep, Transition] = {HotSpotStep(t.step): t for t in [
    Transition(HotSpotStep.watch, frozenset({H.open}), H.watched),
    Transition(HotSpotStep.unwatch, frozenset({H.watched}), H.open),
    Transition(HotSpotStep.dismiss, frozenset({H.open, H.watched}), H.dismissed, ("reason",)),
    Transition(HotSpotStep.reopen, frozenset({H.dismissed}), H.open),
    Transition(HotSpotStep.project, frozenset({H.open, H.watched}), H.project, ("project_id",)),
]}

SURGE_TRANSITIONS: dict[SurgeStep, Transition] = {SurgeStep(t.step): t for t in [
    Transition(SurgeStep.acknowledge, frozenset({S.raised}), S.acknowledged),
    Transition(SurgeStep.dismiss, frozenset({S.raised}), S.dismissed, ("reason",)),
]}

# Steps a person takes from a page or the API; `project` is the projects capability's, through to_project.
PERSON_HOTSPOT_STEPS = tuple(s for s in HOTSPOT_TRANSITIONS if s != HotSpotStep.project)


class StepRefused(Exception):
    """The step may not be taken now; `field` names what is wrong (step, status, or a missing input)."""

    def __init__(self, message: str, *, field: str, missing: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.missing = missing  # an input is absent (422), rather than a step out of order (409)


def check(table: dict, step: str, status: str, payload: dict | None = None) -> Transition:
    """The transition for `step` from `status`, or StepRefused saying why not."""
    t = next((t for key, t in table.items() if key.value == step), None)
    if t is None:
        known = ", ".join(k.value for k in table)
        raise StepRefused(f"{step} is not a step (steps: {known})", field="step")
    if status not in t.sources:
        allowed = ", ".join(sorted(t.sources))
        raise StepRefused(f"cannot {step} from {status} (only from: {allowed})", field="status")
    payload = payload or {}
    for name in t.needs:
        value = payload.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise StepRefused(f"{step} needs {name}", field=name, missing=True)
    return t


def available(table: dict, status: str, exclude: tuple = ()) -> list[str]:
    """The steps open from `status`, in the table's order: what a page offers."""
    return [t.step for key, t in table.items() if status in t.sources and key not in exclude]


# A dismissed hot spot comes back by itself only when its count has doubled since it was dismissed.
REOPEN_GROWTH = 2.0


def grown(observed_now: int, observed_at_dismissal: int | None) -> bool:
    """Whether a dismissed hot spot has grown enough to be put in front of a supervisor again."""
    base = observed_at_dismissal or 0
    return base > 0 and observed_now >= REOPEN_GROWTH * base


# --- topics and projects ----------------------------------------------------------------------------------
# The topic of the month's candidates (ranked, not stored), the project's workflow, and its effect: a
# difference in differences against comparable places that had no project.


class TopicStatus(StrEnum):
    adopted = "adopted"  # 已立题: a supervisor chose it for a month, with its lead department
    closed = "closed"  # 已结题


class ProjectStatus(StrEnum):
    planned = "planned"  # 已立项
    underway = "underway"  # 实施中
    done = "done"  # 已完成
    cancelled = "cancelled"  # 已撤销 (reason required)


class ProjectStep(StrEnum):
    start = "start"  # planned -> underway
    finish = "finish"  # underway -> done
    cancel = "cancel"  # planned/underway -> cancelled


TOPIC_STATUS_LABELS = glossary.labels("topic_status", TopicStatus)
PROJECT_STATUS_LABELS = glossary.labels("project_status", ProjectStatus)
PROJECT_STEP_LABELS = glossary.labels("project_step", ProjectStep)

P = ProjectStatus


@dataclass(frozen=True)
class ProjectTransition:
    step: ProjectStep
    source: frozenset[ProjectStatus]
    target: ProjectStatus
    needs_reason: bool = False


PROJECT_TRANSITIONS: dict[ProjectStep, ProjectTransition] = {t.step: t for t in (
    ProjectTransition(ProjectStep.start, frozenset({P.planned}), P.underway),
    ProjectTransition(ProjectStep.finish, frozenset({P.underway}), P.done),
    # A finished project stays finished: its effect is what it is.
    ProjectTransition(ProjectStep.cancel, frozenset({P.planned, P.underway}), P.cancelled, needs_reason=True),
)}


def project_transition(status: ProjectStatus, step: ProjectStep) -> ProjectTransition | None:
    """The transition `step` takes from `status`, or None when the table does not allow it."""
    t = PROJECT_TRANSITIONS.get(step)
    return t if t is not None and status in t.source else None


def replay_project(steps: Iterable[ProjectStep]) -> ProjectStatus:
    status = P.planned
    for step in steps:
        t = project_transition(status, step)
        if t is None:
            raise ValueError(f"{step.value} is not allowed from {status.value}")
        status = t.target
    return status


# --- topic candidates ---

# The score's weights, as the ranking states them: volume counts most; spread, persistence and
# dissatisfaction each as much as the others.
WEIGHTS = {"volume": 0.4, "spread": 0.2, "persistence": 0.2, "dissatisfaction": 0.2}
SCORE_FORMULA = ("得分 = 100 × (0.4·诉求量/最大诉求量 + 0.2·分布广度 + 0.2·持续月数占比 + 0.2·不满意率)；"
                 "分布广度 = 0.5·涉及街乡镇数/最多街乡镇数 + 0.5·各区分布均匀度（归一化香农熵）；"
                 "持续月数占比 = 有该问题诉求的月数 / 统计月数；不满意率 = 回访不满意次数 / 回访接通次数")
MIN_THEME_TICKETS = 10  # a theme below this many tickets a year is no city-wide problem
MIN_LIFT = 2.0  # a theme's word is this many times likelier inside its category than outside it
THEMES_PER_CATEGORY = 3
# Words that name people or fill a sentence, not a problem (beyond routing's stop words): seen as themes on the
# Teddy Cup's messages.
GENERIC = frozenset(("不是", "行为", "人员", "工作", "居民", "群众", "业主", "家长", "市民", "老百姓", "单位", "公司",
                     "地方", "时间", "这些", "那些", "自己", "大家", "别人", "还有", "以及", "其他", "通过", "得到",
                     "知道", "发现", "导致", "以来", "应该", "必须", "已经", "没有", "不能", "不会", "一些", "很多",
                     "号楼", "小区", "单元"))  # where in a complex, not what: every complex has them
MERGE_OVERLAP = 0.5  # two words whose tickets overlap this much (Jaccard) are one theme
# A word whose tickets nearly all come from one street names a place (天堂 of 天堂河) or a place's problem: that is
# a hot spot's business, not a city-wide topic.
MAX_ONE_STREET = 0.8


@dataclass(frozen=True)
class TicketFacts:
    """The tickets of the ranked window, column by column (the service's one SELECT)."""

    category: np.ndarray  # int32 index into the first-level categories
    street: np.ndarray  # int32 index into the streets (-1: none)
    district: np.ndarray  # int32 index into the districts (-1: none)
    month: np.ndarray  # int32 month index in the window, 0 the oldest
    reached: np.ndarray  # int32 callbacks that reached the citizen
    unsatisfied: np.ndarray  # int32 of those, answered 不满意
    terms: list[frozenset[str]]  # each ticket's words (routing's tokens)


@dataclass
class Candidate:
    category: int  # index into the first-level categories
    keyword: str
    tickets: int
    streets: int
    districts: int
    evenness: float  # normalised Shannon entropy of the tickets over districts, 0..1
    months_present: int
    months: int
    reached: int
    unsatisfied: int
    monthly: list[int]
    score: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def dissatisfaction(self) -> float | None:
        return self.unsatisfied / self.reached if self.reached else None


def themes(category: np.ndarray, terms: Sequence[frozenset[str]], n_categories: int, *,
           per_category: int = THEMES_PER_CATEGORY, min_tickets: int = MIN_THEME_TICKETS,
           min_lift: float = MIN_LIFT, exclude: Iterable[str] = ()) -> list[tuple[int, str]]:
    """Each category's most frequent distinctive words: by the tickets in the category that use them, among
    the words at least `min_lift` times likelier in the category's tickets than in the other categories'."""
    total = len(terms)
    if total == 0:
        return []
    everywhere: Counter[str] = Counter()
    within: list[Counter[str]] = [Counter() for _ in range(n_categories)]
    for c, words in zip(category.tolist(), terms, strict=True):
        everywhere.update(words)
        if c >= 0:
            within[c].update(words)
    skip = set(exclude)
    sizes = np.bincount(category[category >= 0], minlength=n_categories)
    out: list[tuple[int, str]] = []
    for c in range(n_categories):
        size = int(sizes[c])
        if size == 0:
            continue
        lifts = {w: _lift(n, size, everywhere[w] - n, total - size) for w, n in within[c].items()
                 if n >= min_tickets and w not in GENERIC and not any(w in e for e in skip)}
        # frequent and distinctive: tickets × log(lift), as tf-idf weighs a word
        picked = [w for w, lift in sorted(lifts.items(), key=lambda kv: (-within[c][kv[0]] * math.log(kv[1]), kv[0]))
                  if lift >= min_lift]
        out.extend((c, w) for w in picked[:per_category])
    return out


def _lift(inside: int, size: int, outside: int, rest: int) -> float:
    """How many times likelier a word is in a category's tickets than in the others' (add-one smoothed), so that
    a big category keeps its own words."""
    return (inside / size) / ((outside + 1) / (rest + 1))


def _evenness(counts: np.ndarray, k: int) -> float:
    """Shannon entropy of the counts over k possible bins, divided by its maximum (log k)."""
    p = counts[counts > 0] / counts.sum() if counts.sum() else np.array([])
    if k <= 1 or p.size == 0:
        return 0.0
    return float(-(p * np.log(p)).sum() / math.log(k))


def rank_topics(facts: TicketFacts, n_categories: int, n_streets: int, n_districts: int, months: int, *,
                exclude: Iterable[str] = (), per_category: int = THEMES_PER_CATEGORY,
                min_tickets: int = MIN_THEME_TICKETS) -> list[Candidate]:
    """Category × keyword themes, scored by SCORE_FORMULA, best first. Words of one category that mostly come
    together (停车 and 车位) are one theme: its keywords, any of which selects a ticket."""
    found = themes(facts.category, facts.terms, n_categories, per_category=2 * per_category,
                   min_tickets=min_tickets, exclude=exclude)
    districts_seen = int(np.unique(facts.district[facts.district >= 0]).size)
    wanted = {w for _, w in found}
    postings: dict[str, list[int]] = {w: [] for w in wanted}  # one pass over the tickets, not one per theme
    for i, words in enumerate(facts.terms):
        for w in words & wanted:
            postings[w].append(i)
    groups: list[tuple[int, list[str], set[int]]] = []  # (category, words, tickets), most frequent word first
    for c, word in found:
        tickets = {i for i in postings[word] if facts.category[i] == c}
        streets = facts.street[np.fromiter(tickets, np.int64, len(tickets))]
        if tickets and np.bincount(streets[streets >= 0]).max(initial=0) > MAX_ONE_STREET * len(tickets):
            continue
        same = next((g for g in groups if g[0] == c and len(tickets & g[2]) >= MERGE_OVERLAP * len(tickets | g[2])),
                    None)
        if same is not None:
            same[1].append(word)
            same[2].update(tickets)
        elif sum(g[0] == c for g in groups) < per_category:
            groups.append((c, [word], tickets))
    out: list[Candidate] = []
    for c, words, tickets in groups:
        mask = np.fromiter(sorted(tickets), np.int64, len(tickets))
        st, di = facts.street[mask], facts.district[mask]
        monthly = np.bincount(facts.month[mask], minlength=months)[:months]
        out.append(Candidate(
            category=c, keyword=" ".join(sorted(words)), tickets=int(mask.size),
            streets=int(np.unique(st[st >= 0]).size), districts=int(np.unique(di[di >= 0]).size),
            evenness=_evenness(np.bincount(di[di >= 0], minlength=max(n_districts, 1)), districts_seen),
            months_present=int((monthly > 0).sum()), months=months, reached=int(facts.reached[mask].sum()),
            unsatisfied=int(facts.unsatisfied[mask].sum()), monthly=monthly.astype(int).tolist()))
    score(out)
    return sorted(out, key=lambda x: (-x.score, -x.tickets, x.category, x.keyword))


def score(candidates: list[Candidate]) -> None:
    if not candidates:
        return
    top_volume = max(c.tickets for c in candidates) or 1
    top_streets = max(c.streets for c in candidates) or 1
    for c in candidates:
        c.parts = {"volume": c.tickets / top_volume,
                   "spread": 0.5 * c.streets / top_streets + 0.5 * c.evenness,
                   "persistence": c.months_present / c.months if c.months else 0.0,
                   "dissatisfaction": c.dissatisfaction or 0.0}
        c.score = round(100 * sum(WEIGHTS[k] * v for k, v in c.parts.items()), 1)


# --- effect: difference in differences ---

EFFECT_FORMULA = ("效果 = (实施后月均 − 实施前月均)_本项目 − 平均[(实施后月均 − 实施前月均)_对照地点]；"
                  "相对效果 = 效果 / 本项目实施前月均；区间：对照地点的安慰剂效果（每个对照地点当作项目，"
                  "与其余对照地点比较）的 2.5% 与 97.5% 分位数，从效果中减去")
DEFAULT_MONTHS = 12  # months before the start, and at most as many after
DEFAULT_K = 10  # comparison places


@dataclass(frozen=True)
class Effect:
    before: float  # the project's monthly mean before the start
    after: float  # and after
    change: float  # after - before
    comparison_before: float  # the comparison places' mean of their monthly means
    comparison_after: float
    comparison_change: float  # mean of the comparison places' changes
    effect: float  # change - comparison_change
    percent: float | None  # effect / before (None when before is 0)
    low: float | None  # the interval from the placebo distribution (None below 2 comparison places)
    high: float | None
    placebo: list[float]  # each comparison place's effect against the others
    places: int  # comparison places used

    def formula(self) -> str:
        """The effect written out with its numbers, as the Excel summary and the CLI show it."""
        pct = f"{self.percent:+.1%}" if self.percent is not None else "—（实施前为0）"
        return (f"({self.after:.2f} − {self.before:.2f}) − ({self.comparison_after:.2f} − "
                f"{self.comparison_before:.2f}) = {self.change:+.2f} − ({self.comparison_change:+.2f}) = "
                f"{self.effect:+.2f} 件/月，即实施前水平的 {pct}")


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(np.asarray(values, dtype=float))) if len(values) else 0.0


def did(project_before: Sequence[float], project_after: Sequence[float],
        comparisons: Mapping[str, tuple[Sequence[float], Sequence[float]]]) -> Effect | None:
    """The difference in differences of monthly means. None without comparison places or without a month on
    either side: nothing to compare, and the report says so instead of guessing."""
    if not comparisons or not len(project_before) or not len(project_after):
        return None
    if any(not len(b) or not len(a) for b, a in comparisons.values()):
        raise ValueError("every comparison place needs months before and after")
    before, after = _mean(project_before), _mean(project_after)
    cb = np.array([_mean(b) for b, _ in comparisons.values()])
    ca = np.array([_mean(a) for _, a in comparisons.values()])
    changes = ca - cb
    comparison_change = float(changes.mean())
    effect = (after - before) - comparison_change
    placebo: list[float] = []
    low = high = None
    if len(changes) >= 2:
        n = len(changes)
        # Leave-one-out: a comparison place's own change against the mean change of the others.
        placebo = [float(changes[i] - (changes.sum() - changes[i]) / (n - 1)) for i in range(n)]
        q_low, q_high = np.quantile(placebo, [0.025, 0.975])
        low, high = effect - float(q_high), effect - float(q_low)
    return Effect(before=before, after=after, change=after - before, comparison_before=float(cb.mean()),
                  comparison_after=float(ca.mean()), comparison_change=comparison_change, effect=effect,
                  percent=effect / before if before else None, low=low, high=high, placebo=placebo,
                  places=len(changes))


def nearest(target: float, candidates: Mapping[str, float], k: int = DEFAULT_K,
            preferred: Iterable[str] = ()) -> list[str]:
    """The k places whose pre-period volume is nearest the target's: those in `preferred` (the same district)
    first, then the rest of the city when the district has fewer than k. Ties by code, so the choice is
    the same every time."""
    first = set(preferred)

    def by_distance(codes: Iterable[str]) -> list[str]:
        return sorted(codes, key=lambda c: (abs(candidates[c] - target), c))

    inside = by_distance(c for c in candidates if c in first)[:k]
    if len(inside) >= k:
        return inside
    return inside + by_distance(c for c in candidates if c not in first)[:k - len(inside)]


def month_windows(start_index: int, last_full_index: int, months: int = DEFAULT_MONTHS,
                  skip_start: bool = True) -> tuple[list[int], list[int]]:
    """The month indices before the start (the `months` before it) and after it (from the month after the
    start, the works month, to the last full month, at most `months`)."""
    before = list(range(start_index - months, start_index))
    first_after = start_index + 1 if skip_start else start_index
    after = list(range(first_after, min(last_full_index, first_after + months - 1) + 1))
    return before, after
