from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from jiesu.api.deps import ClockDep, Month, SessionDep, SettingsDep, UserDep
from jiesu.api.errors import responses
from jiesu.routing import service
from jiesu.routing.models import RoutingRule
from jiesu.routing.schemas import AccuracyOut, RuleIn, RuleOut, SuggestIn
from jiesu.tickets.schemas import SuggestionOut

router = APIRouter(prefix="/routing", tags=["routing"])


def rule_out(rule: RoutingRule) -> RuleOut:
    return RuleOut(id=rule.id, category_scope=rule.category_scope, area_code=rule.area_code, main=rule.main,
                   co_units=json.loads(rule.co_units), note=rule.note, active=rule.active,
                   updated_by=rule.updated_by, updated_at=rule.updated_at)


@router.post("/suggest", response_model=SuggestionOut, responses=responses(401, 403, 422))
def suggest(body: SuggestIn, session: SessionDep, actor: UserDep, clock: ClockDep,
            settings: SettingsDep) -> SuggestionOut:
    """What smart dispatch proposes for a request being typed: category, place, unit(s), urgency and
    duplicates, each with its reasons. Nothing is stored."""
    s = service.suggest(session, actor, clock, settings, text=body.text, title=body.title, address=body.address,
                        area_code=body.area_code, lng=body.lng, lat=body.lat, phone=body.contact_phone,
                        category_code=body.category_code)
    return SuggestionOut.model_validate(s.to_dict())


@router.get("/rules", response_model=list[RuleOut], responses=responses(401, 403))
def list_rules(session: SessionDep, actor: UserDep) -> list[RuleOut]:
    """The routing rules table: (category, area) → main unit and co-units."""
    return [rule_out(r) for r in service.list_rules(session, actor)]


@router.put("/rules", response_model=RuleOut, responses=responses(401, 403, 422))
def set_rule(body: RuleIn, session: SessionDep, actor: UserDep, clock: ClockDep) -> RuleOut:
    """Add or replace the rule for (category_scope, area_code). Administrators only."""
    return rule_out(service.set_rule(session, actor, clock, category_scope=body.category_scope,
                                     area_code=body.area_code, main=body.main, co_units=body.co_units,
                                     note=body.note, active=body.active))


@router.delete("/rules/{rule_id}", status_code=204, responses=responses(401, 403, 404, 422))
def delete_rule(rule_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep, actor: UserDep) -> Response:
    service.delete_rule(session, actor, rule_id)
    return Response(status_code=204)


@router.get("/accuracy", response_model=AccuracyOut, responses=responses(401, 403, 422))
def accuracy(session: SessionDep, actor: UserDep, settings: SettingsDep,
             month: Annotated[Month, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")]) -> AccuracyOut:
    """How often dispatchers followed the suggestions in a month (first dispatches), from the event log."""
    a = service.accuracy(session, actor, settings, month)
    return AccuracyOut(month=a.month, dispatched=a.dispatched, category_followed=a.category_followed,
                       category_judged=a.category_judged, category_rate=a.category_rate,
                       unit_followed=a.unit_followed, unit_judged=a.unit_judged, unit_rate=a.unit_rate,
                       manual=a.manual)
