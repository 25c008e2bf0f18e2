"""Rubric operations. A post names its rubric (``"rubric": "<name>"``); the name is matched case-insensitively and
stored in the rubric's own spelling; a name no rubric has yet creates that rubric (next palette colour, no target),
so existing clients that send free-text rubrics keep working and every post's rubric is a row of this table."""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ApiError, Conflict, Invalid, NotFound
from app.models import Rubric, Workspace
from app.rubrics import repository as repo

PALETTE = ("#8b5cf6", "#ec4899", "#f59e0b", "#10b981", "#06b6d4", "#f43f5e", "#84cc16", "#6366f1")
COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
SHARE_SLACK = 1e-6
MAX_NAME = 100


def clean_name(value: str, field: str = "name") -> str:
    """A rubric name with its spaces collapsed; 422 for an empty, over-long or control-character name."""
    name = " ".join(value.split())
    if not name:
        raise Invalid(field, "a rubric needs a name")
    if len(name) > MAX_NAME:
        raise Invalid(field, f"a rubric name has at most {MAX_NAME} characters")
    if any(not ch.isprintable() for ch in name):
        raise Invalid(field, "a rubric name cannot contain control characters")
    return name


def clean_colour(value: str, field: str = "colour") -> str:
    if not COLOUR_RE.match(value.strip()):
        raise Invalid(field, f"'{value[:20]}' is not a colour; use #rrggbb, e.g. #10b981")
    return value.strip().lower()


def check_share(value: float | None, field: str = "target_share") -> None:
    if value is not None and not 0 <= value <= 1:
        raise Invalid(field, "a target share is a fraction of the plan between 0 and 1 (0.25 = a quarter)")


def _check_total(rubrics: list[Rubric], field: str = "target_share") -> None:
    total = sum(r.target_share or 0 for r in rubrics)
    if total > 1 + SHARE_SLACK:
        shares = ", ".join(f"{r.name} {r.target_share:g}" for r in rubrics if r.target_share)
        raise Invalid(field, f"the target shares add up to {total:g} ({shares}); together they can be at most 1")


async def create(session: AsyncSession, workspace: Workspace, name: str, colour: str | None,
                 target_share: float | None) -> Rubric:
    name = clean_name(name)
    if await repo.by_name(session, workspace.id, name) is not None:
        raise Conflict(f"A rubric called '{name}' exists already; names are unique (whatever their case).")
    check_share(target_share)
    rubric = await _insert(session, workspace, name, clean_colour(colour) if colour else None, target_share)
    _check_total(await repo.list_all(session, workspace.id))
    return rubric


async def _insert(session: AsyncSession, workspace: Workspace, name: str, colour: str | None,
                  target_share: float | None) -> Rubric:
    if colour is None:
        colour = PALETTE[await repo.count(session, workspace.id) % len(PALETTE)]
    rubric = Rubric(workspace_id=workspace.id, name=name, colour=colour, target_share=target_share)
    # A savepoint lets a post use the rubric a concurrent request just made. Not on SQLite: pysqlite opens no
    # transaction before the first write, so the SAVEPOINT would start one and its RELEASE commit it (and one
    # writer at a time makes that race moot there).
    sqlite = session.get_bind().dialect.name == "sqlite"
    try:
        if sqlite:
            session.add(rubric)
            await session.flush()
        else:
            async with session.begin_nested():
                session.add(rubric)
                await session.flush()
    except IntegrityError as exc:  # a concurrent request made it first
        raise Conflict(f"A rubric called '{name}' exists already; names are unique (whatever their case).") from exc
    return rubric


async def get(session: AsyncSession, workspace: Workspace, rubric_id: str) -> Rubric:
    rubric = await repo.get(session, workspace.id, rubric_id)
    if rubric is None:
        raise NotFound("Rubric")
    return rubric


async def update(session: AsyncSession, workspace: Workspace, rubric_id: str, fields: Mapping[str, object]) -> Rubric:
    """Change name (posts follow), colour and/or target share (``None`` clears it)."""
    rubric = await get(session, workspace, rubric_id)
    if "name" in fields and fields["name"] is not None:
        name = clean_name(str(fields["name"]))
        other = await repo.by_name(session, workspace.id, name)
        if other is not None and other.id != rubric.id:
            raise Conflict(f"A rubric called '{other.name}' exists already; names are unique (whatever their case).")
        if name != rubric.name:
            await repo.rename_on_posts(session, workspace.id, rubric.name, name)
            rubric.name = name
    if "colour" in fields and fields["colour"] is not None:
        rubric.colour = clean_colour(str(fields["colour"]))
    if "target_share" in fields:
        share = fields["target_share"]
        share = float(share) if isinstance(share, int | float) else None
        check_share(share)
        rubric.target_share = share
    await session.flush()
    _check_total(await repo.list_all(session, workspace.id))
    return rubric


async def delete(session: AsyncSession, workspace: Workspace, rubric_id: str) -> None:
    """Remove a rubric; its posts keep no rubric."""
    rubric = await get(session, workspace, rubric_id)
    await repo.rename_on_posts(session, workspace.id, rubric.name, None)
    await session.delete(rubric)
    await session.flush()


async def resolve(session: AsyncSession, workspace: Workspace, name: str | None, field: str = "rubric") -> str | None:
    """The stored rubric of a post that names ``name``: the rubric's spelling, created if new; ``None`` for none."""
    if name is None or not name.strip():
        return None
    cleaned = clean_name(name, field)
    found = await repo.by_name(session, workspace.id, cleaned)
    if found is not None:
        return found.name
    try:
        return (await _insert(session, workspace, cleaned, None, None)).name
    except ApiError:  # created meanwhile by a concurrent request: use it (after the savepoint's rollback)
        if session.get_bind().dialect.name == "sqlite":
            raise
        again = await repo.by_name(session, workspace.id, cleaned)
        if again is None:
            raise
        return again.name


async def set_mix(session: AsyncSession, workspace: Workspace, mix: Mapping[str, float], field: str) -> None:
    """The target mix as a whole: the named rubrics (created if new) get their shares, every other none."""
    wanted: dict[str, float] = {}
    for name, share in mix.items():
        check_share(share, f"{field}.{name}")
        wanted[clean_name(name, field).casefold()] = share
    for name in mix:
        await resolve(session, workspace, name, field)
    rubrics = await repo.list_all(session, workspace.id)
    for r in rubrics:
        r.target_share = wanted.get(r.name.casefold())
    _check_total(rubrics, field)
    await session.flush()


async def mix_of(session: AsyncSession, workspace: Workspace) -> dict[str, float]:
    """The target mix: rubric name → share, for the rubrics that have a target."""
    return {r.name: r.target_share for r in await repo.list_all(session, workspace.id) if r.target_share is not None}
