"""The compose form: what the user typed, turned into a ``PostCreate``, and the service's errors put back
beside the fields they are about."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from app.errors import ApiError
from app.models import Channel
from app.platforms import ConnectorHub
from app.posts.schemas import MediaIn, OverrideIn, PostCreate
from app.timeutil import get_zone, utcnow, zone_names

WHEN_CHOICES = ("at", "now", "auto", "draft")
MEDIA_KINDS = ("photo", "video", "document", "animation", "audio")
Errors = dict[str, list[str]]


@dataclass
class ComposeState:
    """Everything the compose form shows, so that a refused form comes back as the user left it."""

    text: str = ""
    channel_ids: list[str] = field(default_factory=list)
    when: str = "at"
    local_time: str = ""
    timezone: str = ""
    media_url: str = ""
    media_kind: str = "photo"
    media_id: str = ""
    media_name: str = ""
    rubric: str = ""
    overrides: dict[str, str] = field(default_factory=dict)
    utm: str | None = None  # the post's own UTM tags over the channel's (the API's ``utm``); None: not in the form
    post_id: str = ""  # set when the form edits a stored post (its page's "Edit")

    @property
    def media_preview(self) -> str:
        """A same-origin URL of an uploaded file, for the preview image."""
        return f"/media/{self.media_id}/{self.media_name}" if self.media_id and self.media_name else ""


def _text(form: FormData, name: str, limit: int = 100_000) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def read_form(form: FormData) -> ComposeState:
    """The compose form's fields as typed (nothing validated yet)."""
    state = ComposeState(
        text=_text(form, "text").replace("\r\n", "\n"),
        channel_ids=[v for v in form.getlist("channel_ids") if isinstance(v, str) and v],
        when=_text(form, "when") if _text(form, "when") in WHEN_CHOICES else "at",
        local_time=_text(form, "local_time", 40).strip(),
        timezone=_text(form, "timezone", 64).strip(),
        media_url=_text(form, "media_url", 2048).strip(),
        media_kind=_text(form, "media_kind") if _text(form, "media_kind") in MEDIA_KINDS else "photo",
        media_id=_text(form, "media_id", 64).strip(),
        media_name=_text(form, "media_name", 200).strip(),
        rubric=_text(form, "rubric", 100).strip(),
        utm=_text(form, "utm", 1100).strip() if "utm" in form else None,
        post_id=_text(form, "post_id", 64).strip(),
    )
    if _text(form, "media_remove"):  # "remove the file" ticked (the no-JavaScript way to drop an upload)
        state.media_id = state.media_name = ""
    for key, value in form.multi_items():
        if key.startswith("override_") and isinstance(value, str) and value.strip():
            state.overrides[key.removeprefix("override_")] = value.replace("\r\n", "\n")
    return state


def uploaded_file(form: FormData) -> UploadFile | None:
    """The file the user picked, if any."""
    value = form.get("media_file")
    if isinstance(value, UploadFile) and value.filename:
        return value
    return None


def zone_for(state: ComposeState, channels: Sequence[Channel], fallback: str) -> str:
    """The zone of the typed time: the chosen one, else the first chosen channel's, else the workspace's."""
    if state.timezone:
        return state.timezone
    by_id = {c.id: c for c in channels}
    for cid in state.channel_ids:
        if cid in by_id:
            return by_id[cid].timezone
    return fallback


def to_create(state: ComposeState, channels: Sequence[Channel], fallback_zone: str) -> PostCreate:
    """The service's input for the form; raises ``ApiError`` (422) with field errors when it cannot be built."""
    scheduled: str | None
    zone: str | None = zone_for(state, channels, fallback_zone)
    if state.when == "now":
        scheduled = "now"
    elif state.when == "auto":
        scheduled = "auto"
    elif state.when == "draft":
        scheduled = None
    else:
        if not state.local_time:
            raise ApiError(422, "scheduled_at: pick a date and time",
                           [{"field": "scheduled_at", "message": "Pick a date and time (or choose another option)."}])
        scheduled = state.local_time
    media: list[MediaIn] = []
    try:
        if state.media_id:
            media.append(MediaIn(media_id=state.media_id, kind=state.media_kind))  # type: ignore[arg-type]
        elif state.media_url:
            media.append(MediaIn(url=state.media_url, kind=state.media_kind))  # type: ignore[arg-type]
        overrides = {cid: OverrideIn(text=text) for cid, text in state.overrides.items() if cid in state.channel_ids}
        return PostCreate(text=state.text, media=media, channel_ids=state.channel_ids, scheduled_at=scheduled,
                          timezone=zone, overrides=overrides, rubric=state.rubric or None,
                          utm=state.utm or None)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = [str(x) for x in err.get("loc", ())]
            name = loc[0] if loc else ""
            if not loc and "url" in str(err.get("msg", "")):
                name = "media"
            message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
            if name == "channel_ids" and err.get("type") == "too_short":
                message = "Choose at least one channel."
            errors.append({"field": name or "media", "message": message})
        raise ApiError(422, "; ".join(e["message"] for e in errors), errors) from exc


def field_errors(exc: ApiError, state: ComposeState) -> Errors:
    """The service's errors keyed by the form field they belong beside (``_form`` for the rest)."""
    out: Errors = {}
    items = exc.errors or [{"field": "", "message": exc.detail}]
    for err in items:
        name = str(err.get("field", ""))
        message = str(err.get("message", ""))
        cid = str(err.get("channel_id", ""))
        if err.get("channel"):
            message = f"{str(err.get('platform', '')).title()} · {err['channel']}: {message}"
        if name.startswith(("scheduled_at", "timezone", "not_before")):
            key = "when"
        elif name.startswith("channel_ids"):
            key = "channels"
        elif name.startswith(("media", "file")):
            key = "media"
        elif name.startswith("overrides."):
            key = "override:" + name.split(".")[1]
        elif name == "text" and cid and cid in state.overrides:
            key = "override:" + cid
        elif name in ("text", "rubric", "utm"):
            key = name
        else:
            key = "_form"
        out.setdefault(key, []).append(message)
    return out


def channel_limits(channels: Sequence[Channel], hub: ConnectorHub) -> list[dict[str, Any]]:
    """Each channel with its platform's length limits, for the live counter's data attributes."""
    rows = []
    for ch in channels:
        cls = hub.registry.get(ch.platform)
        limits = getattr(cls, "limits", None)
        rows.append({
            "channel": ch,
            "label": getattr(cls, "platform_label", None) or ch.platform.title(),
            "text_max": getattr(limits, "text_max", 0) or 0,
            "caption_max": getattr(limits, "caption_max", 0) or 0,
            "unit": getattr(limits, "length_unit", "chars") or "chars",
            "needs_media": bool(getattr(limits, "needs_media", False)),
        })
    return rows


def zone_options(now: datetime | None = None) -> list[tuple[str, str]]:
    """Every IANA zone with its current UTC offset, e.g. ``("Europe/Moscow", "Europe/Moscow (UTC+03:00)")``."""
    now = now or utcnow()
    return _zone_options_at(now.replace(minute=0, second=0, microsecond=0))


@lru_cache(maxsize=2)
def _zone_options_at(hour: datetime) -> list[tuple[str, str]]:
    from app.web.render import utc_offset

    names = ["UTC", *zone_names()]
    return [(name, f"{name} ({utc_offset(hour.astimezone(get_zone(name)))})") for name in names]
