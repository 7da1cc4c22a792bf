"""The administrators' audit: who changed what reference data, when, from what to what."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from jiesu.api.deps import SessionDep, UserDep, single_valued
from jiesu.api.errors import responses
from jiesu.audit import service
from jiesu.audit.schemas import ChangeOut, EntryOut, EntryPage
from jiesu.limits import MAX_OFFSET, MAX_PAGE_SIZE

router = APIRouter(prefix="/audit", tags=["audit"], dependencies=[Depends(single_valued)])


@router.get("", response_model=EntryPage, responses=responses(401, 403, 422))
def audit(session: SessionDep, actor: UserDep,
          entity: Annotated[str | None, Query(max_length=32, description="only this kind of thing")] = None,
          key: Annotated[str | None, Query(max_length=128, description="only this one (username, code, id)")] = None,
          actor_name: Annotated[str | None, Query(alias="actor", max_length=64, description="only this user's")]
          = None,
          limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
          offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> EntryPage:
    """The audit, newest first (administrators)."""
    items, total = service.entries(session, actor, entity=entity, key=key, who=actor_name, limit=limit,
                                   offset=offset)
    return EntryPage(total=total, limit=limit, offset=offset, items=[
        EntryOut(id=e.id, at=e.at, actor=e.actor, role=e.role, entity=e.entity, key=e.key, action=e.action,
                 changes=[ChangeOut(field=f, before=b, after=a) for f, b, a in e.changes]) for e in items])
