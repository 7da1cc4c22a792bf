"""The Open311 tables: the client systems' API keys, and what an Open311 POST carried beyond the request itself."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from jiesu.db import Base, UTCDateTime
from jiesu.tickets.models import Request


class ApiKey(Base):
    """One client system's key for POSTing requests. Only its SHA-256 is stored: the key is shown once, when it
    is made. A revoked key stays (the requests it filed still name it) but opens nothing."""

    __tablename__ = "open311_api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(48), unique=True)  # the client system, e.g. city-app
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the key's first characters, to recognise it in a list
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(64))


class Open311Submission(Base):
    """What an Open311 POST carried that the request has no column for: the service code asked for, the
    description as sent, the attribute answers, the media URL and the client's own ids. One per request."""

    __tablename__ = "open311_submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="RESTRICT"), unique=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("open311_api_keys.id", ondelete="RESTRICT"), index=True)
    service_code: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    attributes: Mapped[str] = mapped_column(Text, default="[]")  # JSON: [{"code", "label", "value", "shown"}]
    media_url: Mapped[str | None] = mapped_column(String(2048))
    email: Mapped[str | None] = mapped_column(String(254))  # personal data: stored, never shown
    device_id: Mapped[str | None] = mapped_column(String(128))
    account_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    request: Mapped[Request] = relationship(lazy="raise")
    api_key: Mapped[ApiKey] = relationship(lazy="raise")
