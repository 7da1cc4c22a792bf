"""The unit workbench's reads (承办人, and the departments a street whistles in): the tickets waiting for one unit,
nearest deadline first, each with its countdown in business time.

What waits for a unit: tickets dispatched to it and not signed (the sign deadline runs), those it handles (the
reply deadline), those it returned (the centre rules; no deadline of its own), and tickets of other units it is
summoned to and has not reported on, or co-handles. The list is one statement (with the units of each ticket in
one more, tickets.ROW) and its tab counts one statement; the rows are cut from `reading.readable`, so a unit never
sees a ticket the visibility rule hides from it. Who may take which step is the workflow's table
(`available_steps`), not this module's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from jiesu.calendar.rules import BusinessCalendar, TimeLeft, time_left
from jiesu.calendar.service import load_calendar
from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.errors import PermissionDenied, check_page
from jiesu.permissions import Actor
from jiesu.places.models import Area
from jiesu.taxonomy.models import DEFAULT_SCOPE, DeadlinePolicy
from jiesu.taxonomy.rules import ReplyUnit
from jiesu.tickets import rules
from jiesu.tickets.models import SummonsState, Ticket, TicketUnit, UnitRole
from jiesu.tickets.reading import ROW, InSelect, readable
from jiesu.tickets.rules import Step, TicketState
from jiesu.tickets.workflow import available_steps, summons_waiting
from jiesu.units.models import Unit, UnitKind

PAGE_SIZE = 50


class Tab(StrEnum):
    all = "all"  # 全部
    sign = "sign"  # 待签收: dispatched to the unit
    handling = "handling"  # 办理中: signed, the reply deadline runs
    summoned = "summoned"  # 吹哨报到 / 协办: another unit's ticket the unit is summoned to or co-handles
    returned = "returned"  # 退单待审: the unit returned it; the centre rules
    overdue = "overdue"  # the deadline that concerns the unit has passed
    today = "today"  # due before the end of today (local), not passed yet


class Kind(StrEnum):
    """Why a ticket is on the unit's workbench."""

    sign = "sign"
    handling = "handling"
    returned = "returned"
    summoned = "summoned"  # whistled in, not reported yet
    co = "co"  # co-handling unit


@dataclass
class WorkItem:
    ticket: Ticket
    kind: Kind
    deadline: datetime | None  # the one that concerns this unit: sign_by while it is to sign, else reply_by
    due: str | None  # "sign" or "reply"
    left: TimeLeft | None
    steps: list[Step]  # what this person may do now (the workflow's table)
    mine: TicketUnit | None = None  # this unit's summons, when it is summoned
    joint: list[TicketUnit] = field(default_factory=list)  # the units summoned to this ticket
    waiting: list[TicketUnit] = field(default_factory=list)  # of those, the ones that have not reported

    @property
    def overdue(self) -> bool:
        return self.left is not None and self.left.overdue


@dataclass
class Workbench:
    items: list[WorkItem]
    tab: Tab
    total: int  # of the tab
    counts: dict[Tab, int]
    page: int
    pages: int


def check_member(actor: Actor) -> None:
    """Only the members of a unit (the workflow's UNIT_MEMBERS roles, bound to a unit) have a workbench."""
    if actor.role not in rules.UNIT_MEMBERS or actor.unit_id is None:
        raise PermissionDenied("the workbench is for the members of a handling unit", field="role")


@dataclass(frozen=True)
class _Conditions:
    sign: ColumnElement[bool]
    handling: ColumnElement[bool]
    returned: ColumnElement[bool]
    summoned: ColumnElement[bool]
    mine: ColumnElement[bool]
    deadline: ColumnElement  # the deadline that concerns the unit, NULL when none does


def _conditions(unit_id: int) -> _Conditions:
    main = Ticket.main_unit_id == unit_id
    sign = and_(main, Ticket.state == TicketState.dispatched)
    handling = and_(main, Ticket.state == TicketState.handling)
    returned = and_(main, Ticket.state == TicketState.returned)
    summoned_to = select(TicketUnit.ticket_id).where(
        TicketUnit.unit_id == unit_id, TicketUnit.role == UnitRole.summoned,
        TicketUnit.state != SummonsState.reported)
    co_of = select(TicketUnit.ticket_id).where(TicketUnit.unit_id == unit_id, TicketUnit.role == UnitRole.co)
    summoned = and_(Ticket.main_unit_id != unit_id, or_(
        and_(Ticket.state == TicketState.handling, InSelect(Ticket.id, summoned_to)),
        and_(Ticket.state.in_((TicketState.dispatched, TicketState.handling)), InSelect(Ticket.id, co_of))))
    deadline = case((sign, Ticket.sign_by), (returned, None), else_=Ticket.reply_by)
    # `mine` says the same as or_(sign, handling, returned, summoned), in a shape the index on (state, main_unit_id)
    # serves: the unit's own open tickets by that index, those it is summoned to by their ids.
    own = and_(main, Ticket.state.in_((TicketState.dispatched, TicketState.handling, TicketState.returned)))
    return _Conditions(sign, handling, returned, summoned, or_(own, summoned), deadline)


def _end_of_today(now: datetime, settings: Settings) -> datetime:
    local = now.astimezone(settings.tz)
    return datetime.combine(local.date() + timedelta(days=1), time(), tzinfo=settings.tz)


def _tab_condition(c: _Conditions, tab: Tab, now: datetime, end_of_day: datetime) -> ColumnElement[bool] | None:
    return {
        Tab.all: None,
        Tab.sign: c.sign,
        Tab.handling: c.handling,
        Tab.summoned: c.summoned,
        Tab.returned: c.returned,
        Tab.overdue: and_(c.deadline.is_not(None), c.deadline < now),
        Tab.today: and_(c.deadline.is_not(None), c.deadline >= now, c.deadline < end_of_day),
    }[tab]


def workbench(session: Session, actor: Actor, clock: Clock, settings: Settings, tab: Tab = Tab.all,
              page: int = 1, page_size: int = PAGE_SIZE) -> Workbench:
    """A page of what waits for the actor's unit, nearest deadline first (those without one last); with the
    count of every tab in one statement."""
    check_member(actor)
    now = clock.now()
    end_of_day = _end_of_today(now, settings)
    c = _conditions(actor.unit_id)
    base = readable(actor, ()).where(c.mine)
    counts_row = session.execute(base.with_only_columns(*[
        func.coalesce(func.sum(case((cond, 1), else_=0)), 0) if cond is not None else func.count()
        for cond in (_tab_condition(c, t, now, end_of_day) for t in Tab)])).one()
    counts = {t: int(n) for t, n in zip(Tab, counts_row, strict=True)}
    total = counts[tab]
    pages = max(1, -(-total // page_size))
    page = min(max(page, 1), pages)
    check_page(page_size, (page - 1) * page_size)
    cond = _tab_condition(c, tab, now, end_of_day)
    order = (c.deadline.is_(None), c.deadline, Ticket.id)
    # The page's ids are picked on the tickets alone, then only those rows are read with their loads (still one
    # statement): joining the loads to every waiting ticket before the sort cost a street's 2,000 rows of joins.
    ids = base.with_only_columns(Ticket.id).where(*(() if cond is None else (cond,)))
    ids = ids.order_by(*order).limit(page_size).offset((page - 1) * page_size)
    tickets = list(session.scalars(readable(actor, ROW).where(InSelect(Ticket.id, ids)).order_by(*order)))
    calendars: dict[str, BusinessCalendar] = {}
    reply_in_business_days = _reply_units(session) if tickets else (lambda t: True)
    items = []
    for t in tickets:
        name = t.main_unit.calendar if t.main_unit is not None else "default"
        if name not in calendars:
            calendars[name] = load_calendar(session, settings, name)
        items.append(_item(actor, t, now, calendars[name], reply_in_business_days))
    return Workbench(items=items, tab=tab, total=total, counts=counts, page=page, pages=pages)


def _item(actor: Actor, t: Ticket, now: datetime, cal: BusinessCalendar,
          reply_in_business_days: Callable[[Ticket], bool]) -> WorkItem:
    joint = sorted((tu for tu in t.units if tu.role == UnitRole.summoned), key=lambda tu: tu.id)
    mine = next((tu for tu in joint if tu.unit_id == actor.unit_id), None)
    if t.main_unit_id == actor.unit_id:
        kind = {TicketState.dispatched: Kind.sign, TicketState.returned: Kind.returned}.get(t.state, Kind.handling)
    else:
        kind = Kind.summoned if mine is not None and mine.state != SummonsState.reported else Kind.co
    if kind == Kind.sign:
        deadline, due, business = t.sign_by, "sign", False  # units sign around the clock (taxonomy.deadlines)
    elif kind == Kind.returned:
        deadline, due, business = None, None, False
    else:
        deadline, due, business = t.reply_by, "reply", reply_in_business_days(t)
    left = time_left(cal, now, deadline, business=business) if deadline is not None else None
    waiting = summons_waiting(t)
    return WorkItem(ticket=t, kind=kind, deadline=deadline, due=due, left=left, steps=available_steps(actor, t),
                    mine=mine, joint=joint, waiting=waiting)


def _reply_units(session: Session) -> Callable[[Ticket], bool]:
    """Whether a ticket's reply deadline runs in business days (else on clock hours), by its deadline policy:
    the most specific scope wins (the category, its ancestors, then '*'), as taxonomy.policy_for decides.
    The few policies are read in one statement for the whole page."""
    units = {(scope, urgency): unit for scope, urgency, unit in session.execute(
        select(DeadlinePolicy.scope, DeadlinePolicy.urgency, DeadlinePolicy.reply_unit))}

    def business(t: Ticket) -> bool:
        code = t.category.code if t.category is not None else None
        parts = code.split(".") if code else []
        for scope in [".".join(parts[:i]) for i in range(len(parts), 0, -1)] + [DEFAULT_SCOPE]:
            if (scope, t.urgency) in units:
                return units[(scope, t.urgency)] == ReplyUnit.business_days
        return True

    return business


SUMMONABLE_KINDS = (UnitKind.department_branch, UnitKind.utility)


def summonable(session: Session, actor: Actor) -> list[Unit]:
    """The departments a street may whistle in without looking them up: the district branches and utilities
    of the district the actor's unit lies in (one statement). Any other unit can still be named by its code."""
    check_member(actor)
    mine = aliased(Unit)
    my_area = aliased(Area)
    district = (select(my_area.district_code).join(mine, mine.area_id == my_area.id)
                .where(mine.id == actor.unit_id).scalar_subquery())
    return list(session.scalars(
        select(Unit).join(Area, Unit.area_id == Area.id)
        .where(Area.district_code == district, Unit.kind.in_(SUMMONABLE_KINDS), Unit.active.is_(True),
               Unit.id != actor.unit_id)
        .order_by(Unit.kind, Unit.code).limit(200)))
