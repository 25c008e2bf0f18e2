"""The workspace's iCalendar feed (RFC 5545, via the ``icalendar`` package) for Google Calendar, Outlook & co.

One ``VEVENT`` per scheduled or published post (also publishing, partially published and needs_check; not drafts,
cancelled or wholly failed posts) from :data:`PAST` ago on, at most :data:`MAX_EVENTS`. ``UID`` is
``<post id>@smm-scheduler`` (stable across edits and feed rotations), ``DTSTART`` the post's instant in UTC (so
DST never moves it), ``DTEND`` :data:`LENGTH` later, ``DTSTAMP``/``LAST-MODIFIED`` the post's last change.
``DESCRIPTION`` lists the channels, the status and each channel with its status and link, then the text; ``URL`` is
the first published link (RFC 5545 allows one per event).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import repository as channel_repo
from app.export import repository as repo
from app.models import Workspace
from app.posts import service as post_service
from app.posts.schemas import PostOut
from app.timeutil import utcnow

FEED_STATUSES = frozenset({"scheduled", "publishing", "published", "partially_published", "needs_check"})
PAST = timedelta(days=180)
LENGTH = timedelta(minutes=15)
MAX_EVENTS = 5_000
UID_DOMAIN = "smm-scheduler"


def _summary(post: PostOut) -> str:
    flat = " ".join(post.text.split()) or "(no text)"
    flat = flat if len(flat) <= 80 else flat[:79] + "…"
    return f"[{post.rubric}] {flat}" if post.rubric else flat


def event_of(post: PostOut, names: dict[str, str]) -> Event:
    assert post.scheduled_at is not None
    start = post.scheduled_at.astimezone(UTC)
    event = Event()
    event.add("uid", f"{post.id}@{UID_DOMAIN}")
    event.add("dtstamp", post.updated_at.astimezone(UTC))
    event.add("last-modified", post.updated_at.astimezone(UTC))
    event.add("dtstart", start)
    event.add("dtend", start + LENGTH)
    event.add("summary", _summary(post))
    lines = [f"Status: {post.status.replace('_', ' ')}"]
    for t in post.targets:
        name = names.get(t.channel_id, t.channel_id)
        lines.append(f"- {name} ({t.platform or '?'}): {t.status.replace('_', ' ')}" + (f" {t.url}" if t.url else ""))
    channel_names = ", ".join(names.get(t.channel_id, t.channel_id) for t in post.targets)
    event.add("description", f"Channels: {channel_names}\n" + "\n".join(lines) + "\n\n" + post.text)
    links = [t.url for t in post.targets if t.url]
    if links:
        event.add("url", links[0])
    if post.rubric:
        event.add("categories", [post.rubric])
    event.add("status", "CONFIRMED")
    event.add("transp", "TRANSPARENT")
    return event


async def feed(session: AsyncSession, workspace: Workspace, now: datetime | None = None) -> bytes:
    now = now or utcnow()
    posts = await repo.timed_posts(session, workspace.id, now - PAST, None, MAX_EVENTS)
    names = {c.id: c.name for c in await channel_repo.list_all(session, workspace.id)}
    cal = Calendar()
    cal.add("prodid", "-//smm-scheduler//content plan//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"Content plan · {workspace.name}")
    cal.add("x-wr-timezone", workspace.timezone or "UTC")
    for post in await post_service.to_out_many(session, workspace, posts):
        if post.status in FEED_STATUSES:
            cal.add_component(event_of(post, names))
    return bytes(cal.to_ical())
