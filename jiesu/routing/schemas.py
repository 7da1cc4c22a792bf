from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, StrictFloat


class SuggestIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)
    title: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=256)
    area_code: str | None = Field(default=None, max_length=32)
    lng: StrictFloat | None = Field(default=None, ge=-180, le=180)  # strict: false is not 0.0
    lat: StrictFloat | None = Field(default=None, ge=-90, le=90)
    contact_phone: str | None = Field(default=None, max_length=32)
    category_code: str | None = Field(default=None, max_length=32)


class RuleIn(BaseModel):
    category_scope: str = Field(min_length=1, max_length=32, description="a category code (or prefix), or *")
    area_code: str | None = Field(default=None, max_length=32, description="a district or street code; none: anywhere")
    main: str = Field(min_length=1, max_length=64,
                      description="a unit code, or @street, @community, @district, @branch:<department key>")
    co_units: list[str] = Field(default_factory=list, max_length=10)
    note: str = Field(default="", max_length=200)
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
