"""The assessment (考核) as JSON: rankings, trends, the tickets behind a figure, supervision lists; the ranking
as an Excel report. The figures are export.to_dict's: the same as `jiesu assess rates --json`, CSV and Excel."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from jiesu.api.deps import ClockDep, Month, SessionDep, SettingsDep, UserDep
from jiesu.api.errors import responses
from jiesu.assessment import export, rules, service
from jiesu.assessment.schemas import (
    BehindOut,
    RankingOut,
    RollupOut,
    SupervisionOut,
    TrendOut,
    behind_out,
    supervision_out,
    trend_out,
)
from jiesu.clock import FixedClock
from jiesu.errors import InvalidInput
from jiesu.limits import MAX_CODE, MAX_OFFSET, MAX_PAGE_SIZE, MAX_UNIT_CODE
from jiesu.permissions import Permission, require

router = APIRouter(prefix="/assessment", tags=["assessment"])

AssessedMonth = Annotated[Month, Query(pattern=r"^\d{4}-\d{2}$", description="the assessment month, YYYY-MM",
                             examples=["2023-03"])]
Level = Literal["street", "district", "department"]
Measure = Literal[service.ALL_MEASURES]  # type: ignore[valid-type]
LIVE = Query(description="read the facts even when the month was rolled up")


def _period(month: str) -> str:
    try:
        rules.parse_period(month)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="month") from None
    return month


@router.get("/rates", response_model=RankingOut, responses=responses(401, 403, 422))
def rates(session: SessionDep, actor: UserDep, settings: SettingsDep, clock: ClockDep, month: AssessedMonth,
          level: Level = "street", live: Annotated[bool, LIVE] = False) -> RankingOut:
    """One month's ranking at one level (street: 街道 and 乡镇 each ranked within their kind and within their
    district; district; department: 市级部门 and 公共服务企业), with last month's score, the change, the bottom
    named, the formulas used and what was left out. Each row and total has 响应率 (signed in time / counted
    dispatches) with its counts, 联系率 (contacted / valid) and the callbacks' rates beside their counts; a rate
    with nothing to count is null. Each row's `key` and each figure (`measures`) drill down
    through /assessment/behind."""
    r = service.ranking(session, actor, settings, clock, month, level, prefer_rollup=not live)
    return RankingOut.model_validate(export.to_dict(r, settings.tz))


XLSX_RESPONSE = {200: {"content": {export.XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
                       "description": "the ranking as an Excel report (title, period, formulas, table, totals)"}}


@router.get("/rates.xlsx", response_class=Response, responses={**XLSX_RESPONSE, **responses(401, 403, 422)})
def rates_xlsx(session: SessionDep, actor: UserDep, settings: SettingsDep, clock: ClockDep, month: AssessedMonth,
               level: Level = "street", live: Annotated[bool, LIVE] = False) -> Response:
    """The same ranking as an Excel workbook, as `jiesu assess rates --xlsx` writes it."""
    r = service.ranking(session, actor, settings, clock, month, level, prefer_rollup=not live)
    name = export.xlsx_filename(r)
    return Response(export.to_xlsx(r, settings.tz, clock.now()), media_type=export.XLSX_MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/trend", response_model=TrendOut, responses=responses(401, 403, 422))
def trend(session: SessionDep, actor: UserDep, settings: SettingsDep, clock: ClockDep, month: AssessedMonth,
          months: Annotated[int, Query(ge=1, le=36)] = 6, level: Level = "district") -> TrendOut:
    """The city's rates and each unit's (or district's) over the `months` months up to `month`."""
    points = service.trend(session, actor, settings, clock, _period(month), months, level)
    return trend_out(month, months, level, points)


@router.get("/behind", response_model=BehindOut, responses=responses(401, 403, 422))
def behind(session: SessionDep, actor: UserDep, settings: SettingsDep, clock: ClockDep, month: AssessedMonth,
           level: Level = "street",
           key: Annotated[str | None, Query(max_length=MAX_UNIT_CODE,
                                            description="a row's key; none: every unit")] = None,
           measure: Measure = "valid", limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
           offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> BehindOut:
    """The tickets behind one figure of a ranking: each with its state, the unit it counted for, and what it
    counted as: for the callbacks' measures a reached callback and its answers, 未联系上, or 退单审核通过; for
    the response rate's (dispatched, signed, not_in_time, late, missed, pending, sign_upheld) the dispatch, its
    sign deadline and when it was signed (按时签收, 超时签收, 逾期未签收 ...)."""
    frozen = FixedClock(clock.now())  # the sign facts are chosen and labelled at one moment
    pairs, total = service.behind(session, actor, settings, frozen, month, level, key, measure, limit, offset)
    return behind_out(session, month, level, key, measure, limit, offset, pairs, total, frozen.now())


@router.get("/supervision", response_model=SupervisionOut, responses=responses(401, 403, 422))
def supervision(session: SessionDep, actor: UserDep, settings: SettingsDep, month: AssessedMonth,
                limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
                district: Annotated[str | None, Query(max_length=MAX_CODE, description="a district code")] = None
                ) -> SupervisionOut:
    """督办: open tickets past their sign or reply deadline, escalated tickets, and the units whose tickets
    were reopened (重办) in the month, most first."""
    return supervision_out(month, service.supervision(session, actor, settings, month, limit, district))


@router.post("/rollup", response_model=RollupOut, responses=responses(401, 403, 422))
def rollup(session: SessionDep, actor: UserDep, settings: SettingsDep, clock: ClockDep,
           month: AssessedMonth) -> RollupOut:
    """Keep a closed month's cells, so that its ranking reads them instead of every fact. Administrators only;
    refused for a month still running."""
    require(actor, Permission.assessment_edit)
    return RollupOut(period=month, cells=service.rollup(session, settings, clock, _period(month)))
