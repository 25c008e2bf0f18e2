"""Every SQL query of planning: the times channels are already busy, and the drafts to place."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Post, Target

BUSY = ("scheduled", "publishing", "published", "needs_check")


async def busy_times(session: AsyncSession, channel_ids: Sequence[str], start: datetime, end: datetime
                     ) -> dict[str, list[datetime]]:
    """When each channel publishes or published within [start, end] (targets scheduled or further along)."""
    out: dict[str, list[datetime]] = {cid: [] for cid in channel_ids}
    if not channel_ids:
        return out
    when = func.coalesce(Target.published_at, Post.scheduled_at)
    stmt = (select(Target.channel_id, when)
            .join(Post, Post.id == Target.post_id)
            .where(Target.channel_id.in_(channel_ids), Target.status.in_(BUSY), when >= start, when <= end))
    for channel_id, at in await session.execute(stmt):
        out[channel_id].append(at)
    return out


async def drafts(session: AsyncSession, workspace_id: str, post_ids: Sequence[str] | None, *, limit: int
                 ) -> list[tuple[Post, list[tuple[str, str]]]]:
    """Posts (all drafts of the workspace, or those of ``post_ids``) with their targets' (channel id, status),
    most important first: priority 1 before 5, then oldest first; at most ``limit``."""
    stmt = select(Post).where(Post.workspace_id == workspace_id, Post.cancelled_at.is_(None))
    if post_ids is not None:
        stmt = stmt.where(Post.id.in_(post_ids))
    else:
        stmt = stmt.where(Post.scheduled_at.is_(None))
    posts = list((await session.execute(stmt.order_by(Post.priority, Post.created_at, Post.id).limit(limit)))
                 .scalars())
    targets: dict[str, list[tuple[str, str]]] = {p.id: [] for p in posts}
    if posts:
        rows = await session.execute(select(Target.post_id, Target.channel_id, Target.status)
                                     .where(Target.post_id.in_(list(targets)))
                                     .order_by(Target.created_at, Target.id))
        for post_id, channel_id, status in rows:
            targets[post_id].append((channel_id, status))
    return [(p, targets[p.id]) for p in posts]
