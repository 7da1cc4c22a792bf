"""The administrators' audit: who changed what reference data, when, from what to what. Append-only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jiesu.db import Base, UTCDateTime


class AuditEntry(Base):
    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64))  # the username (or 'system' for the CLI's administrator)
    role: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))  # user, unit, category, policy, calendar, rule, article, apikey
    key: Mapped[str] = mapped_column(String(128))  # the entity's code, username, id ...
    action: Mapped[str] = mapped_column(String(32))  # create, edit, deactivate, reset_password, publish ...
    before: Mapped[str | None] = mapped_column(Text)  # JSON snapshot (rules.shown), None for a creation
    after: Mapped[str | None] = mapped_column(Text)  # JSON snapshot, None for a deletion


Index("ix_audit_entries_entity_key", AuditEntry.entity, AuditEntry.key)
