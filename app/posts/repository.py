"""Every SQL query about posts and their targets (publisher queries live in app/publishing/repository.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, exists, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Attempt, IdempotencyRecord, Post, Target


async def get(session: AsyncSession, workspace_id: str, post_id: str) -> Post | None:
    stmt = select(Post).where(Post.id == post_id, Post.workspace_id == workspace_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def targets_of(session: AsyncSession, post_ids: Sequence[str]) -> dict[str, list[Target]]:
    result: dict[str, list[Target]] = {pid: [] for pid in post_ids}
    if not post_ids:
        return result
    stmt = (
        select(Target)
        .where(Target.post_id.in_(post_ids))
        .order_by(Target.created_at, Target.id)
        .execution_options(populate_existing=True)
    )
    for t in (await session.execute(stmt)).scalars():
        result[t.post_id].append(t)
    return result


async def list_page(
    session: AsyncSession,
    workspace_id: str,
    *,
    start: datetime | None,
    end: datetime | None,
    channel_id: str | None,
    status: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Post]:
    stmt = select(Post).where(Post.workspace_id == workspace_id)
    if start is not None:
        stmt = stmt.where(Post.order_at >= start)
    if end is not None:
        stmt = stmt.where(Post.order_at < end)
    target_conds = [Target.post_id == Post.id]
    if channel_id is not None:
        target_conds.append(Target.channel_id == channel_id)
    if status == "partially_published":
        stmt = stmt.where(
            exists().where(and_(*target_conds, Target.status == "published")),
            exists().where(and_(*target_conds, Target.status == "failed")),
        )
    elif status is not None:
        stmt = stmt.where(exists().where(and_(*target_conds, Target.status == status)))
    elif channel_id is not None:
        stmt = stmt.where(exists().where(and_(*target_conds)))
    if after is not None:
        stmt = stmt.where(tuple_(Post.order_at, Post.id) > after)
    stmt = stmt.order_by(Post.order_at, Post.id).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def set_targets(
    session: AsyncSession, post_id: str, from_statuses: Sequence[str], **values: object
) -> int:
    """Conditionally update a post's targets; the row count tells whether a publisher got there first."""
    result = await session.execute(
        update(Target)
        .where(Target.post_id == post_id, Target.status.in_(from_statuses))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def attempts_of(session: AsyncSession, post_id: str) -> list[tuple[Attempt, str]]:
    stmt = (
        select(Attempt, Target.channel_id)
        .join(Target, Target.id == Attempt.target_id)
        .where(Target.post_id == post_id)
        .order_by(Attempt.started_at, Attempt.id)
    )
    return [(a, cid) for a, cid in (await session.execute(stmt)).all()]


async def idempotency_get(session: AsyncSession, workspace_id: str, key: str) -> IdempotencyRecord | None:
    stmt = select(IdempotencyRecord).where(
        IdempotencyRecord.workspace_id == workspace_id, IdempotencyRecord.key == key
    )
    return (await session.execute(stmt)).scalar_one_or_none()
