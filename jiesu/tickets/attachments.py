"""Photos and documents on a ticket: checked by their bytes, stored once under the var folder."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.errors import ConcurrentChange, InvalidInput, NotFound, PermissionDenied
from jiesu.permissions import Actor, Role
from jiesu.tickets import service
from jiesu.tickets.models import Attachment, Ticket, TicketEvent, UnitRole
from jiesu.tickets.rules import CENTRE, OPEN_STATES, UNIT_MEMBERS, Step
from jiesu.tickets.store import new_event

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
# The name's extension must say what the bytes are: `x.pdf.exe` or a PNG-headed `polyglot.html` is refused, so
# that no name ever makes a browser or a desktop open the file as something else.
EXTENSIONS: dict[str, frozenset[str]] = {
    "image/jpeg": frozenset({"jpg", "jpeg", "jpe", "jfif"}),
    "image/png": frozenset({"png"}),
    "image/gif": frozenset({"gif"}),
    "image/webp": frozenset({"webp"}),
    "application/pdf": frozenset({"pdf"}),
}
# A path, a parent, a hidden or device name, a control character: a name is one plain file name or nothing.
PATHISH = re.compile(r"[/\\\x00-\x1f\x7f:]|^\.|\.\.")
# Who takes part in a ticket, beyond its units: the centre that dispatches it (rules.CENTRE) and the operator who
# files for the citizen (the workflow's `creator` party). The supervisor and the callback desk read it only.
CENTRE_ATTACHERS = CENTRE | {Role.operator}
# The units that work on a ticket; a district copied on its street's ticket (UnitRole.copy) only reads it.
WORKING_UNIT_ROLES = frozenset({UnitRole.co, UnitRole.summoned})
PARTIES: tuple = (selectinload(Ticket.units),)  # what may_attach reads of a ticket


def sniff(data: bytes) -> str | None:
    for magic, kind in SIGNATURES:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def checked_name(filename: str, kind: str) -> str:
    """The name a file is kept under: one plain name whose extension says what its bytes are (InvalidInput,
    field `file`, otherwise). Characters outside letters, digits, CJK, `.`, `-` and `_` become `_`."""
    name = (filename or "").strip()
    if not name:
        raise InvalidInput("the file needs a name", field="file")
    if PATHISH.search(name):
        raise InvalidInput("a file name is one name, without folders, `..` or a leading dot", field="file")
    stem, dot, ext = name.rpartition(".")
    allowed = EXTENSIONS[kind]
    if not dot or not stem or ext.lower() not in allowed:
        ends = " or ".join("." + e for e in sorted(allowed))
        raise InvalidInput(f"the file is {kind}: its name must end in {ends}", field="file")
    if len(name) > 200:
        raise InvalidInput("a file name has at most 200 characters", field="file")
    return SAFE_NAME.sub("_", name)


def may_attach(actor: Actor, ticket: Ticket) -> bool:
    """Whether `actor` takes part in `ticket` (read with PARTIES) and so may add a file to it: the centre that
    dispatches it and the operator who files for the citizen, a member of its main unit or of a unit co-handling
    it or whistled in, the citizen who made it (the only tickets a citizen can read). Not the supervisor, the
    callback desk, a copied district or a community reading its area's tickets; nobody once it is closed."""
    if ticket.state not in OPEN_STATES or actor.role is None:
        return False
    if actor.role in CENTRE_ATTACHERS or actor.role == Role.citizen:
        return True
    if actor.role in UNIT_MEMBERS and actor.unit_id is not None:
        return actor.unit_id == ticket.main_unit_id or any(
            tu.unit_id == actor.unit_id and tu.role in WORKING_UNIT_ROLES for tu in ticket.units)
    return False


def may_remove(actor: Actor, ticket: Ticket, row: Attachment) -> bool:
    """Whether `actor` may take `row` off `ticket`: its uploader, or a member of the ticket's main unit, while the
    ticket is open and they still take part in it."""
    if not may_attach(actor, ticket):
        return False
    return row.uploaded_by == actor.username or (
        actor.role in UNIT_MEMBERS and actor.unit_id is not None and actor.unit_id == ticket.main_unit_id)


def storage_path(settings: Settings, sha256: str) -> Path:
    return settings.var_dir / "attachments" / sha256[:2] / sha256


def add(session: Session, actor: Actor, clock: Clock, settings: Settings, number: str, filename: str,
        data: bytes) -> Attachment:
    """Attach a file to a ticket. Whoever may see the ticket and takes part in it may attach: the
    centre, the units on it, the citizen who made it."""
    ticket = service.get(session, actor, number, PARTIES)  # 404 for a ticket the actor may not see
    if actor.role is None:
        raise PermissionDenied("log in to attach files", field="Authorization")
    if not may_attach(actor, ticket):
        raise PermissionDenied("only those who take part in an open ticket may attach files to it",
                               field="number")
    limit = int(settings.max_attachment_mb * 1024 * 1024)
    if not data:
        raise InvalidInput("the file is empty", field="file")
    if len(data) > limit:
        raise InvalidInput(f"the file is {len(data)} bytes; at most {limit} are accepted", field="file")
    kind = sniff(data)
    if kind is None:
        raise InvalidInput("only JPEG, PNG, GIF, WebP photos and PDF documents are accepted", field="file")
    name = checked_name(filename, kind)
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




def remove(session: Session, actor: Actor, clock: Clock, number: str, attachment_id: int) -> Attachment:
    """Take a file off an open ticket (its uploader, or the ticket's main unit): the row goes, and an event
    `remove_attachment` on the ticket's timeline says who took which file off and when. The bytes stay on disk
    (named by their hash, they may be another row's too). The ticket's version moves on, as with any step."""
    ticket = service.get(session, actor, number, PARTIES)  # 404 for a ticket the actor may not see
    row = session.scalar(select(Attachment).where(Attachment.id == attachment_id,
                                                  Attachment.ticket_id == ticket.id))
    if row is None:
        raise NotFound(f"ticket {number} has no attachment {attachment_id}", field="attachment_id")
    if not may_remove(actor, ticket, row):
        raise PermissionDenied("only the uploader or the handling unit may remove a file, while the ticket is open",
                               field="attachment_id")
    seq = (session.scalar(select(func.max(TicketEvent.seq)).where(TicketEvent.ticket_id == ticket.id)) or 0) + 1
    payload = {"attachment_id": row.id, "filename": row.filename, "sha256": row.sha256,
               "uploaded_by": row.uploaded_by}
    session.add(new_event(ticket, actor, clock.now(), Step.remove_attachment, ticket.state, ticket.state,
                          row.filename, payload, seq))
    flag_modified(ticket, "state")  # the version moves on: a concurrent step or removal fails, not overwrites
    session.delete(row)
    try:
        session.flush()
    except (StaleDataError, IntegrityError) as exc:
        raise ConcurrentChange(f"ticket {number} was changed by someone else meanwhile: reload it",
                               field="number") from exc
    return row
