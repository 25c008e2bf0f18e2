"""What the publisher is doing, for ``GET /api/v1/status`` and ``smm status`` (no FastAPI here: the command
imports this without loading the web app)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.publishing import repository as repo
from app.timeutil import utcnow

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


async def publisher_status(session: AsyncSession, workspace_id: str) -> StatusOut:
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
