"""Topics of the month (每月一题) and proactive projects (治理项目) over HTTP: the ranked candidates, adopting and
tracking a topic, projects with their milestones, progress and tickets, and the effect (JSON with a chart-ready
series, or an Excel report)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from jiesu.api.deps import ClockDep, SessionDep, SettingsDep, UserDep
from jiesu.api.errors import responses
from jiesu.errors import InvalidInput
from jiesu.hotspots import projects, rules
from jiesu.hotspots.project_schemas import (
    CandidatesOut,
    EffectOut,
    LinkIn,
    LinkOut,
    MilestoneIn,
    MilestoneOut,
    ProjectBrief,
    ProjectIn,
    ProjectOut,
    StepIn,
    TopicDetailOut,
    TopicIn,
    TopicOut,
    UpdateIn,
    UpdateOut,
)

router = APIRouter(tags=["projects"])

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Months = Annotated[int, Query(ge=1, le=36, description="months before the start, and at most as many after")]
K = Annotated[int, Query(ge=1, le=50, description="comparison places")]


@router.get("/topics/candidates", response_model=CandidatesOut, responses=responses(401, 403, 422))
def candidates(session: SessionDep, actor: UserDep, settings: SettingsDep, clock: ClockDep,
               months: Annotated[int, Query(ge=1, le=36)] = 12,
               limit: Annotated[int, Query(ge=1, le=200)] = 20) -> CandidatesOut:
    """City-wide problems (first-level category × a keyword theme from the tickets' words) over the last `months`
    months, ranked by the stated score: volume, spread over streets and districts, persistence, dissatisfaction."""
    return CandidatesOut.of(projects.topic_candidates(session, actor, settings, clock, months, limit))


@router.post("/topics", response_model=TopicOut, status_code=201, responses=responses(401, 403, 404, 409, 422))
def adopt(body: TopicIn, session: SessionDep, actor: UserDep, settings: SettingsDep, clock: ClockDep) -> TopicOut:
    """Adopt a theme (a candidate's key, or category and keywords) as the topic of a month, with its lead
    department and the units involved. The same theme twice in a month: 409."""
    category, keywords = body.category, body.keywords
    if body.candidate:
        code, sep, word = body.candidate.partition(":")
        if not sep or not code or not word:
            raise InvalidInput("a candidate's key is CATEGORYCODE:KEYWORD", field="candidate")
        category, keywords = code, [word]
    if not category:
        raise InvalidInput("give a candidate, or a category", field="category")
    topic = projects.adopt(session, actor, clock, settings, month=body.month, category=category, keywords=keywords,
                           lead=body.lead, units=body.units, title=body.title, note=body.note)
    return TopicOut.of(topic)


@router.get("/topics", response_model=list[TopicOut], responses=responses(401, 403, 422))
def list_topics(session: SessionDep, actor: UserDep,
                status: rules.TopicStatus | None = None) -> list[TopicOut]:
    """The adopted topics, newest month first (a unit: those it leads or takes part in)."""
    return [TopicOut.of(t) for t in projects.list_topics(session, actor, status)]


@router.get("/topics/{topic_id}", response_model=TopicDetailOut, responses=responses(401, 403, 404, 422))
def get_topic(topic_id: Id, session: SessionDep, actor: UserDep, settings: SettingsDep,
              clock: ClockDep) -> TopicDetailOut:
    """One topic with its tickets month by month, from six months before its month: received, dispatched,
    callbacks reached and not satisfied; and its projects."""
    return TopicDetailOut.of_view(projects.topic_detail(session, actor, settings, clock, topic_id))


@router.post("/topics/{topic_id}/close", response_model=TopicOut, responses=responses(401, 403, 404, 409, 422))
def close_topic(topic_id: Id, body: StepIn, session: SessionDep, actor: UserDep, clock: ClockDep) -> TopicOut:
    """Close a topic (已结题)."""
    return TopicOut.of(projects.close_topic(session, actor, clock, topic_id, body.reason))


@router.post("/projects", response_model=ProjectBrief, status_code=201,
             responses=responses(401, 403, 404, 409, 422))
def create_project(body: ProjectIn, session: SessionDep, actor: UserDep, settings: SettingsDep,
                   clock: ClockDep) -> ProjectBrief:
    """A project from a hot spot (`hotspot_id`: its place and category; the hot spot becomes 已立项) or from a
    topic (`topic_id`)."""
    new = projects.NewProject(owner=body.owner, title=body.title, hotspot_id=body.hotspot_id, topic_id=body.topic_id,
                              plan=body.plan, budget=body.budget, started_on=body.started_on)
    return ProjectBrief.of(projects.create_project(session, actor, clock, settings, new))


@router.get("/projects", response_model=list[ProjectBrief], responses=responses(401, 403, 422))
def list_projects(session: SessionDep, actor: UserDep,
                  status: rules.ProjectStatus | None = None) -> list[ProjectBrief]:
    """The projects, newest first (a unit: those it owns)."""
    return [ProjectBrief.of(p) for p in projects.list_projects(session, actor, status)]


@router.get("/projects/{project_id}", response_model=ProjectOut, responses=responses(401, 403, 404, 422))
def get_project(project_id: Id, session: SessionDep, actor: UserDep, settings: SettingsDep) -> ProjectOut:
    """One project: plan, budget note, milestones, progress updates, status events, linked tickets and the place
    and category's latest tickets."""
    return ProjectOut.of_view(projects.project_detail(session, actor, settings, project_id))


@router.post("/projects/{project_id}/steps/{step}", response_model=ProjectBrief,
             responses=responses(401, 403, 404, 409, 422))
def step(project_id: Id, step: rules.ProjectStep, body: StepIn, session: SessionDep, actor: UserDep,
         clock: ClockDep) -> ProjectBrief:
    """start (已立项 → 实施中), finish (实施中 → 已完成), cancel (→ 已撤销, `reason` required)."""
    return ProjectBrief.of(projects.step(session, actor, clock, project_id, step, body.reason))


@router.post("/projects/{project_id}/updates", response_model=UpdateOut, status_code=201,
             responses=responses(401, 403, 404, 409, 422))
def add_update(project_id: Id, body: UpdateIn, session: SessionDep, actor: UserDep, clock: ClockDep) -> UpdateOut:
    """A progress report (what was done, percent). The owner unit's staff may post them too."""
    return UpdateOut.of(projects.add_update(session, actor, clock, project_id, body.text, body.percent))


@router.post("/projects/{project_id}/milestones", response_model=MilestoneOut,
             responses=responses(401, 403, 404, 422))
def milestone(project_id: Id, body: MilestoneIn, session: SessionDep, actor: UserDep,
              clock: ClockDep) -> MilestoneOut:
    """Add a milestone; the same title again moves its due date or marks it done."""
    return MilestoneOut.of(projects.milestone(session, actor, clock, project_id, body.title, body.due_on,
                                              body.done_on))


@router.post("/projects/{project_id}/tickets", response_model=LinkOut, responses=responses(401, 403, 404, 422))
def link(project_id: Id, body: LinkIn, session: SessionDep, actor: UserDep, clock: ClockDep) -> LinkOut:
    """Link tickets by number (those already linked are skipped)."""
    return LinkOut(added=projects.link_tickets(session, actor, clock, project_id, body.numbers))


@router.get("/projects/{project_id}/effect", response_model=EffectOut, responses=responses(401, 403, 404, 422))
def effect(project_id: Id, session: SessionDep, actor: UserDep, settings: SettingsDep, clock: ClockDep,
           months: Months = rules.DEFAULT_MONTHS, k: K = rules.DEFAULT_K) -> EffectOut:
    """The effect on the place's tickets as a difference in differences against the k places of the same level
    with the nearest volume before (the same district first) that had no project; `chart` is what the effect chart
    draws. Without comparison places or a full month after the works month, `effect` is null and `note` says why."""
    return EffectOut.of(projects.effect(session, actor, settings, clock, project_id, months, k))


XLSX = {200: {"content": {projects.XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
              "description": "the effect as an Excel report: summary with the formula, monthly series, comparison "
                             "places"}}


@router.get("/projects/{project_id}/effect.xlsx", response_class=Response,
            responses={**XLSX, **responses(401, 403, 404, 422)})
def effect_xlsx(project_id: Id, session: SessionDep, actor: UserDep, settings: SettingsDep, clock: ClockDep,
                months: Months = rules.DEFAULT_MONTHS, k: K = rules.DEFAULT_K) -> Response:
    """The same effect as an Excel workbook, as `jiesu projects effect ID --excel F` writes it."""
    report = projects.effect(session, actor, settings, clock, project_id, months, k)
    return Response(projects.effect_xlsx(report, clock.now(), settings.tz), media_type=projects.XLSX_MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="project-{project_id}-effect.xlsx"'})
