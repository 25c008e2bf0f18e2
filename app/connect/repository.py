"""Every SQL query of the sign-in flows: flows in progress (single use by conditional updates) and the channels a
flow may re-connect."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Channel, ConnectFlow, ConnectFlowStatus


async def purge_expired(session: AsyncSession, now: datetime) -> None:
    await session.execute(delete(ConnectFlow).where(ConnectFlow.expires_at < now))


async def by_state(session: AsyncSession, state_hash: str) -> ConnectFlow | None:
    return (await session.execute(select(ConnectFlow).where(ConnectFlow.state_hash == state_hash))).scalar_one_or_none()


async def by_id(session: AsyncSession, workspace_id: str, flow_id: str) -> ConnectFlow | None:
    stmt = select(ConnectFlow).where(ConnectFlow.id == flow_id, ConnectFlow.workspace_id == workspace_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def advance(session: AsyncSession, flow_id: str, from_status: ConnectFlowStatus,
                  to_status: ConnectFlowStatus) -> bool:
    """Move a flow on, only from ``from_status``: of two requests with one state (a replayed callback, a form sent
    twice) exactly one sees True."""
    stmt = (update(ConnectFlow).where(ConnectFlow.id == flow_id, ConnectFlow.status == from_status)
            .values(status=to_status).execution_options(synchronize_session=False))
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


async def live_channels(session: AsyncSession, workspace_id: str, platform: str) -> list[Channel]:
    """The workspace's channels of ``platform`` that a sign-in may re-connect (not deleted, not sandbox)."""
    stmt = select(Channel).where(Channel.workspace_id == workspace_id, Channel.platform == platform,
                                 Channel.deleted_at.is_(None), Channel.sandbox.is_(False)).order_by(Channel.created_at)
    return list((await session.execute(stmt)).scalars())


async def due_for_refresh(session: AsyncSession, now: datetime, before: timedelta, min_age: timedelta
                          ) -> list[Channel]:
    """Live Instagram channels whose token expires within ``before`` (not yet expired) and was not refreshed in
    the last ``min_age``, soonest first."""
    stmt = select(Channel).where(
        Channel.platform == "instagram", Channel.deleted_at.is_(None), Channel.sandbox.is_(False),
        Channel.token_expires_at.is_not(None), Channel.token_expires_at > now,
        Channel.token_expires_at < now + before,
        (Channel.token_refreshed_at.is_(None)) | (Channel.token_refreshed_at < now - min_age),
    ).order_by(Channel.token_expires_at)
    return list((await session.execute(stmt)).scalars())


async def replace_token(session: AsyncSession, channel_id: str, old_sealed: str, new_sealed: str,
                        expires: datetime | None, now: datetime) -> int:
    """Swap in a refreshed token only if the credentials are still ``old_sealed`` (a re-connect meanwhile wins)."""
    stmt = (update(Channel).where(Channel.id == channel_id, Channel.credentials_sealed == old_sealed)
            .values(credentials_sealed=new_sealed, token_expires_at=expires, token_refreshed_at=now, updated_at=now)
            .execution_options(synchronize_session=False))
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)
