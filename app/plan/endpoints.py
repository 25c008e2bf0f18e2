"""HTTP routes of planning: fill drafts into the best free slots; import a plan from CSV or XLSX."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from app.deps import CurrentWorkspace, SessionDep
from app.errors import ApiError
from app.openapi import errors
from app.plan import importer, service
from app.plan.schemas import FillIn, FillOut, PlanImportOut

router = APIRouter(prefix="/plan", tags=["plan"])


@router.post("/fill", response_model=FillOut)
async def fill(data: FillIn, request: Request, session: SessionDep, workspace: CurrentWorkspace) -> dict[str, Any]:
    """Place drafts in the best free slots, most important (priority 1) first. ``confirm: false`` is a dry run;
    ``confirm: true`` schedules the same plan and wakes the scheduler."""
    out = await service.fill(session, workspace, data, request.app.state.hub, request.app.state.settings)
    if out["committed"]:
        await session.commit()  # the posts service asked for the wake-up; it goes out with this commit
    return out


IMPORT_BODY = {"requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}},
        importer.XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}}}


@router.post("/import", response_model=PlanImportOut, responses=errors(413, 415, 422), openapi_extra=IMPORT_BODY)
async def import_plan(
    request: Request, session: SessionDep, workspace: CurrentWorkspace,
    commit: Annotated[bool, Query(description="false: a dry run (nothing stored); true: create every row or none")
                      ] = False,
) -> Any:
    """Read a content plan (the body is the file: ``text/csv`` or XLSX) and check every row by the rules of
    ``POST /api/v1/posts``. A dry run answers 200 with the problems; a commit answers 200 with the ids created, or
    422 when any row has a problem: nothing is created, and the body is the same report (``rows``, ``valid``,
    ``problems``, ``warnings``, ``created: []``) plus the error body's ``detail`` and ``errors``."""
    kind = importer.kind_of(request.headers.get("content-type"))
    if kind is None:
        raise ApiError(415, "Send the plan as the request body with Content-Type text/csv or "
                            f"{importer.XLSX_TYPE} (XLSX).")
    data = await request.body()
    report = await importer.run_import(session, workspace, data, kind, request.app.state.hub,
                                       request.app.state.settings, commit=commit)
    body = PlanImportOut.model_validate(report.as_dict()).model_dump(mode="json")
    if commit and report.problems:
        rows = len({p["row"] for p in report.problems})
        body = {"detail": f"Nothing was created: {rows} row(s) of the file have a problem (see problems).",
                "errors": [{"field": f"row {p['row']}" + (f", column {p['column']}" if p["column"] else ""),
                            "message": p["error"]} for p in report.problems], **body}
        return JSONResponse(body, status_code=422)
    return JSONResponse(body)
