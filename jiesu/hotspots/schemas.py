"""What crosses HTTP for hot spots and surges: the JSON of `jiesu hotspots list --json` and the API."""

from __future__ import annotations

import json
from datetime import date, datetime

from pydantic import BaseModel, Field

from jiesu import glossary
from jiesu.hotspots import service
from jiesu.hotspots.models import HotSpot, HotSpotEvent, Surge
from jiesu.limits import MAX_REASON
from jiesu.permissions import Actor


class PlaceOut(BaseModel):
    code: str
    name: str
    path: str
    level: str  # community, street, district
    district_code: str
    street_code: str
    lng: float | None = None  # the area's centre (GCJ-02 as the gazetteer ships it), for the map
    lat: float | None = None


def _place(row: service.HotSpotRow) -> PlaceOut:
    e = row.spot
    return PlaceOut(code=e.place_code, name=row.place, path=row.place_path, level=e.level,
                    district_code=e.district_code, street_code=e.street_code, lng=row.lng, lat=row.lat)


class HotSpotOut(BaseModel):
    id: int
    place: PlaceOut
    category: str
    status: str
    status_label: str  # 待处理, 关注中, 已立项, 已排除
    label: str  # the trend: new, intensifying, persistent, sporadic, diminishing
    label_text: str  # 新出现 ...
    title: str
    score: float
    p_value: float
    observed: int = Field(description="tickets over the weeks it spans, a caller's near-identical repeats once")
    expected: float
    series: list[int] = Field(description="weekly counts, oldest first")
    first_day: date
    last_day: date
    tickets: int
    found_at: datetime
    last_seen: datetime
    project_id: int | None
    version: int
    steps: list[str] = Field(description="the steps this user may take now")

    @classmethod
    def of(cls, row: service.HotSpotRow, actor: Actor) -> HotSpotOut:
        h: HotSpot = row.spot
        return cls(id=h.id, place=_place(row), category=row.category, status=h.status.value,
                   status_label=glossary.label("hotspot_status", h.status), label=h.label.value,
                   label_text=glossary.label("hotspot_label", h.label), title=h.title, score=round(h.score, 3),
                   p_value=h.p_value, observed=h.observed, expected=round(h.expected, 2),
                   series=json.loads(h.series or "[]"), first_day=h.first_day, last_day=h.last_day,
                   tickets=h.tickets, found_at=h.found_at, last_seen=h.last_seen, project_id=h.project_id,
                   version=h.version, steps=service.steps_for(actor, "hotspot", h.status.value))


class SurgeOut(BaseModel):
    id: int
    place: PlaceOut
    category: str
    status: str
    status_label: str  # 待确认, 已确认, 已排除
    title: str
    observed: int
    expected: float
    p_value: float = Field(description="how unusual: the probability of at least `observed` under the baseline")
    score: float
    window_hours: int
    first_at: datetime
    last_at: datetime
    raised_at: datetime
    tickets: int
    version: int
    steps: list[str]

    @classmethod
    def of(cls, row: service.HotSpotRow, actor: Actor) -> SurgeOut:
        s: Surge = row.spot
        return cls(id=s.id, place=_place(row), category=row.category, status=s.status.value,
                   status_label=glossary.label("surge_status", s.status), title=s.title, observed=s.observed,
                   expected=round(s.expected, 2), p_value=s.p_value, score=round(s.score, 3),
                   window_hours=s.window_hours, first_at=s.first_at, last_at=s.last_at, raised_at=s.raised_at,
                   tickets=s.tickets, version=s.version, steps=service.steps_for(actor, "surge", s.status.value))


class HotSpotPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[HotSpotOut]


class SurgePage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[SurgeOut]


class LinkedTicketOut(BaseModel):
    number: str
    created_at: datetime
    state: str
    title: str


class EventOut(BaseModel):
    at: datetime
    actor: str
    step: str
    from_status: str | None
    to_status: str
    reason: str

    @classmethod
    def of(cls, e: HotSpotEvent) -> EventOut:
        return cls(at=e.at, actor=e.actor, step=e.step, from_status=e.from_status, to_status=e.to_status,
                   reason=e.reason)


class _Linked(BaseModel):
    linked: int = Field(description="tickets linked (the newest, at most models.MAX_LINKED)")
    limit: int
    offset: int
    ticket_page: list[LinkedTicketOut]
    events: list[EventOut]


def _linked(d: service.Detail) -> dict:
    return dict(linked=d.linked, limit=d.limit, offset=d.offset,
                ticket_page=[LinkedTicketOut(number=t.number, created_at=t.created_at, state=t.state, title=t.title)
                             for t in d.tickets],
                events=[EventOut.of(e) for e in d.events])


class HotSpotDetailOut(HotSpotOut, _Linked):
    @classmethod
    def detail(cls, d: service.Detail, actor: Actor) -> HotSpotDetailOut:
        return cls(**HotSpotOut.of(d.row, actor).model_dump(), **_linked(d))


class SurgeDetailOut(SurgeOut, _Linked):
    @classmethod
    def detail(cls, d: service.Detail, actor: Actor) -> SurgeDetailOut:
        return cls(**SurgeOut.of(d.row, actor).model_dump(), **_linked(d))


class StepIn(BaseModel):
    reason: str | None = Field(default=None, max_length=MAX_REASON, description="why: required to dismiss")
    version: int | None = Field(default=None, description="the version read: refused (409) if it changed since")


class MineOut(BaseModel):
    since: date
    until: date
    tickets: int
    cells: int = Field(description="rows of the cube's GROUP BY")
    repeats: int = Field(description="tickets counted once with an earlier one of the same caller")
    found: int
    created: int
    updated: int
    reopened: int
    cube_seconds: float
    detect_seconds: float
    seconds: float

    @classmethod
    def of(cls, r: service.MineReport) -> MineOut:
        return cls(since=r.since, until=r.until, tickets=r.tickets, cells=r.cells, repeats=r.repeats, found=r.found,
                   created=r.created, updated=r.updated, reopened=r.reopened, cube_seconds=round(r.cube_seconds, 3),
                   detect_seconds=round(r.detect_seconds, 3), seconds=round(r.seconds, 3))
