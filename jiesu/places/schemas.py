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
