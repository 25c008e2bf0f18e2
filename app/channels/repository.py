"""Every SQL query about channels."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Channel


async def get(session: AsyncSession, workspace_id: str, channel_id: str) -> Channel | None:
    stmt = select(Channel).where(
        Channel.id == channel_id, Channel.workspace_id == workspace_id, Channel.deleted_at.is_(None)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_many(session: AsyncSession, workspace_id: str, ids: list[str]) -> dict[str, Channel]:
    if not ids:
        return {}
    stmt = select(Channel).where(
        Channel.id.in_(ids), Channel.workspace_id == workspace_id, Channel.deleted_at.is_(None)
    )
    return {c.id: c for c in (await session.execute(stmt)).scalars()}


async def by_id(session: AsyncSession, channel_id: str) -> Channel | None:
    return await session.get(Channel, channel_id)


async def list_page(
    session: AsyncSession, workspace_id: str, after: tuple[datetime, str] | None, limit: int
) -> list[Channel]:
    stmt = select(Channel).where(Channel.workspace_id == workspace_id, Channel.deleted_at.is_(None))
    if after is not None:
        stmt = stmt.where(tuple_(Channel.created_at, Channel.id) > after)
    stmt = stmt.order_by(Channel.created_at, Channel.id).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def list_all(session: AsyncSession, workspace_id: str, platform: str | None = None) -> list[Channel]:
    stmt = select(Channel).where(Channel.workspace_id == workspace_id, Channel.deleted_at.is_(None))
    if platform:
        stmt = stmt.where(Channel.platform == platform)
    return list((await session.execute(stmt.order_by(Channel.created_at, Channel.id))).scalars())


async def set_status(session: AsyncSession, channel_id: str, status: str, reason: str | None) -> None:
    await session.execute(
        update(Channel).where(Channel.id == channel_id).values(status=status, status_reason=reason)
    )
