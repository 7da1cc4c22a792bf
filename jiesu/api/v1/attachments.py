from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel

from jiesu.api.deps import ClockDep, SessionDep, SettingsDep, UserDep
from jiesu.api.errors import responses
from jiesu.errors import InvalidInput
from jiesu.tickets import attachments

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
    def of(cls, a) -> AttachmentOut:
        return cls(id=a.id, filename=a.filename, content_type=a.content_type, size=a.size, sha256=a.sha256,
                   uploaded_at=a.uploaded_at, uploaded_by=a.uploaded_by, url=f"/api/v1/attachments/{a.id}")


@router.post("/tickets/{number}/attachments", status_code=201, response_model=AttachmentOut,
             responses=responses(401, 403, 404, 422))
async def upload(number: str, file: UploadFile, request: Request, session: SessionDep, actor: UserDep,
                 clock: ClockDep, settings: SettingsDep) -> AttachmentOut:
    """Attach a photo (JPEG, PNG, GIF, WebP) or a PDF, sent as multipart form field `file`. The type is
    checked from the bytes, not the name; the size limit is JIESU_MAX_ATTACHMENT_MB."""
    limit = int(settings.max_attachment_mb * 1024 * 1024)
    data = await file.read(limit + 1)  # read one byte past the limit to know it is too big, no more
    if len(data) > limit:
        raise InvalidInput(f"the file is larger than {limit} bytes", field="file")
    return AttachmentOut.of(attachments.add(session, actor, clock, settings, number, file.filename or "", data))


@router.get("/tickets/{number}/attachments", response_model=list[AttachmentOut],
            responses=responses(401, 403, 404, 422))
def list_attachments(number: str, session: SessionDep, actor: UserDep) -> list[AttachmentOut]:
    return [AttachmentOut.of(a) for a in attachments.list_for(session, actor, number)]


@router.get("/attachments/{attachment_id}", response_class=FileResponse, responses=responses(401, 403, 404, 422))
def download(attachment_id: Annotated[int, Path(ge=1, le=2**31 - 1)],  # a larger id is no row's: 422, not 500
             session: SessionDep, actor: UserDep, settings: SettingsDep) -> FileResponse:
    row, path = attachments.open_one(session, actor, settings, attachment_id)
    return FileResponse(path, media_type=row.content_type, filename=row.filename)
