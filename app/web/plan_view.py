"""The content plan as days: posts placed on the workspace's wall clock, with holidays and significant dates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, exists, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app import timeutil
from app.dates.service import markers_between
from app.models import Channel, Post, Target, Workspace
from app.posts import service as post_service
from app.posts.schemas import PostOut
from app.rubrics import repository as rubric_repo
from app.timeutil import TimeInputError, get_zone

PAGE = 100
TRAY_MAX = 50
"""Drafts the tray beside the calendar shows (the newest; it says when there are more)."""
PLATFORM_LABELS = {"telegram": "Telegram", "vk": "VK", "facebook": "Facebook", "instagram": "Instagram"}
PLATFORM_MARKS = {"telegram": "TG", "vk": "VK", "facebook": "FB", "instagram": "IG"}
CALENDAR_MAX_POSTS = 500
"""Posts one calendar page shows (the earliest; the page says when there are more). Beyond a few thousand a grid
is unreadable, and building and rendering it would hold the event loop for seconds."""


@dataclass(frozen=True)
class Platform:
    """A platform an entry goes to: its slug (icon class), short mark and accessible name."""

    slug: str
    mark: str
    label: str


@dataclass
class Entry:
    """One post on one day of the calendar (``time`` is ``HH:MM`` in the workspace's zone, ``draft`` in the tray)."""

    id: str
    time: str
    status: str
    text: str
    rubric: str | None
    rubric_class: str
    channels: list[str]
    platforms: list[Platform] = field(default_factory=list)
    hour: int = 0


@dataclass(frozen=True)
class Filters:
    """The calendar's filters (query parameters ``channel``, ``rubric``, ``status``); empty means all."""

    channel_id: str | None = None
    rubric: str | None = None
    status: str | None = None

    def query(self, **extra: Any) -> str:
        """A query string with ``extra`` (empty values dropped) that keeps these filters."""
        params = {k: v for k, v in extra.items() if v}
        for key, value in (("channel", self.channel_id), ("rubric", self.rubric), ("status", self.status)):
            if value:
                params[key] = value
        return urlencode(params)

    @property
    def active(self) -> bool:
        """True when any filter narrows the calendar."""
        return bool(self.channel_id or self.rubric or self.status)


@dataclass
class Day:
    """One calendar day with its posts, the public holiday (if any) and the workspace's dates."""

    date: date
    in_month: bool
    is_today: bool
    holiday: str | None = None
    dates: list[str] = field(default_factory=list)  # the workspace's own significant dates
    entries: list[Entry] = field(default_factory=list)


def rubric_css_class(rubric_id: str) -> str:
    """The class that carries a rubric's colour (``/ui/rubrics.css`` defines it; CSP forbids inline styles)."""
    return f"rb-{rubric_id}"


async def rubric_classes(session: AsyncSession, workspace_id: str) -> dict[str, str]:
    """Rubric name → its colour class."""
    return {r.name: rubric_css_class(r.id) for r in await rubric_repo.list_all(session, workspace_id)}


def rubric_class(rubric: str | None, classes: dict[str, str]) -> str:
    """The colour class of a post's rubric, empty without one."""
    return classes.get(rubric, "") if rubric else ""


def zone_of(workspace: Workspace) -> str:
    """The workspace's zone, falling back to UTC for an unknown one."""
    try:
        get_zone(workspace.timezone or "UTC")
    except TimeInputError:
        return "UTC"
    return workspace.timezone or "UTC"


def month_bounds(month: date) -> tuple[date, date]:
    """First and last day shown for ``month``: whole weeks, Monday to Sunday."""
    first = month.replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    start = first - timedelta(days=first.weekday())
    last = nxt - timedelta(days=1)
    end = last + timedelta(days=6 - last.weekday())
    return start, end


def _calendar_stmt(
    workspace_id: str, start: datetime, end: datetime, filters: Filters, *, after: tuple[datetime, str] | None,
    limit: int,
) -> Select[Post]:
    """The calendar's posts with a time in [start, end), in (order_at, id) order (drafts without one: the tray).

    With a channel the query walks that channel's targets (``ix_targets_channel_order``), as
    ``app.posts.repository.list_page`` does; ``status`` means "a channel of the post is in that status" (as
    ``GET /api/v1/posts?status=``), ``partially_published`` one published and one failed."""
    if filters.channel_id is not None:
        stmt = (select(Post).select_from(Target).join(Post, Post.id == Target.post_id)
                .where(Target.channel_id == filters.channel_id, Post.workspace_id == workspace_id))
        key = (Target.order_at, Target.post_id)
    else:
        stmt = select(Post).where(Post.workspace_id == workspace_id)
        key = (Post.order_at, Post.id)
    stmt = stmt.where(key[0] >= start, key[0] < end, Post.scheduled_at.is_not(None))
    if filters.rubric:
        stmt = stmt.where(Post.rubric == filters.rubric)
    if filters.status == "partially_published":
        published, failed = aliased(Target), aliased(Target)
        stmt = stmt.where(exists().where(published.post_id == Post.id, published.status == "published"),
                          exists().where(failed.post_id == Post.id, failed.status == "failed"))
    elif filters.status:
        other = aliased(Target)
        stmt = stmt.where(exists().where(other.post_id == Post.id, other.status == filters.status))
    if after is not None:
        stmt = stmt.where(tuple_(*key) > after)
    return stmt.order_by(*key).limit(limit)


async def posts_between(
    session: AsyncSession, workspace: Workspace, start: datetime, end: datetime,
    filters: Filters | str | None = None, limit: int | None = None,
) -> tuple[list[PostOut], bool]:
    """The first ``limit`` (:data:`CALENDAR_MAX_POSTS`) posts with a time in [start, end) that pass ``filters``,
    and whether there are more. Read and converted a page (:data:`PAGE`) at a time, so the event loop is never held
    for all of them. Drafts without a time are not here: they sit in the tray (:func:`drafts_tray`)."""
    if not isinstance(filters, Filters):
        filters = Filters(channel_id=filters)
    limit = CALENDAR_MAX_POSTS if limit is None else limit
    out: list[PostOut] = []
    after: tuple[datetime, str] | None = None
    while True:
        want = min(PAGE, limit + 1 - len(out))
        stmt = _calendar_stmt(workspace.id, start, end, filters, after=after, limit=want)
        page = list((await session.execute(stmt)).scalars())
        if len(out) + len(page) > limit:
            out.extend(await post_service.to_out_many(session, workspace, page[: limit - len(out)]))
            return out, True
        out.extend(await post_service.to_out_many(session, workspace, page))
        if len(page) < want:
            return out, False
        after = (page[-1].order_at, page[-1].id)


async def drafts_tray(
    session: AsyncSession, workspace: Workspace, channels: list[Channel], filters: Filters,
) -> tuple[list[Entry], bool]:
    """The newest :data:`TRAY_MAX` drafts without a time that pass the channel and rubric filters (none when the
    status filter asks for something other than drafts), and whether there are more."""
    if filters.status not in (None, "", "draft"):
        return [], False
    # through the draft targets (ix_targets_due leads with status): never a walk over the scheduled posts
    drafts = select(Target.post_id).where(Target.status == "draft")
    if filters.channel_id is not None:
        drafts = drafts.where(Target.channel_id == filters.channel_id)
    stmt = select(Post).where(Post.workspace_id == workspace.id, Post.id.in_(drafts), Post.scheduled_at.is_(None))
    if filters.rubric:
        stmt = stmt.where(Post.rubric == filters.rubric)
    stmt = stmt.order_by(Post.created_at.desc(), Post.id.desc()).limit(TRAY_MAX + 1)
    page = list((await session.execute(stmt)).scalars())
    posts = await post_service.to_out_many(session, workspace, page[:TRAY_MAX])
    names = {c.id: c.name for c in channels}
    classes = await rubric_classes(session, workspace.id)
    return [_entry(p, "draft", 0, names, classes) for p in posts], len(page) > TRAY_MAX


def platforms_of(post: PostOut) -> list[Platform]:
    """The distinct platforms of a post's targets, in target order."""
    seen: list[Platform] = []
    for t in post.targets:
        slug = t.platform or "unknown"
        if all(p.slug != slug for p in seen):
            seen.append(Platform(slug, PLATFORM_MARKS.get(slug, slug[:2].upper()),
                                 PLATFORM_LABELS.get(slug, slug.title())))
    return seen


def _entry(p: PostOut, time: str, hour: int, names: dict[str, str], classes: dict[str, str]) -> Entry:
    return Entry(
        id=p.id, time=time, status=p.status, text=_snippet(p.text) or "(no text)", rubric=p.rubric,
        rubric_class=rubric_class(p.rubric, classes),
        channels=[names.get(t.channel_id, t.platform or "?") for t in p.targets], platforms=platforms_of(p),
        hour=hour,
    )


def _snippet(text: str, size: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= size else flat[: size - 1] + "…"


async def build_days(
    session: AsyncSession, workspace: Workspace, channels: list[Channel], first: date, last: date, *,
    month: int | None, filters: Filters | str | None = None, today: date,
) -> tuple[list[Day], bool]:
    """Days ``first``..``last`` with their posts in the workspace's zone, its holidays and significant dates, and
    whether more posts than :data:`CALENDAR_MAX_POSTS` fall in them (only the earliest are shown)."""
    zone_name = zone_of(workspace)
    zone = get_zone(zone_name)
    start = timeutil.start_of_day(first, zone_name)
    end = timeutil.start_of_day(last + timedelta(days=1), zone_name)
    posts, more = await posts_between(session, workspace, start, end, filters)
    names = {c.id: c.name for c in channels}
    classes = await rubric_classes(session, workspace.id)
    markers = await markers_between(session, workspace, first, last)
    days = {first + timedelta(days=i): Day(first + timedelta(days=i), True, False)
            for i in range((last - first).days + 1)}
    for d, day in days.items():
        day.in_month = month is None or d.month == month
        day.is_today = d == today
    for m in markers:
        marked = days.get(date.fromisoformat(str(m["date"])))
        if marked is None:
            continue
        if m["kind"] == "public":
            marked.holiday = marked.holiday or str(m["name"])
        else:
            marked.dates.append(str(m["name"]))
    for p in posts:
        if p.scheduled_at is None:
            continue
        at = p.scheduled_at.astimezone(zone)
        found = days.get(at.date())
        if found is None:
            continue
        found.entries.append(_entry(p, at.strftime("%H:%M"), at.hour, names, classes))
    return list(days.values()), more


def parse_month(value: str | None, today: date) -> date:
    """``YYYY-MM`` to the first of that month; today's month when none is given. ``TimeInputError`` otherwise."""
    return timeutil.parse_month(value) if value else today.replace(day=1)


def parse_day(value: str | None, today: date) -> date:
    """``YYYY-MM-DD`` to a date; today when none is given. ``TimeInputError`` otherwise."""
    return timeutil.parse_date(value) if value else today


def shift_month(month: date, delta: int) -> date:
    """The first of the month ``delta`` months away."""
    index = month.year * 12 + month.month - 1 + delta
    return date(index // 12, index % 12 + 1, 1)


def filters_query(channel_id: str | None, **extra: Any) -> str:
    """A query string for the calendar's navigation links that keeps the channel filter."""
    return Filters(channel_id=channel_id).query(**extra)
