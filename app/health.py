"""Liveness and readiness, without a key: ``/healthz`` (the process is up) and ``/readyz`` (it can do its job).

Ready means: the database answers, its schema is at the revision this code needs (a process started before
``smm migrate`` finished, or an old process after an upgrade, is not), and — for a process that runs the
publisher — its heartbeat is fresh (a runner whose heartbeat went stale has lost its claims to other workers).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.migrate import current_revision, head_revision
from app.publishing import repository as publishing_repo

router = APIRouter(include_in_schema=False)

HEARTBEAT_STALE_S = 30.0  # three missed heartbeats at the longest interval


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    reason = await not_ready_because(request)
    if reason is not None:
        return JSONResponse({"status": "unavailable", "detail": reason}, status_code=503)
    return JSONResponse({"status": "ready"})


async def not_ready_because(request: Request) -> str | None:
    """The sentence that says why this process is not ready, or ``None`` when it is."""
    state = request.app.state
    try:
        current = await current_revision(state.engine)
    except Exception as exc:  # the database is the one thing we need
        return f"the database does not answer: {type(exc).__name__}: {str(exc)[:200]}"
    head = head_revision()
    if current != head:
        return (f"the database schema is at {current or 'nothing (never migrated)'}, this version needs {head}: "
                "run `smm migrate`")
    runner = state.runner
    if runner is None:
        return None
    async with state.sessionmaker() as session:
        beat = await publishing_repo.heartbeat_of(session, runner.owner)
    if beat is None:
        return "the publisher has not heart-beat yet"
    if beat.tzinfo is None:  # SQLite hands back naive UTC
        beat = beat.replace(tzinfo=UTC)
    age = (datetime.now(UTC) - beat).total_seconds()
    if age > HEARTBEAT_STALE_S:
        return f"the publisher's heartbeat is {age:.0f} s old (limit {HEARTBEAT_STALE_S:.0f} s): it is stuck or " \
               "cannot write to the database"
    return None
