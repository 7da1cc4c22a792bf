"""Photos and documents on a ticket: checked by their bytes, stored once under the var folder."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.errors import InvalidInput, NotFound, PermissionDenied
from jiesu.permissions import Actor
from jiesu.tickets import service
from jiesu.tickets.models import Attachment, Ticket

# What a file says it is at its first bytes; a name or a header is only a claim.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)
MAX_PER_TICKET = 20
SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")


def sniff(data: bytes) -> str | None:
    for magic, kind in SIGNATURES:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def storage_path(settings: Settings, sha256: str) -> Path:
    return settings.var_dir / "attachments" / sha256[:2] / sha256


def add(session: Session, actor: Actor, clock: Clock, settings: Settings, number: str, filename: str,
        data: bytes) -> Attachment:
    """Attach a file to a ticket. Whoever may see the ticket and takes part in it may attach: the
    centre, the units on it, the citizen who made it."""
    ticket = service.get(session, actor, number, ())  # 404 for a ticket the actor may not see; nothing loaded
    if actor.role is None:
        raise PermissionDenied("log in to attach files", field="Authorization")
    limit = int(settings.max_attachment_mb * 1024 * 1024)
    if not data:
        raise InvalidInput("the file is empty", field="file")
    if len(data) > limit:
        raise InvalidInput(f"the file is {len(data)} bytes; at most {limit} are accepted", field="file")
    kind = sniff(data)
    if kind is None:
        raise InvalidInput("only JPEG, PNG, GIF, WebP photos and PDF documents are accepted", field="file")
    count = len(session.scalars(select(Attachment.id).where(Attachment.ticket_id == ticket.id)).all())
    if count >= MAX_PER_TICKET:
        raise InvalidInput(f"a ticket holds at most {MAX_PER_TICKET} files", field="file")
    digest = hashlib.sha256(data).hexdigest()
    path = storage_path(settings, digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)  # never a half-written file under the final name
    name = SAFE_NAME.sub("_", Path(filename or "file").name)[:200] or "file"
    row = Attachment(ticket_id=ticket.id, filename=name, content_type=kind, size=len(data), sha256=digest,
                     uploaded_at=clock.now(), uploaded_by=actor.username, role=actor.role.value)
    session.add(row)
    session.flush()
    return row


def of_ticket(session: Session, ticket: Ticket) -> list[Attachment]:
    """The files of a ticket the caller has already read (and so may see), oldest first: one statement."""
    return list(session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id).order_by(Attachment.id)))


def list_for(session: Session, actor: Actor, number: str) -> list[Attachment]:
    ticket = service.get(session, actor, number, ())
    return list(session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id).order_by(Attachment.id)))


def open_one(session: Session, actor: Actor, settings: Settings, attachment_id: int) -> tuple[Attachment, Path]:
    row = session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound(f"no attachment {attachment_id}", field="attachment_id")
    ticket = session.get(Ticket, row.ticket_id)
    service.get(session, actor, ticket.number, ())  # the same visibility as the ticket
    path = storage_path(settings, row.sha256)
    if not path.exists():
        raise NotFound(f"attachment {attachment_id} is recorded but its file is missing", field="attachment_id")
    return row, path


