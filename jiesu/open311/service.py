"""Open311 GeoReport v2 use cases: the service list and definitions, a request filed through the common
intake, requests read back with their status from the workflow, tokens, and the client systems' API keys.

Services are the taxonomy's leaf categories (level 3, e.g. 01.03.019 城乡建设 / 城市建设和市政管理 / 自来水供应):
the level a dispatcher confirms, and the one the routing rules and deadline policies name, so that a water
outage posted here goes to the water company with a utility's deadline as a call would. A service request
is a ticket; its id is the ticket's number.

What is public: anyone may read the requests (the spec's GETs need no key). For requests that came in
through Open311 the description, the place and the unit's reply are shown as written (phone and ID-card
numbers masked); for the other channels (hotline, app, web), whose citizens did not publish their words,
only the title, the area and what the city did with it (the steps and who took them, not the reply's words).
Names, phones and e-mails are never shown.

Extensions: `page`/`page_size` and `extensions=true` (extended_attributes, attributes, notes: Chicago's and
San Francisco's shapes), `updated_after`/`updated_before` (Chicago), mySociety's GET servicerequestupdates,
a token for the Idempotency-Key a client sent, and `request_type` on POST (咨询, 求助 ...; default 求助).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from jiesu.audit import service as audit
from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from jiesu.intake import service as intake_service
from jiesu.limits import MAX_ADDRESS, MAX_NOTE, MAX_PAGE_NUMBER, MAX_TEXT, MAX_TITLE
from jiesu.open311 import catalog
from jiesu.open311.coords import gcj02_to_wgs84, wgs84_to_gcj02
from jiesu.open311.models import ApiKey, Open311Submission
from jiesu.permissions import SYSTEM, Actor, Permission, Role, require
from jiesu.places import service as places
from jiesu.places.models import Area, AreaBoundary
from jiesu.taxonomy import service as taxonomy
from jiesu.taxonomy.models import Category, RequestType, Urgency
from jiesu.tickets import service as tickets
from jiesu.tickets.models import Channel, Request, Ticket, TicketEvent
from jiesu.tickets.rules import ACTION_LABELS, FINAL_STATES, OPEN_STATES, STATE_LABELS, Step, TicketState
from jiesu.units.catalogue import CENTRE_NAME
from jiesu.units.models import Unit

JURISDICTION_ID = "beijing.gov.cn"
CITY = "北京市"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = ["text/xml", "application/json"]
MAX_DESCRIPTION = MAX_TEXT  # the description becomes the ticket's text
MAX_IDS = 1000  # service_request_id=a,b,... at most
DEFAULT_LIMIT = 1000  # the spec's default: the first 1000 requests ...
WINDOW = timedelta(days=90)  # ... of the most recent 90 days; a date range may not span more
MAX_PAGE_SIZE = 1000
MAX_PAGE = MAX_PAGE_NUMBER
UNCLASSIFIED = "00"  # the service_code shown for a ticket the dispatcher has not classified yet
DEFAULT_REQUEST_TYPE = RequestType.help  # 求助: "please fix this", what a 311 report is
KEY_PREFIX = "o311_"
KEY_NAME = re.compile(r"^[\w.-]{1,48}$")


# --- errors: the router answers NotFound 404, PermissionDenied 403, every other DomainError 400 -----------

class BadRequest(InvalidInput):
    code = "open311_bad_request"
    status = 400


class UnknownResource(NotFound):
    code = "open311_not_found"


class BadApiKey(PermissionDenied):
    code = "open311_bad_api_key"


@dataclass
class Problem:
    status: int  # 400 or 404; 422 for an Idempotency-Key sent before with another request
    description: str


class Rejected(DomainError):
    """A POST with one or more things wrong, each its own entry of the error list."""

    code = "open311_rejected"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.description for p in problems))
        self.problems = problems
        self.status = problems[0].status


def check_jurisdiction(value: str | None) -> None:
    """One jurisdiction: the argument is optional, but when given it must be this one (1.4)."""
    if value is not None and value.strip() and value.strip().lower() != JURISDICTION_ID:
        raise UnknownResource(f"jurisdiction_id {value.strip()[:64]!r} is not served here: this endpoint serves "
                              f"{JURISDICTION_ID} only")


# --- personal data in public text ----------------------------------------------------------------------

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[ -]?(\d{3,4})(\d{4})(?!\d)")


def mask(text: str | None) -> str | None:
    """Mobile, landline and ID-card numbers in a text that anyone may read, masked: 138****0000."""
    if not text:
        return text
    text = _ID_CARD.sub(lambda m: m.group(1) + "*" * 8 + m.group(2), text)
    text = _PHONE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
    return _LANDLINE.sub(lambda m: m.group(1) + "-" + "*" * len(m.group(2)) + m.group(3), text)


def iso(value: datetime | None, tz: tzinfo) -> str | None:
    return value.astimezone(tz).isoformat(timespec="seconds") if value else None


# --- API keys ------------------------------------------------------------------------------------------

def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(session: Session, actor: Actor, clock: Clock, name: str, note: str = "") -> tuple[ApiKey, str]:
    """A new key for a client system. Returns the row and the key itself, which is shown this once."""
    require(actor, Permission.apikeys_edit)
    name = name.strip()
    if not KEY_NAME.match(name):
        raise InvalidInput("a key's name is 1 to 48 letters, digits, '.', '_' or '-', e.g. city-app", field="name")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"note has at most {MAX_NOTE} characters", field="note")
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise Conflict(f"a key named {name} exists (a revoked key keeps its name: the requests it filed name it)",
                       field="name")
    key = KEY_PREFIX + secrets.token_urlsafe(30)
    row = ApiKey(name=name, key_hash=_hash(key), prefix=key[:10], note=note.strip(), created_at=clock.now(),
                 created_by=actor.username)
    session.add(row)
    session.flush()
    audit.record(session, actor, "apikey", row.name, "create", None, key_snapshot(row), at=clock.now())
    return row, key


def key_snapshot(row: ApiKey) -> dict[str, object]:
    """A client system's key as the audit keeps it: never the key, nor its hash or first characters."""
    return {"name": row.name, "note": row.note, "revoked": row.revoked_at is not None}


def list_keys(session: Session, actor: Actor) -> list[ApiKey]:
    require(actor, Permission.apikeys_edit)
    return list(session.scalars(select(ApiKey).order_by(ApiKey.name)))


def revoke_key(session: Session, actor: Actor, clock: Clock, name: str) -> ApiKey:
    require(actor, Permission.apikeys_edit)
    row = session.scalar(select(ApiKey).where(ApiKey.name == name.strip()))
    if row is None:
        raise NotFound(f"no API key named {name.strip()[:48]}", field="name")
    if row.revoked_at is None:
        before = key_snapshot(row)
        row.revoked_at, row.revoked_by = clock.now(), actor.username
        session.flush()
        audit.record(session, actor, "apikey", row.name, "revoke", before, key_snapshot(row), at=clock.now())
    return row


def check_key(session: Session, key: str | None) -> ApiKey:
    """The live key a client sent, or 403."""
    if not key or not key.strip():
        raise BadApiKey("api_key missing -- can't proceed with create_request (ask the hotline centre for a key)")
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(key.strip())))
    if row is None or row.revoked_at is not None:
        raise BadApiKey("Invalid api_key received -- can't proceed with create_request.")
    return row


def actor_for(key: ApiKey) -> Actor:
    """Who files a request through Open311: the client system, with an operator's right to file requests for
    citizens. Its name goes on the request and its create event (open311:city-app)."""
    return Actor(username=f"{intake_service.OPEN311_PREFIX}{key.name}", role=Role.operator)


# --- services ------------------------------------------------------------------------------------------

@dataclass
class ServiceView:
    category: Category
    names: list[str]  # level 1 .. leaf
    attributes: tuple[catalog.Attribute, ...]

    @property
    def code(self) -> str:
        return self.category.code

    @property
    def name(self) -> str:
        leaf = self.names[-1]
        return f"{self.names[-2]}（其他）" if leaf == "其他" and len(self.names) > 1 else leaf

    def document(self) -> dict:
        words = [*self.names[1:], *catalog.KEYWORDS.get(self.names[-1], ())]
        return {"service_code": self.code, "service_name": self.name, "description": " / ".join(self.names),
                "metadata": bool(self.attributes), "type": "realtime",
                "keywords": ", ".join(dict.fromkeys(w for w in words if w != "其他")), "group": self.names[0]}

    def definition(self) -> dict:
        out = []
        for order, a in enumerate(self.attributes, start=1):
            item = {"variable": a.variable, "code": a.code, "datatype": a.datatype, "required": a.required,
                    "datatype_description": a.datatype_description, "order": order, "description": a.description}
            if a.datatype in (catalog.SINGLE, catalog.MULTI):
                item["values"] = [{"key": k, "name": n} for k, n in a.values]
            out.append(item)
        return {"service_code": self.code, "attributes": out}


def _view(category: Category) -> ServiceView:
    names = category.path.split("/")
    return ServiceView(category, names, catalog.attributes_for(names[-1]))


def list_services(session: Session) -> list[ServiceView]:
    """One service per active leaf category (an active category without active children), by code."""
    rows = list(session.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.code)))
    parents = {c.parent_id for c in rows if c.parent_id is not None}
    return [_view(c) for c in rows if c.id not in parents]


def get_service(session: Session, code: str) -> ServiceView:
    code = code.strip()
    category = session.scalar(select(Category).where(Category.code == code, Category.active.is_(True))) \
        if code else None
    if category is None or session.scalar(select(Category.id).where(Category.parent_id == category.id,
                                                                    Category.active.is_(True)).limit(1)):
        raise UnknownResource(f"service_code {code[:40]!r} is not a service of {JURISDICTION_ID}: GET services "
                              "lists them")
    return _view(category)


def discovery(base_url: str) -> dict:
    return {"changeset": catalog.CHANGESET, "contact": f"{CITY} 12345 市民服务热线 {CENTRE_NAME} (the city's 12345 "
                                                       "citizen hotline centre)",
            "key_service": "API keys are issued per client system by the hotline centre's administrator "
                           "(`jiesu apikeys create NAME`); ask the centre for one.",
            "endpoints": [{"specification": SPECIFICATION, "url": base_url, "changeset": catalog.CHANGESET,
                           "type": "production", "formats": FORMATS}]}


# --- POST requests ---------------------------------------------------------------------------------------

@dataclass
class Submission:
    """What a client POSTed, as text (empty fields already dropped)."""

    service_code: str | None = None
    lat: str | None = None
    long: str | None = None
    address_string: str | None = None
    address_id: str | None = None
    description: str | None = None
    media_url: str | None = None
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    request_type: str | None = None  # [ext] 咨询/求助/...: inquiry, help, complaint, report, suggestion, praise
    attributes: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Created:
    number: str
    notice: str
    account_id: str | None
    replayed: bool


@dataclass
class _Place:
    lng: float | None = None  # GCJ-02, as the city's boundaries
    lat: float | None = None
    area_code: str | None = None
    address: str = ""


def _coordinate(text: str, name: str, low: float, high: float, problems: list[Problem]) -> float | None:
    try:
        value = float(text)
    except ValueError:
        problems.append(Problem(400, f"{name} must be a decimal number of degrees (WGS84), not {text[:40]!r}"))
        return None
    if not (low <= value <= high):  # NaN and infinities fail here too
        problems.append(Problem(400, f"{name} must be between {low:g} and {high:g}, not {text[:40]}"))
        return None
    return value


def _locate(session: Session, sub: Submission, problems: list[Problem]) -> _Place:
    """The place a submission names: lat/long (WGS84, turned into GCJ-02 and located in a district), an area
    code as address_id, or an address_string that names a place of the city. Outside the city is an error."""
    place = _Place(address=(sub.address_string or "").strip())
    if len(place.address) > MAX_ADDRESS:
        problems.append(Problem(400, f"address_string has at most {MAX_ADDRESS} characters"))
        place.address = ""
    if (sub.lat is None) != (sub.long is None):
        problems.append(Problem(400, "give both lat and long, or neither"))
        return place
    if sub.address_id is not None:  # an area code: the most precise place, kept beside any coordinates
        code = sub.address_id.strip()
        area = session.scalar(select(Area).where(Area.code == code)) if len(code) <= 32 else None
        if area is None:
            problems.append(Problem(400, f"address_id {code[:40]!r} is not a place of {CITY}: give an area code "
                                         "(e.g. 110115009016, a community), or lat/long"))
        else:
            place.area_code = area.code
    if sub.lat is not None:
        lat = _coordinate(sub.lat, "lat", -90, 90, problems)
        lng = _coordinate(sub.long, "long", -180, 180, problems)
        if lat is None or lng is None:
            return place
        g_lng, g_lat = wgs84_to_gcj02(lng, lat)
        if places.locate(session, SYSTEM, g_lng, g_lat) is None and _have_boundaries(session):
            problems.append(Problem(400, f"lat/long ({lat:.6f}, {lng:.6f}) is outside the jurisdiction: "
                                         f"{JURISDICTION_ID} serves {CITY} only"))
            return place
        place.lng, place.lat = g_lng, g_lat
        return place
    if sub.address_id is not None:
        return place
    if place.address:
        r = places.resolve(session, SYSTEM, place.address)
        if r.best is None and not r.alternatives:
            problems.append(Problem(400, f"address_string {place.address[:60]!r} names no place of {CITY} "
                                         "(district, street/township or community): give lat/long, or an "
                                         "address with its district"))
        return place
    if not problems:
        problems.append(Problem(400, "a location is required: lat and long, address_string or address_id"))
    return place


def _have_boundaries(session: Session) -> bool:
    return session.scalar(select(AreaBoundary.id).limit(1)) is not None


def _contact(sub: Submission, problems: list[Problem]) -> str | None:
    first, last = (sub.first_name or "").strip(), (sub.last_name or "").strip()
    cjk = any("\u4e00" <= ch <= "\u9fff" for ch in first + last)
    name = (last + first) if cjk else " ".join(p for p in (first, last) if p)
    if len(name) > 64:
        problems.append(Problem(400, "first_name and last_name have at most 64 characters together"))
        return None
    return name or None


def _check_fields(sub: Submission, problems: list[Problem]) -> None:
    if sub.description and len(sub.description) > MAX_DESCRIPTION:
        problems.append(Problem(400, f"description has at most {MAX_DESCRIPTION} characters, not "
                                     f"{len(sub.description)}"))
    if sub.media_url:
        parts = urlsplit(sub.media_url.strip()) if len(sub.media_url) <= 2048 else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(Problem(400, "media_url must be an http(s) URL of at most 2048 characters"))
    if sub.email and (len(sub.email) > 254 or "@" not in sub.email):
        problems.append(Problem(400, "email is not an e-mail address"))
    for name in ("device_id", "account_id"):
        if len(getattr(sub, name) or "") > 128:
            problems.append(Problem(400, f"{name} has at most 128 characters"))
    if sub.phone and not tickets.PHONE.match(sub.phone.strip()):
        problems.append(Problem(400, "phone must be digits, e.g. 13800000000 or +86 10 12345"))
    if sub.request_type and sub.request_type not in {t.value for t in RequestType}:
        problems.append(Problem(400, f"request_type must be one of {', '.join(t.value for t in RequestType)}"))


# Intake's own field names, as the client knows them.
_FIELDS = {"text": "description", "title": "service_code", "address": "address_string", "lng": "long",
           "lat": "lat", "contact_phone": "phone", "contact_name": "first_name/last_name",
           "area_code": "address_id", "category_code": "service_code", "Idempotency-Key": "Idempotency-Key"}


def create(session: Session, key: ApiKey, clock: Clock, settings: Settings, sub: Submission,
           idempotency_key: str | None = None) -> Created:
    """File a request through the common intake (smart dispatch's, with its suggestion, deadlines and
    idempotency), with the Open311 channel. Every problem found is reported at once (Rejected)."""

    problems: list[Problem] = []
    service = None
    if not sub.service_code:
        problems.append(Problem(400, "service_code is required: GET services lists them"))
    else:
        try:
            service = get_service(session, sub.service_code)
        except UnknownResource as exc:
            problems.append(Problem(404, exc.message))
    place = _locate(session, sub, problems)
    name = _contact(sub, problems)
    _check_fields(sub, problems)
    answers = catalog.Answers()
    if service is not None:
        try:
            answers = catalog.check(service.attributes, sub.attributes, settings.tz)
        except catalog.BadAnswer as exc:
            problems.append(Problem(400, exc.message))
    if problems:
        raise Rejected(problems)

    description = (sub.description or "").strip()
    extra = []
    if answers.lines:
        extra.append("【Open311 附加信息】" + "；".join(answers.lines))
    if sub.media_url:
        extra.append(f"【照片/媒体】{sub.media_url.strip()}")
    block = "\n\n" + "\n".join(extra) if extra else ""
    body = description or f"（Open311 上报：{' / '.join(service.names)}，未附描述）"
    text = body[:tickets.MAX_TEXT - len(block)] + block
    new = tickets.NewRequest(
        text=text, title=service.name[:MAX_TITLE], channel=Channel.open311,
        request_type=RequestType(sub.request_type) if sub.request_type else DEFAULT_REQUEST_TYPE,
        address=place.address, area_code=place.area_code, lng=place.lng, lat=place.lat, contact_name=name,
        contact_phone=(sub.phone or "").strip() or None,
        no_callback=not (sub.phone or "").strip(),  # nobody to call back
        urgency=Urgency.emergency if answers.emergency else Urgency.normal, category_code=service.code)
    try:
        # The suggestion inside the request: a GeoReport client reads the request back at once and expects its
        # address_id, which the suggestion's place resolution gives.
        made = intake_service.create_request(session, actor_for(key), clock, settings, new, idempotency_key)
    except (InvalidInput, Conflict) as exc:
        if isinstance(exc, InvalidInput) and exc.field == "Idempotency-Key":
            # The client's key came before with another request (IETF draft "The Idempotency-Key HTTP Header
            # Field": 422), not a mistake in this one's fields.
            raise Rejected([Problem(422, f"Idempotency-Key: {exc.message}")]) from None
        where = _FIELDS.get(exc.field or "", exc.field)
        raise BadRequest(f"{where}: {exc.message}" if where else exc.message) from None
    intake = made.intake
    ticket = intake.ticket
    now = clock.now()
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        key.last_used_at = now  # not at every POST: the key's row would make one client's POSTs queue
    if intake.replayed:
        kept = session.scalar(select(Open311Submission).where(Open311Submission.request_id == intake.request.id))
        account_id = kept.account_id if kept else None
    else:
        account_id = (sub.account_id or "").strip() or None
        session.add(Open311Submission(
            request_id=intake.request.id, api_key_id=key.id, service_code=service.code, description=description,
            attributes=json.dumps(answers.items, ensure_ascii=False), media_url=(sub.media_url or "").strip() or None,
            email=(sub.email or "").strip() or None, device_id=(sub.device_id or "").strip() or None,
            account_id=account_id, created_at=now))
        session.flush()
    policy = taxonomy.policy_for(session, ticket.category.code if ticket.category else None, ticket.urgency)
    notice = f"已受理，工单号 {ticket.number}。{policy.note}" if policy.note else f"已受理，工单号 {ticket.number}。"
    return Created(number=ticket.number, notice=notice, account_id=account_id, replayed=intake.replayed)


# --- GET requests ----------------------------------------------------------------------------------------

@dataclass
class RequestQuery:
    ids: list[str] = field(default_factory=list)  # overrides every other filter
    service_codes: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    statuses: set[str] = field(default_factory=set)  # open, closed
    updated_after: datetime | None = None  # [ext] Chicago
    updated_before: datetime | None = None
    page: int = 1  # [ext] 1-based
    page_size: int | None = None  # [ext]; none: the spec's first 1000
    extensions: bool = False  # [ext] extended_attributes, attributes, notes


def window(q: RequestQuery, now: datetime) -> tuple[datetime, datetime]:
    """The requested_datetime range: the most recent 90 days by default; a range may not span more."""
    start, end = q.start, q.end
    if start is None and end is None:
        end = now
    try:
        if start is None:
            start = end - WINDOW
        if end is None:
            end = start + WINDOW
    except OverflowError:
        raise BadRequest("start_date or end_date is out of range") from None
    if end < start:
        raise BadRequest("end_date is before start_date")
    if end - start > WINDOW:
        raise BadRequest("start_date to end_date may not span more than 90 days")
    return start, end


def _updated():
    return select(func.max(TicketEvent.at)).where(TicketEvent.ticket_id == Ticket.id).scalar_subquery()


# What a request's document shows of its ticket (the relationships are lazy="raise"). Open311's public view is its
# own: every request of the city, without the citizen's contact; not tickets.readable, which is per actor.
_AS_DOCUMENT = (selectinload(Ticket.events), selectinload(Ticket.request).selectinload(Request.area),
                selectinload(Ticket.main_unit), selectinload(Ticket.category), selectinload(Ticket.area))


def find_requests(session: Session, settings: Settings, clock: Clock, q: RequestQuery) -> list[dict]:
    stmt = select(Ticket)
    if q.ids:
        stmt = stmt.where(Ticket.number.in_(q.ids))
    else:
        start, end = window(q, clock.now())
        stmt = stmt.where(Ticket.created_at >= start, Ticket.created_at <= end)
        if q.service_codes:
            codes = [c for c in q.service_codes if c != UNCLASSIFIED]
            conditions = [Ticket.category_id.in_(select(Category.id).where(or_(
                *[or_(Category.code == c, Category.code.startswith(c + ".", autoescape=True)) for c in codes])))] \
                if codes else []
            if UNCLASSIFIED in q.service_codes:
                conditions.append(Ticket.category_id.is_(None))
            stmt = stmt.where(or_(*conditions))
        if q.statuses == {"open"}:
            stmt = stmt.where(Ticket.state.in_(OPEN_STATES))
        elif q.statuses == {"closed"}:
            stmt = stmt.where(Ticket.state.in_(FINAL_STATES))
        if q.updated_after is not None:
            stmt = stmt.where(_updated() >= q.updated_after)
        if q.updated_before is not None:
            stmt = stmt.where(_updated() <= q.updated_before)
    size = q.page_size or DEFAULT_LIMIT
    stmt = stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc()).offset((q.page - 1) * size).limit(size)
    found = list(session.scalars(stmt.options(*_AS_DOCUMENT)))
    return _documents(session, settings, found, q.extensions)


def get_request(session: Session, settings: Settings, number: str, extensions: bool = False) -> list[dict]:
    number = number.strip()
    found = session.scalars(select(Ticket).where(Ticket.number == number).options(*_AS_DOCUMENT)
                            ).all() if 0 < len(number) <= 32 else []
    if not found:
        raise UnknownResource(f"Service request not found with id {number[:40]}")
    return _documents(session, settings, list(found), extensions)


def token(session: Session, value: str) -> list[dict]:
    """The requests filed with this token (the Idempotency-Key a client sent with the POST). A key is each
    client's own, so two clients may have filed one each with the same token: both are listed, oldest first."""
    value = value.strip()
    numbers = session.scalars(select(Ticket.number).join(Request, Request.id == Ticket.request_id).where(
        Request.idempotency_key == value, Request.channel == Channel.open311).order_by(Ticket.id).limit(20)
    ).all() if 0 < len(value) <= 128 else []
    if not numbers:
        raise UnknownResource(f"no service request was filed with token {value[:40]}")
    return [{"service_request_id": number, "token": value} for number in numbers]


_CLOSING = frozenset({Step.close.value, Step.withdraw.value, Step.merge.value})
_OPENING = frozenset({Step.dispatch.value, Step.reopen.value})
# Whose reason is meant for the citizen, and shown for requests that came through Open311.
_SHOWN = frozenset({Step.reply.value, Step.reopen.value, Step.withdraw.value})
_HIDDEN = (Step.mark_overdue.value, Step.queue_callback.value)  # the clock's own bookkeeping
_DISPATCHING = frozenset({Step.dispatch.value, Step.uphold_return.value})


def _note_type(action: str) -> str:
    if action == Step.create.value:
        return "submitted"
    return "closed" if action in _CLOSING else "opened" if action in _OPENING else "activity"


def _documents(session: Session, settings: Settings, found: list[Ticket], extensions: bool) -> list[dict]:
    if not found:
        return []
    tz = settings.tz
    submissions = {s.request_id: s for s in session.scalars(select(Open311Submission).where(
        Open311Submission.request_id.in_([t.request_id for t in found])))}
    unit_names = _unit_names(session, [e for t in found for e in t.events])
    parents = {t.parent_id for t in found if t.parent_id}
    parent_numbers = dict(session.execute(select(Ticket.id, Ticket.number).where(Ticket.id.in_(parents))).all()) \
        if parents else {}
    return [_document(t, submissions.get(t.request_id), unit_names, parent_numbers, tz, extensions) for t in found]


def _status_notes(t: Ticket, events: list[TicketEvent], parent_numbers: dict[int, str], words: bool) -> str:
    """Why the request is where it is; with `words`, the unit's reply too (see _SHOWN)."""
    unit = t.main_unit.name if t.main_unit else None
    reply = next((e.reason for e in reversed(events) if e.action == Step.reply.value and e.reason), None) \
        if words else None
    if t.state == TicketState.new:
        return "已受理，等待派单 (received, waiting for dispatch)"
    if t.state == TicketState.dispatched:
        return f"已派至{unit}，等待签收 (dispatched, waiting for the unit to sign)"
    if t.state == TicketState.handling:
        return f"{unit}办理中 (in progress)"
    if t.state == TicketState.returned:
        return "承办单位申请退单，热线中心审核中 (the unit returned it; the centre is reviewing)"
    if t.state == TicketState.merged:
        return f"与工单 {parent_numbers.get(t.parent_id, '')} 合并办理 (duplicate: merged)"
    if t.state == TicketState.withdrawn:
        return "市民已撤回 (withdrawn by the citizen)"
    label = STATE_LABELS[t.state]  # 已答复 or 已办结
    return f"{label}：{mask(reply)}" if reply else label


def _document(t: Ticket, sub: Open311Submission | None, unit_names: dict[str, str], parent_numbers: dict[int, str],
              tz: tzinfo, extensions: bool) -> dict:
    r = t.request
    events = sorted(t.events, key=lambda e: e.seq)
    area = t.area or r.area
    lat = lng = None
    if sub is not None and r.lat is not None and r.lng is not None:
        w_lng, w_lat = gcj02_to_wgs84(r.lng, r.lat)
        lng, lat = round(w_lng, 6), round(w_lat, 6)
    if sub is not None:
        description = mask(sub.description) or None
        address = mask(r.address) or _place_name(area)
    else:  # the citizen's own words stay inside the city: the title, the area and what was done are public
        description = mask(r.title) or None
        address = _place_name(area)
    doc = {
        "service_request_id": t.number,
        "status": "open" if t.state in OPEN_STATES else "closed",
        "status_notes": _status_notes(t, events, parent_numbers, sub is not None),
        "service_name": (_view(t.category).name if t.category else "未分类 (not classified yet)"),
        "service_code": t.category.code if t.category else UNCLASSIFIED,
        "description": description,
        "agency_responsible": t.main_unit.name if t.main_unit else CENTRE_NAME,
        "service_notice": None,
        "requested_datetime": iso(t.created_at, tz),
        "updated_datetime": iso(events[-1].at if events else t.created_at, tz),
        "expected_datetime": iso(t.reply_by, tz),
        "address": address,
        "address_id": area.code if area else None,
        "zipcode": None,
        "lat": lat,
        "long": lng,
        "media_url": sub.media_url if sub is not None else None,
    }
    if extensions:
        doc["extended_attributes"] = {
            "channel": r.channel.value, "state": t.state.value, "urgency": t.urgency.value,
            "category": t.category.path if t.category else None, "area": area.path if area else None,
            "dispatch_by": iso(t.dispatch_by, tz), "reply_by": iso(t.reply_by, tz), "overdue": t.reply_overdue,
            "parent_service_request_id": parent_numbers.get(t.parent_id) if t.parent_id else None}
        # San Francisco's shape: label the question, name the attribute, value what it reads, code the key(s)
        doc["attributes"] = [{"label": a["label"], "name": a["code"], "value": a.get("shown", a["value"]),
                              "code": ",".join(a["value"]) if isinstance(a["value"], list) else a["value"]}
                             for a in json.loads(sub.attributes or "[]")] if sub is not None else []
        doc["notes"] = [_note(e, unit_names, tz, sub is not None) for e in events if e.action not in _HIDDEN]
    return doc


def _place_name(area: Area | None) -> str | None:
    """北京市/大兴区/观音寺街道 -> 北京市大兴区观音寺街道, as a Chinese address is written (city first)."""
    return area.path.replace("/", "") if area else None


def _summary(e: TicketEvent, unit_names: dict[str, str]) -> str:
    try:
        summary = ACTION_LABELS.get(Step(e.action), e.action)
    except ValueError:
        summary = e.action
    if e.action in _DISPATCHING:
        unit = unit_names.get(json.loads(e.payload or "{}").get("unit"))
        summary = f"{summary}：{unit}" if unit else summary
    return summary


def _words(e: TicketEvent, words: bool) -> str | None:
    return mask(e.reason) if words and e.action in _SHOWN and e.reason else None


def _note(e: TicketEvent, unit_names: dict[str, str], tz: tzinfo, words: bool) -> dict:
    return {"datetime": iso(e.at, tz), "type": _note_type(e.action), "summary": _summary(e, unit_names),
            "description": _words(e, words)}


def _unit_names(session: Session, events: list[TicketEvent]) -> dict[str, str]:
    codes = {json.loads(e.payload or "{}").get("unit") for e in events if e.action in _DISPATCHING} - {None}
    return dict(session.execute(select(Unit.code, Unit.name).where(Unit.code.in_(codes))).all()) if codes else {}


# --- [ext] mySociety's servicerequestupdates (GET) --------------------------------------------------------

# The workflow's steps in mySociety's extended statuses (lower case, as FixMyStreet reads them).
_UPDATE_STATUS = {
    Step.create.value: "open", Step.import_.value: "closed", Step.dispatch.value: "action_scheduled",
    Step.uphold_return.value: "action_scheduled", Step.reject_return.value: "action_scheduled",
    Step.return_.value: "internal_referral", Step.reopen.value: "reopen", Step.merge.value: "duplicate",
    Step.withdraw.value: "cancelled", Step.close.value: "closed",
}


def find_updates(session: Session, settings: Settings, clock: Clock, q: RequestQuery) -> list[dict]:
    """Every public change of the requests in a window of updated_datetime (the last 90 days by default), oldest
    first: one `request_update` per workflow event, its status in mySociety's vocabulary."""
    stmt = (select(TicketEvent, Ticket.number, Ticket.request_id).join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(TicketEvent.action.not_in(_HIDDEN)))
    if q.ids:
        stmt = stmt.where(Ticket.number.in_(q.ids))
    else:
        start, end = window(q, clock.now())
        stmt = stmt.where(TicketEvent.at >= start, TicketEvent.at <= end)
    size = q.page_size or DEFAULT_LIMIT
    rows = session.execute(stmt.order_by(TicketEvent.at, TicketEvent.id).offset((q.page - 1) * size)
                           .limit(size)).all()
    if not rows:
        return []
    open311_requests = set(session.scalars(select(Open311Submission.request_id).where(
        Open311Submission.request_id.in_(list({r for _e, _n, r in rows})))))
    names = _unit_names(session, [e for e, _n, _r in rows])
    tz = settings.tz
    out = []
    for e, number, request_id in rows:
        status = _UPDATE_STATUS.get(e.action, "in_progress")
        if e.action == Step.close.value and json.loads(e.payload or "{}").get("resolved") is True:
            status = "fixed"
        out.append({"update_id": str(e.id), "service_request_id": number, "status": status,
                    "updated_datetime": iso(e.at, tz),
                    "description": _words(e, request_id in open311_requests) or _summary(e, names),
                    "media_url": ""})
    return out


def submissions_by_key(session: Session) -> dict[str, int]:
    """How many requests each client system has filed (for `jiesu apikeys list`)."""
    rows = session.execute(select(ApiKey.name, func.count(Open311Submission.id)).outerjoin(
        Open311Submission, Open311Submission.api_key_id == ApiKey.id).group_by(ApiKey.name)).all()
    return defaultdict(int, dict(rows))
