"""The assessment (考核): three rates per unit, district and department; monthly rankings; supervision lists.

Facts are written as callbacks and steps happen (`record_*`, in the caller's transaction): one row per ticket,
unit and period, holding the last answers of that period (RateFact), and one per dispatch to a unit, saying
whether it was signed in time (SignFact, replayed from the ticket's events by rules.replay). A ranking sums
facts into cells (unit x district x category x kind); a closed period's cells are kept (`rollup`), so that
ranking a past month reads a few thousand rows however many tickets it had. `direct_cells` computes the same
cells from the callbacks and the event log alone; a test holds the two to the same numbers.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import Integer, case, delete, func, insert, null, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jiesu import glossary
from jiesu.assessment import rules
from jiesu.assessment.formulas import Counts, Formula, Rates
from jiesu.assessment.models import FactKind, RateCell, RateFact, RateRollup, SignFact
from jiesu.callback.models import Callback, Resolution, Satisfaction
from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.errors import InvalidInput, check_page
from jiesu.permissions import Actor, Permission, require
from jiesu.places.models import Area, AreaLevel
from jiesu.taxonomy import service as taxonomy
from jiesu.taxonomy.models import Category
from jiesu.tickets import reading
from jiesu.tickets.models import Ticket, TicketEvent
from jiesu.tickets.rules import OPEN_WORK, Step, TicketState
from jiesu.units.models import UNIT_KIND_LABELS, Unit, UnitKind

LEVELS = ("street", "district", "department")
LEVEL_LABELS = glossary.labels("assessment_level", LEVELS)
RESOLUTION_SCORE = {Resolution.resolved: 2, Resolution.partly: 1, Resolution.unresolved: 0}
SATISFACTION_SCORE = {Satisfaction.satisfied: 2, Satisfaction.basically: 1, Satisfaction.unsatisfied: 0}
MEASURES = ("valid", "contacted", "not_contacted", "resolved", "partly", "unresolved", "satisfied", "basically",
            "unsatisfied", "unreachable", "upheld_return", "excluded_category")
# The response rate's drill-down: the sign facts behind each of its figures (rules.sign_kind at the clock's now).
SIGN_MEASURES = {"dispatched": ("sign_on_time", "sign_late", "sign_missed"), "signed": ("sign_on_time",),
                 "not_in_time": ("sign_late", "sign_missed"), "late": ("sign_late",), "missed": ("sign_missed",),
                 "pending": ("sign_pending", "sign_returned"), "sign_upheld": ("sign_upheld",)}
ALL_MEASURES = MEASURES + tuple(SIGN_MEASURES)


def _check(period: str, level: str = "street") -> None:
    """A month and a level as a user typed them: wrong ones are refused naming the field."""
    try:
        rules.parse_period(period)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="month") from None
    if level not in LEVELS:
        raise InvalidInput(f"level is one of {', '.join(LEVELS)}", field="level")


# --- facts, written as things happen -------------------------------------------------------------------

def _period(settings: Settings, at: datetime) -> str:
    return rules.period_of(at, settings.tz, settings.assess_month_start_day)


def _upsert_fact(session: Session, period: str, ticket: Ticket, unit_id: int, kind: FactKind, at: datetime,
                 callback: Callback | None, *, replace_callback: bool = True) -> None:
    fact = session.scalar(select(RateFact).where(RateFact.period == period, RateFact.ticket_id == ticket.id,
                                                 RateFact.unit_id == unit_id))
    if fact is None:
        fact = RateFact(period=period, ticket_id=ticket.id, unit_id=unit_id)
        session.add(fact)
    elif fact.kind == FactKind.callback and not replace_callback:
        return  # a reached callback of the period outweighs a later round that reached no one
    fact.kind, fact.at = kind, at
    fact.callback_id = callback.id if callback else None
    fact.district_code, fact.category_id = ticket.district_code, ticket.category_id
    fact.contacted = bool(callback and callback.contacted)
    fact.resolution = RESOLUTION_SCORE.get(callback.resolution, 0) if callback else 0
    fact.satisfaction = SATISFACTION_SCORE.get(callback.satisfaction, 0) if callback else 0
    session.flush()


def record_callback(session: Session, settings: Settings, ticket: Ticket, callback: Callback) -> None:
    """A reached callback: the ticket counts for its unit this period with these answers (the last of the
    period wins: a ticket reopened and called back again in the same month counts once)."""
    if callback.unit_id is not None:
        _upsert_fact(session, _period(settings, callback.at), ticket, callback.unit_id, FactKind.callback,
                     callback.at, callback)


def record_unreachable(session: Session, settings: Settings, ticket: Ticket, callback: Callback) -> None:
    if callback.unit_id is not None:
        _upsert_fact(session, _period(settings, callback.at), ticket, callback.unit_id, FactKind.unreachable,
                     callback.at, None, replace_callback=False)


def record_upheld_return(session: Session, settings: Settings, ticket: Ticket, unit_id: int, at: datetime) -> None:
    """The centre ruled the ticket not this unit's: whatever it counted for the unit this period is replaced."""
    _upsert_fact(session, _period(settings, at), ticket, unit_id, FactKind.upheld_return, at, None)


def _spell_facts(settings: Settings, spells: list[rules.Spell], units: dict[str, int], district: str | None,
                 category: int | None) -> dict[tuple[str, int], dict]:
    """A ticket's sign facts from its spells, keyed (period, unit): the last spell of a unit in a period wins."""
    out: dict[tuple[str, int], dict] = {}
    for spell in spells:
        unit_id = units.get(spell.unit)
        if unit_id is None:
            continue
        period = _period(settings, spell.dispatched_at)
        out[(period, unit_id)] = dict(period=period, unit_id=unit_id, district_code=district, category_id=category,
                                      dispatched_at=spell.dispatched_at, sign_by=spell.sign_by,
                                      signed_at=spell.signed_at, status=spell.status)
    return out


def _decoded(rows: Iterable) -> Iterable[tuple[str, datetime, dict]]:
    return ((action, at, json.loads(payload or "{}")) for action, at, payload in rows)


def _unit_ids(session: Session, spells: Iterable[rules.Spell]) -> dict[str, int]:
    codes = {s.unit for s in spells}
    if not codes:
        return {}
    return dict(session.execute(select(Unit.code, Unit.id).where(Unit.code.in_(codes))).all())


def record_step(session: Session, settings: Settings, ticket: Ticket, step: Step) -> None:
    """A step that dispatches, signs, returns or ends a ticket: its sign facts replayed from its events (the rule
    `jiesu assess rebuild` applies to the whole log), written where they differ. The ticket's row is locked by
    the step, so no other writer changes its facts meanwhile."""
    if step.value not in rules.SIGN_ACTIONS:
        return
    e = TicketEvent
    spells = rules.replay(_decoded(session.execute(
        select(e.action, e.at, e.payload).where(e.ticket_id == ticket.id, e.action.in_(rules.SIGN_ACTIONS))
        .order_by(e.seq))))
    wanted = _spell_facts(settings, spells, _unit_ids(session, spells), ticket.district_code, ticket.category_id)
    for fact in session.scalars(select(SignFact).where(SignFact.ticket_id == ticket.id)):
        now = wanted.pop((fact.period, fact.unit_id), None)
        if now is None:
            session.delete(fact)
        else:
            for name, value in now.items():
                setattr(fact, name, value)
    for fact in wanted.values():
        session.add(SignFact(ticket_id=ticket.id, **fact))
    session.flush()


def direct_sign_facts(session: Session, settings: Settings, period: str) -> list[dict]:
    """The period's sign facts from the event log alone: every ticket dispatched (or re-dispatched) in the
    period, its signing replayed (rules.replay) through whatever came after."""
    start, end = rules.window(period, settings.tz, settings.assess_month_start_day)
    e = TicketEvent
    # An imported ticket's one event is at the moment of the import: its dispatch is the ticket's dispatched_at.
    imported = (select(e.ticket_id).join(Ticket, Ticket.id == e.ticket_id)
                .where(e.action == "import", Ticket.dispatched_at >= start, Ticket.dispatched_at < end))
    sent = (select(e.ticket_id).where(e.action.in_(("dispatch", "uphold_return")), e.at >= start, e.at < end)
            .union(imported).subquery())
    rows = session.execute(select(e.ticket_id, e.action, e.at, e.payload, Ticket.district_code, Ticket.category_id)
                           .join(sent, sent.c.ticket_id == e.ticket_id).join(Ticket, Ticket.id == e.ticket_id)
                           .where(e.action.in_(rules.SIGN_ACTIONS)).order_by(e.ticket_id, e.seq))
    by_ticket: dict[int, tuple[str | None, int | None, list[tuple]]] = {}
    for ticket_id, action, at, payload, district, category in rows:
        by_ticket.setdefault(ticket_id, (district, category, []))[2].append((action, at, payload))
    replayed = {tid: (d, c, rules.replay(_decoded(evs))) for tid, (d, c, evs) in by_ticket.items()}
    units = _unit_ids(session, (s for _, _, spells in replayed.values() for s in spells))
    out = []
    for ticket_id, (district, category, spells) in replayed.items():
        for (p, _), fact in _spell_facts(settings, spells, units, district, category).items():
            if p == period:
                out.append(dict(ticket_id=ticket_id, **fact))
    return out


# --- cells: facts summed --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    unit_id: int
    district_code: str | None
    category_id: int | None
    kind: FactKind
    tickets: int
    contacted: int = 0
    resolved: int = 0
    partly: int = 0
    satisfied: int = 0
    basically: int = 0


def _fact_sums() -> list:
    """Per group of facts: tickets, contacted, resolved, partly, satisfied, basically (a Cell's counts)."""
    f = RateFact

    def n(cond):
        return func.sum(case((cond, 1), else_=0)).cast(Integer)

    return [func.count(), n(f.contacted.is_(True)), n(f.resolution == 2), n(f.resolution == 1),
            n(f.satisfaction == 2), n(f.satisfaction == 1)]


def _fact_cells_stmt(period: str):
    f = RateFact
    return (select(f.unit_id, f.district_code, f.category_id, f.kind, *_fact_sums())
            .where(f.period == period).group_by(f.unit_id, f.district_code, f.category_id, f.kind))


def _sign_kind(now: datetime):
    """rules.sign_kind in SQL: the cell a sign fact counts in at `now`."""
    f, st = SignFact, rules.SignStatus
    return case((f.status == st.open, case((f.sign_by.is_not(None) & (f.sign_by < now), "sign_missed"),
                                           else_="sign_pending")),
                (f.status == st.on_time, "sign_on_time"), (f.status == st.late, "sign_late"),
                (f.status == st.unsigned, "sign_missed"), (f.status == st.void, "sign_void"),
                (f.status == st.returned, "sign_returned"), else_="sign_upheld")


def _sign_cells_stmt(period: str, now: datetime, category=None):
    f = SignFact
    kind = _sign_kind(now)
    cat = f.category_id if category is None else category
    return (select(f.unit_id, f.district_code, cat, kind, func.count())
            .where(f.period == period).group_by(f.unit_id, f.district_code, cat, kind))


def fact_cells(session: Session, period: str, now: datetime) -> list[Cell]:
    """The period's cells summed from its facts (callbacks and signing), as they stand at `now`."""
    out = [Cell(*row) for row in session.execute(_fact_cells_stmt(period))]
    return out + [Cell(u, d, c, FactKind(k), n) for u, d, c, k, n in session.execute(_sign_cells_stmt(period, now))]


def stored_cells(session: Session, period: str) -> list[Cell] | None:
    if session.get(RateRollup, period) is None:
        return None
    c = RateCell
    rows = session.execute(select(c.unit_id, c.district_code, c.category_id, c.kind, c.tickets, c.contacted,
                                  c.resolved, c.partly, c.satisfied, c.basically).where(c.period == period))
    return [Cell(*row) for row in rows]


def closed_window(settings: Settings, clock: Clock, period: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC of a period that has ended: what may be rolled up. A malformed month, or one still
    running (its figures still change: they are read live), is refused naming `month`."""
    try:
        rules.parse_period(period)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="month") from None
    start, end = rules.window(period, settings.tz, settings.assess_month_start_day)
    if end > clock.now():
        raise InvalidInput(f"{period} has not ended yet: its figures are read live", field="month")
    return start, end


def rollup(session: Session, settings: Settings, clock: Clock, period: str) -> int:
    """Keep a closed period's cells. Refused for a period still running: its facts still change."""
    closed_window(settings, clock, period)
    session.execute(delete(RateCell).where(RateCell.period == period))
    session.execute(delete(RateRollup).where(RateRollup.period == period))
    # The rollup's row first: a second writer of the same period waits here, then fails, before any cell.
    kept = RateRollup(period=period, built_at=clock.now(), facts=0)
    session.add(kept)
    session.flush()
    cells = fact_cells(session, period, clock.now())
    if cells:
        session.execute(insert(RateCell), [dict(period=period, **c.__dict__) for c in cells])
    kept.facts = sum(c.tickets for c in cells)
    session.flush()
    return len(cells)


def invalidate(session: Session, periods: Iterable[str]) -> None:
    """Facts of these periods changed behind the rollup (an import): read them live until rolled up again."""
    periods = list(periods)
    if periods:
        session.execute(delete(RateCell).where(RateCell.period.in_(periods)))
        session.execute(delete(RateRollup).where(RateRollup.period.in_(periods)))


def direct_facts(session: Session, settings: Settings, period: str) -> list[dict]:
    """The period's facts from the callbacks and the event log alone: the check that the facts written as
    things happened say what happened, and the source `rebuild` writes them anew from."""
    start, end = rules.window(period, settings.tz, settings.assess_month_start_day)
    tickets: dict[int, tuple[str | None, int | None]] = {}
    last: dict[tuple[int, int], tuple] = {}  # (ticket, unit) -> (order, kind, callback)
    rows = session.execute(select(Callback, Ticket.district_code, Ticket.category_id)
                           .join(Ticket, Ticket.id == Callback.ticket_id)
                           .where(Callback.at >= start, Callback.at < end, Callback.unit_id.is_not(None))
                           .order_by(Callback.at, Callback.id))
    for cb, district, category in rows:
        tickets[cb.ticket_id] = (district, category)
        key = (cb.ticket_id, cb.unit_id)
        if cb.reached:
            last[key] = ((cb.at, cb.id), FactKind.callback, cb)
        elif cb.attempt >= settings.callback_attempts and (key not in last or last[key][1] != FactKind.callback):
            last[key] = ((cb.at, cb.id), FactKind.unreachable, cb)
    units = {code: uid for uid, code in session.execute(select(Unit.id, Unit.code))}
    events = session.execute(select(TicketEvent, Ticket.district_code, Ticket.category_id)
                             .join(Ticket, Ticket.id == TicketEvent.ticket_id)
                             .where(TicketEvent.action == "uphold_return", TicketEvent.at >= start,
                                    TicketEvent.at < end))
    for ev, district, category in events:
        unit_id = units.get(json.loads(ev.payload or "{}").get("from_unit"))
        if unit_id is None:
            continue
        tickets[ev.ticket_id] = (district, category)
        key = (ev.ticket_id, unit_id)
        if key not in last or last[key][0] < (ev.at, 0):
            last[key] = ((ev.at, 0), FactKind.upheld_return, None)
    out = []
    for (ticket_id, unit_id), ((at, _), kind, cb) in last.items():
        district, category = tickets[ticket_id]
        answered = cb if kind == FactKind.callback else None
        out.append(dict(ticket_id=ticket_id, unit_id=unit_id, kind=kind, at=at,
                        callback_id=answered.id if answered else None, district_code=district,
                        category_id=category, contacted=bool(answered and answered.contacted),
                        resolution=RESOLUTION_SCORE.get(answered.resolution, 0) if answered else 0,
                        satisfaction=SATISFACTION_SCORE.get(answered.satisfaction, 0) if answered else 0))
    return out


def direct_cells(session: Session, settings: Settings, period: str, now: datetime) -> list[Cell]:
    """The period's cells from the callbacks and the event log alone, sign facts as they stand at `now`."""
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0] * 6)
    for f in direct_facts(session, settings, period):
        s = sums[(f["unit_id"], f["district_code"], f["category_id"], f["kind"])]
        s[0] += 1
        s[1] += f["contacted"]
        s[2] += f["resolution"] == 2
        s[3] += f["resolution"] == 1
        s[4] += f["satisfaction"] == 2
        s[5] += f["satisfaction"] == 1
    for f in direct_sign_facts(session, settings, period):
        kind = FactKind(rules.sign_kind(f["status"], f["sign_by"], now))
        sums[(f["unit_id"], f["district_code"], f["category_id"], kind)][0] += 1
    return [Cell(*key, *s) for key, s in sums.items()]


# --- rankings -------------------------------------------------------------------------------------------

@dataclass
class Row:
    key: str  # unit code, or district code
    name: str
    group: str  # the ranking it is ranked in: 街道, 乡镇, 区, 部门 ...
    district: str | None  # district name (streets)
    counts: Counts
    rates: Rates
    unreachable: int = 0
    upheld_returns: int = 0  # callbacks of tickets whose return was upheld
    excluded_category: int = 0
    sign_upheld: int = 0  # dispatches returned, the return upheld: not counted in the response rate
    rank: int | None = None  # within its group; None: below the minimum sample
    rank_in_district: int | None = None
    previous: float | None = None  # last period's composite
    bottom: bool = False  # named at the bottom of its group

    @property
    def change(self) -> float | None:
        if self.previous is None or self.rates.composite is None:
            return None
        return self.rates.composite - self.previous


@dataclass
class Ranking:
    period: str
    level: str
    start: datetime
    end: datetime
    formula: Formula
    min_sample: int
    rows: list[Row]
    total: Counts
    total_rates: Rates
    unreachable: int
    upheld_returns: int
    excluded_category: int
    excluded_codes: list[str]
    source: str  # "rollup" (a closed period's cells) or "facts" (read live)
    formulas: list[str] = field(default_factory=list)
    sign_upheld: int = 0


@dataclass
class _Who:
    key: str
    name: str
    group: str
    district: str | None


class _Directory:
    """Units and districts by id and code, with what each level ranks them as."""

    def __init__(self, session: Session) -> None:
        # Columns, not ORM objects: a city has thousands of units, and a ranking needs six facts of each.
        self.units = {u.id: u for u in session.execute(select(Unit.id, Unit.code, Unit.name, Unit.kind,
                                                              Unit.parent_id, Unit.area_id))}
        areas = session.execute(select(Area.id, Area.code, Area.name, Area.kind, Area.level, Area.district_code)
                                .where(Area.level.in_([AreaLevel.district, AreaLevel.street])))
        self.areas = {a.id: a for a in areas}
        self.districts = {a.code: a.name for a in self.areas.values() if a.level == AreaLevel.district}

    def who(self, level: str, unit_id: int, district_code: str | None) -> _Who | None:
        if level == "district":
            if not district_code:
                return None
            return _Who(district_code, self.districts.get(district_code, district_code), "区", None)
        unit = self.units.get(unit_id)
        if unit is None:
            return None
        if level == "street":
            if unit.kind != UnitKind.street:
                return None
            area = self.areas.get(unit.area_id)
            district = self.districts.get(area.district_code) if area else None
            return _Who(unit.code, unit.name, rules.street_kind(area.kind if area else None, unit.name), district)
        if unit.kind == UnitKind.department_branch and unit.parent_id in self.units:
            unit = self.units[unit.parent_id]  # a branch's tickets count for its department
        if unit.kind in (UnitKind.department, UnitKind.utility):  # grouped as 市级部门, 公共服务企业
            return _Who(unit.code, unit.name, UNIT_KIND_LABELS[unit.kind], None)
        return None


def _excluded_ids(session: Session, settings: Settings) -> tuple[set[int], list[str]]:
    codes = [c.strip() for c in settings.assess_excluded_categories.split(",") if c.strip()]
    if not codes:
        return set(), []
    cats = session.execute(select(Category.id, Category.code, Category.parent_id)).all()
    children: dict[int | None, list[int]] = defaultdict(list)
    for cid, _, parent in cats:
        children[parent].append(cid)
    todo = [cid for cid, code, _ in cats if code in codes]
    out: set[int] = set()
    while todo:
        cid = todo.pop()
        if cid not in out:
            out.add(cid)
            todo.extend(children[cid])
    return out, codes


EXCLUDED = -1  # a ranking cell's category_id when it sums the excluded categories' tickets


def cells(session: Session, settings: Settings, clock: Clock, period: str, *, prefer_rollup: bool = True,
          excluded: set[int] | frozenset[int] = frozenset()) -> tuple[list[Cell], str]:
    """The period's counts at the ranking's grain: per unit, district and kind, the excluded categories'
    tickets apart (category_id EXCLUDED), summed in the database from the kept rollup or from the facts (sign
    facts as they stand now: an unsigned dispatch past its deadline is a miss, one before it pending)."""
    def category(table):
        return case((table.category_id.in_(excluded), EXCLUDED), else_=None) if excluded else null()

    def grouped(table, kind, sums):
        cat = category(table)
        keys = [table.unit_id, table.district_code, kind] + ([cat] if excluded else [])
        stmt = (select(table.unit_id, table.district_code, cat, kind, *sums)
                .where(table.period == period).group_by(*keys))
        return [Cell(u, d, c, FactKind(k), *n) for u, d, c, k, *n in session.execute(stmt)]

    if prefer_rollup and session.get(RateRollup, period) is not None:
        c = RateCell
        return grouped(c, c.kind, [func.sum(col).cast(Integer) for col in (
            c.tickets, c.contacted, c.resolved, c.partly, c.satisfied, c.basically)]), "rollup"
    return (grouped(RateFact, RateFact.kind, _fact_sums())
            + grouped(SignFact, _sign_kind(clock.now()), [func.count()])), "facts"


# What a ranked key sums, by name: the callbacks' counts, then what is counted beside them.
SUMS = ("valid", "contacted", "resolved", "partly", "satisfied", "basically", "signed", "late", "missed", "pending",
        "unreachable", "upheld", "excluded", "sign_upheld")
_SIGN_SUM = {FactKind.sign_on_time: "signed", FactKind.sign_late: "late", FactKind.sign_missed: "missed",
             FactKind.sign_pending: "pending", FactKind.sign_returned: "pending", FactKind.sign_upheld: "sign_upheld"}
_N_COUNTS = 10  # the first SUMS make a Counts


def _sums_of(c: Cell, excluded: set[int]) -> dict[str, int]:
    """A cell's counts by name. An excluded category's callbacks are counted apart and its dispatches not at all;
    what is left out whatever the category (未联系上, upheld returns) is counted as such, as `behind` lists it."""
    if c.category_id == EXCLUDED or c.category_id in excluded:
        if c.kind == FactKind.callback:
            return {"excluded": c.tickets}
        if c.kind not in (FactKind.unreachable, FactKind.upheld_return, FactKind.sign_upheld):
            return {}
    if c.kind == FactKind.callback:
        return {"valid": c.tickets, "contacted": c.contacted, "resolved": c.resolved, "partly": c.partly,
                "satisfied": c.satisfied, "basically": c.basically}
    if c.kind == FactKind.unreachable:
        return {"unreachable": c.tickets}
    if c.kind == FactKind.upheld_return:
        return {"upheld": c.tickets}
    name = _SIGN_SUM.get(c.kind)
    return {name: c.tickets} if name else {}  # sign_void: not counted anywhere


def _counts(sums: list[int]) -> Counts:
    return Counts(*sums[:_N_COUNTS])


def _aggregate(directory: _Directory, level: str, cell_list: list[Cell], excluded: set[int]
               ) -> tuple[dict[str, tuple[_Who, list[int]]], list[int]]:
    """Per ranked key: its sums in the order of SUMS; and the same summed over everything, ranked or not."""
    index = {name: i for i, name in enumerate(SUMS)}
    out: dict[str, tuple[_Who, list[int]]] = {}
    total = [0] * len(SUMS)
    for c in cell_list:
        add = _sums_of(c, excluded)
        if not add:
            continue
        for name, v in add.items():
            total[index[name]] += v
        who = directory.who(level, c.unit_id, c.district_code)
        if who is None:
            continue
        if who.key not in out:
            out[who.key] = (who, [0] * len(SUMS))
        sums = out[who.key][1]
        for name, v in add.items():
            sums[index[name]] += v
    return out, total


def ranking(session: Session, actor: Actor, settings: Settings, clock: Clock, period: str, level: str = "street",
            *, prefer_rollup: bool = True) -> Ranking:
    """One period's ranking at one level, with last period's composite beside each row."""
    require(actor, Permission.assessment_read)
    _check(period, level)
    formula = Formula.from_settings(settings)
    excluded, codes = _excluded_ids(session, settings)
    directory = _Directory(session)
    now_cells, source = cells(session, settings, clock, period, prefer_rollup=prefer_rollup, excluded=excluded)
    groups, total = _aggregate(directory, level, now_cells, excluded)
    before, _ = _aggregate(directory, level, cells(session, settings, clock, rules.shift(period, -1),
                                                   prefer_rollup=prefer_rollup, excluded=excluded)[0], excluded)
    i = {name: k for k, name in enumerate(SUMS)}
    rows = []
    for key, (who, s) in groups.items():
        counts = _counts(s)
        prev = before.get(key)
        previous = formula.rates(_counts(prev[1])).composite if prev else None
        rows.append(Row(key, who.name, who.group, who.district, counts, formula.rates(counts), s[i["unreachable"]],
                        s[i["upheld"]], s[i["excluded"]], sign_upheld=s[i["sign_upheld"]], previous=previous))
    _rank(rows, settings.assess_min_sample, settings.assess_bottom)
    start, end = rules.window(period, settings.tz, settings.assess_month_start_day)
    total_counts = _counts(total)
    return Ranking(period, level, start, end, formula, settings.assess_min_sample, rows, total_counts,
                   formula.rates(total_counts), total[i["unreachable"]], total[i["upheld"]], total[i["excluded"]],
                   codes, source, formula.describe(), sign_upheld=total[i["sign_upheld"]])


def _rank(rows: list[Row], min_sample: int, bottom: int) -> None:
    """Competition ranking (1, 2, 2, 4) by composite, within each group and within each district; a unit with
    fewer valid callbacks than min_sample is listed, not ranked. The last `bottom` ranked of a group are named."""
    def order(r: Row) -> tuple:
        return (-(r.rates.composite or 0), -r.counts.valid, r.key)

    def ranks(members: list[Row]) -> list[tuple[Row, int]]:
        out, last, place = [], None, 0
        for i, r in enumerate(sorted(members, key=order)):
            score = round(r.rates.composite or 0, 9)
            if score != last:
                place, last = i + 1, score
            out.append((r, place))
        return out

    ranked = [r for r in rows if r.counts.valid >= min_sample]
    by_group: dict[str, list[Row]] = defaultdict(list)
    by_district: dict[str | None, list[Row]] = defaultdict(list)
    for r in ranked:
        by_group[r.group].append(r)
        if r.district:
            by_district[r.district].append(r)
    for members in by_group.values():
        placed = ranks(members)
        for r, place in placed:
            r.rank = place
        # The bottom of a group is named, never more than a quarter of it (3 of 5 would name the middle too).
        named = min(bottom, max(1, len(placed) // 4)) if len(placed) > bottom else 0
        for r, _ in placed[len(placed) - named:]:
            r.bottom = True
    for members in by_district.values():
        for r, place in ranks(members):
            r.rank_in_district = place
    rows.sort(key=lambda r: (r.group, r.rank is None, r.rank or 0, order(r)))


def trend(session: Session, actor: Actor, settings: Settings, clock: Clock, period: str, months: int = 6,
          level: str = "district") -> list[tuple[str, Rates, dict[str, tuple[str, Rates]]]]:
    """The city's rates and each key's composite over the last `months` periods up to `period`."""
    require(actor, Permission.assessment_read)
    if not 1 <= months <= 36:
        raise InvalidInput("months is 1 to 36", field="months")
    _check(period, level)
    formula = Formula.from_settings(settings)
    excluded, _ = _excluded_ids(session, settings)
    directory = _Directory(session)
    out = []
    for k in range(months - 1, -1, -1):
        p = rules.shift(period, -k)
        groups, total = _aggregate(directory, level, cells(session, settings, clock, p, excluded=excluded)[0],
                                   excluded)
        # keyed by code: two streets may share a name (八里庄街道 in 朝阳 and in 海淀)
        per = {key: (who.name, formula.rates(_counts(s))) for key, (who, s) in groups.items()}
        out.append((p, formula.rates(_counts(total)), per))
    return out


# --- drill-down and supervision -------------------------------------------------------------------------

def _measure_filter(measure: str):
    f = RateFact
    valid = f.kind == FactKind.callback
    return {
        "valid": valid, "contacted": valid & f.contacted.is_(True), "not_contacted": valid & f.contacted.is_(False),
        "resolved": valid & (f.resolution == 2), "partly": valid & (f.resolution == 1),
        "unresolved": valid & (f.resolution == 0), "satisfied": valid & (f.satisfaction == 2),
        "basically": valid & (f.satisfaction == 1), "unsatisfied": valid & (f.satisfaction == 0),
        "unreachable": f.kind == FactKind.unreachable, "upheld_return": f.kind == FactKind.upheld_return,
        "excluded_category": valid,
    }[measure]


def behind(session: Session, actor: Actor, settings: Settings, clock: Clock, period: str, level: str,
           key: str | None, measure: str = "valid", limit: int = 100, offset: int = 0
           ) -> tuple[list[tuple[RateFact | SignFact, Ticket]], int]:
    """The tickets behind one figure of a ranking: (fact, ticket) pairs, and how many there are. A callback's
    measure gives RateFacts; a measure of the response rate (SIGN_MEASURES) gives SignFacts."""
    require(actor, Permission.assessment_read)
    check_page(limit, offset)
    _check(period, level)
    if measure not in ALL_MEASURES:
        raise InvalidInput(f"measure is one of {', '.join(ALL_MEASURES)}", field="measure")
    excluded, _ = _excluded_ids(session, settings)
    table = SignFact if measure in SIGN_MEASURES else RateFact
    if table is SignFact:
        where = [SignFact.period == period, _sign_kind(clock.now()).in_(SIGN_MEASURES[measure])]
    else:
        where = [RateFact.period == period, _measure_filter(measure)]
    if measure == "excluded_category":
        where.append(table.category_id.in_(excluded or {-1}))
    elif measure not in ("unreachable", "upheld_return", "sign_upheld") and excluded:
        where.append(table.category_id.is_(None) | table.category_id.not_in(excluded))
    if key:
        where.append(_whose(session, level, key, table))
    stmt = reading.readable(actor, ()).join(table, table.ticket_id == Ticket.id).where(*where)
    total = reading.count(session, stmt)
    at = SignFact.dispatched_at if table is SignFact else RateFact.at
    rows = session.execute(stmt.add_columns(table).options(*reading.BRIEF).order_by(at, table.id)
                           .limit(limit).offset(offset))
    return [(f, t) for t, f in rows], total


def _whose(session: Session, level: str, key: str, table):
    """The facts of one ranked key: a district's, or a unit's (a department's with its branches')."""
    if level == "district":
        return table.district_code == key
    unit = session.scalar(select(Unit).where(Unit.code == key))
    if unit is None:
        raise InvalidInput(f"no unit {key}", field="key")
    kinds = {"street": {UnitKind.street}, "department": {UnitKind.department, UnitKind.utility}}[level]
    if unit.kind not in kinds:
        raise InvalidInput(f"{key} is not ranked at level {level}", field="key")
    ids = [unit.id]
    if level == "department":
        ids += list(session.scalars(select(Unit.id).where(Unit.parent_id == unit.id,
                                                          Unit.kind == UnitKind.department_branch)))
    return table.unit_id.in_(ids)


@dataclass
class Supervision:
    sign_overdue: list[Ticket]
    reply_overdue: list[Ticket]
    escalated: list[Ticket]
    reopened_units: list[tuple[Unit, int, int]]  # unit, tickets reopened at least twice, reopen events in period
    counts: dict[str, int]


def supervision(session: Session, actor: Actor, settings: Settings, period: str, limit: int = 50,
                district_code: str | None = None) -> Supervision:
    """Everything a supervisor chases: the tickets open now past a deadline or escalated (whatever the
    month: they are today's work), and the units whose tickets came back (重办) in the period."""
    require(actor, Permission.assessment_read)
    check_page(limit, 0)
    try:
        start, end = rules.window(period, settings.tz, settings.assess_month_start_day)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="month") from None
    open_states = list(OPEN_WORK | {TicketState.replied})
    base = [Ticket.state.in_(open_states)]
    if district_code:
        base.append(Ticket.district_code == district_code)

    def listed(cond) -> tuple[list[Ticket], int]:
        stmt = reading.readable(actor, ()).where(*base, cond)
        n = reading.count(session, stmt)
        return list(session.scalars(stmt.options(*reading.BRIEF).order_by(Ticket.created_at).limit(limit))), n

    # Not signed yet: the flag stays on a ticket signed after its deadline, which no one need chase any more (the
    # home page's count, tickets.reading, says the same).
    sign, n_sign = listed(Ticket.sign_overdue.is_(True) & (Ticket.state == TicketState.dispatched)
                          & Ticket.signed_at.is_(None))
    # Likewise not replied yet: a ticket replied late waits for its callback, not for its unit.
    reply, n_reply = listed(Ticket.reply_overdue.is_(True) & Ticket.state.in_(OPEN_WORK))
    escalated, n_esc = listed(Ticket.escalated.is_(True))
    reopen_events = (select(TicketEvent.ticket_id, func.count().label("n")).where(
        TicketEvent.action == "reopen", TicketEvent.at >= start, TicketEvent.at < end)
        .group_by(TicketEvent.ticket_id).subquery())
    stmt = (select(Ticket.main_unit_id, func.sum(case((Ticket.reopened >= 2, 1), else_=0)),
                   func.sum(reopen_events.c.n))
            .join(reopen_events, reopen_events.c.ticket_id == Ticket.id)
            .where(Ticket.main_unit_id.is_not(None), *([Ticket.district_code == district_code]
                                                       if district_code else []))
            .group_by(Ticket.main_unit_id).order_by(func.sum(reopen_events.c.n).desc()).limit(limit))
    units = {u.id: u for u in session.scalars(select(Unit))}
    reopened = [(units[uid], int(twice or 0), int(n or 0)) for uid, twice, n in session.execute(stmt)
                if uid in units]
    return Supervision(sign, reply, escalated, reopened,
                       {"sign_overdue": n_sign, "reply_overdue": n_reply, "escalated": n_esc,
                        "reopened_units": len(reopened)})


def rebuild(session: Session, settings: Settings, periods: Iterable[str]) -> int:
    """Write the facts of these periods anew from the callbacks and the event log (after the month's start
    day or the callback attempts were changed, the response rate's definition with them, or facts were lost).
    Returns how many facts were written."""
    written = 0
    for period in periods:
        rules.parse_period(period)
        session.execute(delete(RateFact).where(RateFact.period == period))
        session.execute(delete(SignFact).where(SignFact.period == period))
        invalidate(session, [period])
        facts = direct_facts(session, settings, period)
        if facts:
            session.execute(insert(RateFact), [dict(period=period, **f) for f in facts])
        signs = direct_sign_facts(session, settings, period)
        if signs:
            session.execute(insert(SignFact), signs)
        written += len(facts) + len(signs)
    session.flush()
    return written


STARTS = ("dispatch", "uphold_return", "reject_return")  # the steps that set a sign deadline


def sign_facts_missing(session: Session) -> bool:
    """Dispatches on record and no sign fact at all: a database made before the sign facts (revision 0011),
    upgraded or restored from a backup, whose months `backfill_sign_deadlines` and a rebuild bring up to date.
    A database made since writes a fact at its first dispatch."""
    dispatched = session.scalar(select(TicketEvent.id).where(TicketEvent.action.in_(STARTS)).limit(1))
    return dispatched is not None and session.scalar(select(SignFact.id).limit(1)) is None


def backfill_sign_deadlines(session: Session, batch: int = 5000) -> tuple[int, int]:
    """Events written before the sign deadline was kept on them (before revision 0011) get it, so that the
    replay judges their signs as the deadlines did: a ticket's latest such event the deadline the ticket holds
    (it set it), an earlier one its policy's (dispatch time + sign hours, for the category and urgency the
    ticket has: both are settled at dispatch). Returns (exact, from the policy)."""
    e = TicketEvent
    latest = (select(e.ticket_id, func.max(e.seq).label("seq")).where(e.action.in_(STARTS))
              .group_by(e.ticket_id).subquery())
    rows = session.execute(
        select(e.id, e.at, e.payload, e.seq == latest.c.seq, Ticket.sign_by, Category.code, Ticket.urgency)
        .join(Ticket, Ticket.id == e.ticket_id).join(latest, latest.c.ticket_id == e.ticket_id)
        .outerjoin(Category, Category.id == Ticket.category_id)
        .where(e.action.in_(STARTS), e.payload.not_like('%"sign_by"%'))).all()
    hours: dict[tuple, float] = {}
    exact = from_policy = 0
    updates = []
    for event_id, at, payload, is_latest, held, category, urgency in rows:
        if is_latest and held is not None:
            due, exact = held, exact + 1
        else:
            if (category, urgency) not in hours:
                hours[(category, urgency)] = taxonomy.policy_for(session, category, urgency).sign_within_hours
            due, from_policy = at + timedelta(hours=hours[(category, urgency)]), from_policy + 1
        updates.append({"id": event_id, "payload": json.dumps({**json.loads(payload or "{}"),
                                                                     "sign_by": due.isoformat()},
                                                                    ensure_ascii=False)})
    for k in range(0, len(updates), batch):
        session.execute(update(TicketEvent), updates[k:k + batch])  # by primary key, in batches
    return exact, from_policy


def periods_on_record(session: Session, settings: Settings) -> list[str]:
    """Every period something was assessed in: the first dispatch or callback to the clock's last."""
    # an imported ticket's dispatch is its dispatched_at (its one event is at the import's moment)
    firsts = [session.scalar(select(func.min(TicketEvent.at)).where(TicketEvent.action.in_(
        ("dispatch", "uphold_return")))), session.scalar(select(func.min(Ticket.dispatched_at))),
        session.scalar(select(func.min(Callback.at)))]
    lasts = [session.scalar(select(func.max(TicketEvent.at))), session.scalar(select(func.max(Callback.at)))]
    firsts, lasts = [t for t in firsts if t], [t for t in lasts if t]
    if not firsts:
        return []
    first, last = _period(settings, min(firsts)), _period(settings, max(lasts))
    out = [first]
    while out[-1] < last:
        out.append(rules.shift(out[-1], 1))
    return out


@dataclass(frozen=True)
class Change:
    """One figure a rebuild changed: before (as it was published, the response rate by the definition of then:
    contacted / valid) and after."""

    level: str
    key: str
    name: str
    rate: str  # response, contact, resolution, satisfaction, composite
    before: float | None
    after: float | None


@dataclass
class Rebuilt:
    period: str
    facts: int
    kept: bool  # the period had a rollup, kept again from the rebuilt facts
    ranked: dict[str, int]  # per level: how many keys have figures
    changes: list[Change]

    def changed(self, level: str, rate: str) -> int:
        return sum(1 for c in self.changes if c.level == level and c.rate == rate)


RATE_NAMES = ("response", "contact", "resolution", "satisfaction", "composite")


def _figures(session: Session, settings: Settings, clock: Clock, period: str, formula: Formula
             ) -> dict[tuple[str, str], tuple[str, Rates]]:
    excluded, _ = _excluded_ids(session, settings)
    directory = _Directory(session)
    now_cells = cells(session, settings, clock, period, excluded=excluded)[0]
    out = {}
    for level in LEVELS:
        groups, _ = _aggregate(directory, level, now_cells, excluded)
        for key, (who, sums) in groups.items():
            out[(level, key)] = (who.name, formula.rates(_counts(sums)))
    return out


def _earlier(formula: Formula) -> Formula:
    """The formula as Jiesu wrote it before the response rate came from signing: contacted / valid, weighted as
    the response rate is now."""
    return replace(formula, weight_response=0.0, weight_contact=formula.weight_response)


def rebuild_and_compare(session: Session, settings: Settings, clock: Clock, periods: Iterable[str],
                        *, since_signing: bool = False) -> list[Rebuilt]:
    """`rebuild`, period by period, keeping again the rollups that were kept, and saying which figures changed.
    since_signing: the figures before were made by the earlier definition (the upgrade to sign facts), so the
    response rate and the composite before are read as it made them (contacted / valid)."""
    formula = Formula.from_settings(settings)
    out = []
    for period in periods:
        kept = session.get(RateRollup, period) is not None
        before = _figures(session, settings, clock, period, _earlier(formula) if since_signing else formula)
        written = rebuild(session, settings, [period])
        if kept:
            rollup(session, settings, clock, period)
        after = _figures(session, settings, clock, period, formula)
        changes = []
        for level, key in sorted(set(before) | set(after)):
            name = (after.get((level, key)) or before[(level, key)])[0]
            old, new = before.get((level, key), (name, None))[1], after.get((level, key), (name, None))[1]
            for rate in RATE_NAMES:
                b = getattr(old, rate) if old else None
                a = getattr(new, rate) if new else None
                if since_signing and rate == "response" and old:
                    b = old.contact  # the earlier definition's response rate
                if (b is None) != (a is None) or (b is not None and abs(a - b) > 1e-9):
                    changes.append(Change(level, key, name, rate, b, a))
        ranked = {level: sum(1 for lv, _ in after if lv == level) for level in LEVELS}
        out.append(Rebuilt(period, written, kept, ranked, changes))
    return out


def keep_last_period(session: Session, settings: Settings, clock: Clock) -> int:
    """The clock's monthly job: once a period has ended and settled (`assess_settle_days`: the signs and upheld
    returns of its last dispatches are in), keep its cells, so that ranking it reads the rollup. Returns 1 when
    it kept one now, 0 when there was nothing to do."""
    now = clock.now()
    last = rules.shift(_period(settings, now - timedelta(days=settings.assess_settle_days)), -1)
    if session.get(RateRollup, last) is not None:
        return 0
    try:
        with session.begin_nested():
            rollup(session, settings, clock, last)
    except IntegrityError:
        return 0  # another clock kept it meanwhile
    return 1
