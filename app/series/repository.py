"""Every SQL query about recurring series."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Post, Series, Target


async def get(session: AsyncSession, workspace_id: str, series_id: str) -> Series | None:
    stmt = select(Series).where(Series.id == series_id, Series.workspace_id == workspace_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_page(
    session: AsyncSession, workspace_id: str, after: tuple[datetime, str] | None, limit: int
) -> list[Series]:
    stmt = select(Series).where(Series.workspace_id == workspace_id)
    if after is not None:
        stmt = stmt.where(tuple_(Series.created_at, Series.id) > after)
    return list((await session.execute(stmt.order_by(Series.created_at, Series.id).limit(limit))).scalars())


async def active(session: AsyncSession) -> list[Series]:
    return list((await session.execute(select(Series).where(Series.status == "active"))).scalars())


async def occurrence_exists(session: AsyncSession, series_id: str, at: datetime) -> bool:
    stmt = select(Post.id).where(Post.series_id == series_id, Post.occurrence_at == at)
    return (await session.execute(stmt)).first() is not None


async def untouched_scheduled_posts(session: AsyncSession, series_id: str) -> list[str]:
    """Posts of the series whose every target is still merely scheduled or draft (nothing sent yet)."""
    sent = select(Target.id).where(Target.post_id == Post.id, Target.status.notin_(("scheduled", "draft"))).exists()
    stmt = select(Post.id).where(Post.series_id == series_id, ~sent)
    return list((await session.execute(stmt)).scalars())


async def overdue_unsent(session: AsyncSession, series_id: str, now: datetime) -> list[tuple[str, datetime]]:
    """Occurrences whose time has passed and that were never tried, oldest first."""
    stmt = (
        select(Post.id, Post.occurrence_at)
        .join(Target, Target.post_id == Post.id)
        .where(
            Post.series_id == series_id,
            Target.status == "scheduled",
            Target.attempts == 0,
            Target.next_attempt_at <= now,
        )
        .group_by(Post.id, Post.occurrence_at)
        .order_by(Post.occurrence_at)
    )
    return [(pid, at) for pid, at in (await session.execute(stmt)).all() if at is not None]


async def delete_posts(session: AsyncSession, post_ids: list[str]) -> None:
    if post_ids:
        await session.execute(delete(Target).where(Target.post_id.in_(post_ids)))
        await session.execute(delete(Post).where(Post.id.in_(post_ids)))
