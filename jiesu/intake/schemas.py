"""What crosses HTTP for intake's own use cases (the request itself is tickets.schemas.RequestIn)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, StrictBool, StrictInt

from jiesu.intake import service
from jiesu.limits import MAX_ADDRESS, MAX_CODE, MAX_NAME, MAX_PHONE, MAX_TEXT, MAX_TITLE
from jiesu.tickets.models import Channel, Outcome


class AnswerIn(BaseModel):
    """An inquiry (咨询) answered at once from the knowledge base: closed without a ticket."""

    text: str = Field(min_length=1, max_length=MAX_TEXT, description="what the caller asked")
    article_id: StrictInt | None = Field(default=None, ge=1, le=2**31 - 1,
                                         description="the article the answer comes from")
    answer: str | None = Field(default=None, max_length=MAX_TEXT, description="the answer given; none: the article's")
    title: str = Field(default="", max_length=MAX_TITLE)
    address: str = Field(default="", max_length=MAX_ADDRESS)
    area_code: str | None = Field(default=None, max_length=MAX_CODE)
    category_code: str | None = Field(default=None, max_length=MAX_CODE, description="none: the article's")
    contact_name: str | None = Field(default=None, max_length=MAX_NAME)
    contact_phone: str | None = Field(default=None, max_length=MAX_PHONE)
    anonymous: StrictBool = False
    channel: Channel | None = Field(default=None, description="set by the server: hotline for the centre's staff "
                                    "(who may say app or web instead), never open311 or import")

    def to_input(self) -> service.AnswerInput:
        return service.AnswerInput(**self.model_dump())


class AnswerOut(BaseModel):
    request_id: int
    outcome: Outcome
    direct_answer: str | None
    article_id: int | None
    edited: bool = Field(description="the operator adapted the article's answer")
    replayed: bool
    created_at: datetime

    @classmethod
    def of(cls, done: service.Answered) -> AnswerOut:
        r = done.intake.request
        return cls(request_id=r.id, outcome=r.outcome, direct_answer=r.answer, article_id=done.record.article_id,
                   edited=done.record.edited, replayed=done.intake.replayed, created_at=r.created_at)
