"""Hot spots (热点) and surges (突发) over HTTP: the lists, one with its tickets, the status steps, and a mining
run on demand."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from jiesu.api.deps import ClockDep, IsoDate, SessionDep, SettingsDep, UserDep
from jiesu.api.errors import responses
from jiesu.hotspots import service
from jiesu.hotspots.schemas import (
    HotSpotDetailOut,
    HotSpotOut,
    HotSpotPage,
    MineOut,
    StepIn,
    SurgeDetailOut,
    SurgeOut,
    SurgePage,
)
from jiesu.limits import MAX_CODE, MAX_NAME, MAX_OFFSET, MAX_PAGE_SIZE

router = APIRouter(tags=["hotspots"])

Code = Annotated[str | None, Query(max_length=MAX_CODE)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
CategoryQ = Annotated[str | None, Query(max_length=MAX_NAME, description="a first-level category's name or code")]
HotStatus = Annotated[str | None, Query(max_length=16, description="open, watched, project, dismissed")]
TrendLabel = Annotated[str | None, Query(max_length=16, description="new, intensifying, persistent, sporadic, "
                                                                    "diminishing")]
Level = Annotated[str | None, Query(max_length=16, description="community, street, district")]
SurgeStatusQ = Annotated[str | None, Query(max_length=16, description="raised, acknowledged, dismissed")]
StepName = Annotated[str, Path(max_length=32, description="watch, unwatch, dismiss, reopen (surges: acknowledge, "
                                                          "dismiss)")]


@router.get("/hotspots", response_model=HotSpotPage, responses=responses(401, 403, 422))
def list_hotspots(session: SessionDep, actor: UserDep, status: HotStatus = None, label: TrendLabel = None,
                  level: Level = None, district: Code = None, street: Code = None, category: CategoryQ = None,
                  limit: Limit = 50, offset: Offset = 0) -> HotSpotPage:
    """Hot spots, highest score first. A unit's member sees those of its own area."""
    page = service.list_hotspots(session, actor, status=status, label=label, level=level, district=district,
                                 street=street, category=category, limit=limit, offset=offset)
    return HotSpotPage(total=page.total, limit=limit, offset=offset, items=[HotSpotOut.of(r, actor) for r in page.rows])


@router.post("/hotspots/mine", response_model=MineOut, responses=responses(401, 403, 422))
def mine(session: SessionDep, actor: UserDep, clock: ClockDep, settings: SettingsDep,
         since: Annotated[IsoDate | None, Query(description="first local day, YYYY-MM-DD")] = None,
         until: Annotated[IsoDate | None, Query(description="last local day, YYYY-MM-DD (default yesterday)")] = None
         ) -> MineOut:
    """Mine hot spots now over [since, until] (default: the 64 weeks to yesterday), as the clock does nightly.
    Supervisors and administrators."""
    return MineOut.of(service.mine(session, actor, clock, settings, since, until))


@router.get("/hotspots/{hotspot_id}", response_model=HotSpotDetailOut, responses=responses(401, 403, 404, 422))
def get_hotspot(hotspot_id: Id, session: SessionDep, actor: UserDep, limit: Limit = 50,
                offset: Offset = 0) -> HotSpotDetailOut:
    """One hot spot: its weekly series, a page of its tickets (newest first) and its status history."""
    return HotSpotDetailOut.detail(service.get_hotspot(session, actor, hotspot_id, limit, offset), actor)


@router.post("/hotspots/{hotspot_id}/{step}", response_model=HotSpotOut, responses=responses(401, 403, 404, 409, 422))
def hotspot_step(hotspot_id: Id, step: StepName, session: SessionDep, actor: UserDep, clock: ClockDep,
                 body: StepIn | None = None) -> HotSpotOut:
    """watch (关注), unwatch, dismiss (排除: `reason` required), reopen. A hot spot becomes 已立项 when a project is
    created from it."""
    body = body or StepIn()
    service.act(session, actor, clock, hotspot_id, step, body.reason, expected_version=body.version)
    return HotSpotOut.of(service.get_hotspot(session, actor, hotspot_id, 1, 0).row, actor)


@router.get("/surges", response_model=SurgePage, responses=responses(401, 403, 422))
def list_surges(session: SessionDep, actor: UserDep, status: SurgeStatusQ = None, district: Code = None,
                street: Code = None, category: CategoryQ = None, limit: Limit = 50, offset: Offset = 0) -> SurgePage:
    """Surges, newest first, with how unusual each is (observed, expected, p-value, window hours)."""
    page = service.list_surges(session, actor, status=status, district=district, street=street, category=category,
                               limit=limit, offset=offset)
    return SurgePage(total=page.total, limit=limit, offset=offset, items=[SurgeOut.of(r, actor) for r in page.rows])


@router.get("/surges/{surge_id}", response_model=SurgeDetailOut, responses=responses(401, 403, 404, 422))
def get_surge(surge_id: Id, session: SessionDep, actor: UserDep, limit: Limit = 50,
              offset: Offset = 0) -> SurgeDetailOut:
    """One surge with a page of its tickets and its status history."""
    return SurgeDetailOut.detail(service.get_surge(session, actor, surge_id, limit, offset), actor)


@router.post("/surges/{surge_id}/{step}", response_model=SurgeOut, responses=responses(401, 403, 404, 409, 422))
def surge_step(surge_id: Id, step: StepName, session: SessionDep, actor: UserDep, clock: ClockDep,
               body: StepIn | None = None) -> SurgeOut:
    """acknowledge (确认) or dismiss (排除: `reason` required)."""
    body = body or StepIn()
    service.act(session, actor, clock, surge_id, step, body.reason, kind="surge", expected_version=body.version)
    return SurgeOut.of(service.get_surge(session, actor, surge_id, 1, 0).row, actor)
