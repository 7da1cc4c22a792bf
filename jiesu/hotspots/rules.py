"""The hot spot's and the surge's workflows: the tables that say which step goes from which status to which.

Pure: no database, no models. The service looks a step up here, applies it and writes the event row in the
same transaction. Who may take a step is the permission table's (hotspot_manage), not this one's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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
