"""The sandbox (``SMM_SANDBOX=1``): the fake platforms served by this process under ``/sandbox/<platform>``,
so that a newcomer with no accounts can connect sandbox channels and watch posts arrive.

The fakes' *platform* endpoints (what the connectors call) are open, like a real platform's. Their control API is
not served as the standalone fakes serve it: under ``/sandbox/<platform>/_control/`` this service answers itself,
for one workspace at a time (its API key as ``Authorization: Bearer``, or a signed-in web session — whose changes
carry the session's CSRF token as ``X-CSRF-Token`` — 401 otherwise):

* ``GET published`` — what the workspace's sandbox channels received (matched by chat / owner / page / account id;
  every sandbox channel created without credentials gets ids of its own, and one workspace cannot take ids that
  another workspace's sandbox channel uses);
* ``POST reset`` — forget what the workspace's sandbox channels received (others' posts stay);
* ``POST faults`` / ``DELETE faults`` — arm or clear the fake's faults (``connectors/fakekit.py``); a fault applies
  to that fake's next matching calls, whichever workspace's post makes them;
* anything else (seed, clock, rate limits, call counts: state of every workspace) answers 403.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Receive, Scope, Send

from app.db import SessionDep
from app.deps import workspace_for_key
from app.errors import ApiError, NotFound
from app.models import Channel, Workspace
from app.security import CredentialBox
from app.web.session import (
    SESSION_COOKIE,
    CsrfRejected,
    check_csrf,
    parse_session_token,
    workspace_for_session,
)

SANDBOX_PLATFORMS = ("telegram", "vk", "facebook", "instagram")
# The credential that names where a post lands, per platform (what the fakes report as an item's "chat").
TARGET_FIELD = {"telegram": "chat_id", "vk": "owner_id", "facebook": "page_id", "instagram": "ig_user_id"}


@dataclass
class SandboxState:
    """The fakes this process serves, and per workspace and platform the items it has reset (hidden)."""

    fakes: dict[str, FastAPI]
    hidden: dict[tuple[str, str], set[str]] = field(default_factory=dict)


def mount_sandbox(app: FastAPI) -> None:
    """Mount each platform's fake (``connectors/<platform>/fake.py``) in sandbox mode, behind the control routes."""
    _add_control_routes(app)  # routes before mounts: they match first
    fakes: dict[str, FastAPI] = {}
    for platform in SANDBOX_PLATFORMS:
        module = importlib.import_module(f"connectors.{platform}.fake")
        fake_app: FastAPI = module.create_app(sandbox=True, lost_response_mode="hang")
        app.mount(f"/sandbox/{platform}", _PlatformEndpointsOnly(fake_app))
        fakes[platform] = fake_app
    app.state.sandbox = SandboxState(fakes)


CONTROL_PATH = re.compile(r"/_control(/|$)")


class _PlatformEndpointsOnly:
    """The fake behind the mount, minus its own control API: a request the control routes above did not take
    (e.g. a method they do not serve, such as HEAD) must not reach it unauthenticated."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and CONTROL_PATH.search(scope.get("path", "")):
            response = JSONResponse({"detail": "Not found."}, status_code=404)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def target_key(platform: str, credentials: dict[str, str]) -> str:
    """How the fakes name the chat / wall / page / account these credentials publish to (``@name`` lower-cased)."""
    value = str(credentials.get(TARGET_FIELD[platform], "")).strip()
    return value.lower() if value.startswith("@") else value


def _item_keys(item: dict[str, Any]) -> set[str]:
    keys = {str(item.get("chat", ""))}
    if item.get("chat_username"):  # Telegram: a channel addressed as @name
        keys.add("@" + str(item["chat_username"]).lower())
    return keys


def _item_id(item: dict[str, Any]) -> str:
    return f"{item.get('chat')}/{item.get('id')}"


async def workspace_targets(session: AsyncSession, box: CredentialBox, workspace_id: str, platform: str) -> set[str]:
    """The target keys of the workspace's sandbox channels of ``platform`` (deleted ones too: their posts stay)."""
    stmt = select(Channel.credentials_sealed).where(
        Channel.workspace_id == workspace_id, Channel.platform == platform, Channel.sandbox.is_(True)
    )
    keys = set()
    for (sealed,) in await session.execute(stmt):
        try:
            keys.add(target_key(platform, box.open(sealed)))
        except Exception:  # credentials that cannot be opened (secret key changed) name no target
            continue
    return keys - {""}


async def target_taken(
    session: AsyncSession, box: CredentialBox, workspace_id: str, platform: str, credentials: dict[str, str],
    except_channel: str | None = None,
) -> bool:
    """True when another workspace's sandbox channel publishes to the same chat / wall / page / account."""
    key = target_key(platform, credentials)
    stmt = select(Channel.id, Channel.credentials_sealed).where(
        Channel.workspace_id != workspace_id, Channel.platform == platform, Channel.sandbox.is_(True)
    )
    for channel_id, sealed in await session.execute(stmt):
        if channel_id == except_channel:
            continue
        try:
            if target_key(platform, box.open(sealed)) == key:
                return True
        except Exception:
            continue
    return False


async def received(app: FastAPI, platform: str, workspace_id: str, targets: set[str]) -> list[dict[str, Any]]:
    """What the sandbox ``platform`` holds as published to ``targets`` (newest first), minus what was reset."""
    state: SandboxState = app.state.sandbox
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=state.fakes[platform]),
                                 base_url="http://sandbox") as client:
        items: list[dict[str, Any]] = (await client.get("/_control/published")).json()
    hidden = state.hidden.get((workspace_id, platform), set())
    mine = [i for i in items if _item_keys(i) & targets and _item_id(i) not in hidden]
    return sorted(mine, key=lambda i: str(i.get("date", "")), reverse=True)


async def sandbox_workspace(request: Request, session: SessionDep) -> Workspace:
    """The workspace of the API key (``Authorization: Bearer``) or of the signed-in session; 401 otherwise."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and key.strip():
        workspace = await workspace_for_key(session, key.strip())
        if workspace is None:
            raise ApiError(401, "Invalid or revoked API key.")
        return workspace
    box: CredentialBox = request.app.state.box
    token = request.cookies.get(SESSION_COOKIE)
    secret = parse_session_token(box, token) if token else None
    workspace = await workspace_for_session(session, secret) if secret else None
    if token is None or workspace is None:
        raise ApiError(401, "The sandbox control API needs your API key ('Authorization: Bearer <api key>') "
                            "or a signed-in session.")
    if request.method not in ("GET", "HEAD"):  # a change made with the cookie alone must come from our pages
        try:
            check_csrf(box, token, request.headers.get("x-csrf-token"))
        except CsrfRejected:
            raise ApiError(403, "With a session cookie, send the page's CSRF token as 'X-CSRF-Token' "
                                "(or use the API key).") from None
    return workspace


def _add_control_routes(app: FastAPI) -> None:
    prefix = "/sandbox/{platform}/_control"

    async def context(request: Request, session: AsyncSession, platform: str) -> tuple[Workspace, set[str]]:
        if platform not in SANDBOX_PLATFORMS:
            raise NotFound("Sandbox platform")
        workspace = await sandbox_workspace(request, session)
        return workspace, await workspace_targets(session, request.app.state.box, workspace.id, platform)

    @app.get(f"{prefix}/published", include_in_schema=False)
    async def published(platform: str, request: Request, session: SessionDep) -> list[dict[str, Any]]:
        workspace, targets = await context(request, session, platform)
        return await received(request.app, platform, workspace.id, targets)

    @app.post(f"{prefix}/reset", include_in_schema=False)
    async def reset(platform: str, request: Request, session: SessionDep) -> dict[str, Any]:
        workspace, targets = await context(request, session, platform)
        items = await received(request.app, platform, workspace.id, targets)
        state: SandboxState = request.app.state.sandbox
        state.hidden.setdefault((workspace.id, platform), set()).update(_item_id(i) for i in items)
        return {"ok": True, "forgotten": len(items)}

    @app.api_route(f"{prefix}/faults", methods=["POST", "DELETE"], include_in_schema=False)
    async def faults(platform: str, request: Request, session: SessionDep) -> JSONResponse:
        await context(request, session, platform)
        state: SandboxState = request.app.state.sandbox
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=state.fakes[platform]),
                                     base_url="http://sandbox") as client:
            answer = await client.request(request.method, "/_control/faults", content=await request.body(),
                                          headers={"content-type": request.headers.get("content-type", "")})
        return JSONResponse(answer.json(), status_code=answer.status_code)

    @app.api_route(f"{prefix}/{{rest:path}}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                   include_in_schema=False)
    async def other(platform: str, rest: str, request: Request, session: SessionDep) -> None:
        await context(request, session, platform)
        raise ApiError(403, f"'_control/{rest}' changes the sandbox of every workspace, so this service does not "
                            "offer it; use published, reset and faults (or run the fake alone for tests).")
