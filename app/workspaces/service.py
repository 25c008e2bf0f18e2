"""Workspaces, their settings (time zone, country, spacing, rubric mix, iCal secret) and API keys."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cadence.service import limits_of
from app.errors import Invalid
from app.links.utm import check_domains, format_template, parse_template
from app.models import ApiKey, Workspace
from app.models.workspace import new_ical_token
from app.rubrics.service import mix_of, set_mix
from app.security import ConfigError, hash_api_key, new_api_key
from app.timeutil import TimeInputError, get_zone, utcnow
from app.workspaces.defaults import DEFAULT_WORKSPACE as DEFAULT_WORKSPACE

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


# -- settings ------------------------------------------------------------------------------------------------------


def check_timezone(value: str, field: str = "timezone") -> str:
    """An IANA zone as zoneinfo knows it; 422 otherwise."""
    name = value.strip()
    try:
        get_zone(name)
    except TimeInputError as exc:
        raise Invalid(field, str(exc)) from exc
    return name


def check_country(value: str | None, field: str = "country") -> str | None:
    """An ISO 3166 alpha-2 code the ``holidays`` package knows (upper-cased); ``None``/'' clears it; 422 otherwise."""
    if value is None or not value.strip():
        return None
    import holidays  # here, not at import: ~50 ms that every `smm` command would pay for a settings check

    code = value.strip().upper()
    supported = holidays.list_supported_countries()
    if len(code) != 2 or not code.isascii() or not code.isalpha() or code not in supported:
        raise Invalid(field, f"'{value[:10]}' is not a country with known public holidays; use an ISO 3166 alpha-2 "
                             "code such as DE, RU, US or GB")
    return code


def ical_url(workspace: Workspace, public_base: str) -> str:
    return f"{public_base}/ical/{workspace.ical_token}.ics"


async def settings_of(session: AsyncSession, workspace: Workspace, public_base: str) -> dict[str, object]:
    """The workspace as ``GET /api/v1/workspace`` answers it."""
    if workspace.ical_token is None:  # every row gets one (model default, migration 0008); never answer ".../None"
        workspace.ical_token = new_ical_token()
        await session.flush()
    return {"id": workspace.id, "name": workspace.name, "timezone": workspace.timezone or "UTC",
            "country": workspace.country, "ical_url": ical_url(workspace, public_base),
            "default_spacing_minutes": workspace.default_spacing_minutes,
            "rubric_mix": await mix_of(session, workspace), **plan_settings_of(workspace)}


def plan_settings_of(workspace: Workspace) -> dict[str, object]:
    """The cadence checks' limits (defaults applied) and the link settings, as the API answers them."""
    limits = limits_of(workspace)
    return {"max_gap_days": limits.max_gap_days, "max_posts_per_day": limits.max_posts_per_day,
            "duplicate_window_days": limits.duplicate_window_days, "utm_template": workspace.utm_template,
            "utm_domains": list(workspace.utm_domains or []), "short_links": bool(workspace.short_links)}


def _limit(fields: dict[str, object], name: str, low: int, high: int) -> int | None:
    value = fields[name]
    if value is None or value == 0:
        return None  # the default
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise Invalid(name, f"a whole number from {low} to {high} (or null for the default)")
    return value


async def update_settings(session: AsyncSession, workspace: Workspace, fields: dict[str, object]) -> Workspace:
    """Change the named settings (each checked; nothing changes when one is refused, the caller rolls back)."""
    if "timezone" in fields:
        if fields["timezone"] is None:
            raise Invalid("timezone", "a workspace always has a time zone; give an IANA name such as Europe/Berlin")
        workspace.timezone = check_timezone(str(fields["timezone"]))
    if "country" in fields:
        country = fields["country"]
        workspace.country = check_country(None if country is None else str(country))
    if "default_spacing_minutes" in fields:
        spacing = fields["default_spacing_minutes"]
        workspace.default_spacing_minutes = int(spacing) if isinstance(spacing, int) and spacing > 0 else None
    for name, high in (("max_gap_days", 365), ("max_posts_per_day", 100), ("duplicate_window_days", 365)):
        if name in fields:
            setattr(workspace, name, _limit(fields, name, 1, high))
    if "utm_template" in fields:
        text = fields["utm_template"]
        workspace.utm_template = format_template(parse_template(str(text), "utm_template")) or None \
            if text is not None else None
    if "utm_domains" in fields:
        domains = fields["utm_domains"]
        if domains is not None and not isinstance(domains, list):
            raise Invalid("utm_domains", "a list of domain names such as [\"example.com\"]")
        workspace.utm_domains = check_domains(domains, "utm_domains") or None
    if "short_links" in fields:
        workspace.short_links = bool(fields["short_links"]) or None
    if "rubric_mix" in fields and fields["rubric_mix"] is not None:
        mix = fields["rubric_mix"]
        assert isinstance(mix, dict)
        await set_mix(session, workspace, mix, "rubric_mix")
    await session.flush()
    return workspace


async def rotate_ical(session: AsyncSession, workspace: Workspace) -> Workspace:
    """A new feed secret: the old URL answers 404 from now on."""
    workspace.ical_token = new_ical_token()
    await session.flush()
    return workspace


async def by_ical_token(session: AsyncSession, token: str) -> Workspace | None:
    if not token or len(token) > 64:
        return None
    return (await session.execute(select(Workspace).where(Workspace.ical_token == token))).scalar_one_or_none()
