from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from jiesu.api.deps import LOGIN_OPTIONAL, ActorDep, SessionDep
from jiesu.api.errors import responses
from jiesu.limits import MAX_CODE, MAX_NAME
from jiesu.places import service
from jiesu.places.models import AreaLevel
from jiesu.places.resolve import MAX_TEXT_LENGTH
from jiesu.places.schemas import PlaceDetailOut, PlaceMatchOut, PlaceOut, PlaceSearchOut, ResolutionOut

router = APIRouter(prefix="/places", tags=["places"])
NOT_FOUND = responses(401, 404, 422, notes={404: "no such place"})


@router.get("", response_model=PlaceSearchOut, responses=responses(401, 422), openapi_extra=LOGIN_OPTIONAL)
def search_places(session: SessionDep, actor: ActorDep,
                  q: Annotated[str, Query(min_length=1, max_length=MAX_NAME,
                                          description="a name, short name or alias")],
                  level: AreaLevel | None = None,
                  district_code: Annotated[str | None, Query(max_length=MAX_CODE)] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50) -> PlaceSearchOut:
    """Every place whose name contains `q`, exact matches first. `ambiguous` is true when more than
    one place (over all matches, not only this page) carries exactly that name: 八里庄街道 is in 朝阳区 and
    in 海淀区."""
    found = service.find(session, actor, q, level=level, district_code=district_code, limit=limit)
    return PlaceSearchOut(query=q, total=found.total, ambiguous=found.ambiguous,
                          matches=[PlaceMatchOut(place=PlaceOut.model_validate(m.area), matched=m.matched,
                                                 exact=m.exact) for m in found.matches])


@router.get("/tree", response_model=list[PlaceOut], responses=responses(401), openapi_extra=LOGIN_OPTIONAL)
def top_places(session: SessionDep, actor: ActorDep) -> list[PlaceOut]:
    """The city level: the root of the tree."""
    return [PlaceOut.model_validate(a) for a in service.children(session, actor)]


@router.get("/locate", response_model=PlaceOut | None, responses=responses(401, 422), openapi_extra=LOGIN_OPTIONAL)
def locate(session: SessionDep, actor: ActorDep, lng: Annotated[float, Query(ge=-180, le=180)],
           lat: Annotated[float, Query(ge=-90, le=90)]) -> PlaceOut | None:
    """The district holding a point given in the boundaries' coordinates (GCJ-02 for Beijing); null if none."""
    area = service.locate(session, actor, lng, lat)
    return PlaceOut.model_validate(area) if area else None


@router.get("/resolve", response_model=ResolutionOut, responses=responses(401, 422), openapi_extra=LOGIN_OPTIONAL)
def resolve_place(session: SessionDep, actor: ActorDep,
                  text: Annotated[str, Query(min_length=1, max_length=MAX_TEXT_LENGTH,
                                             description="an address or a whole message")],
                  lng: Annotated[float | None, Query(ge=-180, le=180, description="GCJ-02, with lat")] = None,
                  lat: Annotated[float | None, Query(ge=-90, le=90, description="GCJ-02, with lng")] = None,
                  ) -> ResolutionOut:
    """District -> street/township -> community read from free text, with a confidence. A name that
    several places carry (香屯村 is in 昌平区 and in 延庆区) is `ambiguous` with every candidate in
    `alternatives`; a district or street in the text, or coordinates, tell them apart."""
    return ResolutionOut.model_validate(service.resolve(session, actor, text, lng, lat))


@router.get("/{code}", response_model=PlaceDetailOut, responses=NOT_FOUND, openapi_extra=LOGIN_OPTIONAL)
def get_place(code: str, session: SessionDep, actor: ActorDep) -> PlaceDetailOut:
    area = service.get(session, actor, code)
    kids = service.children(session, actor, code)
    return PlaceDetailOut(**PlaceOut.model_validate(area).model_dump(),
                          aliases=[a.alias for a in service.aliases_of(session, actor, code)],
                          parent_code=area.parent.code if area.parent else None, children=len(kids))


@router.get("/{code}/children", response_model=list[PlaceOut], responses=NOT_FOUND, openapi_extra=LOGIN_OPTIONAL)
def place_children(code: str, session: SessionDep, actor: ActorDep) -> list[PlaceOut]:
    return [PlaceOut.model_validate(a) for a in service.children(session, actor, code)]
