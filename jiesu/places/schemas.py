from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from jiesu.places.models import AreaLevel


class PlaceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    short_name: str
    level: AreaLevel
    kind: str
    formal_name: str | None
    path: str
    district_code: str | None
    street_code: str | None
    center_lng: float | None
    center_lat: float | None


class PlaceMatchOut(BaseModel):
    place: PlaceOut
    matched: str
    exact: bool


class PlaceSearchOut(BaseModel):
    query: str
    total: int
    ambiguous: bool
    matches: list[PlaceMatchOut]


class PlaceDetailOut(PlaceOut):
    aliases: list[str]
    parent_code: str | None
    children: int


class ResolvedPlaceOut(BaseModel):
    """One reading of a text, from its district down to the deepest level it reaches."""

    model_config = ConfigDict(from_attributes=True)

    level: str
    code: str
    name: str
    path: str
    district_code: str | None
    district_name: str | None
    street_code: str | None
    street_name: str | None
    community_code: str | None
    community_name: str | None
    complex_code: str | None
    complex_name: str | None
    score: float


class ResolutionReasonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    text: str
    start: int
    end: int
    code: str
    level: str
    path: str
    weight: float
    used: bool


class ResolutionOut(BaseModel):
    """`best` is what every top reading agrees on (null when they share nothing); when `ambiguous`,
    `alternatives` holds every top reading with its full path."""

    model_config = ConfigDict(from_attributes=True)

    text: str
    level: str | None
    district_code: str | None
    street_code: str | None
    community_code: str | None
    confidence: float
    ambiguous: bool
    best: ResolvedPlaceOut | None
    alternatives: list[ResolvedPlaceOut]
    reasons: list[ResolutionReasonOut]
    located_district_code: str | None
