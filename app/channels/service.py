"""Channel operations: create with checked credentials, update, verify against the platform, delete."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import repository as repo
from app.channels.schemas import ChannelCreate, ChannelOut, ChannelUpdate, ChannelWarning, check_credentials
from app.connect.lifetimes import channel_warnings
from app.errors import ApiError, NotFound
from app.links.utm import format_template, parse_template
from app.models import Channel, Workspace
from app.platforms import ConnectorHub
from app.publishing.wakeup import schedule_changed
from app.security import CREDENTIALS_UNREADABLE, CredentialBox, CredentialsUnreadable
from app.timeutil import utcnow
from connectors.base import Credentials
from connectors.errors import AuthError, ConnectorError

PUBLIC_ACCOUNT_KEYS = ("name", "username", "url", "followers")


def sandbox_credentials(platform: str) -> dict[str, str]:
    """Invented credentials of the right shape, for sandbox channels created without any."""
    token = secrets.token_urlsafe(40).replace("-", "a").replace("_", "b")
    return {
        "telegram": {"bot_token": f"{secrets.randbelow(10**9) + 10**9}:{token[:35]}",
                     "chat_id": f"@sandbox_{secrets.token_hex(8)}"},  # a chat of its own, not shared across workspaces
        "vk": {"access_token": "vk1.a." + token, "owner_id": str(-(secrets.randbelow(10**8) + 10**7))},
        "facebook": {"page_id": str(secrets.randbelow(10**14) + 10**14), "access_token": "EAA" + token},
        "instagram": {"ig_user_id": str(secrets.randbelow(10**16) + 10**16), "access_token": "EAA" + token},
    }[platform]


def to_out(channel: Channel) -> ChannelOut:
    return ChannelOut(
        id=channel.id,
        platform=channel.platform,
        name=channel.name,
        timezone=channel.timezone,
        status=channel.status,
        status_reason=channel.status_reason,
        sandbox=channel.sandbox,
        account={k: v for k, v in (channel.account or {}).items() if k in PUBLIC_ACCOUNT_KEYS},
        verified_at=channel.verified_at,
        created_at=channel.created_at,
        token_expires_at=channel.token_expires_at,
        warnings=[ChannelWarning(**w) for w in channel_warnings(channel)],
        spacing_minutes=channel.spacing_minutes, utm_template=channel.utm_template,
    )


def plan_fields(channel: Channel, data: ChannelUpdate) -> None:
    """The content plan's settings of a channel: its spacing (0 or null: the workspace's) and UTM template."""
    fields = data.model_fields_set
    if "spacing_minutes" in fields:
        channel.spacing_minutes = data.spacing_minutes or None
    if "utm_template" in fields:
        channel.utm_template = format_template(parse_template(data.utm_template, "utm_template")) or None


def _checked(platform: str, raw: dict[str, Any]) -> dict[str, str]:
    values, errors = check_credentials(platform, raw)
    if errors:
        raise ApiError(422, "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors)
    return values


async def _refuse_foreign_sandbox_target(
    session: AsyncSession, workspace: Workspace, platform: str, values: dict[str, str], box: CredentialBox,
    channel_id: str | None = None,
) -> None:
    """Each workspace sees only its own sandbox posts, so two workspaces cannot share a sandbox chat or page."""
    from app.sandbox import TARGET_FIELD, target_taken

    if await target_taken(session, box, workspace.id, platform, values, channel_id):
        field = f"credentials.{TARGET_FIELD[platform]}"
        message = "another workspace's sandbox channel uses it; leave the credentials empty to get one of your own"
        raise ApiError(422, f"{field}: {message}.", [{"field": field, "message": message}])


async def create(
    session: AsyncSession, workspace: Workspace, data: ChannelCreate, box: CredentialBox, sandbox_enabled: bool
) -> Channel:
    if data.sandbox and not sandbox_enabled:
        raise ApiError(422, "sandbox: sandbox channels need the service started with SMM_SANDBOX=1.",
                       [{"field": "sandbox", "message": "the sandbox is off (set SMM_SANDBOX=1)"}])
    raw = data.credentials
    if raw is None:
        if not data.sandbox:
            raise ApiError(422, "credentials: required", [{"field": "credentials", "message": "required"}])
        raw = sandbox_credentials(data.platform)
    values = _checked(data.platform, raw)
    if data.sandbox:
        await _refuse_foreign_sandbox_target(session, workspace, data.platform, values, box)
    channel = Channel(
        workspace_id=workspace.id,
        platform=data.platform,
        name=data.name.strip(),
        timezone=data.timezone,
        credentials_sealed=box.seal(values),
        sandbox=data.sandbox,
        account={},
    )
    session.add(channel)
    await session.flush()
    return channel


async def get(session: AsyncSession, workspace: Workspace, channel_id: str) -> Channel:
    channel = await repo.get(session, workspace.id, channel_id)
    if channel is None:
        raise NotFound("Channel")
    return channel


async def update(
    session: AsyncSession, workspace: Workspace, channel_id: str, data: ChannelUpdate, box: CredentialBox
) -> Channel:
    channel = await get(session, workspace, channel_id)
    was = channel.status
    if data.name is not None:
        channel.name = data.name.strip()
    if data.timezone is not None:
        channel.timezone = data.timezone
    if data.credentials is not None:
        values = _checked(channel.platform, data.credentials)
        if channel.sandbox:
            await _refuse_foreign_sandbox_target(session, workspace, channel.platform, values, box, channel.id)
        channel.credentials_sealed = box.seal(values)
        if channel.status == "needs_reauth":  # new credentials: give them a chance
            channel.status, channel.status_reason = "active", None
    if data.status is not None:
        channel.status = data.status
        channel.status_reason = None
    plan_fields(channel, data)
    channel.updated_at = utcnow()
    await session.flush()
    await _woken(session, was, channel)
    return channel


async def _woken(session: AsyncSession, was: str, channel: Channel) -> None:
    """A channel that may send again: its due posts go out now, not at the next safety tick."""
    if channel.status == "active" and was != "active":
        await schedule_changed(session)


async def delete(session: AsyncSession, workspace: Workspace, channel_id: str) -> None:
    """Soft delete: history (targets, attempts, engagement) keeps pointing at the row."""
    channel = await get(session, workspace, channel_id)
    channel.deleted_at = utcnow()
    channel.status = "disabled"
    await session.flush()


async def verify(
    session: AsyncSession, workspace: Workspace, channel_id: str, box: CredentialBox, hub: ConnectorHub
) -> Channel:
    """Ask the platform whether the credentials can publish; records what it said on the channel."""
    channel = await get(session, workspace, channel_id)
    connector = hub.get(channel.platform, channel.sandbox)
    was = channel.status
    try:
        info = await connector.verify(Credentials(box.open(channel.credentials_sealed)))
    except AuthError as exc:
        channel.status, channel.status_reason = "needs_reauth", exc.message
    except ConnectorError as exc:
        channel.status_reason = exc.message
        await session.flush()
        raise ApiError(422, f"{channel.platform} refused: {exc.message}") from exc
    else:
        channel.account = {
            "name": info.name, "username": info.username, "url": info.url, "followers": info.followers,
        }
        channel.verified_at = utcnow()
        if channel.status == "needs_reauth":
            channel.status = "active"
        channel.status_reason = None
    await session.flush()
    await _woken(session, was, channel)
    return channel


async def reseal_all(session: AsyncSession, old: CredentialBox, new: CredentialBox) -> int:
    """Re-encrypt every stored credential (deleted channels too) from ``old`` to ``new``; returns how many.

    Channels held as ``needs_reauth`` only because their credentials could not be decrypted become active again.
    All or nothing: the rows are locked and rewritten in the caller's transaction, and if any credential opens
    with neither key, ``ApiError`` (409) names the channels and nothing is changed. One that already opens with
    ``new`` (a rotation run twice) is left as it is.
    """
    channels = list((await session.execute(select(Channel).order_by(Channel.id).with_for_update())).scalars())
    resealed: list[tuple[Channel, str]] = []
    unreadable: list[Channel] = []
    for channel in channels:
        try:
            values = old.open(channel.credentials_sealed)
        except CredentialsUnreadable:
            try:
                new.open(channel.credentials_sealed)
            except CredentialsUnreadable:
                unreadable.append(channel)
            continue
        resealed.append((channel, new.seal(values)))
    if unreadable:
        names = ", ".join(f"'{c.name}' ({c.id})" for c in unreadable[:10])
        more = f" and {len(unreadable) - 10} more" if len(unreadable) > 10 else ""
        raise ApiError(409, f"{len(unreadable)} of {len(channels)} channel credentials cannot be decrypted with "
                            f"the old key ({names}{more}); nothing was changed. Check the old key, or reconnect "
                            "those channels first.")
    for channel, sealed in resealed:
        channel.credentials_sealed = sealed
    woken = False
    for channel in channels:  # held only because this key could not open them: they can publish again
        if channel.status == "needs_reauth" and (channel.status_reason or "").startswith(CREDENTIALS_UNREADABLE):
            channel.status, channel.status_reason = "active", None
            woken = True
    await session.flush()
    if woken:
        await schedule_changed(session)
    return len(resealed)
