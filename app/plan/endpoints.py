"""HTTP routes of planning: fill drafts into the best free slots."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.deps import CurrentWorkspace, SessionDep
from app.plan import service
from app.plan.schemas import FillIn, FillOut

router = APIRouter(prefix="/plan", tags=["plan"])


@router.post("/fill", response_model=FillOut)
async def fill(data: FillIn, request: Request, session: SessionDep, workspace: CurrentWorkspace) -> dict[str, Any]:
    """Place drafts in the best free slots, most important (priority 1) first. ``confirm: false`` is a dry run;
    ``confirm: true`` schedules the same plan and wakes the scheduler."""
    out = await service.fill(session, workspace, data, request.app.state.hub, request.app.state.settings)
    if out["committed"]:
        await session.commit()  # the posts service asked for the wake-up; it goes out with this commit
    return out
