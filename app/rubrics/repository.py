"""Every SQL query of rubrics."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Post, Rubric, Target
from app.models.statuses import TargetStatus


async def list_all(session: AsyncSession, workspace_id: str) -> list[Rubric]:
    stmt = select(Rubric).where(Rubric.workspace_id == workspace_id).order_by(Rubric.created_at, Rubric.id)
    return list((await session.execute(stmt)).scalars())


async def get(session: AsyncSession, workspace_id: str, rubric_id: str) -> Rubric | None:
    stmt = select(Rubric).where(Rubric.workspace_id == workspace_id, Rubric.id == rubric_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def by_name(session: AsyncSession, workspace_id: str, name: str) -> Rubric | None:
    """The rubric called ``name`` whatever its case (names are unique case-insensitively)."""
    stmt = select(Rubric).where(Rubric.workspace_id == workspace_id, func.lower(Rubric.name) == name.lower())
    return (await session.execute(stmt)).scalars().first()


async def count(session: AsyncSession, workspace_id: str) -> int:
    stmt = select(func.count()).select_from(Rubric).where(Rubric.workspace_id == workspace_id)
    return int((await session.execute(stmt)).scalar_one())


async def rename_on_posts(session: AsyncSession, workspace_id: str, old: str, new: str | None) -> None:
    """Posts name their rubric: follow a rename (``new``) or a deletion (``None``)."""
    await session.execute(update(Post).where(Post.workspace_id == workspace_id, Post.rubric == old)
                          .values(rubric=new))


async def post_counts(session: AsyncSession, workspace_id: str) -> dict[str, int]:
    """Posts (not cancelled) per rubric name."""
    stmt = (select(Post.rubric, func.count()).where(Post.workspace_id == workspace_id, Post.rubric.is_not(None),
                                                    Post.cancelled_at.is_(None)).group_by(Post.rubric))
    return {str(name): int(n) for name, n in (await session.execute(stmt)).all()}


async def planned_targets(
    session: AsyncSession, workspace_id: str, start: datetime, end: datetime, channel_id: str | None
) -> list[tuple[str, str, datetime, str | None]]:
    """(post id, channel id, time, rubric) of every target with a time in [start, end) that is not cancelled."""
    stmt = (select(Post.id, Target.channel_id, Post.scheduled_at, Post.rubric)
            .join(Target, Target.post_id == Post.id)
            .where(Post.workspace_id == workspace_id, Post.scheduled_at.is_not(None),
                   Post.scheduled_at >= start, Post.scheduled_at < end,
                   Target.status.not_in([TargetStatus.CANCELLED, TargetStatus.DRAFT])))
    if channel_id is not None:
        stmt = stmt.where(Target.channel_id == channel_id)
    return [(pid, cid, at, rubric) for pid, cid, at, rubric in (await session.execute(stmt)).all() if at is not None]
