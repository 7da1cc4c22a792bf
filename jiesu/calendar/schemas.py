from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from jiesu.calendar.models import DayKind


class BusinessDaysOut(BaseModel):
    start: datetime
    days: float
    result: datetime
    result_local: str
    # False when the span reaches a year with no holiday data and no administrator's overrides:
    # the result then counts Monday to Friday only (see `warnings`).
    calendar_covered: bool
    warnings: list[str]


class DayOut(BaseModel):
    day: date
    workday: bool
    source: str  # override, holiday data, or weekday fallback
    name: str | None


class OverrideOut(BaseModel):

    day: date
    kind: DayKind
    name: str
