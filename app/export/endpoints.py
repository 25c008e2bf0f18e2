"""HTTP routes: ``GET /api/v1/posts/export`` (with a key) and ``GET /ical/{token}.ics`` (the token is the key)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.db import SessionDep
from app.deps import CurrentWorkspace
from app.errors import ApiError
from app.export import ical, service
from app.openapi import errors
from app.workspaces import service as workspace_service

router = APIRouter(prefix="/posts", tags=["posts"])
feed_router = APIRouter(include_in_schema=False)  # not /api/v1: a calendar app's URL (README, "What is public")

FILE_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}, service.XLSX_TYPE: {}},
                        "description": "the plan as a file (header row: " + ", ".join(service.COLUMNS) + ")"}}


@router.get("/export", response_class=Response, responses={**FILE_RESPONSES, **errors(422)})
async def export_posts(
    session: SessionDep, workspace: CurrentWorkspace,
    start: Annotated[str | None, Query(description="RFC 3339 or YYYY-MM-DD (workspace zone)")] = None,
    end: Annotated[str | None, Query(description="exclusive; RFC 3339 or YYYY-MM-DD")] = None,
    format: Annotated[Literal["csv", "xlsx"], Query(description="csv (UTF-8) or xlsx")] = "csv",
) -> Response:
    """The posts with a time in the range as a CSV or XLSX file the plan import reads back."""
    rows = await service.export_rows(session, workspace, start, end)
    body, media_type = await service.render(rows, format)
    name = f"plan-{(start or 'all')[:10]}-{(end or 'all')[:10]}.{format}"
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@feed_router.get("/ical/{token}.ics", response_class=Response)
async def ical_feed(token: str, session: SessionDep) -> Response:
    """The workspace's plan as an iCalendar feed. No API key: the secret token in the path is the credential
    (``POST /api/v1/workspace/ical/rotate`` replaces it; the old URL then answers 404)."""
    workspace = await workspace_service.by_ical_token(session, token)
    if workspace is None:
        raise ApiError(404, "No calendar feed at this address (it may have been replaced); copy the current "
                            "ical_url from GET /api/v1/workspace.")
    body = await ical.feed(session, workspace)
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Cache-Control": "private, max-age=300"})
