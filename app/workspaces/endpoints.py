"""HTTP routes of the workspace's settings (the workspace is the API key's)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.deps import CurrentWorkspace, SessionDep
from app.openapi import errors
from app.workspaces import service
from app.workspaces.schemas import WorkspaceOut, WorkspaceUpdate

router = APIRouter(prefix="/workspace", tags=["workspace"])


def _base(request: Request) -> str:
    return str(request.app.state.settings.effective_public_base_url)


@router.get("", response_model=WorkspaceOut)
async def get_workspace(request: Request, session: SessionDep, workspace: CurrentWorkspace) -> dict[str, Any]:
    return await service.settings_of(session, workspace, _base(request))


@router.patch("", response_model=WorkspaceOut, responses=errors(422))
async def update_workspace(
    data: WorkspaceUpdate, request: Request, session: SessionDep, workspace: CurrentWorkspace
) -> dict[str, Any]:
    """Change ``timezone`` (IANA), ``country`` (ISO 3166 alpha-2), ``default_spacing_minutes``, ``rubric_mix``."""
    fields = {name: getattr(data, name) for name in data.model_fields_set}
    await service.update_settings(session, workspace, fields)
    out = await service.settings_of(session, workspace, _base(request))
    await session.commit()
    return out


@router.post("/ical/rotate", response_model=WorkspaceOut)
async def rotate_ical(request: Request, session: SessionDep, workspace: CurrentWorkspace) -> dict[str, Any]:
    """Replace the iCalendar feed's secret URL; the old one answers 404 from now on."""
    await service.rotate_ical(session, workspace)
    out = await service.settings_of(session, workspace, _base(request))
    await session.commit()
    return out
