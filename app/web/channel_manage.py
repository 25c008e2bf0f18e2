"""Managing one channel from its page: rename, time zone, disable/enable, delete (after a confirmation page),
new credentials, engagement CSV import, and the channel's upcoming and recent posts.

Every change goes through the same services as ``PATCH|DELETE /api/v1/channels/{id}`` and
``POST /api/v1/channels/{id}/engagement``; a refusal re-shows the channel page with the reason beside the form.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from app import optional_module
from app.channels import service as channel_service
from app.channels.schemas import ChannelUpdate, credential_fields
from app.db import SessionDep
from app.errors import ApiError
from app.models import Channel
from app.posts import repository as post_repo
from app.posts import service as post_service
from app.timeutil import utcnow
from app.web.post_form import Errors, zone_options
from app.web.render import redirect, render
from app.web.session import CsrfUserDep, UserDep, WebUser

router = APIRouter(include_in_schema=False)

POSTS_SHOWN = 10
RECENT_WINDOW = timedelta(minutes=1)  # a post due this minute and not sent yet still counts as upcoming
UNSENT = ("draft", "scheduled", "publishing")  # upcoming: not sent yet; recent: the rest, newest first
MAX_CSV_BYTES = 20 * 1024 * 1024  # the page's own cap, under SMM_MAX_UPLOAD_BYTES (the API's import path's limit)
OAUTH_PLATFORMS = ("vk", "facebook", "instagram")  # sign-in flows in app/connect; Telegram has no OAuth for bots

NOTICES = {
    "renamed": "Channel settings saved.",
    "disabled": "Channel disabled: nothing is published to it until you enable it again (its queued posts wait).",
    "enabled": "Channel enabled: its queued posts go out at their times.",
    "credentials": "New credentials saved (encrypted). Verify them to check with the platform.",
}

PageRenderer = Callable[..., Awaitable[Response]]


def _post_row(post: Any, channel_id: str) -> dict[str, Any]:
    target = next((t for t in post.targets if t.channel_id == channel_id), None)
    text = " ".join((post.text or "").split())
    return {"id": post.id, "scheduled_at": post.scheduled_at, "status": target.status if target else post.status,
            "text": text[:90] + ("…" if len(text) > 90 else ""), "url": target.url if target else None}


async def manage_context(session: AsyncSession, user: WebUser, channel: Channel) -> dict[str, Any]:
    """What the channel page's management sections show: zones, credential fields and the post lists."""
    from app.web.channel_routes import FIELD_LABELS  # the connect form's labels (that module includes this one)

    workspace = user.workspace
    now = utcnow()
    ahead = await post_repo.list_page(session, workspace.id, start=now - RECENT_WINDOW, end=None,
                                      channel_id=channel.id, status=None, after=None, limit=POSTS_SHOWN * 3)
    before = await post_repo.latest_of_channel(session, workspace.id, channel.id, before=now,
                                               limit=POSTS_SHOWN * 3)
    outs = await post_service.to_out_many(session, workspace, [*ahead, *before])
    rows = [_post_row(p, channel.id) for p in outs]
    upcoming = [r for r in rows[:len(ahead)] if r["status"] in UNSENT][:POSTS_SHOWN]
    recent = [r for r in rows[len(ahead):] if r["status"] != "draft"][:POSTS_SHOWN]
    return {
        "zones": zone_options(),
        "cred_fields": [(f, FIELD_LABELS.get(f, f)) for f in credential_fields(channel.platform)],
        "oauth": channel.platform in OAUTH_PLATFORMS,
        "upcoming": upcoming, "recent": recent,
        "can_import": optional_module("app.analytics.service") is not None,
        "plan": effective_plan(channel, workspace),
    }


PLAN_FIELDS = ("spacing_minutes", "utm_template")  # the content plan's fields of the channel (issue 13 points 6, 9)
SPACING_HINT = ("Spacing is a whole number of minutes from 0 to 10080 (a week); leave it empty to use the "
                "workspace's default.")


def plan_values(values: dict[str, str]) -> dict[str, Any]:
    """The plan fields the form sent, as ``ChannelUpdate`` takes them: empty means "the workspace's" (null)."""
    out: dict[str, Any] = {}
    if "spacing_minutes" in values:
        raw = values["spacing_minutes"].removesuffix("min").strip()
        if raw and not (raw.isascii() and raw.isdecimal()):
            raise ApiError(422, SPACING_HINT, [{"field": "spacing_minutes", "message": SPACING_HINT}])
        out["spacing_minutes"] = int(raw) if raw else None
    if "utm_template" in values:
        out["utm_template"] = values["utm_template"] or None
    return out


def effective_plan(channel: Channel, workspace: Any) -> dict[str, Any]:
    """What the channel's posts use now: its own spacing and UTM tags, else the workspace's (and whose they are)."""
    own_spacing, own_utm = channel.spacing_minutes or None, channel.utm_template or None
    return {"spacing": own_spacing or workspace.default_spacing_minutes or None,
            "spacing_own": own_spacing is not None,
            "utm": own_utm or workspace.utm_template or None, "utm_own": own_utm is not None,
            "workspace_spacing": workspace.default_spacing_minutes or None,
            "workspace_utm": workspace.utm_template or None}


def _errors_of(exc: ApiError, default_key: str) -> Errors:
    out: Errors = {}
    for err in exc.errors or [{"field": "", "message": exc.detail}]:
        name = str(err.get("field", ""))
        key = name if name in ("name", "timezone", *PLAN_FIELDS) else ("cred:" + name.removeprefix("credentials.")
                                                          if name.startswith("credentials.") else default_key)
        out.setdefault(key, []).append(str(err.get("message", "")))
    return out


def _update(**values: Any) -> ChannelUpdate:
    try:
        return ChannelUpdate(**values)
    except ValidationError as exc:
        errors = [{"field": str(e["loc"][0]) if e.get("loc") else "", "message": _message(e)} for e in exc.errors()]
        raise ApiError(422, "; ".join(e["message"] for e in errors), errors) from exc


def _message(error: Any) -> str:
    if error.get("loc") == ("name",):
        return "Give the channel a name (1 to 200 characters)."
    if error.get("loc") == ("spacing_minutes",):
        return SPACING_HINT
    return str(error.get("msg", "")).removeprefix("Value error, ")


async def _page(request: Request, session: AsyncSession, user: WebUser, channel_id: str, **extra: Any) -> Response:
    from app.web.channel_routes import _channel_page  # the page lives there; this module adds its sections

    try:
        return await _channel_page(request, session, user, channel_id, **extra)
    except ApiError as exc:
        return render(request, "error.html", {"title": "Channel not found", "message": exc.detail}, user=user,
                      status_code=exc.status)


async def _change(request: Request, session: AsyncSession, user: WebUser, channel_id: str, data: ChannelUpdate,
                  done: str, form_key: str, values: dict[str, str]) -> Response:
    try:
        await channel_service.update(session, user.workspace, channel_id, data, request.app.state.box)
    except ApiError as exc:
        await session.rollback()
        await session.refresh(user.workspace)
        return await _page(request, session, user, channel_id, manage_errors=_errors_of(exc, form_key),
                           manage_values=values, status_code=exc.status)
    await session.commit()
    return redirect(f"/channels/{channel_id}?done={done}")


@router.post("/channels/{channel_id}/settings")
async def save_settings(channel_id: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Rename the channel, change its time zone, spacing and UTM tags (``PATCH /api/v1/channels/{id}`` with name,
    timezone, spacing_minutes, utm_template; a plan field the form does not send stays as it is)."""
    form = await request.form()
    values = {k: str(form.get(k) or "").strip()[:256] for k in ("name", "timezone")}
    values.update({k: str(form.get(k) or "").strip()[:1100] for k in PLAN_FIELDS if k in form})
    try:
        data = _update(name=values["name"], timezone=values["timezone"] or None, **plan_values(values))
    except ApiError as exc:
        return await _page(request, session, user, channel_id, manage_errors=_errors_of(exc, "settings"),
                           manage_values=values, status_code=422)
    return await _change(request, session, user, channel_id, data, "renamed", "settings", values)


@router.post("/channels/{channel_id}/status")
async def set_status(channel_id: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Disable or enable the channel (``PATCH`` with ``status``)."""
    form = await request.form()
    status = str(form.get("status") or "")
    if status not in ("active", "disabled"):
        return await _page(request, session, user, channel_id, status_code=422,
                           error="Choose whether to enable or disable the channel.")
    done = "enabled" if status == "active" else "disabled"
    return await _change(request, session, user, channel_id, _update(status=status), done, "status", {})


@router.post("/channels/{channel_id}/credentials")
async def replace_credentials(channel_id: str, request: Request, session: SessionDep,
                              user: CsrfUserDep) -> Response:
    """Store new credentials for the channel (``PATCH`` with ``credentials``); its posts and settings stay."""
    form = await request.form()
    try:
        channel = await channel_service.get(session, user.workspace, channel_id)
    except ApiError as exc:
        return render(request, "error.html", {"title": "Channel not found", "message": exc.detail}, user=user,
                      status_code=exc.status)
    creds = {f: str(form.get(f"cred_{f}") or "").strip()[:1024] for f in credential_fields(channel.platform)}
    return await _change(request, session, user, channel_id, _update(credentials=creds), "credentials",
                         "credentials", {})


@router.get("/channels/{channel_id}/delete")
async def confirm_delete(channel_id: str, request: Request, session: SessionDep, user: UserDep) -> Response:
    """The confirmation step before deleting (a page, so that it works without JavaScript)."""
    try:
        channel = await channel_service.get(session, user.workspace, channel_id)
    except ApiError as exc:
        return render(request, "error.html", {"title": "Channel not found", "message": exc.detail}, user=user,
                      status_code=exc.status)
    queued = await post_repo.list_page(session, user.workspace.id, start=utcnow() - RECENT_WINDOW, end=None,
                                       channel_id=channel.id, status="scheduled", after=None, limit=1000)
    return render(request, "channels/delete.html", {"channel": channel, "queued": len(queued)}, user=user)


@router.post("/channels/{channel_id}/delete")
async def delete_channel(channel_id: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Delete after the confirmation page (``DELETE /api/v1/channels/{id}``: published history is kept)."""
    form = await request.form()
    if form.get("confirm") != "yes":
        return redirect(f"/channels/{channel_id}/delete")
    try:
        channel = await channel_service.get(session, user.workspace, channel_id)
        name = channel.name
        await channel_service.delete(session, user.workspace, channel_id)
    except ApiError as exc:
        return render(request, "error.html", {"title": "Channel not found", "message": exc.detail}, user=user,
                      status_code=exc.status)
    await session.commit()
    from urllib.parse import quote

    return redirect(f"/channels?done=deleted&name={quote(name, safe='')}")


def _import_summary(result: dict[str, Any]) -> str:
    def n(count: int, word: str) -> str:
        return f"{count} {word}{'' if count == 1 else 's'}"

    imported, updated = int(result.get("imported", 0)), int(result.get("updated", 0))
    unchanged, skipped = int(result.get("unchanged", 0)), int(result.get("skipped", 0))
    parts = [f"Imported {n(imported, 'new row')}"]
    if updated:
        parts.append(f"updated {updated}")
    if unchanged:
        parts.append(f"{unchanged} already there unchanged")
    if skipped:
        parts.append(f"skipped {n(skipped, 'row')} with problems")
    return ", ".join(parts) + "."


@router.post("/channels/{channel_id}/engagement")
async def import_engagement(channel_id: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Import an engagement CSV through the analyzer's importer (the one behind the API's import)."""
    module = optional_module("app.analytics.service")
    form = await request.form()
    upload = form.get("csv_file")
    if module is None:
        return await _page(request, session, user, channel_id, status_code=404,
                           manage_errors={"import": ["This build has no analyzer, so history cannot be imported."]})
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _page(request, session, user, channel_id, status_code=422,
                           manage_errors={"import": ["Choose a CSV file to import."]})
    data = await upload.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        return await _page(request, session, user, channel_id, status_code=413, manage_errors={"import": [
            f"The file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB: split it and import the parts."]})
    try:
        result = module.import_csv(session, user.workspace, channel_id, data)
        if inspect.isawaitable(result):
            result = await result
    except ApiError as exc:
        await session.rollback()
        await session.refresh(user.workspace)
        return await _page(request, session, user, channel_id, status_code=exc.status,
                           manage_errors={"import": [exc.detail]})
    await session.commit()
    return await _page(request, session, user, channel_id, import_result=result,
                       import_notice=_import_summary(result))


def page_explanation(data: dict[str, Any]) -> str:
    """The analyzer's explanation in the page's words: without any history the API's sentence names API paths and
    CLI commands, while the page has its own import form (and the empty state links to it)."""
    if data.get("has_history") is False:
        prior = data.get("prior")
        return ("No engagement history yet for this channel, so nothing ranks the hours by your own audience: "
                "import a CSV of past posts below." + (f" The hours shown come from the prior only: {prior}."
                                                        if prior else ""))
    return str(data.get("explanation") or "")
