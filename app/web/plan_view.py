"""The content plan as days: posts placed on the workspace's wall clock, with holidays and significant dates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from app import timeutil
from app.dates.service import markers_between
from app.models import Channel, Workspace
from app.posts import repository as post_repo
from app.posts import service as post_service
from app.posts.schemas import PostOut
from app.rubrics import repository as rubric_repo
from app.timeutil import TimeInputError, get_zone

PAGE = 100
CALENDAR_MAX_POSTS = 500
"""Posts one calendar page shows (the earliest; the page says when there are more). Beyond a few thousand a grid
is unreadable, and building and rendering it would hold the event loop for seconds."""


@dataclass
class Entry:
    """One post on one day of the calendar."""

    id: str
    time: str
    status: str
    text: str
    rubric: str | None
    rubric_class: str
    channels: list[str]


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


async def posts_between(
    session: AsyncSession, workspace: Workspace, start: datetime, end: datetime, channel_id: str | None,
    limit: int | None = None,
) -> tuple[list[PostOut], bool]:
    """The first ``limit`` (:data:`CALENDAR_MAX_POSTS`) posts whose time falls in [start, end), and whether there
    are more. Read and converted a page (:data:`PAGE`) at a time, so the event loop is never held for all of them."""
    limit = CALENDAR_MAX_POSTS if limit is None else limit
    out: list[PostOut] = []
    after: tuple[datetime, str] | None = None
    while True:
        want = min(PAGE, limit + 1 - len(out))
        page = await post_repo.list_page(session, workspace.id, start=start, end=end, channel_id=channel_id,
                                         status=None, after=after, limit=want)
        if len(out) + len(page) > limit:
            out.extend(await post_service.to_out_many(session, workspace, page[: limit - len(out)]))
            return out, True
        out.extend(await post_service.to_out_many(session, workspace, page))
        if len(page) < want:
            return out, False
        after = (page[-1].order_at, page[-1].id)


def _snippet(text: str, size: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= size else flat[: size - 1] + "…"


async def build_days(
    session: AsyncSession, workspace: Workspace, channels: list[Channel], first: date, last: date, *,
    month: int | None, channel_id: str | None, today: date,
) -> tuple[list[Day], bool]:
    """Days ``first``..``last`` with their posts in the workspace's zone, its holidays and significant dates, and
    whether more posts than :data:`CALENDAR_MAX_POSTS` fall in them (only the earliest are shown)."""
    zone_name = zone_of(workspace)
    zone = get_zone(zone_name)
    start = timeutil.start_of_day(first, zone_name)
    end = timeutil.start_of_day(last + timedelta(days=1), zone_name)
    posts, more = await posts_between(session, workspace, start, end, channel_id)
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
        at = (p.scheduled_at or p.created_at).astimezone(zone)
        found = days.get(at.date())
        if found is None:
            continue
        found.entries.append(Entry(
            id=p.id, time=at.strftime("%H:%M") if p.scheduled_at else "draft", status=p.status,
            text=_snippet(p.text) or "(no text)", rubric=p.rubric, rubric_class=rubric_class(p.rubric, classes),
            channels=[names.get(t.channel_id, t.platform or "?") for t in p.targets],
        ))
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
    params = {k: v for k, v in extra.items() if v}
    if channel_id:
        params["channel"] = channel_id
    return urlencode(params)
