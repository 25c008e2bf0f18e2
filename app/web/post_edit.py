"""Editing a post from its page: the compose form filled from the stored post, and what the user changed turned
into a ``PostUpdate`` for the posts service (the same validation and messages as the API and the compose page)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from app.models import Channel
from app.models.statuses import TargetStatus
from app.posts.schemas import MediaIn, OverrideIn, PostOut, PostUpdate
from app.timeutil import get_zone, utcnow
from app.web.post_form import MEDIA_KINDS, ComposeState, to_create

#: a post can be edited while every target is one of these (the service's rule; 409 otherwise)
EDITABLE = {TargetStatus.DRAFT, TargetStatus.SCHEDULED}
_SOON = timedelta(seconds=5)  # a time this close reads "publishing now"


def local_input(at: datetime, zone: str) -> str:
    """``at`` as a ``datetime-local`` value on ``zone``'s wall clock (seconds only when there are some)."""
    local = at.astimezone(get_zone(zone))
    return local.strftime("%Y-%m-%dT%H:%M:%S" if local.second else "%Y-%m-%dT%H:%M")


def state_from_post(post: PostOut, zone: str) -> ComposeState:
    """The compose form as the stored post fills it."""
    state = ComposeState(text=post.text, channel_ids=[t.channel_id for t in post.targets], rubric=post.rubric or "",
                         timezone=post.timezone or zone, post_id=post.id,
                         utm=str((post.options or {}).get("utm") or ""))
    if post.scheduled_at is None:  # a time typed for a draft is, as on the compose page, the first channel's
        state.when, state.timezone = "draft", post.timezone or ""
    else:
        state.when, state.local_time = "at", local_input(post.scheduled_at, state.timezone)
    if post.media:
        first = post.media[0]
        kind = str(first.get("kind", "photo"))
        state.media_kind = kind if kind in MEDIA_KINDS else "photo"
        if first.get("media_id"):
            state.media_id = str(first["media_id"])
            state.media_name = str(first.get("url", "")).rsplit("/", 1)[-1]
        else:
            state.media_url = str(first.get("url", ""))
    for cid, ov in post.overrides.items():
        if ov.get("text"):
            state.overrides[cid] = str(ov["text"])
    return state


def _media_in(items: Sequence[dict[str, Any]]) -> list[MediaIn]:
    out = []
    for m in items:
        extra = {k: m[k] for k in ("alt_text",) if m.get(k)}
        if m.get("media_id"):
            out.append(MediaIn(media_id=m["media_id"], kind=m.get("kind", "photo"), **extra))
        else:
            out.append(MediaIn(url=m["url"], kind=m.get("kind", "photo"), mime_type=m.get("mime_type"), **extra))
    return out


def to_update(state: ComposeState, post: PostOut, channels: Sequence[Channel], fallback_zone: str) -> PostUpdate:
    """What the form changed, as the service's input; raises ``ApiError`` (422) like the compose form does.

    The time is sent only when it changed (an unchanged time a few seconds away is not "in the past"); the post's
    further media and per-channel media (set through the API) are kept when the form's first item is unchanged."""
    create = to_create(state, channels, fallback_zone)  # the compose form's checks and messages
    data: dict[str, Any] = {"text": create.text, "channel_ids": create.channel_ids, "rubric": create.rubric}
    if state.utm is not None:  # a form without the field (an older page) keeps the post's tags
        data["utm"] = create.utm
    before = state_from_post(post, fallback_zone)
    changed_time = (state.when != before.when or state.local_time != before.local_time
                    or state.timezone != before.timezone)
    if state.when in ("now", "auto", "draft") or changed_time:
        data["scheduled_at"], data["timezone"] = create.scheduled_at, create.timezone
    same_media = (state.media_id, state.media_url, state.media_kind) == (
        before.media_id, before.media_url, before.media_kind)
    if not same_media:
        data["media"] = create.media
    overrides: dict[str, OverrideIn] = {}
    for cid in create.channel_ids:
        kept = post.overrides.get(cid, {}).get("media")
        text = create.overrides[cid].text if cid in create.overrides else None
        if text is not None or kept is not None:
            overrides[cid] = OverrideIn(text=text, media=_media_in(kept) if kept is not None else None)
    data["overrides"] = overrides
    return PostUpdate(**data)


def summary(post: PostOut) -> str:
    """A truthful line for a post whose targets differ, e.g. ``3 of 4 published · 1 scheduled`` ('' if alike)."""
    counts = Counter(str(t.status) for t in post.targets)
    if len(counts) < 2:
        return ""
    total = len(post.targets)
    order = ["published", "publishing", "scheduled", "needs_check", "failed", "draft", "cancelled"]
    parts = sorted(counts.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99)
    first, *rest = parts
    words = [f"{first[1]} of {total} {first[0].replace('_', ' ')}"]
    words += [f"{n} {status.replace('_', ' ')}" for status, n in rest]
    return " · ".join(words)


def when_phrase(at: datetime, zone: str, now: datetime | None = None) -> str:
    """``Tue 3 Dec, 18:00 (Europe/Moscow)`` (the year too when it is not this one)."""
    local = at.astimezone(get_zone(zone))
    now_local = (now or utcnow()).astimezone(get_zone(zone))
    day = f"{local:%a} {local.day} {local:%b}" + (f" {local.year}" if local.year != now_local.year else "")
    clock = f"{local:%H:%M:%S}" if local.second else f"{local:%H:%M}"
    return f"{day}, {clock} ({zone})"


def outcome_notice(done: str, post: PostOut, zone: str, now: datetime | None = None) -> str:
    """What the last action did, in words that match the post as it now stands."""
    now = now or utcnow()
    statuses = {str(t.status) for t in post.targets}
    if done == "retried":
        return "Sending again now."
    if done == "cancelled":
        return "The post is cancelled: nothing more of it will be sent."
    if done not in ("created", "auto", "saved", "rescheduled", "restored", "now"):
        return ""
    prefix = {"saved": "Changes saved. ", "rescheduled": "Moved. ", "restored": "Cancel undone. "}.get(done, "")
    if statuses == {"draft"} or post.scheduled_at is None:
        return prefix + "The post is a draft again." if done == "restored" else "Draft saved."
    if statuses <= {"published"}:
        return prefix + "Published."
    if "publishing" in statuses or post.scheduled_at <= now + _SOON:
        return prefix + "Publishing now."
    where = when_phrase(post.scheduled_at, zone, now)
    if done == "auto":
        return f"{prefix}Scheduled at the best free slot: {where}."
    return f"{prefix}Scheduled for {where}."

