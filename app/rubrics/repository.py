"""Every SQL query of rubrics."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Post, Rubric


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
