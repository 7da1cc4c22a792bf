from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from jiesu.api.deps import SessionDep, UserDep
from jiesu.api.errors import responses
from jiesu.limits import MAX_CODE, MAX_NAME, MAX_OFFSET, MAX_PAGE_SIZE, MAX_UNIT_CODE
from jiesu.units import service
from jiesu.units.models import UnitKind
from jiesu.units.schemas import UnitOut, UnitPage

router = APIRouter(prefix="/units", tags=["units"])
AUTH = responses(401, 403, 422, notes={403: "role may not read units"})


@router.get("", response_model=UnitPage, responses=AUTH)
def list_units(session: SessionDep, actor: UserDep, kind: UnitKind | None = None,
               district_code: Annotated[str | None, Query(max_length=MAX_CODE)] = None,
               parent_code: Annotated[str | None, Query(max_length=MAX_UNIT_CODE)] = None,
               q: Annotated[str | None, Query(max_length=MAX_NAME)] = None,
               active: bool | None = None,
               search: Annotated[str | None, Query(max_length=MAX_NAME, description=(
                   "a picker's typing: every word matches the unit's name, the start of its code or its district's "
                   "name; closest names first"))] = None,
               limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
               offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> UnitPage:
    units, total = service.list_units(session, actor, kind=kind, district_code=district_code,
                                      parent_code=parent_code, q=q, active=active, limit=limit, offset=offset,
                                      search=search)
    return UnitPage(total=total, limit=limit, offset=offset, items=[UnitOut.of(u) for u in units])


@router.get("/{code}", response_model=UnitOut, responses={**AUTH, **responses(404, notes={404: "no such unit"})})
def get_unit(code: str, session: SessionDep, actor: UserDep) -> UnitOut:
    return UnitOut.of(service.get(session, actor, code))
