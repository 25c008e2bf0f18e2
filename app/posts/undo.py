"""Undoing and removing posts: restore a cancelled post's targets, delete a post nothing of which went out.

Both keep the publisher's rules: a target being published is never touched, and every write is conditional on
the states read, so a publisher's claim that wins the race shows as a 409, not as a half-done change."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, Invalid
from app.models import Attempt, Post, Target, Workspace
from app.models.statuses import TargetStatus
from app.posts import repository as repo
from app.posts.schemas import PostRestore
from app.posts.service import PAST_TOLERANCE, get, load_channels, parse_schedule
from app.publishing.wakeup import schedule_changed
from app.timeutil import get_zone, utcnow

#: a post may be deleted while every target is one of these (nothing of it is on a platform)
DELETABLE = (TargetStatus.DRAFT, TargetStatus.SCHEDULED, TargetStatus.FAILED, TargetStatus.CANCELLED)


def restorable(targets: Sequence[Any]) -> list[Any]:
    """The cancelled targets a restore brings back (targets or their answers): never tried, nothing sent."""
    return [t for t in targets
            if t.status == TargetStatus.CANCELLED and not t.attempts and t.published_at is None]


async def restore(session: AsyncSession, workspace: Workspace, post_id: str, data: PostRestore,
                  now: datetime | None = None) -> Post:
    """Undo a cancel: the cancelled, never-tried targets go back to ``scheduled`` at the post's time (or the time
    in ``data``), or to ``draft`` when the post has no time (or ``data`` says ``null``)."""
    now = now or utcnow()
    post = await get(session, workspace, post_id)
    targets = (await repo.targets_of(session, [post.id]))[post.id]
    if any(t.status == TargetStatus.PUBLISHING for t in targets):
        raise Conflict("The post is being published right now; there is nothing to restore.")
    cancelled = [t for t in targets if t.status == TargetStatus.CANCELLED]
    if not cancelled:
        raise Conflict("Nothing to restore: the post is not cancelled.")
    back = restorable(cancelled)
    if not back:
        raise Conflict("Nothing to restore: every cancelled channel had been tried before the cancel; "
                       "queue the text again as a new post instead.")
    await load_channels(session, workspace, [t.channel_id for t in back])  # a disabled channel is refused
    if "timezone" in data.model_fields_set and data.timezone:
        post.timezone = data.timezone
    if "scheduled_at" in data.model_fields_set:
        at = parse_schedule(data.scheduled_at, post.timezone, now)
    else:
        at = post.scheduled_at
        if at is not None and at < now - PAST_TOLERANCE:
            zone = post.timezone or workspace.timezone or "UTC"
            when = at.astimezone(get_zone(zone)).strftime("%a %d %b %Y, %H:%M")
            raise Invalid("scheduled_at", f"The post's time ({when}, {zone}) has passed: give a new time, "
                                          '"now", or null to keep it as a draft.')
    post.scheduled_at = at
    post.order_at = at or post.created_at
    post.cancelled_at = None
    post.updated_at = now
    status = TargetStatus.SCHEDULED if at is not None else TargetStatus.DRAFT
    result = await session.execute(
        update(Target)
        .where(Target.id.in_([t.id for t in back]), Target.status == TargetStatus.CANCELLED)
        .values(status=status, next_attempt_at=at, failures=0, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if int(result.rowcount or 0) != len(back):  # type: ignore[attr-defined]
        raise Conflict("The post changed meanwhile; reload the page and try again.")
    # every target carries a copy of the post's calendar key
    await session.execute(update(Target).where(Target.post_id == post.id).values(order_at=post.order_at)
                          .execution_options(synchronize_session=False))
    await session.flush()
    if at is not None:
        await schedule_changed(session)
    return post


async def delete_post(session: AsyncSession, workspace: Workspace, post_id: str, now: datetime | None = None) -> None:
    """Remove the post and its history, while nothing of it is on a platform or being sent (409 otherwise)."""
    now = now or utcnow()
    post = await get(session, workspace, post_id)
    targets = (await repo.targets_of(session, [post.id]))[post.id]
    states = {t.status for t in targets}
    if TargetStatus.PUBLISHING in states:
        raise Conflict("The post is being published right now; it can no longer be deleted.")
    out = sorted(s for s in states if s not in DELETABLE)
    if out:
        raise Conflict(f"The post cannot be deleted: a channel is {', '.join(out)} (deleting it here would not "
                       "take it down on the platform, so it stays as the record). Cancel what is left instead.")
    if post.series_id is not None:
        raise Conflict("The post belongs to a recurring series: deleting it would bring it back at the series' "
                       "next run. Cancel it instead, or change the series.")
    # touch every target in one conditional statement: a claim that won the race shows as a short count
    if await repo.set_targets(session, post.id, DELETABLE, updated_at=now) != len(targets):
        raise Conflict("The post is being published right now; it can no longer be deleted.")
    ids = [t.id for t in targets]
    if ids:
        await session.execute(delete(Attempt).where(Attempt.target_id.in_(ids)))
        await session.execute(delete(Target).where(Target.post_id == post.id))
    await session.execute(delete(Post).where(Post.id == post.id))
    for obj in (*targets, post):
        session.expunge(obj)
    await session.flush()
