"""``GET /api/v1/status``: what the publisher is doing, for people and monitoring."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import CurrentWorkspace, SessionDep
from app.publishing.status import WORKER_STALE_S as WORKER_STALE_S
from app.publishing.status import StatusOut, publisher_status
from app.publishing.status import WorkerOut as WorkerOut

router = APIRouter(tags=["status"])


@router.get("/status", response_model=StatusOut)
async def status(session: SessionDep, workspace: CurrentWorkspace) -> StatusOut:
    """Counts of due, scheduled, in-flight, late, failed, missed, needs_check and held targets, and the live
    workers (heartbeat within the last minute)."""
    return await publisher_status(session, workspace.id)
