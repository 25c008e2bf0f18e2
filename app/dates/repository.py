"""Every SQL query of significant dates."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import SignificantDate


async def list_all(session: AsyncSession, workspace_id: str) -> list[SignificantDate]:
    stmt = (select(SignificantDate).where(SignificantDate.workspace_id == workspace_id)
            .order_by(SignificantDate.day, SignificantDate.id))
    return list((await session.execute(stmt)).scalars())


async def in_range_or_yearly(session: AsyncSession, workspace_id: str, first: date, last: date
                             ) -> list[SignificantDate]:
    """One-off dates within [first, last] and every yearly date (placed into the range by the caller)."""
    stmt = select(SignificantDate).where(
        SignificantDate.workspace_id == workspace_id,
        or_(SignificantDate.yearly.is_(True), SignificantDate.day.between(first, last)),
    ).order_by(SignificantDate.day, SignificantDate.id)
    return list((await session.execute(stmt)).scalars())


async def get(session: AsyncSession, workspace_id: str, date_id: str) -> SignificantDate | None:
    stmt = select(SignificantDate).where(SignificantDate.workspace_id == workspace_id, SignificantDate.id == date_id)
    return (await session.execute(stmt)).scalar_one_or_none()
