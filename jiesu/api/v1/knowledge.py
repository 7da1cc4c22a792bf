"""The knowledge base over HTTP: search (its public part without a login, for the citizens' app), articles and
their review, direct answers (直接答复), their statistics, and articles proposed from units' replies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response

from jiesu.api.deps import LOGIN_OPTIONAL, ActorDep, ClockDep, Month, SessionDep, SettingsDep, UserDep
from jiesu.api.errors import IDEMPOTENCY_NOTES, responses
from jiesu.intake import service as intake
from jiesu.intake.schemas import AnswerIn, AnswerOut
from jiesu.knowledge import service
from jiesu.knowledge.rules import ArticleStatus, Step
from jiesu.knowledge.schemas import (
    ArticleEditIn,
    ArticleIn,
    ArticleOut,
    ArticlePage,
    ProposalOut,
    SearchOut,
    StatsOut,
    StepIn,
)
from jiesu.limits import MAX_CODE, MAX_IDEMPOTENCY_KEY, MAX_OFFSET, MAX_PAGE_SIZE, MAX_SEARCH, MAX_UNIT_CODE

router = APIRouter(prefix="/knowledge", tags=["knowledge"])
NOT_FOUND = {404: "no such article (or not one this caller may see)"}
ArticleId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the article's id")]


@router.get("/search", response_model=SearchOut, responses=responses(401, 422), openapi_extra=LOGIN_OPTIONAL)
def search(session: SessionDep, actor: ActorDep, clock: ClockDep, settings: SettingsDep,
           q: Annotated[str, Query(min_length=1, max_length=service.MAX_QUERY, description="the question, in any "
                                                                                           "words")],
           limit: Annotated[int, Query(ge=1, le=service.MAX_RESULTS)] = 5,
           category_code: Annotated[str | None, Query(max_length=MAX_CODE)] = None,
           area_code: Annotated[str | None, Query(max_length=MAX_CODE,
                                                  description="the caller's area: articles for it, above it, or the "
                                                              "whole city")] = None,
           ) -> SearchOut:
    """The published, valid articles that best answer `q`, best first (Chinese word segmentation, BM25-style
    ranking). Without a login (the citizens' app): the public articles; staff find the internal ones too."""
    return SearchOut.of(q, service.search(session, actor, clock, settings, q, limit=limit,
                                          category_code=category_code, area_code=area_code))


@router.get("/articles", response_model=ArticlePage, responses=responses(401, 403, 422))
def list_articles(session: SessionDep, actor: UserDep, status: ArticleStatus | None = None,
                  unit_code: Annotated[str | None, Query(max_length=MAX_UNIT_CODE)] = None,
                  category_code: Annotated[str | None, Query(max_length=MAX_CODE)] = None,
                  q: Annotated[str | None, Query(max_length=MAX_SEARCH, description="in the question")] = None,
                  limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
                  offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> ArticlePage:
    """The articles an editor maintains, last changed first: an administrator all, a department its own."""
    f = service.ArticleFilter(status=status, unit_code=unit_code, category_code=category_code, q=q)
    items, total = service.list_articles(session, actor, f, limit, offset)
    return ArticlePage(total=total, limit=limit, offset=offset, items=[ArticleOut.of(a) for a in items])


@router.post("/articles", status_code=201, response_model=ArticleOut, responses=responses(401, 403, 422))
def create_article(body: ArticleIn, session: SessionDep, actor: UserDep, clock: ClockDep,
                   publish: Annotated[bool, Query(description="publish at once (a reviewer only)")] = False
                   ) -> ArticleOut:
    """A new article, as a draft to send to review (or published at once by a reviewer)."""
    return ArticleOut.of(service.create(session, actor, clock, body.to_input(), publish=publish))


@router.get("/articles/{article_id}", response_model=ArticleOut, responses=responses(401, 404, 422, notes=NOT_FOUND),
            openapi_extra=LOGIN_OPTIONAL)
def get_article(article_id: ArticleId, session: SessionDep, actor: ActorDep, clock: ClockDep,
                settings: SettingsDep) -> ArticleOut:
    """One article: for its editors whatever its status, for everyone else while it is published and valid
    (and public, for citizens and visitors)."""
    return ArticleOut.of(service.get(session, actor, clock, settings, article_id))


@router.put("/articles/{article_id}", response_model=ArticleOut,
            responses=responses(401, 403, 404, 409, 422, notes=NOT_FOUND))
def edit_article(article_id: ArticleId, body: ArticleEditIn, session: SessionDep, actor: UserDep,
                 clock: ClockDep) -> ArticleOut:
    """Change a draft or an article in review (a published one is revised back to draft first)."""
    return ArticleOut.of(service.edit(session, actor, clock, article_id, body.to_input(), body.expected_version))


@router.delete("/articles/{article_id}", status_code=204,
               responses=responses(401, 403, 404, 409, 422, notes=NOT_FOUND))
def delete_article(article_id: ArticleId, session: SessionDep, actor: UserDep) -> Response:
    """Remove a draft that was never published (published ones are expired instead)."""
    service.delete(session, actor, article_id)
    return Response(status_code=204)


@router.post("/articles/{article_id}/{step}", response_model=ArticleOut,
             responses=responses(401, 403, 404, 409, 422, notes=NOT_FOUND))
def step_article(article_id: ArticleId, step: Step, session: SessionDep, actor: UserDep, clock: ClockDep,
                 body: StepIn | None = None) -> ArticleOut:
    """One step of the review: `submit` (editor: draft -> in review), `approve` (reviewer: -> published),
    `reject` (reviewer, with a note: -> draft), `expire` (-> never found again), `revise` (published or
    expired -> draft)."""
    body = body or StepIn()
    return ArticleOut.of(service.act(session, actor, clock, article_id, step, body.note, body.expected_version))


@router.post("/answers", status_code=201, response_model=AnswerOut,
             responses=responses(401, 403, 409, 422, notes=IDEMPOTENCY_NOTES))
def direct_answer(body: AnswerIn, response: Response, session: SessionDep, actor: UserDep, clock: ClockDep,
                  settings: SettingsDep,
                  idempotency_key: Annotated[str | None, Header(max_length=MAX_IDEMPOTENCY_KEY)] = None) -> AnswerOut:
    """Close an inquiry (咨询) with a direct answer (直接答复): a request answered at once, never dispatched as a
    ticket, with the article it was answered from (its answer, or the operator's adaptation of it)."""
    done = intake.answer_directly(session, actor, clock, settings, body.to_input(), idempotency_key)
    if done.intake.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return AnswerOut.of(done)


@router.get("/stats", response_model=StatsOut, responses=responses(401, 403, 422))
def stats(session: SessionDep, actor: UserDep, clock: ClockDep, settings: SettingsDep,
          month: Annotated[Month | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM; default: this month",
                                             examples=["2024-09"])] = None,
          months: Annotated[int, Query(ge=1, le=36, description="this many months up to `month`")] = 1,
          ) -> StatsOut:
    """Direct answers counted apart from tickets, month by month, and the articles most answered from."""
    return StatsOut.of(service.stats(session, actor, clock, settings, month, months=months))


@router.get("/proposals", response_model=list[ProposalOut], responses=responses(401, 403, 422))
def proposals(session: SessionDep, actor: UserDep, clock: ClockDep,
              days: Annotated[int, Query(ge=1, le=service.MAX_PROPOSAL_DAYS)] = 365,
              min_count: Annotated[int, Query(ge=2, le=service.MAX_PROPOSAL_MIN_COUNT,
                                              description="tickets answered alike, at least")] = 3,
              limit: Annotated[int, Query(ge=1, le=service.MAX_PROPOSALS)] = 20) -> list[ProposalOut]:
    """Units' replies that answer the same question the same way again and again, as articles to write (POST
    them to /knowledge/articles with their `tickets` as `from_tickets`)."""
    return [ProposalOut.of(p) for p in service.propose(session, actor, clock, days=days, min_count=min_count,
                                                       limit=limit)]
