"""The audit over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ChangeOut(BaseModel):
    field: str
    before: Any = Field(description="the value before (••• for a secret); null: none")
    after: Any = Field(description="the value after (••• for a secret); null: none")


class EntryOut(BaseModel):
    id: int
    at: datetime
    actor: str = Field(description="the username of who made the change")
    role: str
    entity: str = Field(description="user, unit, category, policy, calendar, rule, article or apikey")
    key: str = Field(description="which one: its username, code or id")
    action: str
    changes: list[ChangeOut]


class EntryPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[EntryOut]
