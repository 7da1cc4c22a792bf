"""Recording and reading the audit. Every service that changes reference data (users, units, categories and
deadline policies, the calendar, routing rules, knowledge articles, API keys) calls `record` in the same
transaction as the change, so that the API, the pages and the CLI are audited alike."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jiesu.audit import rules
from jiesu.audit.models import AuditEntry
from jiesu.clock import SystemClock
from jiesu.errors import InvalidInput, check_page
from jiesu.permissions import Actor, Permission, require

ENTITIES = ("user", "unit", "category", "policy", "calendar", "rule", "article", "apikey")


def record(session: Session, actor: Actor, entity: str, key: str, action: str,
           before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None, *,
           at: datetime | None = None) -> AuditEntry:
    """One change, written beside it (the caller's transaction). `at`: the service's clock, where it has one."""
    if entity not in ENTITIES:
        raise ValueError(f"unknown audited entity {entity!r}")  # a programming error, not input
    entry = AuditEntry(at=at or SystemClock().now(), actor=actor.username, role=actor.role.value, entity=entity,
                       key=str(key)[:128], action=action,
                       before=None if before is None else json.dumps(rules.shown(before), ensure_ascii=False),
                       after=None if after is None else json.dumps(rules.shown(after), ensure_ascii=False))
    session.add(entry)
    return entry


@dataclass
class Entry:
    id: int
    at: datetime
    actor: str
    role: str
    entity: str
    key: str
    action: str
    changes: list[tuple[str, Any, Any]]  # (field, before, after)


def entries(session: Session, actor: Actor, *, entity: str | None = None, key: str | None = None,
            who: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[Entry], int]:
    """The audit, newest first, optionally of one entity kind, one key, one actor; and how many there are."""
    require(actor, Permission.audit_read)
    check_page(limit, offset)
    if entity is not None and entity not in ENTITIES:
        raise InvalidInput(f"entity is one of {', '.join(ENTITIES)}", field="entity")
    stmt = select(AuditEntry)
    if entity:
        stmt = stmt.where(AuditEntry.entity == entity)
    if key:
        stmt = stmt.where(AuditEntry.key == key)
    if who:
        stmt = stmt.where(AuditEntry.actor == who)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit).offset(offset))
    out = [Entry(e.id, e.at, e.actor, e.role, e.entity, e.key, e.action,
                 rules.changes(json.loads(e.before) if e.before else None, json.loads(e.after) if e.after else None))
           for e in rows]
    return out, total
