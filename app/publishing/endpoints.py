"""``GET /api/v1/status``: what the publisher is doing, for people and monitoring."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter
from pydantic import BaseModel

from app.deps import CurrentWorkspace, SessionDep
from app.publishing import repository as repo
from app.timeutil import utcnow

router = APIRouter(tags=["status"])

WORKER_STALE_S = 60


class WorkerOut(BaseModel):
    id: str
    kind: str
    hostname: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime


class StatusOut(BaseModel):
    now: datetime
    counts: dict[str, int]
    workers: list[WorkerOut]


async def publisher_status(session: SessionDep, workspace_id: str) -> StatusOut:
    now = utcnow()
    counts = await repo.status_counts(session, workspace_id, now)
    alive = await repo.workers(session, now - timedelta(seconds=WORKER_STALE_S))
    return StatusOut(
        now=now,
        counts=counts,
        workers=[
            WorkerOut(
                id=w.id,
                kind=w.kind,
                hostname=w.hostname,
                pid=w.pid,
                started_at=w.started_at,
                heartbeat_at=w.heartbeat_at,
            )
            for w in alive
        ],
    )


@router.get("/status", response_model=StatusOut)
async def status(session: SessionDep, workspace: CurrentWorkspace) -> StatusOut:
    """Counts of due, scheduled, in-flight, late, failed, missed, needs_check and held targets, and the live
    workers (heartbeat within the last minute)."""
    return await publisher_status(session, workspace.id)
