"""HTTP routes for posts: the calendar API."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy.exc import IntegrityError

from app.cadence.service import check_stored
from app.deps import BoxDep, CurrentWorkspace, SessionDep
from app.errors import ApiError, Invalid
from app.models import IdempotencyRecord, Workspace
from app.models.statuses import AttemptOutcome, TargetStatus
from app.openapi import errors
from app.pagination import Limit, decode_cursor, encode_cursor
from app.posts import repository as repo
from app.posts import service, undo
from app.posts.schemas import AttemptOut, PostCreate, PostList, PostOut, PostRestore, PostUpdate, PostWarning
from app.timeutil import TimeInputError, parse_day_bound

router = APIRouter(prefix="/posts", tags=["posts"])


def _fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def _replay(request: Request, session: SessionDep, workspace: Workspace, key: str) -> Response | None:
    record = await repo.idempotency_get(session, workspace.id, key)
    if record is None:
        return None
    if record.fingerprint != _fingerprint(await request.body()):
        raise ApiError(422, "Idempotency-Key was already used with a different request body; use a new key.")
    return Response(record.body, status_code=record.status_code, media_type="application/json",
                    headers={"Idempotent-Replayed": "true"})


@router.post("", status_code=201, response_model=PostOut)
async def create_post(
    data: PostCreate, request: Request, session: SessionDep, workspace: CurrentWorkspace,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> Response:
    settings = request.app.state.settings
    if idempotency_key and (replayed := await _replay(request, session, workspace, idempotency_key)):
        return replayed
    post = await service.create(session, workspace, data, request.app.state.hub, settings)
    out = await service.to_out(session, workspace, post)
    out.warnings = [PostWarning(**w) for w in await check_stored(session, workspace, post)]
    body = out.model_dump_json()
    if idempotency_key:
        session.add(IdempotencyRecord(workspace_id=workspace.id, key=idempotency_key, status_code=201,
                                      fingerprint=_fingerprint(await request.body()), body=body))
    try:
        await session.commit()
    except IntegrityError:  # the same key raced us: answer what the winner stored
        await session.rollback()
        if idempotency_key and (replayed := await _replay(request, session, workspace, idempotency_key)):
            return replayed
        raise
    return Response(body, status_code=201, media_type="application/json")


def _bound(value: str | None, name: str, zone: str) -> datetime | None:
    if value is None:
        return None
    try:  # a bare date: the start of that day in the workspace's zone
        return parse_day_bound(value, zone)
    except TimeInputError as exc:
        raise Invalid(name, str(exc)) from exc


@router.get("", response_model=PostList, responses=errors(400, 422))
async def list_posts(
    session: SessionDep, workspace: CurrentWorkspace, box: BoxDep,
    start: Annotated[str | None, Query(description="RFC 3339 or YYYY-MM-DD (workspace zone)")] = None,
    end: Annotated[str | None, Query(description="exclusive; RFC 3339 or YYYY-MM-DD")] = None,
    channel_id: str | None = None,
    status: TargetStatus | None = Query(default=None),
    limit: Limit = 100,
    cursor: str | None = None,
) -> Response:
    lo, hi = _bound(start, "start", workspace.timezone), _bound(end, "end", workspace.timezone)
    if lo and hi and hi <= lo:
        raise Invalid("end", "end must be after start")
    after = decode_cursor(box, cursor) if cursor else None
    rows = await repo.list_page(session, workspace.id, start=lo, end=hi, channel_id=channel_id, status=status,
                                after=after, limit=limit + 1, rows=True)
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor(box, rows[-1].order_at, rows[-1].id) if more and rows else None
    page = PostList(items=await service.to_out_many(session, workspace, rows), next_cursor=nxt)
    return Response(page.model_dump_json(), media_type="application/json")  # built once, not re-validated


@router.get("/{post_id}", response_model=PostOut, responses=errors(404))
async def get_post(post_id: str, session: SessionDep, workspace: CurrentWorkspace) -> Response:
    post = await service.get(session, workspace, post_id)
    out = await service.to_out(session, workspace, post)
    if out.status in ("draft", "scheduled"):  # what is still to come: the cadence checks of today's plan
        out.warnings = [PostWarning(**w) for w in await check_stored(session, workspace, post)]
    return Response(out.model_dump_json(), media_type="application/json")  # built once, not re-validated


@router.get("/{post_id}/attempts", response_model=list[AttemptOut], responses=errors(404))
async def post_attempts(post_id: str, session: SessionDep, workspace: CurrentWorkspace) -> list[AttemptOut]:
    post = await service.get(session, workspace, post_id)
    return [
        AttemptOut(channel_id=cid, started_at=a.started_at, finished_at=a.finished_at,
                   outcome=AttemptOutcome(a.outcome), error_class=a.error_class, message=a.message, worker=a.worker)
        for a, cid in await repo.attempts_of(session, post.id)
    ]


@router.patch("/{post_id}", response_model=PostOut, responses=errors(404, 409, 422))
async def update_post(
    post_id: str, data: PostUpdate, request: Request, session: SessionDep, workspace: CurrentWorkspace
) -> PostOut:
    settings = request.app.state.settings
    moved_from = (await service.get(session, workspace, post_id)).scheduled_at
    post = await service.update(session, workspace, post_id, data, request.app.state.hub,
                                public_base=settings.effective_public_base_url, media_dir=settings.media_dir,
                                spacing=settings.min_post_spacing)
    out = await service.to_out(session, workspace, post)
    out.warnings = [PostWarning(**w) for w in await check_stored(session, workspace, post, moved_from=moved_from)]
    await session.commit()
    return out


@router.delete("/{post_id}", response_model=PostOut, responses={**errors(404, 409), 204: {"description": "purged"}})
async def cancel_post(
    post_id: str, request: Request, session: SessionDep, workspace: CurrentWorkspace,
    purge: Annotated[bool, Query(description="delete the post and its history instead of cancelling it (only "
                                             "while nothing of it was published or is being sent); 204")] = False,
) -> Response | PostOut:
    if purge:
        await undo.delete_post(session, workspace, post_id)
        await session.commit()
        return Response(status_code=204)
    post = await service.cancel(session, workspace, post_id)
    out = await service.to_out(session, workspace, post)
    await session.commit()
    return out


@router.post("/{post_id}/restore", response_model=PostOut, responses=errors(404, 409, 422))
async def restore_post(
    post_id: str, session: SessionDep, workspace: CurrentWorkspace, data: PostRestore | None = None
) -> PostOut:
    """Undo a cancel: the cancelled targets that were never tried go back to scheduled (or draft)."""
    post = await undo.restore(session, workspace, post_id, data or PostRestore())
    out = await service.to_out(session, workspace, post)
    await session.commit()
    return out


@router.post("/{post_id}/retry", response_model=PostOut, responses=errors(404, 409))
async def retry_post(post_id: str, request: Request, session: SessionDep, workspace: CurrentWorkspace) -> PostOut:
    post = await service.retry(session, workspace, post_id)
    out = await service.to_out(session, workspace, post)
    await session.commit()
    return out


