"""The assessment's JSON: what the API answers and `jiesu assess ... --json` prints.

The ranking's shape is export.to_dict's (the same figures as the CSV and the Excel file); these models
describe it for the OpenAPI document. Rates are fractions (0.933), the composite and its change points;
a rate is null when its denominator is 0 (no counted dispatch for the response rate, no valid callback for
the others), never 0.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from jiesu import glossary
from jiesu.assessment import rules
from jiesu.assessment.formulas import Rates
from jiesu.assessment.models import FactKind, RateFact, SignFact
from jiesu.tickets.models import Ticket
from jiesu.tickets.rules import STATE_LABELS, TicketState
from jiesu.units.models import Unit

RESOLUTION_NAMES = {2: "resolved", 1: "partly", 0: "unresolved"}
SATISFACTION_NAMES = {2: "satisfied", 1: "basically", 0: "unsatisfied"}
KIND_LABELS = glossary.labels("fact_kind", FactKind)


class CountsOut(BaseModel):
    dispatched: int = Field(description="计入派单量: dispatches to the unit in the period, signed or past their sign "
                                        "deadline, without upheld returns and excluded categories")
    signed: int = Field(description="按时签收: signed within the sign deadline")
    late: int = Field(description="超时签收: signed after it")
    missed: int = Field(description="逾期未签收: not signed, the deadline passed")
    not_in_time: int = Field(description="late + missed: the /assessment/behind measure not_in_time")
    pending: int = Field(description="待签收: not signed, the deadline ahead; not counted yet")
    sign_upheld: int = Field(description="dispatches returned, the return upheld: not counted")
    valid: int = Field(description="有效回访量: reached callbacks, without upheld returns and excluded categories")
    contacted: int
    resolved: int
    partly: int
    unresolved: int
    satisfied: int
    basically: int
    unsatisfied: int


class RatesOut(BaseModel):
    response: float | None = Field(description="响应率 = signed / dispatched, a fraction; null without a counted "
                                               "dispatch")
    contact: float | None = Field(description="联系率 = contacted / valid, a fraction; null without valid callbacks")
    resolution: float | None = Field(description="解决率, a fraction")
    satisfaction: float | None = Field(description="满意率, a fraction")
    composite: float | None = Field(description="综合得分, in points (0-100)")


class TotalOut(RatesOut, CountsOut):
    pass


class RankingRowOut(RatesOut, CountsOut):
    rank: int | None = Field(description="within its group (街道, 乡镇, 区, 市级部门 ...); null: below min_sample")
    rank_in_district: int | None
    key: str = Field(description="unit code, or district code; the `key` of /assessment/behind")
    name: str
    group: str
    district: str | None
    ranked: bool
    bottom: bool = Field(description="末位: named at the bottom of its group")
    previous: float | None = Field(description="last period's composite")
    change: float | None = Field(description="环比: composite minus last period's, in points")
    unreachable: int
    upheld_returns: int
    excluded_category: int


class WindowOut(BaseModel):
    start: datetime
    end: datetime = Field(description="exclusive")
    first_day: str
    last_day: str
    timezone: str


class FormulaOut(BaseModel):
    weight_response: float
    weight_contact: float
    weight_resolution: float
    weight_satisfaction: float
    basically_factor: float
    partly_factor: float


class TotalsOut(BaseModel):
    table: TotalOut = Field(description="the rows of this ranking summed (本表合计)")
    all: TotalOut = Field(description="every unit's callbacks in the period (全市合计)")


class ExcludedOut(BaseModel):
    unreachable: int
    upheld_returns: int
    excluded_category: int
    excluded_codes: list[str]


class RankingOut(BaseModel):
    period: str
    level: str
    level_label: str
    title: str
    window: WindowOut
    source: str = Field(description="rollup: a closed month's kept cells; facts: read live")
    formulas: list[str]
    formula: FormulaOut
    min_sample: int
    totals: TotalsOut
    excluded: ExcludedOut
    measures: list[str] = Field(description="what /assessment/behind drills into")
    rows: list[RankingRowOut]


class TrendKeyOut(RatesOut):
    key: str  # unit code, or district code
    name: str


class TrendPointOut(BaseModel):
    period: str
    total: RatesOut
    rows: list[TrendKeyOut]


class TrendOut(BaseModel):
    period: str
    months: int
    level: str
    points: list[TrendPointOut]


class BehindItemOut(BaseModel):
    """One ticket behind a figure. A callback's measure gives callback, unreachable or upheld_return items (with
    the callback's answers); a response-rate measure gives sign_* items (with the dispatch's times)."""

    number: str
    state: TicketState
    state_label: str
    unit_code: str | None
    unit_name: str | None
    district_code: str | None
    kind: FactKind = Field(description="what the ticket counted as: callback, unreachable, upheld_return, or for "
                                       "the response rate sign_on_time, sign_late, sign_missed, sign_pending, "
                                       "sign_void, sign_upheld")
    kind_label: str
    at: datetime = Field(description="the callback's time, or the dispatch's")
    dispatched_at: datetime | None = Field(None, description="when it was dispatched to the unit; null unless a "
                                                             "sign_* item")
    sign_by: datetime | None = Field(None, description="its sign deadline; null unless a sign_* item (or not kept)")
    signed_at: datetime | None = Field(None, description="when the unit signed; null if it did not")
    contacted: bool | None = Field(description="null unless the fact is a reached callback")
    resolution: str | None = Field(description="resolved, partly or unresolved; null unless a reached callback")
    satisfaction: str | None = Field(description="satisfied, basically or unsatisfied")


class BehindOut(BaseModel):
    period: str
    level: str
    key: str | None
    measure: str
    total: int
    limit: int
    offset: int
    items: list[BehindItemOut]


class TicketBriefOut(BaseModel):
    number: str
    state: TicketState
    state_label: str
    unit_code: str | None
    unit_name: str | None
    district_code: str | None
    created_at: datetime
    sign_by: datetime | None
    reply_by: datetime | None
    reopened: int


class ReopenedUnitOut(BaseModel):
    code: str
    name: str
    reopened_twice: int = Field(description="tickets reopened at least twice")
    reopen_events: int = Field(description="reopenings (重办) in the period")


class SupervisionOut(BaseModel):
    period: str
    counts: dict[str, int]
    sign_overdue: list[TicketBriefOut]
    reply_overdue: list[TicketBriefOut]
    escalated: list[TicketBriefOut]
    reopened_units: list[ReopenedUnitOut]


class RollupOut(BaseModel):
    period: str
    cells: int


# --- builders ---------------------------------------------------------------------------------------------

def rates_dict(r: Rates) -> dict:
    return {"response": r.response, "contact": r.contact, "resolution": r.resolution,
            "satisfaction": r.satisfaction, "composite": r.composite}


def trend_out(period: str, months: int, level: str, points) -> TrendOut:
    return TrendOut(period=period, months=months, level=level, points=[
        TrendPointOut(period=p, total=RatesOut(**rates_dict(total)),
                      rows=[TrendKeyOut(key=key, name=name, **rates_dict(r))
                            for key, (name, r) in sorted(per.items())])
        for p, total, per in points])


def behind_out(session: Session, period: str, level: str, key: str | None, measure: str, limit: int, offset: int,
               pairs: list[tuple[RateFact | SignFact, Ticket]], total: int, now: datetime) -> BehindOut:
    """`now`: the moment service.behind chose the sign facts at (an unsigned one is a miss past its deadline)."""
    ids = {f.unit_id for f, _ in pairs}
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(ids)))} if ids else {}
    items = []
    for f, t in pairs:
        unit = units.get(f.unit_id)
        common = dict(number=t.number, state=t.state, state_label=STATE_LABELS[t.state],
                      unit_code=unit.code if unit else None, unit_name=unit.name if unit else None,
                      district_code=f.district_code)
        if isinstance(f, SignFact):
            kind = FactKind(rules.sign_kind(f.status, f.sign_by, now))
            items.append(BehindItemOut(**common, kind=kind, kind_label=KIND_LABELS[kind], at=f.dispatched_at,
                                       dispatched_at=f.dispatched_at, sign_by=f.sign_by, signed_at=f.signed_at,
                                       contacted=None, resolution=None, satisfaction=None))
            continue
        answered = f.kind == FactKind.callback
        items.append(BehindItemOut(
            **common, kind=f.kind, kind_label=KIND_LABELS[f.kind], at=f.at,
            contacted=f.contacted if answered else None,
            resolution=RESOLUTION_NAMES[f.resolution] if answered else None,
            satisfaction=SATISFACTION_NAMES[f.satisfaction] if answered else None))
    return BehindOut(period=period, level=level, key=key, measure=measure, total=total, limit=limit, offset=offset,
                     items=items)


def ticket_brief(t: Ticket) -> TicketBriefOut:
    unit = t.main_unit
    return TicketBriefOut(number=t.number, state=t.state, state_label=STATE_LABELS[t.state],
                          unit_code=unit.code if unit else None, unit_name=unit.name if unit else None,
                          district_code=t.district_code, created_at=t.created_at, sign_by=t.sign_by,
                          reply_by=t.reply_by, reopened=t.reopened)


def supervision_out(period: str, s) -> SupervisionOut:
    return SupervisionOut(period=period, counts=dict(s.counts),
                          sign_overdue=[ticket_brief(t) for t in s.sign_overdue],
                          reply_overdue=[ticket_brief(t) for t in s.reply_overdue],
                          escalated=[ticket_brief(t) for t in s.escalated],
                          reopened_units=[ReopenedUnitOut(code=u.code, name=u.name, reopened_twice=twice,
                                                          reopen_events=n) for u, twice, n in s.reopened_units])
