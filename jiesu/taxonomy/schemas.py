from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from jiesu.taxonomy.models import RequestType, Urgency
from jiesu.taxonomy.rules import ReplyUnit


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    level: int
    path: str
    parent_code: str | None

    @classmethod
    def of(cls, c) -> CategoryOut:
        return cls(code=c.code, name=c.name, level=c.level, path=c.path,
                   parent_code=c.parent.code if c.parent else None)


class RequestTypeOut(BaseModel):
    code: RequestType
    label: str


class DeadlinePolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    scope: str
    urgency: Urgency
    dispatch_within_hours: float
    sign_within_hours: float
    reply_within: float
    reply_unit: ReplyUnit
    note: str
