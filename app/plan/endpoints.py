"""HTTP routes of planning: fill drafts into the best free slots; import a plan from CSV or XLSX."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from app.deps import CurrentWorkspace, SessionDep
from app.errors import ApiError
from app.openapi import errors
from app.plan import importer, service
from app.plan.schemas import FillIn, FillOut, ImportOut

router = APIRouter(prefix="/plan", tags=["plan"])


@router.post("/fill", response_model=FillOut)
async def fill(data: FillIn, request: Request, session: SessionDep, workspace: CurrentWorkspace) -> dict[str, Any]:
    """Place drafts in the best free slots, most important (priority 1) first. ``confirm: false`` is a dry run;
    ``confirm: true`` schedules the same plan and wakes the scheduler."""
    out = await service.fill(session, workspace, data, request.app.state.hub, request.app.state.settings)
    if out["committed"]:
        await session.commit()  # the posts service asked for the wake-up; it goes out with this commit
    return out


@router.post("/import", response_model=ImportOut, responses={
    422: {"model": ImportOut, "description": "commit=true and some row has a problem: nothing was created"},
    **errors(413, 415)}, openapi_extra={"requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}},
        importer.XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}}})
async def import_plan(
    request: Request, session: SessionDep, workspace: CurrentWorkspace,
    commit: Annotated[bool, Query(description="false: a dry run (nothing stored); true: create every row or none")
                      ] = False,
) -> Any:
    """Read a content plan (the body is the file: ``text/csv`` or XLSX) and check every row by the rules of
    ``POST /api/v1/posts``. A dry run answers 200 with the problems; a commit answers 200 with the ids created, or
    422 with the same body and nothing created when any row has a problem."""
    kind = importer.kind_of(request.headers.get("content-type"))
    if kind is None:
        raise ApiError(415, "Send the plan as the request body with Content-Type text/csv or "
                            f"{importer.XLSX_TYPE} (XLSX).")
    data = await request.body()
    report = await importer.run_import(session, workspace, data, kind, request.app.state.hub,
                                       request.app.state.settings, commit=commit)
    body = ImportOut.model_validate(report.as_dict()).model_dump(mode="json")
    return JSONResponse(body, status_code=422 if commit and report.problems else 200)
