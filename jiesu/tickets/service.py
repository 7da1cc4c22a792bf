"""Ticket use cases: intake, the workflow steps, reading tickets and their timelines.

Every change of a ticket goes through `act`, which asks rules.check, applies the step, and writes
the TicketEvent in the same transaction. The caller's boundary commits.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, Text, cast, delete, func, insert, literal, or_, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached, selectinload
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from jiesu.assessment import service as assessment
from jiesu.calendar.service import load_calendar
from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.db import Base, execute_apart
from jiesu.errors import (
    CategoryNotFound,
    ConcurrentChange,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PlaceNotFound,
    TicketNotFound,
    TransitionNotAllowed,
    UnitNotFound,
    check_page,
)
from jiesu.permissions import Actor, Permission, Role, require
from jiesu.places import service as places
from jiesu.places.models import Area
from jiesu.taxonomy import service as taxonomy
from jiesu.taxonomy.models import Category, RequestType, Urgency
from jiesu.taxonomy.rules import deadlines
from jiesu.tickets import rules
from jiesu.tickets.models import (
    Channel,
    Contact,
    Outcome,
    PersonalDataAccess,
    Request,
    SummonsState,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketUnit,
    UnitRole,
)
from jiesu.tickets.rules import Step, TicketState
from jiesu.units import service as units
from jiesu.units.models import Unit, UnitKind

MAX_TEXT = 4000
PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,19}$")
CENTRE_ROLES = frozenset({Role.operator, Role.dispatcher, Role.callback_agent, Role.supervisor, Role.admin})


# --- intake --------------------------------------------------------------------------------------

@dataclass
class NewRequest:
    text: str
    request_type: RequestType
    channel: Channel
    title: str = ""
    address: str = ""
    area_code: str | None = None
    lng: float | None = None
    lat: float | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    anonymous: bool = False
    no_callback: bool = False
    urgency: Urgency = Urgency.normal
    category_code: str | None = None
    direct_answer: str | None = None  # an inquiry answered at once: no ticket
    terms: str | None = None  # the segmented words, when smart dispatch has them (see Request.terms)


# Smart dispatch's hook into intake: the request (maybe completed), the full proposal, its brief.
Proposer = Callable[[NewRequest], tuple[NewRequest, dict, dict]]


@dataclass
class Intake:
    request: Request
    ticket: Ticket | None
    replayed: bool = False  # the Idempotency-Key was seen before: this is the first answer again


def mask_phone(phone: str | None) -> str | None:
    """138****0000: enough to recognise, not enough to call."""
    if not phone:
        return phone
    digits = phone.replace(" ", "").replace("-", "")
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(name: str | None) -> str | None:
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def _validate(new: NewRequest) -> None:
    text = new.text.strip()
    if not text:
        raise InvalidInput("a request needs its text", field="text")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"text has at most {MAX_TEXT} characters", field="text")
    if len(new.title) > 200:
        raise InvalidInput("title has at most 200 characters", field="title")
    if len(new.address) > 256:
        raise InvalidInput("address has at most 256 characters", field="address")
    if (new.lng is None) != (new.lat is None):
        raise InvalidInput("give both lng and lat, or neither", field="lat" if new.lng is not None else "lng")
    if new.lng is not None and not (-180 <= new.lng <= 180):
        raise InvalidInput("lng must be between -180 and 180", field="lng")
    if new.lat is not None and not (-90 <= new.lat <= 90):
        raise InvalidInput("lat must be between -90 and 90", field="lat")
    if new.contact_phone and not PHONE.match(new.contact_phone.strip()):
        raise InvalidInput("contact_phone must be digits, e.g. 13800000000", field="contact_phone")
    if new.contact_name and len(new.contact_name) > 64:
        raise InvalidInput("contact_name has at most 64 characters", field="contact_name")
    if new.direct_answer is not None:
        if new.request_type != RequestType.inquiry:
            raise InvalidInput("only an inquiry (咨询) is answered directly", field="direct_answer")
        if not new.direct_answer.strip():
            raise InvalidInput("a direct answer needs its text", field="direct_answer")


def next_number(session: Session, day: str) -> str:
    """The next human number of a day, e.g. 20230311-000123: unique, and increasing within the day.

    SQLite: an upsert of the day's counter row in the intake's own transaction (SQLite has one writer at a time
    anyway). PostgreSQL: from the day's sequence (_number_sql), with no row to lock; intake puts that inside the
    ticket's INSERT instead of calling this."""
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(select(_number_sql(session, day))).scalar_one()
    stmt = sqlite_insert(TicketCounter).values(day=day, last=1)
    stmt = stmt.on_conflict_do_update(index_elements=["day"], set_={"last": TicketCounter.last + 1})
    last = session.execute(stmt.returning(TicketCounter.last)).scalar_one()
    return f"{day}-{last:06d}"


# Days whose number sequence is known to exist, per database (PostgreSQL): made once per process and day.
_SEQUENCES: set[tuple[str, str]] = set()


def _number_sql(session: Session, day: str) -> ColumnElement[str]:
    """PostgreSQL: the day's next number as an SQL expression, from the sequence ticket_number_<day>
    (_day_sequence): six digits at least, more past 999,999 (lpad alone would cut them)."""
    n = select(func.nextval(literal(_day_sequence(session, day))).label("n")).subquery()
    return select(literal(f"{day}-") + func.lpad(cast(n.c.n, Text), func.greatest(6, func.length(cast(n.c.n, Text))),
                                                 "0")).scalar_subquery()


def _day_sequence(session: Session, day: str) -> str:
    """PostgreSQL: the name of the day's number sequence, made on first use.

    A sequence hands out numbers without a row lock: a counter row updated in place made concurrent intakes
    queue behind each other (12 of 16 backends waiting on it in benchmarks/intake.py), and committing it apart
    cost a second commit per ticket. Like any sequence it leaves a gap when an intake fails after taking its
    number. The sequence is made committed at once (db.execute_apart), starting after the day's counter row if
    an older version of Jiesu numbered tickets that day (stop those processes before new ones take intake)."""
    if not re.fullmatch(r"\d{8}", day):
        raise ValueError(f"a day is YYYYMMDD, not {day!r}")
    name = f"ticket_number_{day}"
    bind = session.get_bind()
    known = (bind.url.render_as_string(), name) if isinstance(bind, Engine) else None
    if known is None or known not in _SEQUENCES:
        last = session.scalar(select(TicketCounter.last).where(TicketCounter.day == day)) or 0
        try:
            execute_apart(session, text(f"CREATE SEQUENCE IF NOT EXISTS {name} START WITH {int(last) + 1}"))
        except IntegrityError:  # made at the same moment by another process: it exists
            if known is None:
                raise
        if known is not None:
            _SEQUENCES.add(known)
    return name


def _insert_intake(session: Session, settings: Settings, contact: Contact | None, request: Request,
                   ticket: Ticket | None, event: TicketEvent | None, commit: bool) -> bool:
    """Write one intake's rows (no unit of work to compute), then attach the objects to the session as loaded,
    so that the caller and later steps use them as if they had been flushed. PostgreSQL: one statement for
    all of them (_PG_INTAKE), in autocommit when `commit` says the intake is the whole unit of work; SQLite
    (no network between Python and the file): one INSERT each.

    The request goes in with ON CONFLICT DO NOTHING on its Idempotency-Key: when a twin with the same key got
    in first, nothing is written (SQLite: the contact, written before, is deleted in the same transaction, so
    it is never stored) and False is returned. No savepoint, no aborted transaction."""
    request.area_id = request.area.id if request.area is not None else None
    request.category_id = request.category.id if request.category is not None else None
    if ticket is not None:
        ticket.area_id = ticket.area.id if ticket.area is not None else None
        ticket.category_id = ticket.category.id if ticket.category is not None else None
    if session.get_bind().dialect.name == "postgresql":
        inserted = _insert_intake_pg(session, settings, contact, request, ticket, event, commit)
    else:
        inserted = _insert_intake_sqlite(session, settings, contact, request, ticket, event)
    if not inserted:
        return False
    objects = [o for o in (contact, request, ticket, event) if o is not None]
    for o in objects:
        make_transient_to_detached(o)
    session.add(ticket or request)  # cascades to the others: now persistent, nothing pending
    return True


def _insert_intake_sqlite(session: Session, settings: Settings, contact: Contact | None, request: Request,
                          ticket: Ticket | None, event: TicketEvent | None) -> bool:
    conn = session.connection()
    if contact is not None:
        contact.id = conn.execute(insert(Contact.__table__).returning(Contact.__table__.c.id),
                                  _row(contact)).scalar_one()
        request.contact_id = contact.id
    ins = sqlite_insert(Request.__table__)
    if request.idempotency_key is not None:
        ins = ins.on_conflict_do_nothing(index_elements=["idempotency_key"])
    request.id = conn.execute(ins.returning(Request.__table__.c.id), _row(request)).scalar()
    if request.id is None:
        if contact is not None:
            conn.execute(delete(Contact.__table__).where(Contact.__table__.c.id == contact.id))
        return False
    if ticket is not None and event is not None:
        ticket.request_id = request.id
        values = _row(ticket)
        values["number"] = next_number(session, ticket.created_at.astimezone(settings.tz).strftime("%Y%m%d"))
        t = Ticket.__table__
        ticket.id, ticket.number = conn.execute(insert(t).values(values).returning(t.c.id, t.c.number)).one()
        event.ticket_id = ticket.id
        event.id = conn.execute(insert(TicketEvent.__table__).returning(TicketEvent.__table__.c.id),
                                _row(event)).scalar_one()
    return True


def _pg_intake_sql() -> tuple[str, tuple[str, ...]]:
    """The intake as one PostgreSQL statement: the request (ON CONFLICT on its key), the contact, the ticket
    numbered from the day's sequence, its create event; each INSERT feeds the next through a CTE, so that one
    round trip writes them all. The request takes its contact's id from the contacts' sequence before the
    contact is written (foreign keys are checked at the end of the statement), so that a twin's key writes
    nothing at all: the statement is the whole intake, atomic on its own, and may run in autocommit.

    Built once from the tables' columns, with positional parameters: (the SQL, the parameters' names in
    order). Positional and under psycopg's 4 KB limit, the statement's conversion is cached by psycopg (named
    parameters made it 5 KB, converted anew at every intake) and it is prepared on the server after a few uses."""
    order: list[str] = []

    def p(name: str) -> str:
        order.append(name)
        return "%s"

    def columns(table, *skip: str) -> list[str]:
        return [c.name for c in table.columns if c.name not in ("id", *skip)]

    cc, rc = columns(Contact.__table__), columns(Request.__table__)
    tc, ec = columns(Ticket.__table__), columns(TicketEvent.__table__)
    rv = [f"CASE WHEN {p('has_contact')} THEN nextval(pg_get_serial_sequence('contacts', 'id')) END"
          if n == "contact_id" else p(f"r_{n}") for n in rc]
    r = (f"r AS (INSERT INTO requests ({', '.join(rc)}) VALUES ({', '.join(rv)}) "
         f"ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, contact_id)")
    c = (f"c AS (INSERT INTO contacts (id, {', '.join(cc)}) SELECT r.contact_id, "
         f"{', '.join(p(f'c_{n}') for n in cc)} FROM r WHERE r.contact_id IS NOT NULL RETURNING id)")
    tv = [f"{p('t_day')} || '-' || lpad(n.v::text, greatest(6, length(n.v::text)), '0')" if n == "number"
          else "r.id" if n == "request_id" else p(f"t_{n}") for n in tc]
    t = (f"t AS (INSERT INTO tickets ({', '.join(tc)}) SELECT {', '.join(tv)} "
         f"FROM r, (SELECT nextval({p('t_seq')}::regclass) AS v) n WHERE {p('has_ticket')} RETURNING id, number)")
    e = (f"e AS (INSERT INTO ticket_events ({', '.join(ec)}) "
         f"SELECT {', '.join('t.id' if n == 'ticket_id' else p(f'e_{n}') for n in ec)} FROM t RETURNING id)")
    return (f"WITH {r}, {c}, {t}, {e} SELECT (SELECT id FROM c), (SELECT id FROM r), (SELECT id FROM t), "
            f"(SELECT number FROM t), (SELECT id FROM e)"), tuple(order)


_PG_INTAKE: list[tuple[str, tuple[str, ...]]] = []  # _pg_intake_sql(), made at first use (the models must be complete)


def _driver_values(prefix: str, obj: Base | None, *skip: str) -> dict:
    """An object's column values as the driver takes them: enums by name, as the Enum columns store them."""
    out = {}
    for c in obj.__table__.columns if obj is not None else ():
        if c.name == "id" or c.name in skip:
            continue
        v = getattr(obj, c.key)
        out[f"{prefix}_{c.name}"] = v.name if isinstance(v, enum.Enum) else v
    return out


def _insert_intake_pg(session: Session, settings: Settings, contact: Contact | None, request: Request,
                      ticket: Ticket | None, event: TicketEvent | None, commit: bool) -> bool:
    if not _PG_INTAKE:
        _PG_INTAKE.append(_pg_intake_sql())
    day = (ticket.created_at if ticket is not None else request.created_at).astimezone(settings.tz).strftime("%Y%m%d")
    params = {"has_contact": contact is not None, "has_ticket": ticket is not None, "t_day": day,
              "t_seq": _day_sequence(session, day)}
    params.update(_driver_values("c", contact if contact is not None else Contact(name=None, phone=None,
                                                                                    created_at=None)))
    params.update(_driver_values("r", request, "contact_id"))
    if ticket is not None and event is not None:
        params.update(_driver_values("t", ticket, "number", "request_id"))
        params.update(_driver_values("e", event, "ticket_id"))
    else:
        params.update({f"t_{c.name}": None for c in Ticket.__table__.columns if c.name not in ("id", "number",
                                                                                               "request_id")})
        params.update({f"e_{c.name}": None for c in TicketEvent.__table__.columns if c.name not in ("id",
                                                                                                   "ticket_id")})
    sql, order = _PG_INTAKE[0]
    values = tuple(params[name] for name in order)
    bind = session.get_bind()
    if commit and isinstance(bind, Engine):
        # The intake is the whole unit of work (commit=True) and one statement: in autocommit it is its own
        # transaction, one round trip where BEGIN, the statement and COMMIT took three. Durable as any commit
        # (synchronous_commit applies), and the session's own transaction, if any, has nothing to write.
        with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as own:
            row = own.exec_driver_sql(sql, values).one()
    else:
        row = session.connection().exec_driver_sql(sql, values).one()
    contact_id, request_id, ticket_id, number, event_id = row
    if request_id is None:  # a twin with this Idempotency-Key got in first: nothing was written
        return False
    if contact is not None:
        contact.id = request.contact_id = contact_id
    request.id = request_id
    if ticket is not None and event is not None:
        ticket.id, ticket.number, ticket.request_id = ticket_id, number, request_id
        event.id, event.ticket_id = event_id, ticket_id
    return True


def _row(obj: Base) -> dict:
    """The column values of a new ORM object, by column name, for a Core INSERT (the id left to the database)."""
    return {c.name: getattr(obj, c.key) for c in obj.__table__.columns if c.name != "id"}


def create_request(session: Session, actor: Actor, clock: Clock, settings: Settings, new: NewRequest,
                   idempotency_key: str | None = None, propose: Proposer | None = None,
                   suggest_later: bool = False, commit: bool = False) -> Intake:
    """A request from any channel. An inquiry with a direct answer is closed at once; anything else
    becomes a ticket in state `new`, with its dispatch deadline, waiting for the dispatcher.

    `propose` is smart dispatch (routing.service.create_request passes it), asked once the request is
    known to be new and valid: it may complete the request (its area, its words) and returns its proposal,
    kept in full on the ticket and in brief on its create event; when it says so, the ticket waits in the
    manual queue. `suggest_later` instead marks the ticket for smart dispatch's worker, which makes the
    suggestion after the intake is acknowledged (routing.service.suggest_pending).

    `commit=True`: the intake is the caller's whole unit of work (POST /api/v1/requests), so it is committed
    here, before the answer is made; on PostgreSQL its one statement then runs in autocommit, a round trip
    instead of three. Otherwise the caller's boundary commits, with whatever else it writes."""
    intake = _create_request(session, actor, clock, settings, new, idempotency_key, propose, suggest_later, commit)
    if commit:
        session.commit()
    return intake


def _create_request(session: Session, actor: Actor, clock: Clock, settings: Settings, new: NewRequest,
                    idempotency_key: str | None, propose: Proposer | None, suggest_later: bool,
                    commit: bool) -> Intake:
    require(actor, Permission.requests_create)
    if idempotency_key is not None:
        if not (1 <= len(idempotency_key) <= 128):
            raise InvalidInput("Idempotency-Key has 1 to 128 characters", field="Idempotency-Key")
        # Without a suggestion to make, no lookup first: the request's INSERT finds a twin (_insert_intake), and
        # a retry is rare. With one, a retry should not pay for it again.
        seen = find_by_key(session, actor, idempotency_key) if propose is not None else None
        if seen is not None:
            return seen
    try:
        return _create(session, actor, clock, settings, new, idempotency_key, propose, suggest_later, commit)
    except (InvalidInput, NotFound):
        # The retry of an acknowledged request gets the first answer, even if its body would not pass today.
        seen = find_by_key(session, actor, idempotency_key) if idempotency_key is not None else None
        if seen is None:
            raise
        return seen


def _create(session: Session, actor: Actor, clock: Clock, settings: Settings, new: NewRequest,
            idempotency_key: str | None, propose: Proposer | None, suggest_later: bool, commit: bool) -> Intake:
    _validate(new)
    suggestion = None
    if propose is not None and new.direct_answer is None:
        new, *suggestion = propose(new)
    area = _area(session, actor, new)
    category = None
    if new.category_code:
        try:
            category = taxonomy.get(session, actor, new.category_code)
        except CategoryNotFound as exc:
            raise InvalidInput(str(exc), field="category_code") from exc
    now = clock.now()
    contact = None
    if (new.contact_name or new.contact_phone) and not new.anonymous:
        contact = Contact(name=(new.contact_name or "").strip() or None,
                          phone=(new.contact_phone or "").strip() or None, created_at=now)
    request = Request(text=new.text.strip(), title=new.title.strip(), request_type=new.request_type,
                      channel=new.channel, address=new.address.strip(), area=area, lng=new.lng, lat=new.lat,
                      contact=contact, anonymous=new.anonymous, no_callback=new.no_callback or new.anonymous,
                      urgency=new.urgency, category=category, idempotency_key=idempotency_key,
                      created_at=now, created_by=actor.username,
                      outcome=Outcome.direct_answer if new.direct_answer else Outcome.ticket,
                      answer=new.direct_answer.strip() if new.direct_answer else None, terms=new.terms)
    ticket = event = None
    if request.outcome == Outcome.ticket:
        hours = taxonomy.dispatch_within_hours(session, category.code if category else None, new.urgency)
        # Every column given, as the INSERT writes them; empty collections, so that the answer needs no query.
        ticket = Ticket(number=None, request=request, state=TicketState.new, main_unit_id=None, category=category,
                        urgency=new.urgency, area=area, district_code=area.district_code if area else None,
                        parent_id=None, created_at=now, dispatched_at=None, signed_at=None, replied_at=None,
                        closed_at=None, dispatch_by=now + timedelta(hours=hours), sign_by=None, reply_by=None,
                        sign_overdue=False, reply_overdue=False, escalated=False, extension_days_requested=None,
                        extensions=0, reopened=0, callback_due=False, suggestion=None, manual_review=False,
                        suggest_pending=suggest_later and propose is None, version=1, units=[], events=[])
        created = {"channel": new.channel.value, "type": new.request_type.value}
        if suggestion:
            full, brief = suggestion
            ticket.suggestion = json.dumps(full, ensure_ascii=False, default=str)
            ticket.manual_review = bool(brief.get("manual"))
            created["suggestion"] = brief
        event = _new_event(ticket, actor, now, Step.create, None, TicketState.new, "", created, seq=1)
    if not _insert_intake(session, settings, contact, request, ticket, event, commit):
        seen = find_by_key(session, actor, idempotency_key) if idempotency_key is not None else None
        if seen is None:  # cannot be: the INSERT found it
            raise ConcurrentChange("the request with this Idempotency-Key vanished: send it again",
                                   field="Idempotency-Key")
        return seen
    return Intake(request=request, ticket=ticket)


def find_by_key(session: Session, actor: Actor, key: str) -> Intake | None:
    """The intake an Idempotency-Key made before, if any (its sender's only)."""
    request = session.scalar(select(Request).where(Request.idempotency_key == key))
    if request is None:
        return None
    if request.created_by != actor.username:  # a replay answers its sender only, never someone else's ticket
        raise Conflict("this Idempotency-Key was used by another sender: pick a new one", field="Idempotency-Key")
    ticket = session.scalar(select(Ticket).where(Ticket.request_id == request.id))
    return Intake(request=request, ticket=ticket, replayed=True)


def _area(session: Session, actor: Actor, new: NewRequest) -> Area | None:
    if new.area_code:
        try:
            return places.get_cached(session, actor, new.area_code)
        except PlaceNotFound as exc:
            raise InvalidInput(str(exc), field="area_code") from exc
    if new.lng is not None and new.lat is not None:
        return places.locate(session, actor, new.lng, new.lat)
    return None


# --- the workflow --------------------------------------------------------------------------------

@dataclass
class StepInput:
    """What a step may carry; rules.TRANSITIONS says which fields each step needs."""

    reason: str = ""
    text: str = ""
    unit: str | None = None  # dispatch / re-dispatch target
    co_units: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)  # whistle: the departments summoned
    days: float | None = None  # extension
    parent: str | None = None  # merge target number
    category: str | None = None  # dispatch: the category the dispatcher confirms or corrects
    deadline: str | None = None  # mark_overdue: "sign" or "reply"
    # The callback's answers (callback.service), kept on the close/reopen event they lead to.
    resolved: bool | None = None
    satisfied: str | None = None
    contacted: bool | None = None
    resolution: str | None = None
    suggestion: dict | None = None  # suggest: {"full", "brief", "terms", "area_code"} from routing.service
    expected_version: int | None = None  # optimistic check from a client that read the ticket

    def payload(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if v not in (None, "", []) and k != "expected_version"}
        return out


def get(session: Session, actor: Actor, number: str) -> Ticket:
    require(actor, Permission.tickets_read)
    ticket = session.scalar(select(Ticket).where(Ticket.number == number)
                            .options(selectinload(Ticket.units), selectinload(Ticket.events)))
    if ticket is None or not can_see(session, actor, ticket):
        raise TicketNotFound(f"no ticket {number}", field="number")
    return ticket


def can_see(session: Session, actor: Actor, ticket: Ticket) -> bool:
    """The centre sees every ticket; a unit the tickets it was sent, summoned to or copied on; a citizen
    their own. (A ticket one may not see is answered 'not found', not 'forbidden'.)"""
    if actor.role in CENTRE_ROLES:
        return True
    if actor.role == Role.citizen:
        return ticket.request.created_by == actor.username
    if actor.unit_id is None:
        return False
    return actor.unit_id == ticket.main_unit_id or any(tu.unit_id == actor.unit_id for tu in ticket.units)


def _is_party(actor: Actor, ticket: Ticket, party: rules.Party) -> bool:
    if party == rules.Party.main_unit:
        return actor.unit_id is not None and actor.unit_id == ticket.main_unit_id
    if party == rules.Party.summoned_unit:
        return any(tu.unit_id == actor.unit_id and tu.role == UnitRole.summoned for tu in ticket.units)
    if party == rules.Party.creator:
        return actor.role in (Role.operator, Role.admin) or ticket.request.created_by == actor.username
    return True


def act(session: Session, actor: Actor, clock: Clock, settings: Settings, number: str, step: Step,
        data: StepInput | None = None) -> Ticket:
    """Take one workflow step on a ticket. Raises TransitionNotAllowed (not from this state),
    PermissionDenied (not this actor's), InvalidInput (a needed field missing or wrong), or
    ConcurrentChange (someone changed the ticket meanwhile)."""
    data = data or StepInput()
    ticket = get(session, actor, number)
    if data.expected_version is not None and data.expected_version != ticket.version:
        raise ConcurrentChange(f"ticket {number} is at version {ticket.version}, not {data.expected_version}: "
                               "reload it", field="expected_version")
    _check(step, ticket, actor, data)
    before = ticket.state
    now = clock.now()
    reason = (data.reason or data.text or "").strip()
    payload = data.payload()
    try:
        # No flush until the step is whole: the ticket is written once, checked against the version it was
        # read at, so a concurrent writer makes this flush fail (below), not a query inside an effect.
        with session.no_autoflush:
            EFFECTS[step](session, actor, now, settings, ticket, data, payload)
            ticket.state = rules.next_state(before, step)
            flag_modified(ticket, "state")  # every step moves the version on, even one that changes no column
            _event(session, ticket, actor, now, step, before, ticket.state, reason, payload)
        session.flush()
    except StaleDataError:
        raise ConcurrentChange(f"ticket {number} was changed by someone else meanwhile: reload it",
                               field="number") from None
    except IntegrityError as exc:  # two events with the same seq: the other writer won
        raise ConcurrentChange(f"ticket {number} was changed by someone else meanwhile: reload it",
                               field="number") from exc
    return ticket


def _check(step: Step, ticket: Ticket, actor: Actor, data: StepInput) -> rules.Transition:
    """rules.check, with the workflow's refusals turned into the domain errors the API maps."""
    t = rules.TRANSITIONS.get(step)
    is_party = _is_party(actor, ticket, t.party) if t else False
    try:
        return rules.check(step, ticket.state, actor.role, is_party=is_party, payload=data.payload())
    except rules.NotAllowedNow as exc:
        raise TransitionNotAllowed(exc.message, field=exc.field) from None
    except rules.NotYourTicket as exc:
        raise PermissionDenied(exc.message, field=exc.field) from None
    except rules.MissingInput as exc:
        raise InvalidInput(exc.message, field=exc.field) from None


def _event(session: Session, ticket: Ticket, actor: Actor, now: datetime, step: Step, before: TicketState | None,
           after: TicketState, reason: str, payload: dict) -> None:
    seq = (session.scalar(select(func.max(TicketEvent.seq)).where(TicketEvent.ticket_id == ticket.id)) or 0) + 1
    # Through the relationship, so that a ticket whose events are loaded shows this one too.
    session.add(_new_event(ticket, actor, now, step, before, after, reason, payload, seq))


def _new_event(ticket: Ticket, actor: Actor, now: datetime, step: Step, before: TicketState | None,
               after: TicketState, reason: str, payload: dict, seq: int) -> TicketEvent:
    return TicketEvent(ticket=ticket, seq=seq, at=now, actor=actor.username,
                       role=actor.role.value if actor.role else "anonymous", unit_id=actor.unit_id,
                       action=step.value, from_state=before, to_state=after, reason=reason[:2000],
                       payload=json.dumps(payload, ensure_ascii=False, default=str))


def _unit(session: Session, actor: Actor, code: str, field_name: str) -> Unit:
    try:
        unit = units.get(session, _reader(actor), code)
    except UnitNotFound as exc:
        raise InvalidInput(str(exc), field=field_name) from exc
    if not unit.active:
        raise InvalidInput(f"unit {code} is inactive", field=field_name)
    if unit.kind == UnitKind.centre:
        raise InvalidInput("the centre does not handle tickets itself", field=field_name)
    return unit


def _reader(actor: Actor) -> Actor:
    # Workflow steps look units up on the workflow's authority: a citizen withdrawing may not list units.
    return Actor(username=actor.username, role=Role.admin, user_id=actor.user_id, unit_id=actor.unit_id)


def _set_unit_deadlines(session: Session, settings: Settings, ticket: Ticket, unit: Unit, now: datetime,
                        keep_reply: bool = False) -> None:
    policy = taxonomy.resolve_policy(session, _SYSTEM_READER, ticket.category.code if ticket.category else None,
                                     ticket.urgency)
    d = deadlines(policy, load_calendar(session, settings, unit.calendar), ticket.created_at, dispatched_at=now)
    ticket.sign_by = d.sign_by
    if not keep_reply:
        ticket.reply_by, ticket.reply_overdue = d.reply_by, False
    ticket.sign_overdue = False


_SYSTEM_READER = Actor(username="system", role=Role.admin)
Effect = Callable[[Session, Actor, datetime, Settings, Ticket, StepInput, dict], None]


def _dispatch(session, actor, now, settings, ticket, data, payload) -> None:
    if data.category:
        try:
            ticket.category = taxonomy.get(session, _reader(actor), data.category)
        except CategoryNotFound as exc:
            raise InvalidInput(str(exc), field="category") from exc
    unit = _unit(session, actor, data.unit, "unit")
    ticket.main_unit = unit
    ticket.dispatched_at = now
    _set_unit_deadlines(session, settings, ticket, unit, now)
    for code in dict.fromkeys(data.co_units):
        co = _unit(session, actor, code, "co_units")
        if co.id != unit.id:
            session.add(TicketUnit(ticket=ticket, unit=co, role=UnitRole.co, created_at=now))
    _copy_to_district(session, ticket, unit, now)
    payload["unit_name"] = unit.name
    if ticket.suggestion:  # the proposal beside the decision, so that accuracy is read from the log
        proposed = json.loads(ticket.suggestion)
        payload["suggested"] = {"category": proposed.get("category_code"),
                                "unit": (proposed.get("main_unit") or {}).get("code"),
                                "manual": proposed.get("manual", False)}
        payload["category"] = ticket.category.code if ticket.category else None
    ticket.manual_review = False


def _copy_to_district(session: Session, ticket: Ticket, unit: Unit, now: datetime) -> None:
    """A street's or community's ticket is copied to the government of the district the unit is in."""
    if unit.kind not in (UnitKind.street, UnitKind.community) or unit.area is None:
        return
    district = session.scalar(select(Unit).where(Unit.kind == UnitKind.district_government,
                                                 Unit.code == unit.area.district_code))
    if district is not None and not any(tu.unit_id == district.id and tu.role == UnitRole.copy
                                        for tu in ticket.units):
        session.add(TicketUnit(ticket=ticket, unit=district, role=UnitRole.copy, created_at=now))


def _sign(session, actor, now, settings, ticket, data, payload) -> None:
    ticket.signed_at = now


def _return(session, actor, now, settings, ticket, data, payload) -> None:
    pass  # the reason is on the event; the centre reviews it


def _uphold_return(session, actor, now, settings, ticket, data, payload) -> None:
    unit = _unit(session, actor, data.unit, "unit")
    if unit.id == ticket.main_unit_id:
        raise InvalidInput("re-dispatch to another unit; to send it back to the same one, reject the return",
                           field="unit")
    if ticket.main_unit_id is not None:  # ruled not its ticket: left out of that unit's rates
        payload["from_unit"] = ticket.main_unit.code
        assessment.record_upheld_return(session, settings, ticket, ticket.main_unit_id, now)
    ticket.main_unit = unit
    ticket.dispatched_at = now
    ticket.signed_at = None
    _set_unit_deadlines(session, settings, ticket, unit, now)
    _copy_to_district(session, ticket, unit, now)
    # Departments the old unit whistled in and that have not reported are released: the new unit
    # decides for itself whom to summon. Those that reported stay, as part of the record.
    released = [tu for tu in ticket.units if tu.role == UnitRole.summoned and tu.state != SummonsState.reported]
    for tu in released:
        ticket.units.remove(tu)
        session.delete(tu)
    if released:
        payload["released"] = [tu.unit.code for tu in released]
    ticket.extension_days_requested = None
    payload["unit_name"] = unit.name


def _reject_return(session, actor, now, settings, ticket, data, payload) -> None:
    # Back to the same unit: it signs again; the reply deadline it had still stands.
    _set_unit_deadlines(session, settings, ticket, ticket.main_unit, now, keep_reply=True)
    ticket.signed_at = None


def _note(session, actor, now, settings, ticket, data, payload) -> None:
    pass


MAX_EXTENSION_DAYS = 30


def _request_extension(session, actor, now, settings, ticket, data, payload) -> None:
    if ticket.extension_days_requested is not None:
        raise TransitionNotAllowed("an extension request is already waiting for the centre", field="days")
    if not (0 < data.days <= MAX_EXTENSION_DAYS):
        raise InvalidInput(f"days must be more than 0 and at most {MAX_EXTENSION_DAYS}", field="days")
    ticket.extension_days_requested = data.days


def _approve_extension(session, actor, now, settings, ticket, data, payload) -> None:
    if ticket.extension_days_requested is None:
        raise TransitionNotAllowed("no extension request is waiting", field="days")
    cal = load_calendar(session, settings, ticket.main_unit.calendar)
    ticket.reply_by = cal.add_business_days(ticket.reply_by, ticket.extension_days_requested)
    payload["days"] = float(ticket.extension_days_requested)  # the same in the log whether 3 or 3.0 came in
    payload["reply_by"] = ticket.reply_by.isoformat()
    ticket.extension_days_requested = None
    ticket.extensions += 1
    ticket.reply_overdue = ticket.reply_by <= now


def _reject_extension(session, actor, now, settings, ticket, data, payload) -> None:
    if ticket.extension_days_requested is None:
        raise TransitionNotAllowed("no extension request is waiting", field="days")
    ticket.extension_days_requested = None


def _whistle(session, actor, now, settings, ticket, data, payload) -> None:
    summoned = []
    for code in dict.fromkeys(data.units):
        unit = _unit(session, actor, code, "units")
        if unit.id == ticket.main_unit_id:
            raise InvalidInput("a unit cannot summon itself", field="units")
        if any(tu.unit_id == unit.id and tu.role == UnitRole.summoned for tu in ticket.units):
            continue
        session.add(TicketUnit(ticket=ticket, unit=unit, role=UnitRole.summoned, state=SummonsState.summoned,
                               created_at=now))
        summoned.append(unit.name)
    if not summoned:
        raise InvalidInput("every unit named is summoned already", field="units")
    payload["unit_names"] = summoned


def _my_summons(actor: Actor, ticket: Ticket) -> TicketUnit:
    return next(tu for tu in ticket.units if tu.unit_id == actor.unit_id and tu.role == UnitRole.summoned)


def _summons_sign(session, actor, now, settings, ticket, data, payload) -> None:
    tu = _my_summons(actor, ticket)
    if tu.state != SummonsState.summoned:
        raise TransitionNotAllowed("this unit has reported for duty already", field="ticket")
    tu.state, tu.signed_at = SummonsState.signed, now


def _summons_report(session, actor, now, settings, ticket, data, payload) -> None:
    tu = _my_summons(actor, ticket)
    if tu.state == SummonsState.reported:
        raise TransitionNotAllowed("this unit has reported its part already", field="ticket")
    tu.signed_at = tu.signed_at or now
    tu.state, tu.reported_at, tu.report = SummonsState.reported, now, data.text.strip()


def _reply(session, actor, now, settings, ticket, data, payload) -> None:
    waiting = [tu.unit.name for tu in ticket.units
               if tu.role == UnitRole.summoned and tu.state != SummonsState.reported]
    if waiting:
        raise TransitionNotAllowed(f"the summoned units have not all reported: {', '.join(waiting)}", field="units")
    ticket.replied_at = now
    ticket.extension_days_requested = None  # an answer given needs no more time; a reopen starts afresh


def _close(session, actor, now, settings, ticket, data, payload) -> None:
    ticket.closed_at = now
    ticket.callback_due = False


def _reopen(session, actor, now, settings, ticket, data, payload) -> None:
    policy = taxonomy.resolve_policy(session, _SYSTEM_READER, ticket.category.code if ticket.category else None,
                                     ticket.urgency)
    d = deadlines(policy, load_calendar(session, settings, ticket.main_unit.calendar), ticket.created_at,
                  dispatched_at=now)
    ticket.reply_by, ticket.reply_overdue = d.reply_by, False
    ticket.replied_at = ticket.closed_at = None
    ticket.callback_due = False
    ticket.reopened += 1


def _merge(session, actor, now, settings, ticket, data, payload) -> None:
    parent = session.scalar(select(Ticket).where(Ticket.number == data.parent))
    if parent is None:
        raise InvalidInput(f"no ticket {data.parent}", field="parent")
    if parent.id == ticket.id or parent.state in rules.FINAL_STATES:
        raise InvalidInput("merge into another ticket that is still open", field="parent")
    ticket.parent_id = parent.id
    ticket.closed_at = now


def _escalate(session, actor, now, settings, ticket, data, payload) -> None:
    ticket.escalated = True


def _withdraw(session, actor, now, settings, ticket, data, payload) -> None:
    ticket.closed_at = now


def _mark_overdue(session, actor, now, settings, ticket, data, payload) -> None:
    if data.deadline == "sign":
        ticket.sign_overdue = True
    elif data.deadline == "reply":
        ticket.reply_overdue = True
    else:
        raise InvalidInput("deadline is sign or reply", field="deadline")


def _queue_callback(session, actor, now, settings, ticket, data, payload) -> None:
    ticket.callback_due = True


def _suggest(session, actor, now, settings, ticket, data, payload) -> None:
    """Smart dispatch's proposal, made after intake: kept in full on the ticket, in brief on the event (as at
    intake), with the request's words and, when the address named it for certain, the request's area."""
    made = data.suggestion or {}
    ticket.suggestion = json.dumps(made.get("full") or {}, ensure_ascii=False, default=str)
    brief = made.get("brief") or {}
    ticket.manual_review = bool(brief.get("manual"))
    ticket.suggest_pending = False
    payload["suggestion"] = brief
    if made.get("terms") is not None:
        ticket.request.terms = made["terms"]
    code = made.get("area_code")
    if code and ticket.area is None:
        area = session.scalar(select(Area).where(Area.code == code))
        if area is not None:
            ticket.area = ticket.request.area = area
            ticket.district_code = area.district_code
            payload["area"] = code


EFFECTS: dict[Step, Effect] = {
    Step.dispatch: _dispatch, Step.sign: _sign, Step.return_: _return, Step.uphold_return: _uphold_return,
    Step.reject_return: _reject_return, Step.note: _note, Step.request_extension: _request_extension,
    Step.approve_extension: _approve_extension, Step.reject_extension: _reject_extension, Step.whistle: _whistle,
    Step.summons_sign: _summons_sign, Step.summons_report: _summons_report, Step.reply: _reply, Step.close: _close,
    Step.reopen: _reopen, Step.merge: _merge, Step.escalate: _escalate, Step.withdraw: _withdraw,
    Step.mark_overdue: _mark_overdue, Step.queue_callback: _queue_callback, Step.suggest: _suggest,
}
assert set(EFFECTS) == set(rules.TRANSITIONS), "every step of the table has its effect"


# --- reading ---------------------------------------------------------------------------------------

@dataclass
class TicketFilter:
    state: TicketState | None = None
    unit_code: str | None = None
    district_code: str | None = None
    category_code: str | None = None
    overdue: bool | None = None
    manual: bool | None = None  # the manual queue: smart dispatch was not sure enough
    created_from: datetime | None = None
    created_to: datetime | None = None
    q: str | None = None


def list_tickets(session: Session, actor: Actor, f: TicketFilter, limit: int = 50,
                 offset: int = 0) -> tuple[list[Ticket], int]:
    require(actor, Permission.tickets_read)
    check_page(limit, offset)
    stmt = select(Ticket).join(Request, Ticket.request_id == Request.id)
    if actor.role == Role.citizen:
        stmt = stmt.where(Request.created_by == actor.username)
    elif actor.role not in CENTRE_ROLES:
        mine = select(TicketUnit.ticket_id).where(TicketUnit.unit_id == actor.unit_id)
        stmt = stmt.where(or_(Ticket.main_unit_id == actor.unit_id, Ticket.id.in_(mine)))
    if f.state:
        stmt = stmt.where(Ticket.state == f.state)
    if f.unit_code:
        try:
            unit = units.get(session, _reader(actor), f.unit_code)
        except UnitNotFound as exc:
            raise InvalidInput(str(exc), field="unit") from exc
        stmt = stmt.where(Ticket.main_unit_id == unit.id)
    if f.district_code:
        stmt = stmt.where(Ticket.district_code == f.district_code)
    if f.category_code:
        cat = taxonomy.get(session, actor, f.category_code)
        stmt = stmt.join(Category, Ticket.category_id == Category.id).where(
            or_(Category.code == cat.code, Category.code.like(f"{cat.code}.%")))
    if f.overdue is not None:
        late = or_(Ticket.sign_overdue.is_(True), Ticket.reply_overdue.is_(True))
        stmt = stmt.where(late if f.overdue else ~late)
    if f.manual is not None:
        stmt = stmt.where(Ticket.manual_review.is_(f.manual))
    if f.created_from:
        stmt = stmt.where(Ticket.created_at >= f.created_from)
    if f.created_to:
        stmt = stmt.where(Ticket.created_at < f.created_to)
    if f.q:
        like = f"%{f.q.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(Request.text.like(like), Request.title.like(like), Request.address.like(like),
                              Ticket.number == f.q))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def contact_of(session: Session, actor: Actor, clock: Clock, number: str, purpose: str) -> Contact | None:
    """The citizen's name and phone, unmasked, for a role that needs them; the read is logged."""
    require(actor, Permission.personal_data_read)
    if not purpose.strip():
        raise InvalidInput("say why you need the citizen's contact", field="purpose")
    ticket = get(session, actor, number)
    contact = ticket.request.contact
    if contact is None:
        return None
    session.add(PersonalDataAccess(at=clock.now(), actor=actor.username, role=actor.role.value,
                                   contact_id=contact.id, ticket_id=ticket.id, purpose=purpose.strip()[:256]))
    session.flush()
    return contact


def access_log(session: Session, actor: Actor, limit: int = 100, offset: int = 0) -> list[PersonalDataAccess]:
    require(actor, Permission.personal_data_audit)
    check_page(limit, offset)
    return list(session.scalars(select(PersonalDataAccess).order_by(PersonalDataAccess.id.desc())
                                .limit(limit).offset(offset)))


def related(session: Session, ticket: Ticket) -> tuple[str | None, list[str]]:
    """The number of the ticket this one was merged into, and those merged into this one."""
    parent = session.scalar(select(Ticket.number).where(Ticket.id == ticket.parent_id)) if ticket.parent_id else None
    merged = list(session.scalars(select(Ticket.number).where(Ticket.parent_id == ticket.id).order_by(Ticket.id)))
    return parent, merged


def replayed_state(ticket: Ticket) -> TicketState | None:
    """The state the event log says the ticket is in; equals ticket.state unless someone went around
    the workflow."""
    return rules.replay((e.from_state, e.to_state) for e in sorted(ticket.events, key=lambda e: e.seq))

