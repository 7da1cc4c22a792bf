from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Enum, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, or_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from jiesu import glossary
from jiesu.db import Base, UTCDateTime
from jiesu.places.models import Area
from jiesu.taxonomy.models import Category, RequestType, Urgency
from jiesu.tickets.rules import TicketState
from jiesu.units.models import Unit


class Channel(StrEnum):
    hotline = "hotline"  # an operator typed the call
    app = "app"  # the citizens' app (the brief's 花伴儿)
    web = "web"
    open311 = "open311"
    import_ = "import"  # history brought from an older system


CHANNEL_LABELS = glossary.labels("channel", Channel)


class Outcome(StrEnum):
    ticket = "ticket"  # dispatched as a ticket
    direct_answer = "direct_answer"  # 直接答复: answered at once by the operator, never dispatched


class Contact(Base):
    """A citizen's personal data, stored once. Read through the service, which masks it and logs
    every unmasked read."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Request(Base):
    """诉求: whatever reached the city, by any channel."""

    __tablename__ = "requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(String(200), default="")
    request_type: Mapped[RequestType] = mapped_column(Enum(RequestType, native_enum=False, length=16))
    channel: Mapped[Channel] = mapped_column(Enum(Channel, native_enum=False, length=16), index=True)
    address: Mapped[str] = mapped_column(String(256), default="")
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    lng: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="RESTRICT"))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    no_callback: Mapped[bool] = mapped_column(Boolean, default=False)
    urgency: Mapped[Urgency] = mapped_column(Enum(Urgency, native_enum=False, length=16))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))
    outcome: Mapped[Outcome] = mapped_column(Enum(Outcome, native_enum=False, length=16), index=True)
    answer: Mapped[str | None] = mapped_column(Text)  # the direct answer, when there is one
    # The segmented words of title and text (smart dispatch), kept so that finding duplicates among recent
    # tickets never segments their texts again.
    terms: Mapped[str | None] = mapped_column(Text)
    # Idempotency-Key (IETF draft "The Idempotency-Key HTTP Header Field"): unique per sender, not globally (a
    # client cannot take another's keys), with a fingerprint of the request it came with, so that the same key
    # with another request is refused (422) instead of answered with the first ticket. The scope is the sender
    # (Request.created_by: the user, `open311:<client>`, `import`).
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    idempotency_scope: Mapped[str | None] = mapped_column(String(64))
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_by: Mapped[str] = mapped_column(String(64))

    area: Mapped[Area | None] = relationship(lazy="raise")
    category: Mapped[Category | None] = relationship(lazy="raise")
    contact: Mapped[Contact | None] = relationship(lazy="raise")

    __table_args__ = (UniqueConstraint("idempotency_key", "idempotency_scope",
                                       name="uq_requests_idempotency_key_scope"),)


class Ticket(Base):
    """工单: a request that units handle. Its state changes only through the workflow, which writes a
    TicketEvent in the same transaction; `version` makes a concurrent second change fail, not overwrite."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # 20230311-000123
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="RESTRICT"), unique=True)
    state: Mapped[TicketState] = mapped_column(Enum(TicketState, native_enum=False, length=16), index=True)
    main_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"), index=True)
    urgency: Mapped[Urgency] = mapped_column(Enum(Urgency, native_enum=False, length=16))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    district_code: Mapped[str | None] = mapped_column(String(32), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dispatch_by: Mapped[datetime] = mapped_column(UTCDateTime())
    sign_by: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    reply_by: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    sign_overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    reply_overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    extension_days_requested: Mapped[float | None] = mapped_column(Float)  # pending request, if any
    extensions: Mapped[int] = mapped_column(Integer, default=0)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    callback_due: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # Smart dispatch's proposal at intake (JSON, also on the create event); manual_review: its confidence was
    # too low, a dispatcher decides from scratch.
    suggestion: Mapped[str | None] = mapped_column(Text)
    manual_review: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)
    # Intake left the suggestion to smart dispatch's worker (routing.service.suggest_pending), which clears this.
    suggest_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    version: Mapped[int] = mapped_column(Integer, default=1)

    request: Mapped[Request] = relationship(lazy="raise")
    main_unit: Mapped[Unit | None] = relationship(lazy="raise")
    category: Mapped[Category | None] = relationship(lazy="raise")
    area: Mapped[Area | None] = relationship(lazy="raise")
    units: Mapped[list[TicketUnit]] = relationship(back_populates="ticket", order_by="TicketUnit.id", lazy="raise")
    events: Mapped[list[TicketEvent]] = relationship(back_populates="ticket", order_by="TicketEvent.seq", lazy="raise")

    __mapper_args__ = {"version_id_col": version}


class UnitRole(StrEnum):
    co = "co"  # 协办: a co-handling unit named at dispatch
    copy = "copy"  # 抄送: the district receives a copy of its street's ticket
    summoned = "summoned"  # 吹哨报到: a department the street whistled in


class SummonsState(StrEnum):
    summoned = "summoned"
    signed = "signed"  # reported for duty
    reported = "reported"  # reported its part done


class TicketUnit(Base):
    __tablename__ = "ticket_units"
    __table_args__ = (UniqueConstraint("ticket_id", "unit_id", "role", name="uq_ticket_units_ticket_unit_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    role: Mapped[UnitRole] = mapped_column(Enum(UnitRole, native_enum=False, length=16))
    state: Mapped[SummonsState | None] = mapped_column(Enum(SummonsState, native_enum=False, length=16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    report: Mapped[str | None] = mapped_column(Text)

    ticket: Mapped[Ticket] = relationship(back_populates="units", lazy="raise")
    unit: Mapped[Unit] = relationship(lazy="raise")


class TicketEvent(Base):
    """One change of one ticket: who, with which role, when, what, why. Append-only."""

    __tablename__ = "ticket_events"
    __table_args__ = (UniqueConstraint("ticket_id", "seq", name="uq_ticket_events_ticket_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    action: Mapped[str] = mapped_column(String(32), index=True)
    from_state: Mapped[TicketState | None] = mapped_column(Enum(TicketState, native_enum=False, length=16))
    to_state: Mapped[TicketState] = mapped_column(Enum(TicketState, native_enum=False, length=16))
    reason: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[str] = mapped_column(Text, default="{}")  # JSON

    ticket: Mapped[Ticket] = relationship(back_populates="events", lazy="raise")


class PersonalDataAccess(Base):
    """Every unmasked read of a citizen's name or phone."""

    __tablename__ = "personal_data_access"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(32))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="RESTRICT"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="RESTRICT"))
    purpose: Mapped[str] = mapped_column(String(256))


class Attachment(Base):
    """A photo or document on a ticket. The bytes live on disk under the var folder, named by their
    SHA-256 (the same photo sent twice is stored once); the row says whose and what."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    uploaded_by: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))


class TicketCounter(Base):
    """The last number handed out per day: 20230311-000123 is the 123rd ticket of 11 March 2023."""

    __tablename__ = "ticket_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


Index("ix_tickets_state_unit", Ticket.state, Ticket.main_unit_id)
# The lists' order (newest first, ties by id): a deep page is a walk of this index (benchmarks/pages.py); a
# district's tickets in one state (the dispatcher's filter), and the overdue ones (the supervisor's), in that order.
Index("ix_tickets_created_id", Ticket.created_at, Ticket.id)
Index("ix_tickets_district_state_created", Ticket.district_code, Ticket.state, Ticket.created_at, Ticket.id)
_OVERDUE = or_(Ticket.sign_overdue.is_(True), Ticket.reply_overdue.is_(True))  # as tickets.reading filters them
Index("ix_tickets_overdue_created", Ticket.created_at, Ticket.id, postgresql_where=_OVERDUE, sqlite_where=_OVERDUE)
# Partial: only the few tickets waiting for their suggestion are in it, so intake pays little for it.
Index("ix_tickets_suggest_pending", Ticket.id, postgresql_where=Ticket.suggest_pending,
      sqlite_where=Ticket.suggest_pending)


class TicketFollower(Base):
    """A citizen who follows a ticket someone else filed (the app's 加入关注, as FixMyStreet's and Signalen's
    "me too"): they see its public status in 我的诉求 instead of filing the same request again."""

    __tablename__ = "ticket_followers"
    __table_args__ = (UniqueConstraint("ticket_id", "username", name="uq_ticket_followers_ticket_username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
