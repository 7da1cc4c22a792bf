from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, StrictFloat

from jiesu.limits import MAX_ADDRESS, MAX_CODE, MAX_NOTE, MAX_PHONE, MAX_TEXT, MAX_TITLE, MAX_UNIT_CODE


class SuggestIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    title: str = Field(default="", max_length=MAX_TITLE)
    address: str = Field(default="", max_length=MAX_ADDRESS)
    area_code: str | None = Field(default=None, max_length=MAX_CODE)
    lng: StrictFloat | None = Field(default=None, ge=-180, le=180)  # strict: false is not 0.0
    lat: StrictFloat | None = Field(default=None, ge=-90, le=90)
    contact_phone: str | None = Field(default=None, max_length=MAX_PHONE)
    category_code: str | None = Field(default=None, max_length=MAX_CODE)


class RuleIn(BaseModel):
    category_scope: str = Field(min_length=1, max_length=MAX_CODE, description="a category code (or prefix), or *")
    area_code: str | None = Field(default=None, max_length=MAX_CODE,
                                  description="a district or street code; none: anywhere")
    main: str = Field(min_length=1, max_length=MAX_UNIT_CODE,
                      description="a unit code, or @street, @community, @district, @branch:<department key>")
    co_units: list[str] = Field(default_factory=list, max_length=10)
    note: str = Field(default="", max_length=MAX_NOTE)
    active: bool = True


class RuleOut(BaseModel):
    id: int
    category_scope: str
    area_code: str | None
    main: str
    co_units: list[str]
    note: str
    active: bool
    updated_by: str
    updated_at: datetime


class AccuracyOut(BaseModel):
    month: str
    dispatched: int
    category_followed: int
    category_judged: int
    category_rate: float | None
    unit_followed: int
    unit_judged: int
    unit_rate: float | None
    manual: int
