"""Every SQL statement of preparation ahead (:mod:`app.publishing.prepare`): which targets to prepare, and the
named transitions of a target's prepared state. Kept apart from :mod:`app.publishing.repository` (the send's
store): preparation never changes a target's status, lease or attempts.

Every write is conditional on ``status = 'scheduled'``: a target a publisher has claimed meanwhile is not
touched (its send may be reading what was prepared). Writes leave ``updated_at`` as it was: the candidates
query compares it with ``prepared_at`` to see edits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Channel, Post, Target
from app.models.statuses import ChannelStatus, TargetStatus

PREPARE_FAILED = "prepare_failed"  # error_code of a scheduled target whose preparation failed


async def due_for_preparing(
    session: AsyncSession, *, after: datetime, until: datetime, retry_before: datetime, stale_before: datetime,
    limit: int,
) -> list[str]:
    """Scheduled targets due after ``after`` (what is due sooner is the dispatcher's: preparing it would race
    the send) and by ``until`` on active channels that need a look: never prepared, edited since
    (the post's or the target's ``updated_at`` is newer), failed before ``retry_before``, or prepared before
    ``stale_before`` (what the platform made may expire). Soonest first."""
    edited = or_(Target.prepared_at < Post.updated_at, Target.prepared_at < Target.updated_at)
    stmt = (
        select(Target.id)
        .join(Post, Post.id == Target.post_id)
        .join(Channel, Channel.id == Target.channel_id)
        .where(
            Target.status == TargetStatus.SCHEDULED,
            Target.next_attempt_at > after,
            Target.next_attempt_at <= until,
            Channel.status == ChannelStatus.ACTIVE,
            or_(
                Target.prepared_at.is_(None),
                edited,
                and_(Target.prepare_error.is_not(None), Target.prepared_at < retry_before),
                Target.prepared_at < stale_before,
            ),
        )
        .order_by(Target.next_attempt_at, Target.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


def _scheduled(target_id: str) -> Any:
    return update(Target).where(Target.id == target_id, Target.status == TargetStatus.SCHEDULED)


async def store_prepared(session: AsyncSession, target_id: str, *, at: datetime, payload: dict[str, Any]) -> bool:
    """Record what was prepared (``at`` = when preparing began, so an edit during it shows as newer); clears a
    previous preparation error from the target's ``last_error``."""
    result = await session.execute(
        _scheduled(target_id).values(prepared_at=at, prepared_payload=payload, prepare_error=None,
                                     updated_at=Target.updated_at)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await session.execute(
        update(Target).where(Target.id == target_id, Target.error_code == PREPARE_FAILED)
        .values(last_error=None, error_code=None, updated_at=Target.updated_at)
    )
    return True


async def store_prepare_error(session: AsyncSession, target_id: str, *, at: datetime, message: str) -> bool:
    """Preparation failed: shown on the target (``prepare_error`` and, unless a send left an error of its own,
    ``last_error``) while it stays ``scheduled``; the send at the time still tries."""
    result = await session.execute(
        _scheduled(target_id).values(prepared_at=at, prepared_payload=None, prepare_error=message,
                                     updated_at=Target.updated_at)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await session.execute(
        update(Target)
        .where(Target.id == target_id, or_(Target.error_code.is_(None), Target.error_code == PREPARE_FAILED))
        .values(last_error=message, error_code=PREPARE_FAILED, updated_at=Target.updated_at)
    )
    return True


async def confirm_prepared(session: AsyncSession, target_id: str, at: datetime) -> None:
    """What was prepared still holds (the target was touched, not changed): look again only after an edit."""
    await session.execute(_scheduled(target_id).values(prepared_at=at, updated_at=Target.updated_at))


async def leftovers(session: AsyncSession, limit: int = 200) -> list[str]:
    """Targets holding a preparation they will not use: cancelled, published, failed or needing a check (a
    ``publishing`` target keeps it: its send or reconciliation reads it)."""
    stmt = (
        select(Target.id)
        .where(Target.prepared_at.is_not(None),
               Target.status.not_in((TargetStatus.SCHEDULED, TargetStatus.PUBLISHING)))
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def discard(session: AsyncSession, target_ids: Sequence[str]) -> None:
    """Forget what was prepared for ``target_ids`` (the caller deletes the kept files)."""
    if not target_ids:
        return
    await session.execute(
        update(Target)
        .where(Target.id.in_(target_ids), Target.status != TargetStatus.PUBLISHING)
        .values(prepared_at=None, prepared_payload=None, prepare_error=None, updated_at=Target.updated_at)
    )
    await session.execute(
        update(Target)
        .where(Target.id.in_(target_ids), Target.error_code == PREPARE_FAILED,
               Target.status == TargetStatus.SCHEDULED)
        .values(last_error=None, error_code=None, updated_at=Target.updated_at)
    )
