from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel, Field, StrictFloat

from jiesu.limits import MAX_ADDRESS, MAX_CODE, MAX_NAME, MAX_PHONE, MAX_REASON, MAX_TEXT, MAX_TITLE, MAX_UNIT_CODE
from jiesu.permissions import Actor
from jiesu.taxonomy.models import RequestType, Urgency
from jiesu.tickets import service
from jiesu.tickets.models import Channel, Outcome, Ticket
from jiesu.tickets.rules import ACTION_LABELS, STATE_LABELS, Step, TicketState


# Smart dispatch's suggestion as the ticket keeps it (routing makes it; the ticket carries it).
class UnitPickOut(BaseModel):
    code: str
    name: str


class DuplicateOut(BaseModel):
    number: str
    score: float
    reasons: list[str]


class SuggestionOut(BaseModel):
    """Smart dispatch's proposal for a request; every part says why."""

    category_code: str | None
    category_name: str | None
    category_confidence: float
    category_alternatives: list[dict]
    category_reasons: list[str]
    place: dict | None = Field(description="the place resolution: codes, path, confidence, ambiguous, alternatives")
    main_unit: UnitPickOut | None
    co_units: list[UnitPickOut]
    unit_reasons: list[str]
    urgency: Urgency
    urgency_reasons: list[str]
    duplicates: list[DuplicateOut]
    confidence: float = Field(description="the lower of the category's and the place's confidence")
    manual: bool = Field(description="true: the ticket waits in the manual queue, a dispatcher decides")
    manual_reasons: list[str]
    model_version: str | None


class RequestIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="what the citizen said")
    request_type: RequestType = Field(description="咨询 inquiry, 求助 help, 投诉 complaint, 举报 report, ...")
    channel: Channel | None = Field(
        default=None, description="set by the server from who sends the request: `app` for a citizen (who may say "
        "`web` instead), `hotline` for the centre's staff (who may say `app` or `web`); `open311` is Open311's "
        "and `import` the history import's, never accepted here (422)")
    title: str = Field(default="", max_length=MAX_TITLE)
    address: str = Field(default="", max_length=MAX_ADDRESS, description="the place as the citizen said it")
    area_code: str | None = Field(default=None, max_length=MAX_CODE, description="the resolved area, if known")
    lng: StrictFloat | None = Field(default=None, ge=-180, le=180)  # strict: false is not 0.0
    lat: StrictFloat | None = Field(default=None, ge=-90, le=90)
    contact_name: str | None = Field(default=None, max_length=MAX_NAME)
    contact_phone: str | None = Field(default=None, max_length=MAX_PHONE)
    anonymous: bool = False
    no_callback: bool = False
    urgency: Urgency = Field(default=Urgency.normal, description=(
        "the centre's staff set it; a citizen's `emergency` (or `complex`) is a request the dispatcher confirms "
        "at dispatch: kept as `requested_urgency`, the ticket's deadlines those of an ordinary one until then"))
    category_code: str | None = Field(default=None, max_length=MAX_CODE)
    direct_answer: str | None = Field(default=None, max_length=MAX_TEXT,
                                      description="an inquiry answered at once: closed without a ticket")

    def to_new(self) -> service.NewRequest:
        return service.NewRequest(**self.model_dump())


class StepIn(BaseModel):
    reason: str = Field(default="", max_length=MAX_REASON)
    text: str = Field(default="", max_length=MAX_TEXT)
    unit: str | None = Field(default=None, max_length=MAX_UNIT_CODE, description="dispatch or re-dispatch to this unit")
    co_units: list[str] = Field(default_factory=list, max_length=20)
    units: list[str] = Field(default_factory=list, max_length=20, description="whistle: the units summoned")
    days: float | None = Field(default=None, gt=0, le=service.MAX_EXTENSION_DAYS,
                                description="extension: business days asked for")
    parent: str | None = Field(default=None, max_length=MAX_CODE, description="merge: the parent ticket's number")
    category: str | None = Field(default=None, max_length=MAX_CODE,
                                 description="dispatch: the category code the dispatcher confirms or corrects")
    urgency: Urgency | None = Field(default=None, description="dispatch: the urgency the dispatcher confirms or "
                                    "sets (a citizen's requested `emergency` counts only once confirmed)")
    resolved: bool | None = None
    satisfied: str | None = Field(default=None, max_length=16)
    expected_version: int | None = Field(default=None, ge=1, description="fail with 409 if the ticket moved on")

    def to_input(self) -> service.StepInput:
        return service.StepInput(**self.model_dump())


class UnitRef(BaseModel):
    code: str
    name: str
    role: str
    state: str | None


class EventOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    action_label: str
    from_state: TicketState | None
    to_state: TicketState
    reason: str
    payload: dict


class ContactOut(BaseModel):
    name: str | None
    phone: str | None
    masked: bool


class TicketOut(BaseModel):
    number: str
    state: TicketState
    state_label: str
    request_type: RequestType
    channel: Channel
    title: str
    text: str
    address: str
    area_code: str | None
    area_path: str | None
    district_code: str | None
    category_code: str | None
    category_path: str | None
    urgency: Urgency
    requested_urgency: Urgency | None = Field(default=None, description=(
        "the urgency asked for at intake when it differs from the ticket's (a citizen's 市民申请紧急 the dispatcher "
        "has not confirmed)"))
    main_unit_code: str | None
    main_unit_name: str | None
    units: list[UnitRef]
    created_at: datetime
    dispatched_at: datetime | None
    signed_at: datetime | None
    replied_at: datetime | None
    closed_at: datetime | None
    dispatch_by: datetime
    sign_by: datetime | None
    reply_by: datetime | None
    sign_overdue: bool
    reply_overdue: bool
    escalated: bool
    extension_days_requested: float | None
    extensions: int
    reopened: int
    callback_due: bool
    manual_review: bool
    anonymous: bool
    no_callback: bool
    parent_number: str | None
    contact: ContactOut | None
    version: int

    @classmethod
    def of(cls, t: Ticket, parent_number: str | None = None) -> TicketOut:
        return cls(**cls.fields_of(t, parent_number))

    @staticmethod
    def fields_of(t: Ticket, parent_number: str | None = None) -> dict:
        r = t.request
        contact = None
        if r.contact is not None:
            contact = ContactOut(name=service.mask_name(r.contact.name), phone=service.mask_phone(r.contact.phone),
                                 masked=True)
        return dict(
            number=t.number, state=t.state, state_label=STATE_LABELS[t.state], request_type=r.request_type,
            channel=r.channel, title=r.title, text=r.text, address=r.address,
            area_code=t.area.code if t.area else None, area_path=t.area.path if t.area else None,
            district_code=t.district_code, category_code=t.category.code if t.category else None,
            category_path=t.category.path if t.category else None, urgency=t.urgency,
            requested_urgency=r.urgency if r.urgency != t.urgency else None,
            main_unit_code=t.main_unit.code if t.main_unit else None,
            main_unit_name=t.main_unit.name if t.main_unit else None,
            units=[UnitRef(code=tu.unit.code, name=tu.unit.name, role=tu.role.value,
                           state=tu.state.value if tu.state else None) for tu in t.units],
            created_at=t.created_at, dispatched_at=t.dispatched_at, signed_at=t.signed_at, replied_at=t.replied_at,
            closed_at=t.closed_at, dispatch_by=t.dispatch_by, sign_by=t.sign_by, reply_by=t.reply_by,
            sign_overdue=t.sign_overdue, reply_overdue=t.reply_overdue, escalated=t.escalated,
            extension_days_requested=t.extension_days_requested, extensions=t.extensions, reopened=t.reopened,
            callback_due=t.callback_due, manual_review=t.manual_review, anonymous=r.anonymous,
            no_callback=r.no_callback,
            parent_number=parent_number, contact=contact, version=t.version)


class TicketDetailOut(TicketOut):
    merged: list[str] = Field(description="numbers of the duplicates merged into this ticket")
    timeline: list[EventOut]

    @classmethod
    def of(cls, t: Ticket, parent_number: str | None = None, merged: list[str] | None = None, *,
           reader: Actor | None = None, unit_names: Mapping[int, str] | None = None) -> TicketDetailOut:
        """The ticket as `reader` is told it: a citizen sees, for each staff member's step, the unit they acted
        for (from `unit_names`: service.timeline_units), never the staff's usernames. Without a reader (the
        shell's tools), the usernames."""
        def who(e) -> str:
            return e.actor if reader is None else service.told_actor(e, reader, unit_names or {})

        timeline = [EventOut(seq=e.seq, at=e.at, actor=who(e), role=e.role, action=e.action,
                             action_label=ACTION_LABELS.get(Step._value2member_map_.get(e.action), e.action),
                             from_state=e.from_state,
                             to_state=e.to_state, reason=e.reason, payload=json.loads(e.payload or "{}"))
                    for e in sorted(t.events, key=lambda e: e.seq)]
        return cls(**cls.fields_of(t, parent_number), merged=merged or [], timeline=timeline)


class IntakeOut(BaseModel):
    request_id: int
    outcome: Outcome
    direct_answer: str | None
    replayed: bool
    ticket: TicketDetailOut | None
    suggestion: SuggestionOut | None = Field(default=None, description="smart dispatch's proposal for the new "
                                             "ticket, for the centre's staff (none for citizens and inquiries)")
    suggestion_pending: bool = Field(default=False, description="the suggestion is left to smart dispatch's "
                                     "worker, which makes it right after this answer")


class TicketPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[TicketOut]


class AccessOut(BaseModel):
    at: datetime
    actor: str
    role: str
    ticket_id: int | None
    purpose: str
