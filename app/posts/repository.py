"""Every SQL query about posts and their targets (publisher queries live in app/publishing/repository.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, exists, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.models import Attempt, Channel, IdempotencyRecord, Post, Target


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


async def target_rows_of(session: AsyncSession, post_ids: Sequence[str]) -> dict[str, list[Row[Any]]]:
    """What an answer shows of each post's targets (with the channel's platform), as plain rows, in creation order.

    Read-only and ORM-free: a calendar page is a few hundred targets, and ORM objects for them cost more than
    the query; a fresh read also sees what a flush or a bulk UPDATE just wrote.
    """
    result: dict[str, list[Row[Any]]] = {pid: [] for pid in post_ids}
    if not post_ids:
        return result
    stmt = (
        select(Target.post_id, Target.channel_id, Channel.platform, Target.status, Target.overrides,
               Target.external_id, Target.url, Target.attempts, Target.last_error, Target.published_at,
               Target.next_attempt_at, Target.late_by_s, Target.late, Target.prepared_at, Target.prepare_error)
        .outerjoin(Channel, Channel.id == Target.channel_id)
        .where(Target.post_id.in_(post_ids))
        .order_by(Target.created_at, Target.id)
    )
    for row in await session.execute(stmt):
        result[row.post_id].append(row)
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
    """One calendar page ordered by (order_at, id); ``after`` is the last (order_at, id) of the previous page."""
    if channel_id is not None:
        return await _list_page_of_channel(session, workspace_id, start=start, end=end, channel_id=channel_id,
                                           status=status, after=after, limit=limit)
    stmt = select(Post).where(Post.workspace_id == workspace_id)
    if start is not None:
        stmt = stmt.where(Post.order_at >= start)
    if end is not None:
        stmt = stmt.where(Post.order_at < end)
    if status == "partially_published":
        stmt = stmt.where(
            exists().where(Target.post_id == Post.id, Target.status == "published"),
            exists().where(Target.post_id == Post.id, Target.status == "failed"),
        )
    elif status is not None:
        stmt = stmt.where(exists().where(Target.post_id == Post.id, Target.status == status))
    if after is not None:
        stmt = stmt.where(tuple_(Post.order_at, Post.id) > after)
    stmt = stmt.order_by(Post.order_at, Post.id).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def _list_page_of_channel(
    session: AsyncSession,
    workspace_id: str,
    *,
    start: datetime | None,
    end: datetime | None,
    channel_id: str,
    status: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Post]:
    """The calendar of one channel, driven by its targets through ``ix_targets_channel_order``.

    A post has at most one target per channel (unique (post_id, channel_id)) and ``targets.order_at`` always equals
    ``posts.order_at``, so walking the channel's targets by (order_at, post_id) yields the channel's posts in the
    calendar's (order_at, id) order, each once: the range, the keyset and the order come from the index alone, and
    each post is then read by its primary key. ``posts.workspace_id`` keeps another workspace's channel empty.
    """
    stmt = (
        select(Post)
        .select_from(Target)
        .join(Post, Post.id == Target.post_id)
        .where(Target.channel_id == channel_id, Post.workspace_id == workspace_id)
    )
    if start is not None:
        stmt = stmt.where(Target.order_at >= start)
    if end is not None:
        stmt = stmt.where(Target.order_at < end)
    if status == "partially_published":  # as before: the post's targets on this channel, published and failed
        published, failed = aliased(Target), aliased(Target)
        stmt = stmt.where(
            exists().where(published.post_id == Post.id, published.channel_id == channel_id,
                           published.status == "published"),
            exists().where(failed.post_id == Post.id, failed.channel_id == channel_id, failed.status == "failed"),
        )
    elif status is not None:
        stmt = stmt.where(Target.status == status)
    if after is not None:
        stmt = stmt.where(tuple_(Target.order_at, Target.post_id) > after)
    stmt = stmt.order_by(Target.order_at, Target.post_id).limit(limit)
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


async def latest_of_channel(session: AsyncSession, workspace_id: str, channel_id: str, *, before: datetime,
                            limit: int) -> list[Post]:
    """The channel's posts placed before ``before``, newest first (the channel page's "recent posts"); walks
    ``ix_targets_channel_order`` backwards like :func:`_list_page_of_channel` walks it forwards."""
    stmt = (
        select(Post)
        .select_from(Target)
        .join(Post, Post.id == Target.post_id)
        .where(Target.channel_id == channel_id, Post.workspace_id == workspace_id, Target.order_at < before)
        .order_by(Target.order_at.desc(), Target.post_id.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())
