"""What crosses HTTP for the knowledge base."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, StrictBool, StrictInt

from jiesu.knowledge import service
from jiesu.knowledge.models import Article
from jiesu.knowledge.rules import STATUS_LABELS, ArticleStatus
from jiesu.limits import MAX_CODE, MAX_REASON, MAX_UNIT_CODE

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(value: object) -> object:
    # Pydantic would take a number as a Unix time and a datetime's text as its day: neither is a day here.
    if isinstance(value, date) or (isinstance(value, str) and _DAY.fullmatch(value.strip())):
        return value
    raise ValueError("a day is YYYY-MM-DD, e.g. 2024-10-01")


Day = Annotated[date, BeforeValidator(_day)]  # an ISO 8601 day


class ArticleIn(BaseModel):
    question: str = Field(min_length=1, max_length=service.MAX_QUESTION, description="the question, as callers ask it")
    answer: str = Field(min_length=1, max_length=service.MAX_ANSWER)
    category_code: str | None = Field(default=None, max_length=MAX_CODE)
    area_code: str | None = Field(default=None, max_length=MAX_CODE,
                                  description="where it applies; none: the whole city")
    valid_from: Day | None = None
    valid_to: Day | None = Field(default=None, description="after this day it is never found again")
    unit_code: str | None = Field(default=None, max_length=MAX_UNIT_CODE, description="the department it comes from (a "
                                  "unit's own people: their unit)")
    public: StrictBool = Field(default=True, description="citizens may find it in the app; false: staff only")
    from_tickets: list[str] = Field(default_factory=list, max_length=50,
                                    description="a proposal's tickets: the replies the article is built from")

    def to_input(self) -> service.ArticleInput:
        return service.ArticleInput(**self.model_dump())


class ArticleEditIn(ArticleIn):
    expected_version: StrictInt | None = Field(default=None, ge=1, description="fail with 409 if it changed meanwhile")

    def to_input(self) -> service.ArticleInput:
        return service.ArticleInput(**self.model_dump(exclude={"expected_version"}))


class StepIn(BaseModel):
    note: str = Field(default="", max_length=MAX_REASON, description="why (needed to reject)")
    expected_version: StrictInt | None = Field(default=None, ge=1)


class ArticleOut(BaseModel):
    id: int
    question: str
    answer: str
    category_code: str | None
    category_name: str | None
    area_code: str | None
    area_name: str | None
    valid_from: date | None
    valid_to: date | None
    unit_code: str | None
    unit_name: str | None
    status: ArticleStatus
    status_label: str
    public: bool
    source: str
    source_ref: str | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    reviewed_at: datetime | None
    reviewed_by: str | None
    review_note: str
    version: int

    @classmethod
    def of(cls, a: Article) -> ArticleOut:
        return cls(id=a.id, question=a.question, answer=a.answer,
                   category_code=a.category.code if a.category else None,
                   category_name=a.category.name if a.category else None,
                   area_code=a.area.code if a.area else None, area_name=a.area.name if a.area else None,
                   valid_from=a.valid_from, valid_to=a.valid_to, unit_code=a.unit.code if a.unit else None,
                   unit_name=a.unit.name if a.unit else None, status=a.status, status_label=STATUS_LABELS[a.status],
                   public=a.public, source=a.source, source_ref=a.source_ref, created_at=a.created_at,
                   created_by=a.created_by, updated_at=a.updated_at, updated_by=a.updated_by,
                   reviewed_at=a.reviewed_at, reviewed_by=a.reviewed_by, review_note=a.review_note or "",
                   version=a.version)


class ArticlePage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[ArticleOut]


class HitOut(BaseModel):
    id: int
    question: str
    answer: str
    category_code: str | None
    category_name: str | None
    area_code: str | None
    area_name: str | None
    unit_name: str | None
    public: bool
    valid_to: date | None
    score: float = Field(description="the database's relevance, higher is better: compare within one answer only")
    matched: list[str] = Field(description="the words of the query the article holds")

    @classmethod
    def of(cls, h: service.Hit) -> HitOut:
        a = h.article
        return cls(id=a.id, question=a.question, answer=a.answer,
                   category_code=a.category.code if a.category else None,
                   category_name=a.category.name if a.category else None,
                   area_code=a.area.code if a.area else None, area_name=a.area.name if a.area else None,
                   unit_name=a.unit.name if a.unit else None, public=a.public, valid_to=a.valid_to, score=h.score,
                   matched=h.matched)


class SearchOut(BaseModel):
    q: str
    terms: list[str] = Field(description="the words searched for, rarest first")
    ignored: list[str] = Field(description="the text's other words: unknown to the base or too common")
    hits: list[HitOut]

    @classmethod
    def of(cls, q: str, r: service.SearchResult) -> SearchOut:
        return cls(q=q, terms=r.terms, ignored=r.ignored, hits=[HitOut.of(h) for h in r.hits])


class MonthOut(BaseModel):
    month: str
    requests: int
    tickets: int = Field(description="dispatched as tickets")
    direct_answers: int = Field(description="answered at once, no ticket (直接答复)")
    direct_share: float | None = Field(description="direct answers / requests")
    from_articles: int = Field(description="direct answers given from an article")
    edited: int = Field(description="of those, with the article's answer adapted")
    inquiries: int
    inquiries_ticketed: int = Field(description="inquiries (咨询) that became tickets all the same")


class TopArticleOut(BaseModel):
    id: int
    question: str
    answers: int


class StatsOut(BaseModel):
    months: list[MonthOut]
    top_articles: list[TopArticleOut]

    @classmethod
    def of(cls, s: service.Stats) -> StatsOut:
        return cls(months=[MonthOut(month=m.month, requests=m.requests, tickets=m.tickets,
                                    direct_answers=m.direct_answers, direct_share=m.direct_share,
                                    from_articles=m.from_articles, edited=m.edited, inquiries=m.inquiries,
                                    inquiries_ticketed=m.inquiries_ticketed) for m in s.months],
                   top_articles=[TopArticleOut(id=a.id, question=a.question, answers=n) for a, n in s.top_articles])


class ProposalOut(BaseModel):
    question: str
    answer: str
    category_code: str | None
    category_name: str | None
    unit_code: str | None
    unit_name: str | None
    count: int = Field(description="tickets answered this way")
    tickets: list[str] = Field(description="their numbers (pass them as from_tickets to create the article)")

    @classmethod
    def of(cls, p: service.Proposal) -> ProposalOut:
        return cls(**p.__dict__)
