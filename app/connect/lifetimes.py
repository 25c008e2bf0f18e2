"""What a channel's token will do next: the warnings every channel read shows (``token_expiring`` within
``SMM_TOKEN_WARNING_DAYS``, ``data_access_expiring`` for Meta's 90-day data access, ``missing_permission`` when the
granted scopes lack one publishing needs). Pure functions of the channel row and the time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.models import Channel
from app.timeutil import utcnow

# what publishing needs, per platform; any one name of a tuple suffices (Instagram's two logins name it twice)
NEEDED: dict[str, tuple[tuple[str, ...], ...]] = {
    "facebook": (("pages_manage_posts",), ("pages_read_engagement",)),
    "instagram": (("instagram_business_content_publish", "instagram_content_publish"),),
    "vk": (("wall",), ("photos",)),
}


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def channel_warnings(channel: Channel, warning_days: float = 7.0, now: datetime | None = None
                     ) -> list[dict[str, str]]:
    """``[{code, message}]`` for the channel, soonest trouble first; empty when nothing is coming."""
    now = now or utcnow()
    horizon = now + timedelta(days=warning_days)
    out: list[dict[str, str]] = []
    if channel.token_expires_at is not None and channel.token_expires_at <= horizon:
        verb = "expired" if channel.token_expires_at <= now else "expires"
        refresh = " It is refreshed automatically; if it still" if channel.platform == "instagram" else " If it"
        out.append({"code": "token_expiring",
                    "message": f"The {channel.platform} token {verb} at {_when(channel.token_expires_at)}."
                               f"{refresh} expires, posts fail with needs_reauth: sign in again to renew it."})
    if channel.data_access_expires_at is not None and channel.data_access_expires_at <= horizon:
        out.append({"code": "data_access_expiring",
                    "message": f"Meta's data access for this channel ends at {_when(channel.data_access_expires_at)}"
                               ": sign in again to renew it before then."})
    granted = set(channel.scopes or [])
    if channel.scopes is not None:
        for names in NEEDED.get(channel.platform, ()):
            if not granted & set(names):
                out.append({"code": "missing_permission",
                            "message": f"The token lacks the {names[0]} permission, which publishing needs: sign in "
                                       "again and allow it."})
    return out


def token_fields(channel: Channel, warning_days: float = 7.0) -> dict[str, Any]:
    return {"token_expires_at": channel.token_expires_at, "warnings": channel_warnings(channel, warning_days)}


def warnings_of(channels: list[Channel]) -> list[tuple[Channel, dict[str, str]]]:
    """(channel, warning) of every live channel: the calendar's banner and ``smm status``."""
    return [(c, w) for c in channels if c.deleted_at is None and c.status != "disabled" for w in channel_warnings(c)]
