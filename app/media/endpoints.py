"""The service's own media store: uploads under ``/api/v1/media``, public reads under ``/media/{id}/{name}``
(Instagram and the other platforms fetch media from a public URL; ids are unguessable)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy import select

from app.deps import CurrentWorkspace, SessionDep
from app.errors import ApiError, NotFound
from app.models import MediaFile, Workspace
from app.models.base import new_id
from app.openapi import errors

router = APIRouter(prefix="/media", tags=["media"])
public_router = APIRouter(include_in_schema=False)

KINDS = {"image/gif": "animation", "image": "photo", "video": "video", "audio": "audio"}


class MediaOut(BaseModel):
    id: str
    url: str
    kind: str
    mime_type: str
    size: int
    filename: str


def kind_of(mime: str) -> str:
    return KINDS.get(mime) or KINDS.get(mime.split("/", 1)[0], "document")


def safe_name(name: str | None) -> str:
    base = Path(name or "file").name
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "file"
    return cleaned[-120:]


async def store_upload(
    session: SessionDep, workspace: Workspace, upload: UploadFile, media_dir: Path, limit: int
) -> MediaFile:
    media_id = new_id()
    filename = safe_name(upload.filename)
    folder = media_dir / media_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    with path.open("wb") as fh:
        shutil.copyfileobj(upload.file, fh, length=1024 * 1024)
    size = path.stat().st_size
    if size == 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise ApiError(422, "file: the uploaded file is empty.")
    if size > limit:
        shutil.rmtree(folder, ignore_errors=True)
        raise ApiError(413, f"file: the upload is {size} bytes; the limit is {limit}.")
    mime = upload.content_type or "application/octet-stream"
    record = MediaFile(
        id=media_id, workspace_id=workspace.id, filename=filename, mime_type=mime, size=size, kind=kind_of(mime)
    )
    session.add(record)
    await session.flush()
    return record


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
    return FileResponse(path, media_type=record.mime_type)
