"""Intake mechanics: a request from any channel written as its rows (contact, request, ticket, create event)
in as few round trips as the database allows, numbered per day, idempotent on its key.

The channels themselves, and smart dispatch's part in intake, live in jiesu/intake."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, Text, cast, delete, func, insert, literal, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached

from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.db import Base, execute_apart
from jiesu.errors import (
    CategoryNotFound,
    ConcurrentChange,
    InvalidInput,
    NotFound,
    PlaceNotFound,
)
from jiesu.limits import MAX_ADDRESS, MAX_TEXT, MAX_TITLE
from jiesu.permissions import Actor, Permission, require
from jiesu.places import service as places
from jiesu.places.models import Area
from jiesu.taxonomy import service as taxonomy
from jiesu.taxonomy.models import RequestType, Urgency
from jiesu.tickets import reading
from jiesu.tickets.models import (
    Channel,
    Contact,
    Outcome,
    Request,
    Ticket,
    TicketCounter,
    TicketEvent,
)
from jiesu.tickets.rules import Step, TicketState

PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,19}$")

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
    # The urgency the sender asked for when it is not theirs to decide (a citizen's 紧急): kept on the request
    # (Request.urgency), while the ticket's own urgency, which sets its deadlines, stays `urgency` until the
    # dispatcher confirms it (the dispatch step's `urgency`). None: `urgency` is the sender's to set.
    requested_urgency: Urgency | None = None
    terms: str | None = None  # the segmented words, when smart dispatch has them (see Request.terms)


# Smart dispatch's proposal for a new ticket: in full (kept on the ticket) and in brief (on its create event).
Proposal = tuple[dict, dict]


@dataclass
class Intake:
    request: Request
    ticket: Ticket | None
    replayed: bool = False  # the Idempotency-Key was seen before: this is the first answer again


KEY_COLUMNS = ["idempotency_key", "idempotency_scope"]  # the unique constraint intake's INSERT meets a twin on


def fingerprint(fields: object) -> str:
    """The SHA-256 of a request as its sender sent it (a dataclass: NewRequest, intake's AnswerInput), kept with its
    Idempotency-Key: the same key with a different request is refused, not answered with the first one. Smart
    dispatch's `terms` are the server's, not the sender's."""
    values = {k: v for k, v in dataclasses.asdict(fields).items() if k != "terms"}
    return hashlib.sha256(json.dumps(values, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


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
    if len(new.title) > MAX_TITLE:
        raise InvalidInput(f"title has at most {MAX_TITLE} characters", field="title")
    if len(new.address) > MAX_ADDRESS:
        raise InvalidInput(f"address has at most {MAX_ADDRESS} characters", field="address")
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
        ins = ins.on_conflict_do_nothing(index_elements=KEY_COLUMNS)
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
         f"ON CONFLICT ({', '.join(KEY_COLUMNS)}) DO NOTHING RETURNING id, contact_id)")
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
                   idempotency_key: str | None = None, suggestion: Proposal | None = None,
                   suggest_later: bool = False, commit: bool = False, sent: str | None = None) -> Intake:
    """A request from any channel. An inquiry with a direct answer is closed at once; anything else
    becomes a ticket in state `new`, with its dispatch deadline, waiting for the dispatcher.

    `suggestion` is smart dispatch's proposal (jiesu.intake asks for it once `check` passed), kept in full on
    the ticket and in brief on its create event; when it says so, the ticket waits in the manual queue.
    `suggest_later` instead marks the ticket for smart dispatch's worker, which makes the suggestion after
    the intake is acknowledged (routing.service.suggest_pending).

    `commit=True`: the intake is the caller's whole unit of work (POST /api/v1/requests), so it is committed
    here, before the answer is made; on PostgreSQL its one statement then runs in autocommit, a round trip
    instead of three. Otherwise the caller's boundary commits, with whatever else it writes.

    An Idempotency-Key is the sender's own (a key is unique per sender, Request.created_by) and names one request:
    `sent` is the fingerprint of what the sender sent (default: of `new`); the same key again with a different
    request is refused (InvalidInput on Idempotency-Key, a 422)."""
    if idempotency_key is not None and sent is None:
        sent = fingerprint(new)
    intake = _create_request(session, actor, clock, settings, new, idempotency_key, suggestion, suggest_later,
                             commit, sent)
    if commit:
        session.commit()
    return intake


def _check_key(actor: Actor, idempotency_key: str | None) -> None:
    require(actor, Permission.requests_create)
    if idempotency_key is not None and not (1 <= len(idempotency_key) <= 128):
        raise InvalidInput("Idempotency-Key has 1 to 128 characters", field="Idempotency-Key")


def check(session: Session, actor: Actor, new: NewRequest, idempotency_key: str | None,
          sent: str | None = None) -> Intake | None:
    """What intake checks before it asks smart dispatch for a suggestion: the permission, the key, and the
    request's fields. Returns the first answer when the Idempotency-Key was seen before with this request
    (`sent`, its fingerprint; a retry should not pay for a suggestion again), else None: go on."""
    _check_key(actor, idempotency_key)
    if idempotency_key is not None:
        seen = find_by_key(session, actor, idempotency_key, sent or fingerprint(new))
        if seen is not None:
            return seen
    _validate(new)
    return None


def _create_request(session: Session, actor: Actor, clock: Clock, settings: Settings, new: NewRequest,
                    idempotency_key: str | None, suggestion: Proposal | None, suggest_later: bool,
                    commit: bool, sent: str | None) -> Intake:
    # No lookup of the Idempotency-Key first: the request's INSERT finds a twin (_insert_intake), and a retry
    # is rare (intake's `check` looks first when a suggestion is to be made).
    _check_key(actor, idempotency_key)
    try:
        return _create(session, actor, clock, settings, new, idempotency_key, suggestion, suggest_later, commit,
                       sent)
    except (InvalidInput, NotFound) as exc:
        if exc.field == "Idempotency-Key":
            raise
        # The retry of an acknowledged request gets the first answer, even if its body would not pass today.
        seen = find_by_key(session, actor, idempotency_key, sent) if idempotency_key is not None else None
        if seen is None:
            raise
        return seen


def _create(session: Session, actor: Actor, clock: Clock, settings: Settings, new: NewRequest,
            idempotency_key: str | None, suggestion: Proposal | None, suggest_later: bool, commit: bool,
            sent: str | None) -> Intake:
    _validate(new)
    if new.direct_answer is not None:
        suggestion = None
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
                      urgency=new.requested_urgency or new.urgency, category=category,
                      idempotency_key=idempotency_key,
                      idempotency_scope=actor.username if idempotency_key is not None else None,
                      idempotency_fingerprint=sent if idempotency_key is not None else None,
                      created_at=now, created_by=actor.username,
                      outcome=Outcome.direct_answer if new.direct_answer else Outcome.ticket,
                      answer=new.direct_answer.strip() if new.direct_answer else None, terms=new.terms)
    ticket = event = None
    if request.outcome == Outcome.ticket:
        hours = taxonomy.dispatch_within_hours(session, category.code if category else None, new.urgency)
        # Every column given, as the INSERT writes them; every relationship too (no unit yet, empty collections), so
        # that the answer needs no query (they are lazy="raise").
        ticket = Ticket(number=None, request=request, state=TicketState.new, main_unit_id=None, main_unit=None,
                        category=category, urgency=new.urgency, area=area,
                        district_code=area.district_code if area else None,
                        parent_id=None, created_at=now, dispatched_at=None, signed_at=None, replied_at=None,
                        closed_at=None, dispatch_by=now + timedelta(hours=hours), sign_by=None, reply_by=None,
                        sign_overdue=False, reply_overdue=False, escalated=False, extension_days_requested=None,
                        extensions=0, reopened=0, callback_due=False, suggestion=None, manual_review=False,
                        suggest_pending=suggest_later and suggestion is None, version=1, units=[], events=[])
        created = {"channel": new.channel.value, "type": new.request_type.value}
        if new.requested_urgency is not None and new.requested_urgency != new.urgency:
            created["requested_urgency"] = new.requested_urgency.value
        if suggestion:
            full, brief = suggestion
            ticket.suggestion = json.dumps(full, ensure_ascii=False, default=str)
            ticket.manual_review = bool(brief.get("manual"))
            created["suggestion"] = brief
        event = new_event(ticket, actor, now, Step.create, None, TicketState.new, "", created, seq=1)
    if not _insert_intake(session, settings, contact, request, ticket, event, commit):
        seen = find_by_key(session, actor, idempotency_key, sent) if idempotency_key is not None else None
        if seen is None:  # cannot be: the INSERT found it
            raise ConcurrentChange("the request with this Idempotency-Key vanished: send it again",
                                   field="Idempotency-Key")
        return seen
    return Intake(request=request, ticket=ticket)


def find_by_key(session: Session, actor: Actor, key: str, sent: str | None = None) -> Intake | None:
    """The intake this sender's Idempotency-Key made before, if any: keys are each sender's own, so another's
    same key is another request. `sent`: the fingerprint of the request sent now; a different one than the key
    came with first is refused (IETF draft "The Idempotency-Key HTTP Header Field": 422), not answered with the
    first ticket. A request stored before fingerprints were kept is not compared."""
    request = session.scalar(select(Request).where(Request.idempotency_key == key,
                                                   Request.idempotency_scope == actor.username))
    if request is None:
        return None
    if sent is not None and request.idempotency_fingerprint is not None and request.idempotency_fingerprint != sent:
        raise InvalidInput("this Idempotency-Key was sent before with a different request: a new request needs a "
                           "new key", field="Idempotency-Key")
    ticket = session.scalar(reading.shaped(reading.DETAIL).where(Ticket.request_id == request.id))
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


def new_event(ticket: Ticket, actor: Actor, now: datetime, step: Step, before: TicketState | None,
               after: TicketState, reason: str, payload: dict, seq: int) -> TicketEvent:
    return TicketEvent(ticket=ticket, seq=seq, at=now, actor=actor.username,
                       role=actor.role.value if actor.role else "anonymous", unit_id=actor.unit_id,
                       action=step.value, from_state=before, to_state=after, reason=reason,
                       payload=json.dumps(payload, ensure_ascii=False, default=str))
