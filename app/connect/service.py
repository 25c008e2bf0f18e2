"""The sign-in flow's three steps: start (a state bound to the session, PKCE), the callback (the state checked and
used up, the code exchanged), and the pick (chosen accounts become channels, or re-connect the channels they are).

The state's rules: it is random, only its hash is stored, it belongs to the web session that started it, it lasts
``SMM_CONNECT_FLOW_TTL`` seconds and it is used once (a conditional update). The tokens the callback obtained wait
sealed in the flow's row — never in a page or a form — until the person picks.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.schemas import check_credentials
from app.config import Settings
from app.connect import repository as repo
from app.connect.oauth import (
    FLOWS,
    FLOWS_BY_KEY,
    Candidate,
    Flow,
    SignInError,
    SignInResult,
    VKCommunityFlow,
    VKFlow,
    pkce_pair,
)
from app.logs import register_credentials
from app.models import Channel, ChannelStatus, ConnectFlow, ConnectFlowStatus
from app.security import CredentialBox, CredentialsUnreadable, hash_api_key
from app.timeutil import utcnow
from app.web.session import WebUser

TARGET_FIELD = {"vk": "owner_id", "facebook": "page_id", "instagram": "ig_user_id"}


def redirect_uri(settings: Settings, platform: str) -> str:
    return f"{settings.effective_public_base_url}/connect/{platform}/callback"


def flow_for(settings: Settings, client: httpx.AsyncClient, platform: str, via_page: bool = False) -> Flow:
    """The flow of ``platform`` (``via_page``: Instagram through the linked Facebook Page)."""
    return FLOWS_BY_KEY["instagram_page" if via_page and platform == "instagram" else platform](settings, client)


def _session_hash(user: WebUser) -> str:
    return hash_api_key("connect:" + user.session_token)


async def start(session: AsyncSession, box: CredentialBox, flow: Flow, user: WebUser,
                carry: dict[str, str] | None = None) -> str:
    """Record a new flow for this session; returns the URL of the platform's dialog. ``carry``: what the callback
    must know (sealed with the PKCE verifier; e.g. the timezone picked before VK's community dialog)."""
    now = utcnow()
    await repo.purge_expired(session, now)
    state = secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair() if flow.pkce else (None, None)
    sealed = {**(carry or {}), **({"code_verifier": verifier} if verifier else {})}
    session.add(ConnectFlow(
        workspace_id=user.workspace.id, platform=flow.key, state_hash=hash_api_key(state),
        session_hash=_session_hash(user), verifier_sealed=box.seal(sealed) if sealed else None,
        created_at=now, expires_at=now + timedelta(seconds=flow.settings.connect_flow_ttl)))
    await session.flush()
    return flow.authorize_url(redirect_uri(flow.settings, flow.platform), state, challenge)


@dataclass
class Returned:
    flow_id: str
    result: SignInResult
    existing: dict[str, str]  # candidate key -> the id of the channel it would re-connect
    key: str = ""  # the flow's key (``vk_community``: the communities were picked already)
    carry: dict[str, str] | None = None  # what ``start`` was given to carry


class Refused(SignInError):
    """The callback cannot be accepted (unknown, foreign, used or stale state; a denied consent): 400."""


async def callback(session: AsyncSession, box: CredentialBox, settings: Settings, client: httpx.AsyncClient,
                   user: WebUser, platform: str, params: dict[str, str]) -> Returned:
    """Check and use up the state, then exchange the code. The caller commits, whatever is raised."""
    state = params.get("state") or ""
    row = await repo.by_state(session, hash_api_key(state)) if state else None
    kind = FLOWS_BY_KEY.get(row.platform) if row is not None else None
    if row is None or kind is None or kind.platform != platform or row.workspace_id != user.workspace.id:
        name = FLOWS[platform].name
        raise Refused(f"This {name} sign-in was not started here (its state is unknown), so it is refused. "
                      f"Start again from Channels → Connect {name}.")
    flow = kind(settings, client)
    if not secrets.compare_digest(row.session_hash, _session_hash(user)):
        raise Refused(f"This {flow.name} sign-in was started in another browser session, so it is refused. "
                      "Start it again here.")
    if row.expires_at < utcnow():
        raise Refused(f"This {flow.name} sign-in took longer than {int(flow.settings.connect_flow_ttl // 60)} "
                      "minutes and has expired. Start it again.")
    if not await repo.advance(session, row.id, ConnectFlowStatus.STARTED, ConnectFlowStatus.RETURNED):
        raise Refused(f"This {flow.name} sign-in has already been used. Start it again to connect more.")
    if params.get("error"):
        await repo.advance(session, row.id, ConnectFlowStatus.RETURNED, ConnectFlowStatus.DONE)
        reason = params.get("error_description") or params.get("error_reason") or params["error"]
        raise Refused(f"{flow.name} sign-in was cancelled: nothing was connected ({flow.name} said: “{reason}”).")
    code = params.get("code") or ""
    if not code:
        await repo.advance(session, row.id, ConnectFlowStatus.RETURNED, ConnectFlowStatus.DONE)
        raise Refused(f"{flow.name} came back without an authorization code. Start again.")
    carried = box.open(row.verifier_sealed) if row.verifier_sealed else {}
    verifier = carried.pop("code_verifier", None)
    try:
        try:
            result = await flow.sign_in(code, redirect_uri(flow.settings, flow.platform), verifier)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:  # a body of another shape
            raise SignInError(f"{flow.name} answered the sign-in in a shape this service does not know "
                              f"({type(exc).__name__}); nothing was connected. Try again later.") from None
    except SignInError:
        await repo.advance(session, row.id, ConnectFlowStatus.RETURNED, ConnectFlowStatus.DONE)
        raise
    row.result_sealed = box.seal({"result": json.dumps({
        "candidates": [c.to_json() for c in result.candidates], "missing": result.missing})})
    row.expires_at = utcnow() + timedelta(seconds=flow.settings.connect_flow_ttl)  # time to pick
    await session.flush()
    return Returned(row.id, result, await _existing(session, box, user, flow.platform, result.candidates),
                    row.platform, carried)


async def _existing(session: AsyncSession, box: CredentialBox, user: WebUser, platform: str,
                    candidates: list[Candidate]) -> dict[str, str]:
    wanted = {c.key for c in candidates}
    found: dict[str, str] = {}
    for channel in await repo.live_channels(session, user.workspace.id, platform):
        try:
            key = box.open(channel.credentials_sealed).get(TARGET_FIELD[platform], "")
        except CredentialsUnreadable:
            continue  # a channel whose credentials this key cannot open: re-connecting it is what it needs
        if key in wanted:
            found.setdefault(key, channel.id)
    return found


async def pick(session: AsyncSession, box: CredentialBox, settings: Settings, user: WebUser, platform: str,
               flow_id: str, chosen: list[str], timezone: str) -> list[Channel]:
    """Turn the chosen candidates into channels (new ones, or the existing channel of the same Page / community /
    account, whose id, posts and settings stay). Raises ``Refused`` for a flow that is not this session's."""
    name = FLOWS[platform].name
    data = await _take_picked(session, box, user, platform, flow_id, chosen)
    if data["key"] == VKFlow.key:  # the communities' list: their keys come from VK's community dialog
        raise Refused("This VK sign-in has listed the communities only; pick them on its page to connect them.")
    candidates = [Candidate.from_json(c) for c in data["candidates"]]
    existing = await _existing(session, box, user, platform, candidates)
    channels = []
    for candidate in candidates:
        if candidate.key not in chosen or candidate.problem:
            continue
        values, errors = check_credentials(platform, candidate.credentials)
        if errors:
            raise SignInError(f"{name} gave credentials this service cannot use for {candidate.name}: "
                              + "; ".join(e["message"] for e in errors))
        register_credentials(values)
        channel = await repo_channel(session, existing.get(candidate.key))
        if channel is None:
            channel = Channel(workspace_id=user.workspace.id, platform=platform, name=candidate.name[:200],
                              timezone=timezone, sandbox=False, account={})
            session.add(channel)
        apply_token(channel, box, values, candidate)
        channels.append(channel)
    if not channels:
        raise Refused(f"None of the chosen could be connected: {name} does not let this account publish there. "
                      "Start again and pick another.")
    await session.flush()
    return channels


async def _take_picked(session: AsyncSession, box: CredentialBox, user: WebUser, platform: str, flow_id: str,
                       chosen: list[str]) -> dict[str, Any]:
    """The sealed result of this session's returned flow ``flow_id``, used up (RETURNED → DONE)."""
    name = FLOWS[platform].name
    row = await repo.by_id(session, user.workspace.id, flow_id)
    kind = FLOWS_BY_KEY.get(row.platform) if row is not None else None
    if (row is None or kind is None or kind.platform != platform or row.result_sealed is None
            or not secrets.compare_digest(row.session_hash, _session_hash(user))):
        raise Refused(f"This {name} sign-in is not one of this session's. Start again from Channels.")
    if row.expires_at < utcnow():
        raise Refused(f"This {name} sign-in has expired before anything was picked. Start it again.")
    if not chosen:
        raise Refused("Pick at least one to connect.")
    if not await repo.advance(session, row.id, ConnectFlowStatus.RETURNED, ConnectFlowStatus.DONE):
        raise Refused(f"This {name} sign-in has already been used. Start it again to connect more.")
    data: dict[str, Any] = json.loads(box.open(row.result_sealed)["result"])
    data["key"] = row.platform
    return data


async def pick_communities(session: AsyncSession, box: CredentialBox, settings: Settings, client: httpx.AsyncClient,
                           user: WebUser, flow_id: str, chosen: list[str], timezone: str) -> str:
    """VK's first dialog listed the communities; the chosen ones (that an administrator may hand out) go to VK's
    community dialog (``group_ids``) under a new state of this session. Returns that dialog's URL."""
    data = await _take_picked(session, box, user, "vk", flow_id, chosen)
    if data["key"] != VKFlow.key:
        raise Refused("This VK sign-in has already asked for the communities' keys. Start it again.")
    groups = [int(c["key"].lstrip("-")) for c in data["candidates"] if c["key"] in chosen and not c.get("problem")]
    if not groups:
        raise Refused("None of the chosen communities can be connected: only a community's administrator can give "
                      "this app its access key. Start again and pick another.")
    return await start(session, box, VKCommunityFlow(settings, client, groups), user, {"timezone": timezone})


async def repo_channel(session: AsyncSession, channel_id: str | None) -> Channel | None:
    return await session.get(Channel, channel_id) if channel_id else None


def apply_token(channel: Channel, box: CredentialBox, values: dict[str, str], candidate: Candidate) -> None:
    """New credentials and what the platform said of them; a channel held for re-authorisation is released
    (its scheduled posts go out now if within the grace window, else fail as ``missed``, as after any hold)."""
    now = utcnow()
    channel.credentials_sealed = box.seal(values)
    channel.token_expires_at = candidate.token_expires_at
    channel.data_access_expires_at = candidate.data_access_expires_at
    channel.scopes = list(candidate.scopes)
    channel.token_refreshed_at = now
    if channel.status == ChannelStatus.NEEDS_REAUTH or channel.status is None:
        channel.status, channel.status_reason = ChannelStatus.ACTIVE, None
    channel.updated_at = now
