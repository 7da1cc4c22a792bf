from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, UploadFile
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel

from jiesu.api.deps import ClockDep, SessionDep, SettingsDep, UserDep
from jiesu.api.errors import responses
from jiesu.errors import InvalidInput
from jiesu.permissions import Actor
from jiesu.tickets import attachments
from jiesu.tickets import service as tickets

router = APIRouter(tags=["tickets"])


class AttachmentOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    uploaded_by: str
    url: str

    @classmethod
    def of(cls, a, reader: Actor) -> AttachmentOut:
        return cls(id=a.id, filename=a.filename, content_type=a.content_type, size=a.size, sha256=a.sha256,
                   uploaded_at=a.uploaded_at, uploaded_by=tickets.told_uploader(a.uploaded_by, a.role, reader),
                   url=f"/api/v1/attachments/{a.id}")


@router.post("/tickets/{number}/attachments", status_code=201, response_model=AttachmentOut,
             responses=responses(401, 403, 404, 422))
async def upload(number: str, file: UploadFile, request: Request, session: SessionDep, actor: UserDep,
                 clock: ClockDep, settings: SettingsDep) -> AttachmentOut:
    """Attach a photo (JPEG, PNG, GIF, WebP) or a PDF, sent as multipart form field `file`. The type is
    checked from the bytes, and the name's extension must say the same (`.jpg`, `.png`, `.pdf` ...); a name with
    folders or `..` is refused. The size limit is JIESU_MAX_ATTACHMENT_MB. Only those who take part in an open
    ticket may attach: the centre, its operator, the units working on it, the citizen who made it."""
    limit = int(settings.max_attachment_mb * 1024 * 1024)
    data = await file.read(limit + 1)  # read one byte past the limit to know it is too big, no more
    if len(data) > limit:
        raise InvalidInput(f"the file is larger than {limit} bytes", field="file")
    return AttachmentOut.of(attachments.add(session, actor, clock, settings, number, file.filename or "", data),
                            actor)


@router.get("/tickets/{number}/attachments", response_model=list[AttachmentOut],
            responses=responses(401, 403, 404, 422))
def list_attachments(number: str, session: SessionDep, actor: UserDep) -> list[AttachmentOut]:
    return [AttachmentOut.of(a, actor) for a in attachments.list_for(session, actor, number)]


@router.get("/attachments/{attachment_id}", response_class=FileResponse, responses=responses(401, 403, 404, 422))
def download(attachment_id: Annotated[int, Path(ge=1, le=2**31 - 1)],  # a larger id is no row's: 422, not 500
             session: SessionDep, actor: UserDep, settings: SettingsDep) -> FileResponse:
    """The file, as the type its bytes were found to be, never sniffed again by the browser (nosniff): a photo
    shown inline, a PDF downloaded (a browser's PDF viewer runs scripts), under its checked name."""
    row, path = attachments.open_one(session, actor, settings, attachment_id)
    inline = row.content_type.startswith("image/")
    return FileResponse(path, media_type=row.content_type, filename=row.filename,
                        content_disposition_type="inline" if inline else "attachment",
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
                                 "Content-Security-Policy": "default-src 'none'; sandbox"})


@router.delete("/tickets/{number}/attachments/{attachment_id}", status_code=204,
               responses=responses(401, 403, 404, 409, 422))
def remove(number: str, attachment_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep,
           actor: UserDep, clock: ClockDep) -> Response:
    """Take a file off an open ticket: its uploader or the ticket's handling unit may. The ticket's timeline
    records who removed which file (`remove_attachment`)."""
    attachments.remove(session, actor, clock, number, attachment_id)
    return Response(status_code=204)
