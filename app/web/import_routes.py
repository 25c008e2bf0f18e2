"""The plan import page: upload a CSV or XLSX, see every problem by row and column, then create the posts.

The upload is a dry run through the same importer as ``POST /api/v1/plan/import``; the report page carries the file
(base64, in a hidden field) to the "create these N posts" form, which imports it again with ``commit``: the rows
are checked once more at that moment, and all are created or none."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from app.db import SessionDep
from app.plan import importer
from app.web.render import render
from app.web.session import CsrfUserDep, UserDep, WebUser

router = APIRouter(include_in_schema=False)


async def _page(request: Request, user: WebUser, *, report: dict[str, Any] | None = None, error: str = "",
                payload: str = "", kind: str = "", filename: str = "", created: bool = False,
                status_code: int = 200) -> Response:
    return render(request, "plan_import.html", {
        "report": report, "error": error, "payload": payload, "kind": kind, "filename": filename,
        "created": created, "max_rows": importer.MAX_ROWS,
        "columns": importer.REQUIRED + importer.OPTIONAL}, user=user, status_code=status_code)


@router.get("/plan/import")
async def import_page(request: Request, user: UserDep) -> Response:
    """The upload form."""
    if request.query_params.get("too_large"):  # BodyLimit answers a file over the upload limit with this page
        limit = request.app.state.settings.max_upload_bytes
        return await _page(request, user, status_code=413, error=(
            f"The file is larger than the upload limit of {limit / (1024 * 1024):g} MB: split the plan into "
            "smaller files."))
    return await _page(request, user)


async def _run(request: Request, session: AsyncSession, user: WebUser, data: bytes, kind: str, *, commit: bool
               ) -> dict[str, Any]:
    report = await importer.run_import(session, user.workspace, data, kind, request.app.state.hub,
                                       request.app.state.settings, commit=commit)
    await session.refresh(user.workspace)  # the import ended its transaction; the page shows the workspace
    return report.as_dict()


@router.post("/plan/import")
async def upload(request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """A dry run of the uploaded file: the report, and the button that creates the posts when there is no problem."""
    form = await request.form()
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return await _page(request, user, error="Pick a CSV or XLSX file to import.", status_code=400)
    kind = importer.kind_of(file.content_type, file.filename)
    if kind is None:
        return await _page(request, user, status_code=415,
                           error=f"{file.filename} is not a CSV or XLSX file: save the plan as CSV (UTF-8) or XLSX.")
    data = await file.read()
    report = await _run(request, session, user, data, kind, commit=False)
    return await _page(request, user, report=report, payload=base64.b64encode(data).decode(), kind=kind,
                       filename=file.filename)


@router.post("/plan/import/commit")
async def commit(request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Create every post of the file checked on the report page, or none (the report again, as it is now)."""
    form = await request.form()
    kind, filename = str(form.get("kind") or ""), str(form.get("filename") or "")
    try:
        data = base64.b64decode(str(form.get("payload") or ""), validate=True)
    except (binascii.Error, ValueError):
        data = b""
    if kind not in ("csv", "xlsx") or not data:
        return await _page(request, user, error="The file did not come back with the form: upload it again.",
                           status_code=400)
    report = await _run(request, session, user, data, kind, commit=True)
    if report["problems"]:
        return await _page(request, user, report=report, payload=base64.b64encode(data).decode(), kind=kind,
                           filename=filename, status_code=422)
    return await _page(request, user, report=report, filename=filename, created=True)
