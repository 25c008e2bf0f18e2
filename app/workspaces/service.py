"""Workspaces and API keys (used by the CLI and at start-up)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ApiKey, Workspace
from app.security import ConfigError, hash_api_key, new_api_key
from app.timeutil import utcnow

DEFAULT_WORKSPACE = "default"
BOOTSTRAP_KEY_MIN_LENGTH = 24


class BootstrapKey(StrEnum):
    """What start-up found for ``SMM_BOOTSTRAP_API_KEY``."""

    ADDED = "added"
    PRESENT = "present"
    REVOKED = "revoked"


def check_bootstrap_key(key: str | None) -> None:
    """Refuse a bootstrap key short enough to guess (``ConfigError`` with the reason; the key is not shown)."""
    if key is not None and len(key.strip()) < BOOTSTRAP_KEY_MIN_LENGTH:
        raise ConfigError(
            f"SMM_BOOTSTRAP_API_KEY is {len(key.strip())} characters long; it must have at least "
            f"{BOOTSTRAP_KEY_MIN_LENGTH}, because it signs in to the workspace and a short key can be guessed. "
            "Use a key from `smm keys create`, or unset SMM_BOOTSTRAP_API_KEY to get one printed on the first start."
        )


async def ensure_workspace(session: AsyncSession, name: str) -> Workspace:
    found = (await session.execute(select(Workspace).where(Workspace.name == name))).scalar_one_or_none()
    if found is not None:
        return found
    workspace = Workspace(name=name)
    session.add(workspace)
    await session.flush()
    return workspace


async def add_key(
    session: AsyncSession, workspace: Workspace, key: str | None = None, name: str | None = None
) -> tuple[str, ApiKey]:
    """Store a key (hashed); returns the plaintext, which is never stored."""
    plaintext = key or new_api_key()
    record = ApiKey(workspace_id=workspace.id, key_hash=hash_api_key(plaintext), prefix=plaintext[:8], name=name)
    session.add(record)
    await session.flush()
    return plaintext, record


async def ensure_key(session: AsyncSession, workspace: Workspace, key: str) -> BootstrapKey:
    """Make ``key`` a key of ``workspace`` unless it exists; a revoked key stays revoked (it is never revived)."""
    stmt = select(ApiKey).where(ApiKey.key_hash == hash_api_key(key))
    existing = (await session.execute(stmt)).scalar_one_or_none()
    if existing is not None:
        return BootstrapKey.REVOKED if existing.revoked_at is not None else BootstrapKey.PRESENT
    await add_key(session, workspace, key, name="bootstrap")
    return BootstrapKey.ADDED


async def any_key(session: AsyncSession) -> bool:
    return (await session.execute(select(ApiKey.id).limit(1))).first() is not None


async def list_keys(session: AsyncSession) -> list[tuple[ApiKey, str]]:
    stmt = select(ApiKey, Workspace.name).join(Workspace).order_by(ApiKey.created_at)
    return [(k, n) for k, n in (await session.execute(stmt)).all()]


async def revoke(session: AsyncSession, key_id: str) -> bool:
    key = await session.get(ApiKey, key_id)
    if key is None:
        key = (await session.execute(select(ApiKey).where(ApiKey.prefix == key_id))).scalar_one_or_none()
    if key is None:
        return False
    key.revoked_at = key.revoked_at or utcnow()
    return True
