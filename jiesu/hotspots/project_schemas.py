"""What crosses HTTP for topics of the month and projects: the JSON of the API and of `jiesu topics|projects ...
--json`. Labels are the glossary's Chinese words beside the stored values."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field

from jiesu import glossary, inputs
from jiesu.hotspots import projects, rules
from jiesu.hotspots.models import Project, ProjectEvent, ProjectMilestone, ProjectUpdate, Topic
from jiesu.tickets.rules import STATE_LABELS

# A day as ISO 8601 text only (pydantic alone would take a number as a Unix time), one parser for the years.
Day = Annotated[date, BeforeValidator(lambda v: inputs.day(v) if isinstance(v, str) else v)]


class UnitRef(BaseModel):
    code: str
    name: str


class CandidateOut(BaseModel):
    key: str = Field(description="category code:keyword, what POST /topics takes as `candidate`")
    category_code: str
    category: str
    keyword: str
    title: str
    tickets: int
    streets: int
    districts: int
    evenness: float = Field(description="normalised Shannon entropy of the tickets over the districts, 0..1")
    months_present: int
    months: int
    reached: int
    unsatisfied: int
    dissatisfaction: float | None = Field(description="unsatisfied / reached callbacks; null without a callback")
    score: float
    parts: dict[str, float]
    monthly: list[int]
    adopted: list[str] = Field(description="the months this theme was adopted for")


class CandidatesOut(BaseModel):
    months: list[str]
    tickets: int
    formula: str
    items: list[CandidateOut]

    @classmethod
    def of(cls, c: projects.Candidates) -> CandidatesOut:
        return cls(months=c.months, tickets=c.tickets, formula=c.formula,
                   items=[CandidateOut(**vars(i)) for i in c.items])


class TopicIn(BaseModel):
    month: str = Field(max_length=7, description="YYYY-MM")
    candidate: str | None = Field(None, max_length=100, description="a candidate's key (category code:keyword); "
                                                                   "or give category and keywords")
    category: str | None = Field(None, max_length=64, description="a first-level category's name or code")
    keywords: list[str] = Field(default_factory=list, max_length=projects.MAX_KEYWORDS)
    lead: str = Field(max_length=64, description="the lead department's unit code (a 委办局)")
    units: list[str] = Field(default_factory=list, max_length=50, description="the units involved")
    title: str | None = Field(None, max_length=projects.MAX_TITLE)
    note: str | None = Field(None, max_length=projects.MAX_TEXT)


class TopicOut(BaseModel):
    id: int
    month: str
    title: str
    category_code: str
    category: str
    keywords: list[str]
    lead: UnitRef
    units: list[UnitRef]
    status: str
    status_label: str
    score: float | None
    note: str
    created_at: datetime
    created_by: str
    closed_at: datetime | None

    @classmethod
    def of(cls, t: Topic) -> TopicOut:
        return cls(id=t.id, month=t.month, title=t.title, category_code=t.category.code, category=t.category.name,
                   keywords=t.keywords.split(), lead=UnitRef(code=t.lead_unit.code, name=t.lead_unit.name),
                   units=[UnitRef(code=u.unit.code, name=u.unit.name) for u in t.units], status=t.status.value,
                   status_label=rules.TOPIC_STATUS_LABELS[t.status], score=t.score, note=t.note,
                   created_at=t.created_at, created_by=t.created_by, closed_at=t.closed_at)


class MonthlyOut(BaseModel):
    months: list[str]
    tickets: list[int]
    dispatched: list[int]
    reached: list[int]
    unsatisfied: list[int]
    dissatisfaction: list[float | None]


class ProjectBrief(BaseModel):
    id: int
    title: str
    status: str
    status_label: str
    owner: UnitRef
    place_code: str | None
    place: str | None
    category: str
    keywords: list[str]
    hotspot_id: int | None
    topic_id: int | None
    started_on: date
    percent: int

    @classmethod
    def of(cls, p: Project) -> ProjectBrief:
        return cls(id=p.id, title=p.title, status=p.status.value, status_label=rules.PROJECT_STATUS_LABELS[p.status],
                   owner=UnitRef(code=p.owner_unit.code, name=p.owner_unit.name),
                   place_code=p.area.code if p.area else None, place=p.area.name if p.area else None,
                   category=p.category.name, keywords=p.keywords.split(), hotspot_id=p.hotspot_id,
                   topic_id=p.topic_id, started_on=p.started_on, percent=p.percent)


class TopicDetailOut(TopicOut):
    series: MonthlyOut
    before_mean: float | None = Field(description="tickets a month in the months before the topic's month")
    after_mean: float | None = Field(description="tickets a month from the topic's month on")
    projects: list[ProjectBrief]

    @classmethod
    def of_view(cls, v: projects.TopicView) -> TopicDetailOut:
        s = v.series
        return cls(**TopicOut.of(v.topic).model_dump(), series=MonthlyOut(
            months=s.months, tickets=s.tickets, dispatched=s.dispatched, reached=s.reached,
            unsatisfied=s.unsatisfied, dissatisfaction=s.dissatisfaction), before_mean=v.before_mean,
            after_mean=v.after_mean, projects=[ProjectBrief.of(p) for p in v.projects])


class ProjectIn(BaseModel):
    hotspot_id: int | None = Field(None, ge=1, le=2**31 - 1)
    topic_id: int | None = Field(None, ge=1, le=2**31 - 1)
    owner: str = Field(max_length=64, description="the owner unit's code")
    title: str = Field(max_length=projects.MAX_TITLE)
    plan: str = Field("", max_length=projects.MAX_TEXT)
    budget: str = Field("", max_length=projects.MAX_TEXT)
    started_on: Day | None = None


class StepIn(BaseModel):
    reason: str = Field("", max_length=projects.MAX_TEXT)


class UpdateIn(BaseModel):
    text: str = Field(max_length=projects.MAX_TEXT)
    percent: int = Field(ge=0, le=100)


class MilestoneIn(BaseModel):
    title: str = Field(max_length=projects.MAX_TITLE)
    due_on: Day
    done_on: Day | None = None


class LinkIn(BaseModel):
    numbers: list[str] = Field(min_length=1, max_length=projects.MAX_LINKS)


class LinkOut(BaseModel):
    added: int


class MilestoneOut(BaseModel):
    id: int
    title: str
    due_on: date
    done_on: date | None

    @classmethod
    def of(cls, m: ProjectMilestone) -> MilestoneOut:
        return cls(id=m.id, title=m.title, due_on=m.due_on, done_on=m.done_on)


class UpdateOut(BaseModel):
    id: int
    at: datetime
    by: str
    text: str
    percent: int

    @classmethod
    def of(cls, u: ProjectUpdate) -> UpdateOut:
        return cls(id=u.id, at=u.at, by=u.by, text=u.text, percent=u.percent)


class EventOut(BaseModel):
    at: datetime
    actor: str
    action: str
    action_label: str
    from_status: str | None
    to_status: str | None
    reason: str

    @classmethod
    def of(cls, e: ProjectEvent) -> EventOut:
        return cls(at=e.at, actor=e.actor, action=e.action,
                   action_label=glossary.label("project_step", e.action), from_status=e.from_status,
                   to_status=e.to_status, reason=e.reason)


class TicketRef(BaseModel):
    number: str
    created_at: datetime
    state: str
    state_label: str


def _tickets(rows) -> list[TicketRef]:
    return [TicketRef(number=n, created_at=at, state=s.value, state_label=STATE_LABELS[s]) for n, at, s in rows]


class ProjectOut(ProjectBrief):
    plan: str
    budget: str
    reason: str
    created_at: datetime
    created_by: str
    steps: list[str] = Field(description="the status steps open now")
    milestones: list[MilestoneOut]
    updates: list[UpdateOut]
    events: list[EventOut]
    linked: list[TicketRef] = Field(description="tickets linked by hand")
    place_tickets: list[TicketRef] = Field(description="the place and category's latest tickets")
    place_ticket_count: int = Field(description="the place and category's tickets since 12 months before the start")

    @classmethod
    def of_view(cls, v: projects.ProjectView) -> ProjectOut:
        p = v.project
        return cls(**ProjectBrief.of(p).model_dump(), plan=p.plan, budget=p.budget, reason=p.reason,
                   created_at=p.created_at, created_by=p.created_by,
                   steps=[s.value for s in rules.ProjectStep if rules.project_transition(p.status, s)],
                   milestones=[MilestoneOut.of(m) for m in v.milestones], updates=[UpdateOut.of(u) for u in v.updates],
                   events=[EventOut.of(e) for e in v.events], linked=_tickets(v.linked),
                   place_tickets=_tickets(v.place_tickets), place_ticket_count=v.place_ticket_count)


class EffectFigures(BaseModel):
    before: float
    after: float
    change: float
    comparison_before: float
    comparison_after: float
    comparison_change: float
    effect: float
    percent: float | None
    low: float | None
    high: float | None
    places: int
    formula: str


class PlaceChangeOut(BaseModel):
    code: str
    name: str
    district: str
    before: float
    after: float
    change: float
    placebo: float | None


class ChartOut(BaseModel):
    months: list[str]
    project: list[int]
    comparison: list[float | None]
    start_month: str
    before: list[str]
    after: list[str]


class EffectOut(BaseModel):
    project_id: int
    title: str
    place_code: str | None
    place_name: str | None
    level: str | None
    category: str
    keywords: str
    started_on: date
    start_month: str = Field(description="the works month, counted in neither period")
    k: int
    formula: str
    note: str
    effect: EffectFigures | None = Field(description="tickets a month; null with the reason in `note`")
    dissatisfaction: EffectFigures | None = Field(description="the share of callbacks not satisfied, as a "
                                                              "fraction: the same difference in differences")
    chart: ChartOut
    project_dissatisfaction: list[float | None]
    comparison: list[PlaceChangeOut]

    @classmethod
    def of(cls, r: projects.EffectReport) -> EffectOut:
        return cls.model_validate(r.to_dict())
