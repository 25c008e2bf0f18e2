"""The sandbox page: what the workspace's sandbox channels received on each fake platform of this process
(only with ``SMM_SANDBOX=1``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.db import SessionDep
from app.web.plan_view import zone_of
from app.web.render import local_time, render
from app.web.session import UserDep

router = APIRouter(include_in_schema=False)

SANDBOX_NAMES = {"telegram": "Telegram", "vk": "VK", "facebook": "Facebook", "instagram": "Instagram"}


def _when(value: Any, zone: str) -> str:
    """The fakes stamp items with unix seconds (Telegram, VK) or ISO text (Graph); show the wall clock."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return local_time(datetime.fromtimestamp(value, UTC), zone, "%d %b %H:%M:%S")
    if isinstance(value, str):
        try:
            return local_time(datetime.fromisoformat(value.replace("Z", "+00:00")), zone, "%d %b %H:%M:%S")
        except ValueError:
            return value
    return ""


def _media_label(media: Any) -> str:
    if not media:
        return ""
    if isinstance(media, list):
        return f"{len(media)} attachment{'s' if len(media) != 1 else ''}"
    return "1 attachment"


@router.get("/sandbox")
async def sandbox_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    """Lists, per platform, the posts the workspace's sandbox channels received (newest first)."""
    if not request.app.state.settings.sandbox:
        return render(request, "error.html", {
            "title": "The sandbox is off",
            "message": "Start the service with SMM_SANDBOX=1 to get fake platforms you can publish to.",
        }, user=user, status_code=404)
    from app.sandbox import received, workspace_targets

    platforms: list[dict[str, Any]] = []
    zone = zone_of(user.workspace)
    for platform, name in SANDBOX_NAMES.items():
        try:
            targets = await workspace_targets(session, request.app.state.box, user.workspace.id, platform)
            items = await received(request.app, platform, user.workspace.id, targets)
        except Exception as exc:  # one broken fake must not hide the others
            platforms.append({"id": platform, "name": name, "items": [], "error": str(exc)[:200]})
            continue
        rows = [{"id": i.get("id"), "chat": i.get("chat"), "text": str(i.get("text") or ""),
                 "media": _media_label(i.get("media")), "date": _when(i.get("date"), zone), "url": i.get("url")}
                for i in items]
        platforms.append({"id": platform, "name": name, "items": rows, "error": ""})
    return render(request, "sandbox.html", {"platforms": platforms}, user=user)
