from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from jiesu.calendar.models import DayKind


class BusinessDaysOut(BaseModel):
    start: datetime
    days: float
    result: datetime
    result_local: str


class DayOut(BaseModel):
    day: date
    workday: bool
    source: str  # override, holiday data, or weekday fallback
    name: str | None


class OverrideOut(BaseModel):

    day: date
    kind: DayKind
    name: str
