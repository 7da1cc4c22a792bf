from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from jiesu.api.deps import LOGIN_OPTIONAL, ActorDep, SessionDep
from jiesu.api.errors import responses
from jiesu.limits import MAX_CODE, MAX_NAME
from jiesu.taxonomy import service
from jiesu.taxonomy.models import REQUEST_TYPE_LABELS, Urgency
from jiesu.taxonomy.schemas import CategoryOut, DeadlinePolicyOut, RequestTypeOut

router = APIRouter(tags=["taxonomy"])
NOT_FOUND = responses(401, 404, 422, notes={404: "no such category"})


@router.get("/categories", response_model=list[CategoryOut],
            responses=responses(401, 404, 422, notes={404: "no such parent category"}), openapi_extra=LOGIN_OPTIONAL)
def list_categories(session: SessionDep, actor: ActorDep,
                    parent_code: Annotated[str | None, Query(max_length=MAX_CODE)] = None,
                    level: Annotated[int | None, Query(ge=1, le=3)] = None,
                    q: Annotated[str | None, Query(max_length=MAX_NAME)] = None) -> list[CategoryOut]:
    """The category tree, flat: filter by `level` (1-3), `parent_code` or a name fragment `q`."""
    return [CategoryOut.of(c) for c in service.list_categories(session, actor, parent_code=parent_code,
                                                               level=level, q=q)]


@router.get("/categories/{code}", response_model=CategoryOut, responses=NOT_FOUND, openapi_extra=LOGIN_OPTIONAL)
def get_category(code: str, session: SessionDep, actor: ActorDep) -> CategoryOut:
    return CategoryOut.of(service.get(session, actor, code))


@router.get("/categories/{code}/policy", response_model=DeadlinePolicyOut, responses=NOT_FOUND,
            openapi_extra=LOGIN_OPTIONAL)
def category_policy(code: str, session: SessionDep, actor: ActorDep,
                    urgency: Urgency = Urgency.normal) -> DeadlinePolicyOut:
    """The deadline policy that governs this category at this urgency (the most specific one)."""
    return DeadlinePolicyOut.model_validate(service.resolve_policy(session, actor, code, urgency))


@router.get("/request-types", response_model=list[RequestTypeOut])
def request_types() -> list[RequestTypeOut]:
    return [RequestTypeOut(code=k, label=v) for k, v in REQUEST_TYPE_LABELS.items()]


@router.get("/deadline-policies", response_model=list[DeadlinePolicyOut], responses=responses(401),
            openapi_extra=LOGIN_OPTIONAL)
def deadline_policies(session: SessionDep, actor: ActorDep) -> list[DeadlinePolicyOut]:
    return [DeadlinePolicyOut.model_validate(p) for p in service.list_policies(session, actor)]
