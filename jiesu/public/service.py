"""The public page of how the city answers (接诉即办公开): per closed month and place, requests received, the
share replied by their deadline, the median time from a request's creation to its reply, and the three rates
and the composite score of the assessment; and the latest replies, masked. Anyone may read it: no actor.

Fast whatever the number of tickets: a closed month is computed once (`rollup`, by the clock's job when the
month has closed and settled, by `jiesu public rollup`, or on demand the first time a page asks for it) into
public_figures, one row per month and place; the pages read those rows and never the tickets. The rates are
the assessment's cells of the month (its rollup when kept), summed to the place as its ranking sums them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jiesu.assessment import rules as periods
from jiesu.assessment import service as assessment
from jiesu.assessment.formulas import Counts, Formula, Rates
from jiesu.assessment.models import RateRollup
from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.errors import InvalidInput, PlaceNotFound
from jiesu.places.models import Area, AreaBoundary, AreaLevel
from jiesu.public import rules
from jiesu.public.models import PublicFigure, PublicMonth, PublicReply
from jiesu.taxonomy.models import Category
from jiesu.tickets.models import Contact, Ticket, TicketEvent
from jiesu.tickets.models import Request as TicketRequest
from jiesu.units.models import Unit, UnitKind, User

LEVELS = ("city", "district", "street")
MONTHS = 12  # the months a page shows
REPLIES_KEPT = 200  # the latest replies kept for the pages (a page shows at most REPLIES_SHOWN of its place)
REPLIES_SHOWN = 20
COUNT_NAMES = ("valid", "contacted", "resolved", "partly", "satisfied", "basically", "signed", "late", "missed",
               "pending")


# --- months -------------------------------------------------------------------------------------------------

def _start_day(settings: Settings) -> int:
    return settings.assess_month_start_day


def last_closed(settings: Settings, clock: Clock) -> str:
    return periods.shift(periods.period_of(clock.now(), settings.tz, _start_day(settings)), -1)


def check_month(settings: Settings, clock: Clock, month: str | None) -> str:
    """The month a page ends at: the last closed one unless given; a running or future month is refused."""
    last = last_closed(settings, clock)
    if month is None or not month.strip():
        return last
    month = month.strip()
    try:
        periods.parse_period(month)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="month") from None
    if month > last:
        raise InvalidInput(f"{month} has not closed yet: the public page shows closed months, up to {last}",
                           field="month")
    return month


def months_to(end: str, n: int = MONTHS) -> list[str]:
    return [periods.shift(end, -k) for k in range(n - 1, -1, -1)]


# --- the rollup ---------------------------------------------------------------------------------------------

def _street_of(level: AreaLevel | None, code: str | None, street_code: str | None) -> str | None:
    if level == AreaLevel.street:
        return code
    return street_code


def rollup(session: Session, settings: Settings, clock: Clock, period: str) -> int:
    """Keep a closed month's figures for every place. Refused for a month still running. Returns the rows kept."""
    start, end = assessment.closed_window(settings, clock, period)
    session.execute(delete(PublicFigure).where(PublicFigure.period == period))
    session.execute(delete(PublicMonth).where(PublicMonth.period == period))
    kept = PublicMonth(period=period, built_at=clock.now(), tickets=0)
    session.add(kept)
    session.flush()

    areas = {a.id: a for a in session.execute(select(Area.id, Area.code, Area.level, Area.district_code)
                                              .where(Area.level.in_([AreaLevel.district, AreaLevel.street])))}
    street_parent = {a.code: a.district_code or "" for a in areas.values() if a.level == AreaLevel.street}
    # received, replied, in time, reply hours
    got: dict[tuple[str, str], list] = defaultdict(lambda: [0, 0, 0, []])
    t, a = Ticket, Area
    rows = session.execute(
        select(t.created_at, t.replied_at, t.reply_by, t.district_code, a.level, a.code, a.street_code)
        .outerjoin(a, a.id == t.area_id).where(t.created_at >= start, t.created_at < end))
    n = 0
    for created, replied, due, district, level, code, street_code in rows:
        n += 1
        street = _street_of(level, code, street_code)
        keys = [("city", "")] + ([("district", district)] if district else []) + (
            [("street", street)] if street else [])
        hours = (replied - created).total_seconds() / 3600 if replied else None
        on_time = replied is not None and due is not None and replied <= due
        for key in keys:
            g = got[key]
            g[0] += 1
            if hours is not None:
                g[1] += 1
                g[3].append(hours)
            if on_time:
                g[2] += 1

    # the rates' counts: the assessment's cells of the month, summed per place as its ranking sums them
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNT_NAMES, 0))
    excluded, _ = assessment._excluded_ids(session, settings)
    cells, _ = assessment.cells(session, settings, clock, period, excluded=excluded)
    units = {u.id: u for u in session.execute(select(Unit.id, Unit.kind, Unit.area_id))}
    for c in cells:
        add = {k: v for k, v in assessment._sums_of(c, excluded).items() if k in COUNT_NAMES}
        if not add:
            continue
        keys = [("city", "")]
        if c.district_code:
            keys.append(("district", c.district_code))
        unit = units.get(c.unit_id)
        if unit is not None and unit.kind == UnitKind.street and unit.area_id in areas:
            area = areas[unit.area_id]
            if area.level == AreaLevel.street:
                keys.append(("street", area.code))
        for key in keys:
            for name, v in add.items():
                counts[key][name] += v

    out = []
    for key in set(got) | set(counts) | {("city", "")}:
        level, code = key
        received, replied, in_time, hours = got.get(key, (0, 0, 0, []))
        out.append(dict(period=period, level=level, key=code, parent=street_parent.get(code, "") if
                        level == "street" else "", received=received, replied=replied, in_time=in_time,
                        median_hours=rules.median(hours), **counts[key]))
    session.execute(insert(PublicFigure), out)
    kept.tickets = n
    session.flush()
    return len(out)


def missing(session: Session, months: list[str]) -> list[str]:
    have = set(session.scalars(select(PublicMonth.period).where(PublicMonth.period.in_(months))))
    return [m for m in months if m not in have]


def ensure(session: Session, settings: Settings, clock: Clock, months: list[str]) -> int:
    """Build the closed months among these that have no rollup yet (the first page to ask for one)."""
    built = 0
    for m in missing(session, months):
        rollup(session, settings, clock, m)
        built += 1
    return built


def rollup_all(session: Session, settings: Settings, clock: Clock) -> list[str]:
    """Every closed month from the first ticket's to the last closed one."""
    first = session.scalar(select(func.min(Ticket.created_at)))
    if first is None:
        return []
    last = last_closed(settings, clock)
    m, done = periods.period_of(first, settings.tz, _start_day(settings)), []
    while m <= last:
        rollup(session, settings, clock, m)
        done.append(m)
        m = periods.shift(m, 1)
    return done


def keep_last_period(session: Session, settings: Settings, clock: Clock) -> int:
    """The clock's job: once the assessment has kept a closed month (it waits for it to settle), keep the public
    figures of that month, from the same cells. Returns 1 when it kept one now."""
    last = periods.shift(periods.period_of(clock.now() - timedelta(days=settings.assess_settle_days), settings.tz,
                                           _start_day(settings)), -1)
    if session.get(PublicMonth, last) is not None or session.get(RateRollup, last) is None:
        return 0
    try:
        with session.begin_nested():
            rollup(session, settings, clock, last)
    except IntegrityError:
        return 0  # another clock kept it meanwhile
    return 1


# --- the latest replies -------------------------------------------------------------------------------------

def refresh_replies(session: Session, settings: Settings, clock: Clock, keep: int = REPLIES_KEPT) -> int:
    """Copy the replies made since the newest kept one, masked, and keep the newest `keep`. Reads the reply
    events by their time (indexed): never the whole ticket table."""
    newest = session.scalar(select(func.max(PublicReply.at)))
    since = newest if newest is not None else clock.now() - timedelta(days=62)
    e, t, r = TicketEvent, Ticket, TicketRequest
    rows = session.execute(
        select(e.id, e.at, e.reason, e.actor, r.text, Contact.name, Category.name, t.district_code, Area.level,
               Area.code, Area.street_code)
        .join(t, t.id == e.ticket_id).join(r, r.id == t.request_id)
        .outerjoin(Contact, Contact.id == r.contact_id).outerjoin(Category, Category.id == t.category_id)
        .outerjoin(Area, Area.id == t.area_id)
        .where(e.action == "reply", e.at >= since, e.at <= clock.now())
        .order_by(e.at.desc()).limit(keep)).all()
    if not rows:
        return 0
    known = set(session.scalars(select(PublicReply.event_id).where(PublicReply.event_id.in_([x[0] for x in rows]))))
    actors = {x[3] for x in rows}
    display = dict(session.execute(select(User.username, User.display_name).where(User.username.in_(actors))).all())
    street_codes = {_street_of(x[8], x[9], x[10]) for x in rows} - {None}
    street_names = dict(session.execute(select(Area.code, Area.name).where(Area.code.in_(street_codes))).all())
    added = []
    for eid, at, reason, actor, text, name, category, district, level, code, street_code in rows:
        if eid in known:
            continue
        names = (name, actor, display.get(actor))
        street = _street_of(level, code, street_code) or ""
        added.append(dict(event_id=eid, at=at, category=category or "", district_code=district or "",
                          street_code=street, street=street_names.get(street, ""), text=rules.mask(text, names),
                          reply=rules.mask(reason, names)))
    if added:
        session.execute(insert(PublicReply), added)
    cut = session.scalar(select(PublicReply.at).order_by(PublicReply.at.desc()).offset(keep - 1).limit(1))
    if cut is not None:
        session.execute(delete(PublicReply).where(PublicReply.at < cut))
    session.flush()
    return len(added)


# --- what a page shows --------------------------------------------------------------------------------------

@dataclass
class Figures:
    period: str
    received: int
    replied: int
    in_time: int
    in_time_share: float | None
    median_hours: float | None
    rates: Rates
    valid: int
    below_sample: bool  # fewer valid callbacks than the assessment's minimum: rates shown as —


@dataclass
class Child:
    code: str
    name: str
    figures: Figures | None


@dataclass
class Place:
    level: str
    code: str  # "" for the city
    name: str
    district_code: str = ""
    district_name: str = ""


@dataclass
class View:
    place: Place
    end: str
    months: list[Figures]
    latest: Figures | None
    children: list[Child]
    child_level: str | None
    replies: list[PublicReply]
    map_values: dict[str, dict[str, float | None]] = field(default_factory=dict)  # district code -> measure -> value


def _figures(row: PublicFigure | None, period: str, formula: Formula, min_sample: int) -> Figures:
    if row is None:
        return Figures(period, 0, 0, 0, None, None, Rates(None, None, None, None), 0, True)
    counts = Counts(*(getattr(row, n) for n in COUNT_NAMES))
    below = counts.valid < min_sample
    rates = Rates(None, None, None, None) if below else formula.rates(counts)
    return Figures(period, row.received, row.replied, row.in_time, rules.share(row.in_time, row.received),
                   row.median_hours, rates, counts.valid, below)


def place(session: Session, district: str | None = None, street: str | None = None) -> Place:
    """The place a URL names: the city, one of its districts, one street of that district; else PlaceNotFound."""
    if district is None:
        city = session.execute(select(Area.code, Area.name).where(Area.level == AreaLevel.city)
                               .order_by(Area.code).limit(1)).first()
        return Place("city", "", city.name if city else "")
    d = session.execute(select(Area.code, Area.name).where(Area.code == district,
                                                           Area.level == AreaLevel.district)).first()
    if d is None:
        raise PlaceNotFound(f"no district with code {district[:32]}", field="district")
    if street is None:
        return Place("district", d.code, d.name, d.code, d.name)
    s = session.execute(select(Area.code, Area.name).where(Area.code == street, Area.level == AreaLevel.street,
                                                           Area.district_code == d.code)).first()
    if s is None:
        raise PlaceNotFound(f"no street with code {street[:32]} in {d.name}", field="street")
    return Place("street", s.code, s.name, d.code, d.name)


MAP_MEASURES = ("received", "in_time", "median", "response", "resolution", "satisfaction", "composite")


def measure_values(f: Figures | None) -> dict[str, float | None]:
    if f is None:
        return dict.fromkeys(MAP_MEASURES)
    return {"received": f.received, "in_time": f.in_time_share, "median": f.median_hours,
            "response": f.rates.response, "resolution": f.rates.resolution,
            "satisfaction": f.rates.satisfaction, "composite": f.rates.composite}


def view(session: Session, settings: Settings, p: Place, end: str) -> View:
    """A place's page, from the rollup only (the caller has built the missing months: `ensure`)."""
    formula = Formula.from_settings(settings)
    months = months_to(end)
    f = PublicFigure
    own = {r.period: r for r in session.scalars(select(f).where(f.level == p.level, f.key == p.code,
                                                                 f.period.in_(months)))}
    # The minimum sample is the ranking's: a district's or a street's rates below it are not shown; the city's
    # total is, as the ranking shows its total row.
    own_min = 0 if p.level == "city" else settings.assess_min_sample
    series = [_figures(own.get(m), m, formula, own_min) for m in months]
    child_level = {"city": "district", "district": "street"}.get(p.level)
    children: list[Child] = []
    map_values: dict[str, dict[str, float | None]] = {}
    if child_level is not None:
        if child_level == "district":
            kids = session.execute(select(Area.code, Area.name).where(Area.level == AreaLevel.district)
                                   .order_by(Area.code)).all()
        else:
            kids = session.execute(select(Area.code, Area.name).where(Area.level == AreaLevel.street,
                                                                      Area.district_code == p.code)
                                   .order_by(Area.code)).all()
        rows = {r.key: r for r in session.scalars(select(f).where(f.level == child_level, f.period == end,
                                                                  f.key.in_([k.code for k in kids])))}
        children = [Child(k.code, k.name, _figures(rows.get(k.code), end, formula, settings.assess_min_sample))
                    for k in kids]
    districts = children if child_level == "district" else []
    if p.level != "city":  # the district's (or the street's district's) place on the city's map
        rows = session.scalars(select(f).where(f.level == "district", f.period == end))
        districts = [Child(r.key, "", _figures(r, end, formula, settings.assess_min_sample)) for r in rows]
    map_values = {c.code: measure_values(c.figures) for c in districts}
    replies = _replies(session, p)
    return View(p, end, series, series[-1] if series else None, children, child_level, replies, map_values)


def _replies(session: Session, p: Place, n: int = REPLIES_SHOWN) -> list[PublicReply]:
    q = select(PublicReply).order_by(PublicReply.at.desc()).limit(n)
    if p.level == "district":
        q = q.where(PublicReply.district_code == p.code)
    elif p.level == "street":
        q = q.where(PublicReply.street_code == p.code)
    replies = list(session.scalars(q))
    for r in replies:
        session.expunge(r)
    return replies


# --- the map ------------------------------------------------------------------------------------------------

def district_shapes(session: Session) -> tuple[dict, dict[str, str]]:
    """The districts' polygons as a GeoJSON FeatureCollection (simplified: the outer rings, about 10 m) and
    their names."""
    rows = session.execute(select(Area.code, Area.name, AreaBoundary.geojson)
                           .join(AreaBoundary, AreaBoundary.area_id == Area.id)
                           .where(Area.level == AreaLevel.district).order_by(Area.code)).all()
    features = [{"type": "Feature", "id": code,
                 "properties": {"code": code, "name": name, "url": f"/public/{code}"},
                 "geometry": rules.simplified(json.loads(geo))} for code, name, geo in rows]
    return {"type": "FeatureCollection", "features": features}, {code: name for code, name, _ in rows}

