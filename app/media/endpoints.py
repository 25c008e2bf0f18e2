"""The service's own media store: uploads under ``/api/v1/media``, public reads under ``/media/{id}/{name}``
(Instagram and the other platforms fetch media from a public URL; ids are unguessable).

Uploads are media by content: the first bytes must be one of :data:`connectors.mediatypes.MEDIA_TYPES` (the
client's ``Content-Type`` and file name are not trusted), else 415. Files are served with the recognised type,
``nosniff``, ``Content-Disposition`` and a CSP without scripts (:data:`MEDIA_CSP`), so nothing under ``/media/``
renders as a page; a row stored before that rule with another type is served as an ``application/octet-stream``
attachment.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path
from typing import BinaryIO

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy import select

from app.deps import CurrentWorkspace, SessionDep
from app.errors import ApiError, NotFound
from app.models import MediaFile, Workspace
from app.models.base import new_id
from app.openapi import errors
from connectors.mediatypes import ACCEPTED_DESCRIPTION, MEDIA_TYPES, SNIFF_BYTES, recognise

router = APIRouter(prefix="/media", tags=["media"])
public_router = APIRouter(include_in_schema=False)

MEDIA_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
MEDIA_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": MEDIA_CSP}


class MediaOut(BaseModel):
    id: str
    url: str
    kind: str
    mime_type: str
    size: int
    filename: str


def safe_name(name: str | None) -> str:
    base = Path(name or "file").name
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "file"
    return cleaned[-120:]


async def store_upload(
    session: SessionDep, workspace: Workspace, upload: UploadFile, media_dir: Path, limit: int
) -> MediaFile:
    """Store ``upload`` if its bytes are accepted media (415 otherwise) of at most ``limit`` bytes (413)."""
    head = await upload.read(SNIFF_BYTES)
    if not head:
        raise ApiError(422, "file: the uploaded file is empty.", [{"field": "file", "message": "the file is empty"}])
    media_type = recognise(head)
    if media_type is None:
        message = (f"this file is not {ACCEPTED_DESCRIPTION} (recognised by its content, not its name or type); "
                   "only those can be uploaded")
        raise ApiError(415, f"file: {message}.", [{"field": "file", "message": message}])
    await upload.seek(0)
    media_id = new_id()
    filename = media_type.filename(safe_name(upload.filename))
    folder = media_dir / media_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    size = await asyncio.to_thread(_copy_to, upload.file, path)  # up to the upload limit (50 MB): not on the loop
    if size > limit:
        shutil.rmtree(folder, ignore_errors=True)
        message = f"the upload is {size} bytes; the limit is {limit}"
        raise ApiError(413, f"file: {message}.", [{"field": "file", "message": message}])
    record = MediaFile(
        id=media_id, workspace_id=workspace.id, filename=filename, mime_type=media_type.mime, size=size,
        kind=media_type.kind,
    )
    session.add(record)
    await session.flush()
    return record


def _copy_to(source: BinaryIO, path: Path) -> int:
    """Write ``source`` to ``path``; the bytes written."""
    with path.open("wb") as fh:
        shutil.copyfileobj(source, fh, length=1024 * 1024)
    return path.stat().st_size


def media_out(record: MediaFile, public_base: str) -> MediaOut:
    return MediaOut(
        id=record.id,
        url=f"{public_base}/media/{record.id}/{record.filename}",
        kind=record.kind,
        mime_type=record.mime_type,
        size=record.size,
        filename=record.filename,
    )


@router.post("", status_code=201, response_model=MediaOut, responses=errors(413, 415, 422))
async def upload_media(
    file: UploadFile, request: Request, session: SessionDep, workspace: CurrentWorkspace
) -> MediaOut:
    settings = request.app.state.settings
    record = await store_upload(session, workspace, file, settings.media_dir, settings.max_upload_bytes)
    return media_out(record, settings.effective_public_base_url)


@public_router.get("/media/{media_id}/{filename}")
async def read_media(media_id: str, filename: str, request: Request, session: SessionDep) -> FileResponse:
    record = (await session.execute(select(MediaFile).where(MediaFile.id == media_id))).scalar_one_or_none()
    if record is None or record.filename != filename:
        raise NotFound("File")
    path = request.app.state.settings.media_dir / record.id / record.filename
    if not path.is_file():
        raise NotFound("File")
    if record.mime_type in MEDIA_TYPES:
        return FileResponse(path, media_type=record.mime_type, filename=record.filename,
                            content_disposition_type="inline", headers=MEDIA_HEADERS)
    return FileResponse(path, media_type="application/octet-stream", filename=record.filename,
                        content_disposition_type="attachment", headers=MEDIA_HEADERS)
