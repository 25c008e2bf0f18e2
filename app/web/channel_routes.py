"""Channels: the list, connecting one per platform, verifying it, and its best-time heatmap."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import repository as channel_repo
from app.channels import service as channel_service
from app.channels.schemas import ChannelCreate, credential_fields
from app.connect.lifetimes import channel_warnings
from app.db import SessionDep
from app.errors import ApiError
from app.web.channel_manage import NOTICES as MANAGE_NOTICES
from app.web.channel_manage import manage_context, page_explanation
from app.web.channel_manage import router as manage_router
from app.web.heatmap import render_heatmap_svg
from app.web.insights import load_heatmap, slot_label
from app.web.plan_view import zone_of
from app.web.post_form import Errors, zone_options
from app.web.render import redirect, render
from app.web.session import CsrfUserDep, UserDep, WebUser

router = APIRouter(include_in_schema=False)

PLATFORMS = ("telegram", "vk", "facebook", "instagram")
PLATFORM_NAMES = {"telegram": "Telegram", "vk": "VK", "facebook": "Facebook", "instagram": "Instagram"}
FIELD_LABELS = {
    "bot_token": "Bot token", "chat_id": "Chat id", "access_token": "Access token", "owner_id": "Owner id",
    "page_id": "Page id", "ig_user_id": "Instagram user id",
}
HELP = {
    "telegram": "Create a bot with @BotFather (/newbot) and copy its token. Add the bot to your channel as an "
                "administrator allowed to post. The chat id is @channelname for a public channel, or the "
                "numeric id (-100…) of a private one.",
    "vk": "Create a community access token with the “wall” right (Community → Manage → API usage → Access "
          "tokens). The owner id of a community wall is negative: minus the community id, e.g. -123456.",
    "facebook": "Get a Page access token (not a user token) in Graph API Explorer or Business settings → System "
                "users, with pages_manage_posts and pages_read_engagement. The Page id is in the Page's About "
                "section.",
    "instagram": "Instagram publishing needs a professional (business or creator) account linked to a Facebook "
                 "Page. Use that account's Instagram user id (ig_user_id) and a token with "
                 "instagram_content_publish.",
}
NOTICES = {"created": "Channel connected. Verify it to check the credentials with the platform.",
           "verified": "The platform accepted the credentials.",
           "connected": "Connected by signing in: the platform's token is stored encrypted."}


@router.get("/channels")
async def channels_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    """Every channel of the workspace with its status."""
    channels = await channel_repo.list_all(session, user.workspace.id)
    notice = ""
    if request.query_params.get("done") == "deleted":
        notice = f"Channel “{request.query_params.get('name', '')[:200]}” deleted; its published history is kept."
    return render(request, "channels/list.html", {"channels": channels, "names": PLATFORM_NAMES,
                                                  "notice": notice}, user=user)


def _new_context(request: Request, user: WebUser, platform: str, values: dict[str, Any],
                 errors: Errors | None = None) -> dict[str, Any]:
    return {
        "platform": platform, "platforms": PLATFORMS, "names": PLATFORM_NAMES, "help": HELP[platform],
        "fields": [(f, FIELD_LABELS.get(f, f)) for f in credential_fields(platform)], "values": values,
        "errors": errors or {}, "zones": zone_options(),
    }


@router.get("/channels/new")
async def new_channel(request: Request, user: UserDep) -> Response:
    """The connect form for ``?platform=`` (Telegram by default)."""
    platform = request.query_params.get("platform", "telegram")
    platform = platform if platform in PLATFORMS else "telegram"
    values = {"timezone": zone_of(user.workspace), "sandbox": request.app.state.settings.sandbox}
    return render(request, "channels/new.html", _new_context(request, user, platform, values), user=user)


def _channel_errors(items: list[dict[str, str]]) -> Errors:
    out: Errors = {}
    for err in items:
        name = str(err.get("field", ""))
        if name.startswith("credentials."):
            key = "cred:" + name.removeprefix("credentials.")
        elif name in ("name", "timezone", "sandbox"):
            key = name
        else:
            key = "_form"
        out.setdefault(key, []).append(str(err.get("message", "")))
    return out


@router.post("/channels/new")
async def create_channel(request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Connect a channel through the channels service (it checks the credentials' shape)."""
    form = await request.form()
    platform = str(form.get("platform") or "")
    platform = platform if platform in PLATFORMS else "telegram"
    sandbox_on = bool(request.app.state.settings.sandbox)
    values: dict[str, Any] = {k: str(form.get(k) or "").strip()[:1024] for k in ("name", "timezone")}
    values["sandbox"] = sandbox_on and form.get("sandbox") == "on"
    creds = {f: str(form.get(f"cred_{f}") or "").strip()[:1024] for f in credential_fields(platform)}
    values.update({f"cred_{k}": v for k, v in creds.items()})
    given = {k: v for k, v in creds.items() if v}
    try:
        try:
            data = ChannelCreate(platform=platform, name=values["name"], timezone=values["timezone"] or "UTC",  # type: ignore[arg-type]
                                 credentials=None if values["sandbox"] and not given else creds,
                                 sandbox=values["sandbox"])
        except ValidationError as exc:
            errors = [{"field": str(e["loc"][0]) if e.get("loc") else "",
                       "message": str(e.get("msg", "")).removeprefix("Value error, ")} for e in exc.errors()]
            raise ApiError(422, "invalid channel", errors) from exc
        channel = await channel_service.create(session, user.workspace, data, request.app.state.box, sandbox_on)
    except ApiError as exc:
        field_errs = _channel_errors(exc.errors or [{"field": "", "message": exc.detail}])
        return render(request, "channels/new.html", _new_context(request, user, platform, values, field_errs),
                      user=user, status_code=422)
    channel_id = channel.id
    await session.commit()
    return redirect(f"/channels/{channel_id}?done=created")


async def _channel_page(request: Request, session: AsyncSession, user: WebUser, channel_id: str, *,
                        error: str = "", status_code: int = 200, **manage: Any) -> Response:
    channel = await channel_service.get(session, user.workspace, channel_id)
    done = request.query_params.get("done", "")
    data = await load_heatmap(session, user.workspace, channel)
    svg = None
    if data is not None:
        svg = Markup(render_heatmap_svg(list(data.get("cells", [])),  # the renderer escapes
                                        label=f"Best time to post on {channel.name} ({channel.timezone})"))
    slots = [dict(s, label=slot_label(s)) for s in (data or {}).get("slots", [])[:5]]
    if data is not None:
        data = dict(data, explanation=page_explanation(data))
    return render(request, "channels/detail.html", {
        "channel": channel, "names": PLATFORM_NAMES, "heatmap": data, "svg": svg, "slots": slots,
        "notice": NOTICES.get(done, "") or MANAGE_NOTICES.get(done, ""), "error": error,
        "warnings": channel_warnings(channel),
        **await manage_context(session, user, channel), "manage_errors": {}, "manage_values": {}, **manage,
    }, user=user, status_code=status_code)


@router.get("/channels/{channel_id}")
async def channel_page(channel_id: str, request: Request, session: SessionDep, user: UserDep) -> Response:
    """One channel: status (and why it needs re-authorisation), account, and when to post."""
    try:
        return await _channel_page(request, session, user, channel_id)
    except ApiError as exc:
        return render(request, "error.html", {"title": "Channel not found", "message": exc.detail}, user=user,
                      status_code=exc.status)


@router.post("/channels/{channel_id}/verify")
async def verify_channel(channel_id: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Ask the platform whether the credentials can publish; a refusal is shown in its words."""
    app_state = request.app.state
    try:
        channel = await channel_service.verify(session, user.workspace, channel_id, app_state.box, app_state.hub)
    except ApiError as exc:
        await session.commit()  # verify records the platform's answer on the channel
        try:
            return await _channel_page(request, session, user, channel_id, error=exc.detail,
                                       status_code=exc.status)
        except ApiError as missing:
            return render(request, "error.html", {"title": "Channel not found", "message": missing.detail},
                          user=user, status_code=missing.status)
    status = channel.status
    await session.commit()
    return redirect(f"/channels/{channel_id}" + ("?done=verified" if status == "active" else ""))


router.include_router(manage_router)  # rename, zone, disable/enable, delete, credentials, CSV import
