"""Hot spots and surges as a capability: the cube built in the database, detection (detect.py) on it, the
findings kept, their workflow, and the reads.

The cube is ONE plain GROUP BY over the tickets (area, district, category, local day or hour), with nothing
but integer arithmetic on a UTC epoch: the same definition runs on SQLite, PostgreSQL and, later, Spark. The
areas and categories it groups by are mapped to places at every level (community, street, district) and to
first-level categories in numpy, from two small reference reads.
"""

from __future__ import annotations

import gc
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Integer, Select, case, delete, false, func, insert, literal_column, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.functions import FunctionElement

from jiesu.calendar.service import load_calendar
from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.errors import InvalidInput, NotFound, TransitionNotAllowed, check_page
from jiesu.hotspots import detect, rules
from jiesu.hotspots.models import (
    MAX_LINKED,
    HotSpot,
    HotSpotEvent,
    HotSpotRun,
    HotSpotTicket,
    Surge,
    SurgeTicket,
)
from jiesu.hotspots.rules import HotSpotLabel, HotSpotStatus, HotSpotStep, SurgeStatus, SurgeStep
from jiesu.permissions import Actor, Permission, Role, require
from jiesu.places.models import Area, AreaLevel
from jiesu.routing.text import segment
from jiesu.taxonomy.models import Category
from jiesu.tickets.models import Contact, Request, Ticket
from jiesu.tickets.rules import TicketState
from jiesu.units.models import Unit

EPOCH_DAY = date(1970, 1, 1)
WEEKS, HISTORY_WEEKS = 12, 52  # the weeks a hot spot is judged over, and the history its expectation reads
HOUR_DAYS = 35  # the surge scan's hour cube: five weeks of baseline
REPEAT_DAYS = 30  # a caller's near-identical call within this many days counts once (detect.repeats' default)
MAX_SPAN_DAYS = 3 * 366  # a mining window longer than this is refused
LEVELS = {AreaLevel.community: 0, AreaLevel.street: 1, AreaLevel.district: 2}
LEVEL_NAMES = {0: AreaLevel.community.value, 1: AreaLevel.street.value, 2: AreaLevel.district.value}


# --- the cube's one non-standard piece: seconds since 1970 of a UTC timestamp, as each engine says it -----

class utc_epoch(FunctionElement):  # noqa: N801 (a SQL function's name)
    """Whole seconds since 1970-01-01 UTC of a timestamp column: the only engine-specific spelling in the cube
    (SQLite keeps UTC text, PostgreSQL timestamptz, Spark its timestamps). Everything else is integer
    arithmetic on it, which every engine reads the same."""

    type = Integer()
    inherit_cache = True


@compiles(utc_epoch)
def _epoch_default(element: utc_epoch, compiler: Any, **kw: Any) -> str:
    return f"CAST(unix_timestamp({compiler.process(element.clauses, **kw)}) AS BIGINT)"  # Spark SQL, MySQL


@compiles(utc_epoch, "sqlite")
def _epoch_sqlite(element: utc_epoch, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    if sqlite3.sqlite_version_info >= (3, 38):  # unixepoch(): a quarter faster than formatting and casting back
        return f"unixepoch({column})"
    return f"CAST(strftime('%s', {column}) AS INTEGER)"


@compiles(utc_epoch, "postgresql")
def _epoch_postgresql(element: utc_epoch, compiler: Any, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS BIGINT)"


def _int(n: int) -> ColumnElement[int]:
    # Inline, not a bound parameter: PostgreSQL matches a GROUP BY expression to the select list's by its text,
    # and two binds of the same value are two texts.
    return literal_column(str(int(n)), Integer)


def local_bucket(column: Any, offset_seconds: int, width_seconds: int) -> ColumnElement[int]:
    """The local day (width 86400) or hour (3600) number of a UTC timestamp column: floor((epoch + offset) /
    width), integer division (tickets are after 1970, so truncation is the floor)."""
    return (utc_epoch(column) + _int(offset_seconds)) // _int(width_seconds)


def utc_offset(settings: Settings, at: datetime) -> int:
    """The city's offset from UTC in seconds at `at` (Asia/Shanghai has kept +08:00 since 1991: one number)."""
    offset = at.astimezone(settings.tz).utcoffset()
    return int(offset.total_seconds()) if offset else 0


def day_number(d: date) -> int:
    return (d - EPOCH_DAY).days


def day_of(number: int) -> date:
    return EPOCH_DAY + timedelta(days=int(number))


def local_day_start(settings: Settings, d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=settings.tz).astimezone(UTC)


def hour_number(at: datetime, offset: int) -> int:
    return (int(at.timestamp()) + offset) // 3600


def hour_start(number: int, offset: int) -> datetime:
    return datetime.fromtimestamp(number * 3600 - offset, UTC)


# --- reference: places and categories ---------------------------------------------------------------------

@dataclass
class Reference:
    """The geography detection works on, and how each area id and category id maps onto it."""

    geo: detect.Geography
    index: dict[str, int]  # place code -> index
    area_ids: np.ndarray  # sorted area ids
    area_place: np.ndarray  # per area id (aligned with area_ids): [community, street, district] indices or -1
    place_area: list[int]  # place index -> its area id
    place_street: list[str]  # place index -> its street's code ("" for a district)
    place_district: list[str]
    district_index: dict[str, int]  # district code -> place index (a ticket without an area has one)
    categories: list[int]  # first-level category ids, in index order
    category_names: list[str]
    category_of: dict[int, int]  # any category id -> index of its first-level category
    members: dict[int, list[int]]  # place index -> the area ids counted in it (itself and below)
    category_members: dict[int, list[int]]  # first-level index -> every category id under it
    # street or district code -> the names of the areas in it: words of a place's name are not its problem
    names_in: dict[str, list[str]] = field(default_factory=dict)

    def names_near(self, place: int) -> list[str]:
        """The names the tickets of a place will mention: its street's areas (a district: its streets), its
        district."""
        code = self.place_street[place] or self.geo.places[place]
        return self.names_in.get(code, []) + self.names_in.get(self.place_district[place], [])


def load_reference(session: Session) -> Reference:
    """Two reads: the areas from district down, and the categories."""
    rows = session.execute(select(Area.id, Area.code, Area.level, Area.parent_id, Area.street_code,
                                  Area.district_code, Area.short_name)
                           .where(Area.level.in_([AreaLevel.district, AreaLevel.street, AreaLevel.community,
                                                  AreaLevel.complex]))).all()
    by_id = {r.id: r for r in rows}
    places = sorted((r for r in rows if r.level in LEVELS), key=lambda r: (-LEVELS[r.level], r.code))
    index = {r.code: i for i, r in enumerate(places)}
    level = np.array([LEVELS[r.level] for r in places], dtype=np.int8)
    parent = np.full(len(places), -1, dtype=np.int32)
    for i, r in enumerate(places):
        up = r.street_code if r.level == AreaLevel.community else r.district_code if r.level == AreaLevel.street \
            else None
        if up and up in index:
            parent[i] = index[up]
    area_ids = np.array(sorted(by_id), dtype=np.int64)
    area_place = np.full((len(area_ids), 3), -1, dtype=np.int32)
    members: dict[int, list[int]] = {}
    for k, aid in enumerate(area_ids.tolist()):
        r = by_id[aid]
        community = r if r.level == AreaLevel.community else (
            by_id.get(r.parent_id) if r.level == AreaLevel.complex else None)
        if community is not None and community.level != AreaLevel.community:
            community = None
        chain = [index.get(community.code) if community is not None else None,
                 index.get(r.street_code or "") if r.level != AreaLevel.district else None,
                 index.get(r.district_code or "")]
        if r.level == AreaLevel.street:
            chain[1] = index.get(r.code)
        if r.level == AreaLevel.district:
            chain[2] = index.get(r.code)
        for lv, p in enumerate(chain):
            if p is not None:
                area_place[k, lv] = p
                members.setdefault(p, []).append(aid)
    names_in: dict[str, list[str]] = {}
    for r in rows:
        for key in {r.street_code or "", r.district_code or ""} - {""}:
            names_in.setdefault(key, []).append(r.short_name)
    cats = session.execute(select(Category.id, Category.code, Category.name)).all()
    first = sorted((c for c in cats if "." not in c.code), key=lambda c: c.code)
    cat_index = {c.code: i for i, c in enumerate(first)}
    category_of: dict[int, int] = {}
    category_members: dict[int, list[int]] = {}
    for c in cats:
        i = cat_index.get(c.code.split(".")[0])
        if i is not None:
            category_of[c.id] = i
            category_members.setdefault(i, []).append(c.id)
    return Reference(
        geo=detect.Geography(places=[r.code for r in places], level=level, parent=parent),
        index=index, area_ids=area_ids, area_place=area_place, place_area=[r.id for r in places],
        place_street=[r.code if r.level == AreaLevel.street else (r.street_code or "") for r in places],
        place_district=[r.district_code or (r.code if r.level == AreaLevel.district else "") for r in places],
        district_index={r.code: index[r.code] for r in places if r.level == AreaLevel.district},
        categories=[c.id for c in first], category_names=[c.name for c in first], category_of=category_of,
        members=members, category_members=category_members, names_in=names_in)


# --- the cube -----------------------------------------------------------------------------------------------

COUNTED = Ticket.state != TicketState.merged  # a duplicate merged into its parent is the parent's call


def cube_statement(start: datetime, end: datetime, offset: int, width: int) -> Select:
    """The GROUP BY: tickets of [start, end) counted per (area, district, category, local bucket)."""
    bucket = local_bucket(Ticket.created_at, offset, width).label("bucket")
    area = func.coalesce(Ticket.area_id, _int(-1)).label("area_id")
    # the district only where there is no area (an area knows its district): fewer, shorter keys to sort
    district = case((Ticket.area_id.is_(None), Ticket.district_code), else_=None).label("district_code")
    return (select(area, district, Ticket.category_id, bucket, func.count().label("n"))
            .where(Ticket.created_at >= start, Ticket.created_at < end, Ticket.category_id.is_not(None), COUNTED)
            .group_by(area, district, Ticket.category_id, bucket))


@dataclass
class Cube:
    cells: detect.Cells
    tickets: int  # tickets counted (before repeats were removed)
    rows: int  # rows of the GROUP BY
    repeats: int  # tickets counted once with an earlier one of the same caller
    seconds: float


def _places_of(ref: Reference, area_id: np.ndarray, district: list[str | None]) -> np.ndarray:
    """(n, 3) place indices (community, street, district; -1 where none) of each row's area, or its district."""
    out = np.full((len(area_id), 3), -1, dtype=np.int32)
    has = area_id >= 0
    if len(ref.area_ids):
        k = np.searchsorted(ref.area_ids, np.where(has, area_id, 0))
        k = np.clip(k, 0, len(ref.area_ids) - 1)
        known = has & (ref.area_ids[k] == area_id)
        out[known] = ref.area_place[k[known]]
    missing = out[:, 2] < 0
    if missing.any():
        out[missing, 2] = [ref.district_index.get(d or "", -1) for d, m in zip(district, missing, strict=True) if m]
    return out


def _categories_of(ref: Reference, category_id: np.ndarray) -> np.ndarray:
    """The first-level category index of each category id (-1: unknown), by one array lookup."""
    if not ref.category_of or not len(category_id):
        return np.full(len(category_id), -1, dtype=np.int64)
    table = np.full(max(ref.category_of) + 1, -1, dtype=np.int64)
    table[list(ref.category_of)] = list(ref.category_of.values())
    ok = (category_id >= 0) & (category_id < len(table))
    return np.where(ok, table[np.where(ok, category_id, 0)], -1)


def _finest(places: np.ndarray) -> np.ndarray:
    """Each row's most specific known place: its community, else its street, else its district (-1: none)."""
    return np.where(places[:, 0] >= 0, places[:, 0], np.where(places[:, 1] >= 0, places[:, 1], places[:, 2]))


def _to_cells(ref: Reference, area_id: np.ndarray, district: list[str | None], category_id: np.ndarray,
              bucket: np.ndarray, n: np.ndarray) -> detect.Cells:
    """Rows of the GROUP BY at each ticket's most specific place (detect rolls them up to streets and districts),
    summed per (place, first-level category, bucket); rows with a negative n (repeats) subtract."""
    c = _categories_of(ref, category_id)
    p = _finest(_places_of(ref, area_id, district)).astype(np.int64)
    keep = (p >= 0) & (c >= 0)
    p, c, b, w = p[keep], c[keep], bucket[keep].astype(np.int64), n[keep]
    if not len(p):
        return detect.Cells(*(np.zeros(0, dtype=np.int32) for _ in range(4)))
    ncat = max(len(ref.categories), 1)
    bmin = int(b.min())
    span = int(b.max()) - bmin + 1
    key = (p * ncat + c) * span + (b - bmin)
    uniq, inv = np.unique(key, return_inverse=True)
    total = np.bincount(inv, weights=w).astype(np.int64)
    pos = total > 0
    uniq, total = uniq[pos], total[pos]
    return detect.Cells(place=(uniq // span // ncat).astype(np.int32), category=(uniq // span % ncat).astype(np.int32),
                        bucket=(uniq % span + bmin).astype(np.int32), n=total.astype(np.int32))


def _said() -> ColumnElement[str | None]:
    """The text only where no words were kept (tickets older than Request.terms), as routing reads it."""
    return case((Request.terms.is_(None), Request.title + " " + Request.text), else_=None).label("said")


def _repeat_rows(session: Session, ref: Reference, start: datetime, end: datetime) -> list[Any]:
    """The tickets of [start, end) whose caller (the contact's phone) filed two or more in it: the only ones
    that can be repeats, read in a second query (one pass: each ticket with its caller's count, by a window
    function, then those counted twice or more)."""
    calls = func.count().over(partition_by=Contact.phone).label("calls")
    inner = (select(Ticket.id, Contact.phone, Ticket.area_id, Ticket.district_code, Ticket.category_id,
                    Ticket.created_at, Request.terms, _said(), calls)
             .join(Request, Ticket.request_id == Request.id).join(Contact, Request.contact_id == Contact.id)
             .where(Ticket.created_at >= start, Ticket.created_at < end, Ticket.category_id.is_not(None), COUNTED,
                    Contact.phone.is_not(None))
             .subquery())
    return session.execute(select(inner).where(inner.c.calls >= 2)
                           .order_by(inner.c.created_at, inner.c.id)).all()


def repeat_mask(ref: Reference, rows: Sequence[Any]) -> np.ndarray:
    """True for the tickets among `rows` that repeat an earlier one of the same caller in the same place and
    category (detect.repeats): they are subtracted from the cube, so that each counts once."""
    if not rows:
        return np.zeros(0, dtype=bool)
    phones = [r.phone for r in rows]
    _, caller = np.unique(np.array(phones, dtype=object).astype(str), return_inverse=True)
    places = _places_of(ref, np.array([r.area_id if r.area_id is not None else -1 for r in rows], dtype=np.int64),
                        [r.district_code for r in rows])
    finest = _finest(places)
    cat = _categories_of(ref, np.array([r.category_id for r in rows], dtype=np.int64))
    cell_key = finest.astype(np.int64) * max(len(ref.categories), 1) + cat
    at = np.array([r.created_at.timestamp() for r in rows], dtype=np.float64)
    terms = [frozenset(_words(r)) for r in rows]
    return np.asarray(detect.repeats(caller.astype(np.int64), cell_key, at, terms), dtype=bool)


@contextmanager
def _no_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build_cube(session: Session, ref: Reference, start: datetime, end: datetime, offset: int,
               width: int, repeats_from: datetime | None = None) -> Cube:
    """The counts of [start, end) per (place at each level, first-level category, local bucket of `width`
    seconds), near-identical repeats of one caller counted once from `repeats_from` (default: start) on."""
    t0 = time.perf_counter()
    area_id = category_id = bucket = n = np.zeros(0, dtype=np.int64)
    district: list[str | None] = []
    # The driver's own tuples: a million Row objects cost more than the GROUP BY's sort (ints and strings here,
    # nothing for SQLAlchemy to convert). A million small tuples also set off the cyclic garbage collector again
    # and again (seconds for nothing: they hold no cycles), so it waits until they are arrays.
    with _no_gc():
        result = session.connection().execute(cube_statement(start, end, offset, width))
        rows = result.cursor.fetchall()
        result.close()
        groups = len(rows)
        if rows:
            a, d, c, b, k = zip(*rows, strict=True)
            area_id, category_id = np.fromiter(a, np.int64, groups), np.fromiter(c, np.int64, groups)
            bucket, n = np.fromiter(b, np.int64, groups), np.fromiter(k, np.int64, groups)
            district = list(d)
            del a, d, c, b, k
        del rows
    tickets = int(n.sum())
    repeated = 0
    if tickets:
        reps = _repeat_rows(session, ref, max(start, repeats_from or start), end)
        mask = repeat_mask(ref, reps)
        drop = [r for r, m in zip(reps, mask.tolist(), strict=True) if m]
        repeated = len(drop)
        if drop:
            area_id = np.concatenate([area_id, [r.area_id if r.area_id is not None else -1 for r in drop]])
            district = district + [r.district_code for r in drop]
            category_id = np.concatenate([category_id, [r.category_id for r in drop]])
            bucket = np.concatenate([bucket, [(int(r.created_at.timestamp()) + offset) // width for r in drop]])
            n = np.concatenate([n, -np.ones(len(drop), dtype=np.int64)])
    cells = _to_cells(ref, area_id.astype(np.int64), district, category_id, bucket.astype(np.int64), n)
    return Cube(cells=cells, tickets=tickets, rows=groups, repeats=repeated, seconds=time.perf_counter() - t0)


def day_types(session: Session, settings: Settings, first: date, last: date) -> detect.DayTypes:
    """The business calendar per local day: 0 a workday (make-up workdays too), 1 a weekend's rest, 2 a holiday."""
    cal = load_calendar(session, settings)
    kinds = []
    d = first
    while d <= last:
        kinds.append(0 if cal.is_workday(d) else 1 if d.weekday() >= 5 and not cal.day_name(d) else 2)
        d += timedelta(days=1)
    return detect.DayTypes(first_day=day_number(first), kind=np.array(kinds, dtype=np.int8))


# --- keeping findings -----------------------------------------------------------------------------------

def _event(session: Session, actor: Actor, clock: Clock, kind: str, entity_id: int, step: str,
           before: str | None, after: str, reason: str = "", **payload: Any) -> None:
    session.add(HotSpotEvent(kind=kind, entity_id=entity_id, at=clock.now(), actor=actor.username,
                             role=actor.role.value if actor.role else "", step=step, from_status=before,
                             to_status=after, reason=reason, payload=json.dumps(payload, ensure_ascii=False)))


def _finding_tickets(session: Session, ref: Reference, place: int, category: int, start: datetime,
                     end: datetime) -> list[Any]:
    """The newest MAX_LINKED tickets of a finding's place and category in [start, end), with their words."""
    level = int(ref.geo.level[place])
    cats = ref.category_members.get(category, [])
    where = [Ticket.created_at >= start, Ticket.created_at < end, Ticket.category_id.in_(cats), COUNTED]
    if level == 2:
        where.append(Ticket.district_code == ref.geo.places[place])
    else:
        where.append(Ticket.area_id.in_(ref.members.get(place, [])))
    return session.execute(
        select(Ticket.id, Ticket.number, Request.terms, _said())
        .join(Request, Ticket.request_id == Request.id).where(*where)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(MAX_LINKED)).all()


def _words(r: Any) -> list[str]:
    return r.terms.split() if r.terms else segment(r.said or "")


def _title(rows: Sequence[Any], background: dict[str, float], place_names: Sequence[str] = ()) -> str:
    texts = [_words(r) for r in rows]
    return (detect.title(texts, background or None, place_names=place_names) if texts else "")[:200]


BACKGROUND_SAMPLE = 3000  # the newest tickets of the window whose words say what is ordinary


def _background(session: Session, start: datetime, end: datetime) -> dict[str, float]:
    """The share of ordinary tickets each word occurs in, so that a title names what is distinctive about a
    finding's tickets rather than what every ticket says (one statement)."""
    rows = session.execute(select(Request.terms, _said())
                           .join(Ticket, Ticket.request_id == Request.id)
                           .where(Ticket.created_at >= start, Ticket.created_at < end)
                           .order_by(Ticket.created_at.desc()).limit(BACKGROUND_SAMPLE)).all()
    df: dict[str, int] = {}
    for r in rows:
        for w in set(_words(r)):
            df[w] = df.get(w, 0) + 1
    return {w: c / len(rows) for w, c in df.items()} if rows else {}


def _any_ticket(session: Session, start: datetime, end: datetime) -> bool:
    return session.scalar(select(Ticket.id).where(Ticket.created_at >= start, Ticket.created_at < end)
                          .limit(1)) is not None


@dataclass
class MineReport:
    since: date
    until: date
    tickets: int = 0
    cells: int = 0  # rows of the GROUP BY
    repeats: int = 0
    found: int = 0
    created: int = 0
    updated: int = 0
    reopened: int = 0
    cube_seconds: float = 0.0
    detect_seconds: float = 0.0
    seconds: float = 0.0
    hotspots: list[int] = field(default_factory=list)  # ids of the hot spots found this run


def _window(settings: Settings, clock: Clock, since: date | None, until: date | None) -> tuple[date, date]:
    today = clock.now().astimezone(settings.tz).date()
    until = until or today - timedelta(days=1)  # the last whole day
    since = since or until - timedelta(days=7 * (WEEKS + HISTORY_WEEKS) - 1)
    if since > until:
        raise InvalidInput(f"since ({since}) is after until ({until})", field="since")
    if until >= today + timedelta(days=1):
        raise InvalidInput(f"until ({until}) is in the future", field="until")
    if (until - since).days > MAX_SPAN_DAYS:
        raise InvalidInput(f"the window is longer than {MAX_SPAN_DAYS} days", field="since")
    return since, until


def claim(session: Session, actor: Actor, kind: str, key: str, now: datetime) -> HotSpotRun | None:
    """The run `kind`/`key` (the clock's: "mine" per local day, "scan" per local hour) for this caller, or None
    when another has it: the row is inserted in a savepoint, and the unique key refuses a second clock's."""
    if session.scalar(select(HotSpotRun.id).where(HotSpotRun.kind == kind, HotSpotRun.key == key)) is not None:
        return None
    run = HotSpotRun(kind=kind, key=key, started_at=now, actor=actor.username)
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:
        return None  # another clock claimed it meanwhile
    return run


def _record(session: Session, actor: Actor, clock: Clock, kind: str, run: HotSpotRun | None, **counts: Any) -> None:
    """Fill the run's row (a run by hand gets its own, keyed by its moment)."""
    now = clock.now()
    if run is None:
        run = HotSpotRun(kind=kind, key=f"manual:{uuid.uuid4().hex}", started_at=now, actor=actor.username)
        session.add(run)
    run.finished_at = now
    for k, v in counts.items():
        setattr(run, k, v)
    session.flush()


def mine(session: Session, actor: Actor, clock: Clock, settings: Settings, since: date | None = None,
         until: date | None = None, *, run: HotSpotRun | None = None) -> MineReport:
    """Find the hot spots of [since, until] (local days; default: the 64 weeks to yesterday) and keep them:
    one row per place × category, updated when found again; a new one is open; a dismissed one comes back
    (with an event) only when it has doubled since it was dismissed. Records the run (HotSpotRun)."""
    require(actor, Permission.hotspot_manage)
    since, until = _window(settings, clock, since, until)
    t0 = time.perf_counter()
    now = clock.now()
    start, end = local_day_start(settings, since), local_day_start(settings, until + timedelta(days=1))
    report = MineReport(since=since, until=until)
    if _any_ticket(session, start, end):  # an empty window (a new city, a test's clock) costs one lookup
        ref = load_reference(session)
        # Repeats are removed over the weeks a hot spot is judged on (and the 30 days before, so that the first
        # of a series is known): the history before only sets the expectation, through shares of whole places and
        # categories that one caller's calls barely move, and the callers' join over it would double the run.
        judged = end - timedelta(days=7 * WEEKS + REPEAT_DAYS)
        cube = build_cube(session, ref, start, end, utc_offset(settings, end), 86400, judged)
        report.tickets, report.cells, report.repeats = cube.tickets, cube.rows, cube.repeats
        report.cube_seconds = cube.seconds
        t1 = time.perf_counter()
        findings = detect.mine_hotspots(cube.cells, ref.geo, day_number(until), weeks=WEEKS,
                                        history_weeks=HISTORY_WEEKS) if len(cube.cells.n) else []
        report.detect_seconds = time.perf_counter() - t1
        report.found = len(findings)
        existing = {(h.place_code, h.category_id): h for h in session.scalars(select(HotSpot))}
        background = _background(session, start, end) if findings else {}
        for f in findings:
            spot = _keep_hotspot(session, actor, clock, settings, ref, f, existing, report, now, background)
            report.hotspots.append(spot.id)
    report.seconds = time.perf_counter() - t0
    _record(session, actor, clock, "mine", run, since=since, until=until, tickets=report.tickets, cells=report.cells,
            found=report.found, created=report.created, updated=report.updated, reopened=report.reopened,
            seconds=report.seconds)
    return report


def _keep_hotspot(session: Session, actor: Actor, clock: Clock, settings: Settings, ref: Reference,
                  f: detect.Finding, existing: dict, report: MineReport, now: datetime,
                  background: dict[str, float]) -> HotSpot:
    code = ref.geo.places[f.place]
    category_id = ref.categories[f.category]
    first, last = day_of(f.first_bucket), day_of(f.last_bucket)
    rows = _finding_tickets(session, ref, f.place, f.category, local_day_start(settings, first),
                            local_day_start(settings, last + timedelta(days=1)))
    values = dict(label=HotSpotLabel(f.label), score=float(f.score), p_value=float(f.p_value),
                  observed=int(f.observed), expected=float(f.expected), series=json.dumps(list(f.series or [])),
                  first_day=first, last_day=last, title=_title(rows, background, ref.names_near(f.place)),
                  tickets=int(f.observed),
                  last_seen=now, updated_at=now)
    spot = existing.get((code, category_id))
    if spot is None:
        spot = HotSpot(area_id=ref.place_area[f.place], place_code=code, level=LEVEL_NAMES[int(ref.geo.level[f.place])],
                       district_code=ref.place_district[f.place], street_code=ref.place_street[f.place],
                       category_id=category_id, status=HotSpotStatus.open, found_at=now, **values)
        session.add(spot)
        session.flush()
        existing[(code, category_id)] = spot
        _event(session, actor, clock, "hotspot", spot.id, "found", None, HotSpotStatus.open.value,
               observed=spot.observed, label=spot.label.value)
        report.created += 1
    else:
        for k, v in values.items():
            setattr(spot, k, v)
        report.updated += 1
        if spot.status == HotSpotStatus.dismissed and rules.grown(spot.observed, spot.dismissed_observed):
            reason = f"{spot.dismissed_observed} → {spot.observed}"
            spot.status = HotSpotStatus.open
            _event(session, actor, clock, "hotspot", spot.id, HotSpotStep.reopen.value,
                   HotSpotStatus.dismissed.value, HotSpotStatus.open.value, reason,
                   observed=spot.observed, dismissed_observed=spot.dismissed_observed)
            spot.dismissed_observed = None
            report.reopened += 1
        session.flush()
    session.execute(delete(HotSpotTicket).where(HotSpotTicket.hotspot_id == spot.id))
    if rows:
        session.execute(insert(HotSpotTicket), [{"hotspot_id": spot.id, "ticket_id": r.id} for r in rows])
    return spot


@dataclass
class ScanReport:
    asof: datetime  # the end of the last whole hour scanned
    tickets: int = 0
    cells: int = 0
    found: int = 0
    raised: list[Surge] = field(default_factory=list)
    seconds: float = 0.0


def scan(session: Session, actor: Actor, clock: Clock, settings: Settings, *,
         run: HotSpotRun | None = None) -> ScanReport:
    """Scan the last HOUR_DAYS days hour by hour for surges up to the last whole hour, and raise each one not
    already raised for the same place and category over an overlapping window."""
    require(actor, Permission.hotspot_manage)
    t0 = time.perf_counter()
    now = clock.now()
    offset = utc_offset(settings, now)
    end = hour_start(hour_number(now, offset), offset)  # the start of the current (unfinished) hour
    start = end - timedelta(days=HOUR_DAYS)
    report = ScanReport(asof=end)
    if not _any_ticket(session, end - timedelta(days=1), end):  # nothing in the last day: no surge to find
        _record(session, actor, clock, "scan", run)
        return report
    ref = load_reference(session)
    cube = build_cube(session, ref, start, end, offset, 3600)
    report.tickets, report.cells = cube.tickets, cube.rows
    if not len(cube.cells.n):
        report.seconds = time.perf_counter() - t0
        _record(session, actor, clock, "scan", run, tickets=report.tickets, seconds=report.seconds)
        return report
    first_day = start.astimezone(settings.tz).date()
    days = day_types(session, settings, first_day, end.astimezone(settings.tz).date())
    findings = detect.scan_surges(cube.cells, ref.geo, days, hour_number(end, offset) - 1)
    report.found = len(findings)
    background = _background(session, start, end) if findings else {}
    for f in findings:
        code, category_id = ref.geo.places[f.place], ref.categories[f.category]
        first_at, last_at = hour_start(f.first_bucket, offset), hour_start(f.last_bucket + 1, offset)
        overlapping = session.scalar(select(Surge.id).where(
            Surge.place_code == code, Surge.category_id == category_id, Surge.last_at > first_at,
            Surge.first_at < last_at).limit(1))
        if overlapping is not None:
            continue
        rows = _finding_tickets(session, ref, f.place, f.category, first_at, last_at)
        surge = Surge(area_id=ref.place_area[f.place], place_code=code,
                      level=LEVEL_NAMES[int(ref.geo.level[f.place])], district_code=ref.place_district[f.place],
                      street_code=ref.place_street[f.place], category_id=category_id, status=SurgeStatus.raised,
                      title=_title(rows, background, ref.names_near(f.place)), observed=int(f.observed),
                      expected=float(f.expected),
                      p_value=float(f.p_value), score=float(f.score),
                      window_hours=int(f.window_hours or (f.last_bucket - f.first_bucket + 1)),
                      first_at=first_at, last_at=last_at, raised_at=now, tickets=int(f.observed), updated_at=now)
        session.add(surge)
        session.flush()
        _event(session, actor, clock, "surge", surge.id, "raised", None, SurgeStatus.raised.value,
               observed=surge.observed, expected=round(surge.expected, 3), p_value=surge.p_value)
        if rows:
            session.execute(insert(SurgeTicket), [{"surge_id": surge.id, "ticket_id": r.id} for r in rows])
        report.raised.append(surge)
    report.seconds = time.perf_counter() - t0
    _record(session, actor, clock, "scan", run, tickets=report.tickets, cells=report.cells, found=report.found,
            created=len(report.raised), seconds=report.seconds)
    return report


# --- the workflow -------------------------------------------------------------------------------------------

KINDS = {"hotspot": (HotSpot, rules.HOTSPOT_TRANSITIONS), "surge": (Surge, rules.SURGE_TRANSITIONS)}


def act(session: Session, actor: Actor, clock: Clock, entity_id: int, step: str, reason: str | None = None, *,
        kind: str = "hotspot", expected_version: int | None = None) -> HotSpot | Surge:
    """One status change of a hot spot (watch, unwatch, dismiss, reopen) or a surge (acknowledge, dismiss), with
    its event row in the same transaction. Dismissing needs a reason. `project` is to_project's."""
    require(actor, Permission.hotspot_manage)
    model, table = KINDS[kind]
    if kind == "hotspot" and step == HotSpotStep.project.value:
        raise InvalidInput("a hot spot becomes a project when a project is created from it", field="step")
    entity = session.get(model, entity_id, with_for_update=True)
    if entity is None:
        raise NotFound(f"no {kind} {entity_id}", field="id")
    return _apply(session, actor, clock, kind, table, entity, step, reason, expected_version)


def _apply(session: Session, actor: Actor, clock: Clock, kind: str, table: dict, entity: Any, step: str,
           reason: str | None, expected_version: int | None, **payload: Any) -> Any:
    if expected_version is not None and entity.version != expected_version:
        raise TransitionNotAllowed(f"the {kind} changed meanwhile (version {entity.version}, "
                                   f"not {expected_version}): reload it", field="version")
    reason = (reason or "").strip()
    try:
        t = rules.check(table, step, entity.status.value, {"reason": reason, **payload})
    except rules.StepRefused as exc:
        if exc.missing or exc.field == "step":
            raise InvalidInput(exc.message, field=exc.field) from None
        raise TransitionNotAllowed(exc.message, field=exc.field) from None
    before = entity.status.value
    entity.status = type(entity.status)(t.target)
    entity.updated_at = clock.now()
    if kind == "hotspot":
        if t.target == HotSpotStatus.dismissed:
            entity.dismissed_observed = entity.observed
        elif before == HotSpotStatus.dismissed:
            entity.dismissed_observed = None
    _event(session, actor, clock, kind, entity.id, step, before, t.target, reason, **payload)
    session.flush()
    return entity


def to_project(session: Session, actor: Actor, clock: Clock, hotspot_id: int, project_id: int) -> HotSpot:
    """The hot spot a new project takes on is marked 已立项 with the project's id (projects.create calls this,
    in its transaction)."""
    require(actor, Permission.hotspot_manage)
    spot = session.get(HotSpot, hotspot_id, with_for_update=True)
    if spot is None:
        raise NotFound(f"no hotspot {hotspot_id}", field="hotspot_id")
    spot = _apply(session, actor, clock, "hotspot", rules.HOTSPOT_TRANSITIONS, spot, HotSpotStep.project.value,
                  None, None, project_id=project_id)
    spot.project_id = project_id
    session.flush()
    return spot


# --- reads (one statement each) -------------------------------------------------------------------------

def _area_code_of(actor: Actor) -> Any:
    return select(Area.code).join(Unit, Unit.area_id == Area.id).where(Unit.id == actor.unit_id).scalar_subquery()


def _visible(actor: Actor, model: Any) -> ColumnElement[bool] | None:
    """None: everything. A unit's member sees its area's: the district, street or community the unit answers for
    (codes are unique across levels, so one match of the three columns says it); a city-wide unit sees all."""
    if actor.role in (Role.supervisor, Role.admin, Role.dispatcher):
        return None
    if actor.unit_id is None:
        return false()
    code = _area_code_of(actor)
    city = select(Area.id).join(Unit, Unit.area_id == Area.id).where(
        Unit.id == actor.unit_id, Area.level == AreaLevel.city).exists()
    return or_(city, model.district_code == code, model.street_code == code, model.place_code == code)


@dataclass
class HotSpotRow:
    spot: HotSpot
    place: str  # the area's name
    place_path: str
    lng: float | None  # the area's centre, else its district's (the gazetteer has centres for districts only)
    lat: float | None
    category: str


DISTRICT = aliased(Area, name="district_area")


def _located(stmt: Select, model: Any) -> Select:
    """The place's centre, or its district's when the area has none: an outer join, in the same statement."""
    return stmt.outerjoin(DISTRICT, DISTRICT.code == model.district_code)


def _centre() -> tuple[Any, Any]:
    return (func.coalesce(Area.center_lng, DISTRICT.center_lng), func.coalesce(Area.center_lat, DISTRICT.center_lat))


@dataclass
class Page:
    rows: list
    total: int
    limit: int
    offset: int


def list_hotspots(session: Session, actor: Actor, *, status: str | None = None, label: str | None = None,
                  district: str | None = None, street: str | None = None, category: str | None = None,
                  level: str | None = None, limit: int = 50, offset: int = 0) -> Page:
    """Hot spots, highest score first, filtered; each with its place and category names and the total."""
    require(actor, Permission.hotspot_read)
    check_page(limit, offset)
    stmt = _located(select(HotSpot, Area.name, Area.path, *_centre(), Category.name, func.count().over().label("total"))
                    .join(Area, HotSpot.area_id == Area.id).join(Category, HotSpot.category_id == Category.id), HotSpot)
    if status:
        stmt = stmt.where(HotSpot.status == _enum(HotSpotStatus, status, "status"))
    if label:
        stmt = stmt.where(HotSpot.label == _enum(HotSpotLabel, label, "label"))
    if level:
        stmt = stmt.where(HotSpot.level == _enum(AreaLevel, level, "level").value)
    if district:
        stmt = stmt.where(HotSpot.district_code == district)
    if street:
        stmt = stmt.where(HotSpot.street_code == street)
    if category:
        stmt = stmt.where(or_(Category.name == category, Category.code == category))
    rule = _visible(actor, HotSpot)
    if rule is not None:
        stmt = stmt.where(rule)
    rows = session.execute(stmt.order_by(HotSpot.score.desc(), HotSpot.id).limit(limit).offset(offset)).all()
    return Page([HotSpotRow(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows], rows[0].total if rows else 0,
                limit, offset)


def _enum(enum: Any, value: str, name: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        known = ", ".join(e.value for e in enum)
        raise InvalidInput(f"{name} must be one of {known}", field=name) from None


@dataclass
class LinkedTicket:
    number: str
    created_at: datetime
    state: str
    title: str
    text: str


@dataclass
class Detail:
    row: HotSpotRow
    tickets: list[LinkedTicket]
    linked: int  # tickets linked (at most MAX_LINKED)
    limit: int
    offset: int
    events: list[HotSpotEvent]


def _detail(session: Session, actor: Actor, kind: str, entity_id: int, limit: int, offset: int) -> Detail:
    """One hot spot or surge with a page of its tickets (newest first) and its linked count in one statement (the
    entity's row repeated on each ticket row; an outer join, so one without tickets still comes), then its
    status events in a second."""
    require(actor, Permission.hotspot_read)
    check_page(limit, offset)
    model, link = (HotSpot, HotSpotTicket) if kind == "hotspot" else (Surge, SurgeTicket)
    fk = link.hotspot_id if kind == "hotspot" else link.surge_id
    linked = select(func.count()).select_from(link).where(fk == model.id).scalar_subquery()
    page = (select(link.ticket_id.label("tid"), fk.label("eid"), Ticket.created_at.label("at"))
            .join(Ticket, Ticket.id == link.ticket_id).where(fk == entity_id)
            .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit).offset(offset).subquery())
    stmt = (_located(select(model, Area.name, Area.path, *_centre(), Category.name, linked,
                            Ticket.number, Ticket.created_at, Ticket.state, Request.title, Request.text)
                     .join(Area, model.area_id == Area.id).join(Category, model.category_id == Category.id), model)
            .outerjoin(page, page.c.eid == model.id).outerjoin(Ticket, Ticket.id == page.c.tid)
            .outerjoin(Request, Request.id == Ticket.request_id)
            .where(model.id == entity_id).order_by(page.c.at.desc(), page.c.tid.desc()))
    rule = _visible(actor, model)
    if rule is not None:
        stmt = stmt.where(rule)
    rows = session.execute(stmt).all()
    if not rows:
        raise NotFound(f"no {kind} {entity_id}", field="id")
    first = rows[0]
    tickets = [LinkedTicket(r.number, r.created_at, r.state.value, r.title or "", r.text or "")
               for r in rows if r.number is not None]
    history = list(session.scalars(select(HotSpotEvent).where(HotSpotEvent.kind == kind,
                                                              HotSpotEvent.entity_id == entity_id)
                                   .order_by(HotSpotEvent.id)))
    return Detail(HotSpotRow(first[0], first[1], first[2], first[3], first[4], first[5]), tickets, first[6],
                  limit, offset, history)


def get_hotspot(session: Session, actor: Actor, hotspot_id: int, limit: int = 50, offset: int = 0) -> Detail:
    return _detail(session, actor, "hotspot", hotspot_id, limit, offset)


def get_surge(session: Session, actor: Actor, surge_id: int, limit: int = 50, offset: int = 0) -> Detail:
    return _detail(session, actor, "surge", surge_id, limit, offset)


def list_surges(session: Session, actor: Actor, *, status: str | None = None, district: str | None = None,
                street: str | None = None, category: str | None = None, limit: int = 50, offset: int = 0) -> Page:
    """Surges, newest first, with their place and category names and the total."""
    require(actor, Permission.hotspot_read)
    check_page(limit, offset)
    stmt = _located(select(Surge, Area.name, Area.path, *_centre(), Category.name, func.count().over().label("total"))
                    .join(Area, Surge.area_id == Area.id).join(Category, Surge.category_id == Category.id), Surge)
    if status:
        stmt = stmt.where(Surge.status == _enum(SurgeStatus, status, "status"))
    if district:
        stmt = stmt.where(Surge.district_code == district)
    if street:
        stmt = stmt.where(Surge.street_code == street)
    if category:
        stmt = stmt.where(or_(Category.name == category, Category.code == category))
    rule = _visible(actor, Surge)
    if rule is not None:
        stmt = stmt.where(rule)
    rows = session.execute(stmt.order_by(Surge.raised_at.desc(), Surge.id.desc()).limit(limit).offset(offset)).all()
    return Page([HotSpotRow(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows], rows[0].total if rows else 0,
                limit, offset)


def steps_for(actor: Actor, kind: str, status: str) -> list[str]:
    """The steps a page or the API offers this actor on a hot spot or surge in `status`."""
    if actor.role not in (Role.supervisor, Role.admin):
        return []
    if kind == "hotspot":
        return rules.available(rules.HOTSPOT_TRANSITIONS, status, exclude=(HotSpotStep.project,))
    return rules.available(rules.SURGE_TRANSITIONS, status)


__all__ = ["SurgeStep", "mine", "scan", "act", "to_project", "list_hotspots", "get_hotspot", "list_surges",
           "get_surge", "MineReport", "ScanReport"]
