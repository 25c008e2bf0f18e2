"""Every SQL query about posts and their targets (publisher queries live in app/publishing/repository.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select, tuple_, update
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


async def target_rows_of(session: AsyncSession, post_ids: Sequence[str]) -> dict[str, list[Any]]:
    """What an answer shows of each post's targets (with the channel's platform), as plain rows, in creation order.

    Read-only and ORM-free: a calendar page is a few hundred targets, and ORM objects for them cost more than
    the query; a fresh read also sees what a flush or a bulk UPDATE just wrote. Built on the tables: a statement
    with mapped attributes in it is loaded row by row through the ORM even when it selects only columns (that
    took half of this function's time).
    """
    result: dict[str, list[Any]] = {pid: [] for pid in post_ids}
    if not post_ids:
        return result
    T, C = Target.__table__.c, Channel.__table__.c  # the tables, not the mapped classes: no ORM row loading
    stmt = (
        select(T.post_id, T.channel_id, C.platform, T.status, T.overrides, T.external_id, T.url, T.attempts,
               T.last_error, T.published_at, T.next_attempt_at, T.late_by_s, T.late, T.prepared_at,
               T.prepare_error)
        .select_from(Target.__table__.outerjoin(Channel.__table__, C.id == T.channel_id))
        .where(T.post_id.in_(post_ids))
        .order_by(T.created_at, T.id)
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
    rows: bool = False,
) -> list[Any]:
    """One calendar page ordered by (order_at, id); ``after`` is the last (order_at, id) of the previous page.

    ``rows=True``: read-only Core rows of every ``posts`` column (the same attribute names as a ``Post``) instead
    of ORM objects, from a statement built on the tables alone: an ORM-enabled statement (any mapped attribute in
    it) goes through the ORM's row loading, which cost more than the query itself for a page of a few hundred
    (bench/RESULTS.md, "API under load")."""
    q = _Tables() if rows else _Mapped()
    if channel_id is not None:
        return await _list_page_of_channel(session, workspace_id, start=start, end=end, channel_id=channel_id,
                                           status=status, after=after, limit=limit, q=q)
    P, T = q.post, q.target
    stmt = select(*q.columns).where(P.workspace_id == workspace_id)
    if start is not None:
        stmt = stmt.where(P.order_at >= start)
    if end is not None:
        stmt = stmt.where(P.order_at < end)
    if status == "partially_published":
        stmt = stmt.where(
            exists().where(T.post_id == P.id, T.status == "published"),
            exists().where(T.post_id == P.id, T.status == "failed"),
        )
    elif status is not None:
        stmt = stmt.where(exists().where(T.post_id == P.id, T.status == status))
    if after is not None:
        stmt = stmt.where(tuple_(P.order_at, P.id) > after)
    stmt = stmt.order_by(P.order_at, P.id).limit(limit)
    return q.page(await session.execute(stmt))


class _Mapped:
    """``list_page``'s statement on the mapped classes: ORM ``Post`` objects."""

    post: Any = Post
    target: Any = Target
    post_from: Any = Post
    target_from: Any = Target
    columns: tuple[Any, ...] = (Post,)

    def alias(self) -> Any:
        return aliased(Target)

    def page(self, result: Any) -> list[Any]:
        return list(result.scalars())


class _Tables(_Mapped):
    """The same statement on the tables: Core rows."""

    post = Post.__table__.c
    target = Target.__table__.c
    post_from = Post.__table__
    target_from = Target.__table__
    columns = tuple(Post.__table__.c)

    def alias(self) -> Any:
        return Target.__table__.alias().c

    def page(self, result: Any) -> list[Any]:
        return list(result)


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
    q: _Mapped,
) -> list[Any]:
    """The calendar of one channel, driven by its targets through ``ix_targets_channel_order``.

    A post has at most one target per channel (unique (post_id, channel_id)) and ``targets.order_at`` always equals
    ``posts.order_at``, so walking the channel's targets by (order_at, post_id) yields the channel's posts in the
    calendar's (order_at, id) order, each once: the range, the keyset and the order come from the index alone, and
    each post is then read by its primary key. ``posts.workspace_id`` keeps another workspace's channel empty.
    """
    P, T = q.post, q.target
    stmt = (
        select(*q.columns)
        .select_from(q.target_from)
        .join(q.post_from, P.id == T.post_id)
        .where(T.channel_id == channel_id, P.workspace_id == workspace_id)
    )
    if start is not None:
        stmt = stmt.where(T.order_at >= start)
    if end is not None:
        stmt = stmt.where(T.order_at < end)
    if status == "partially_published":  # as before: the post's targets on this channel, published and failed
        published, failed = q.alias(), q.alias()
        stmt = stmt.where(
            exists().where(published.post_id == P.id, published.channel_id == channel_id,
                           published.status == "published"),
            exists().where(failed.post_id == P.id, failed.channel_id == channel_id, failed.status == "failed"),
        )
    elif status is not None:
        stmt = stmt.where(T.status == status)
    if after is not None:
        stmt = stmt.where(tuple_(T.order_at, T.post_id) > after)
    stmt = stmt.order_by(T.order_at, T.post_id).limit(limit)
    return q.page(await session.execute(stmt))


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
