"""The calendar: a month grid and a week list of the content plan."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.channels import repository as channel_repo
from app.connect.lifetimes import warnings_of
from app.db import SessionDep
from app.rubrics import repository as rubric_repo
from app.timeutil import TimeInputError, get_zone, utcnow
from app.web import plan_view
from app.web.plan_view import (
    build_days,
    filters_query,
    month_bounds,
    parse_day,
    parse_month,
    rubric_css_class,
    shift_month,
    zone_of,
)
from app.web.render import render
from app.web.session import UserDep

router = APIRouter(include_in_schema=False)

STATUSES = ("scheduled", "publishing", "published", "failed", "needs_check", "draft", "cancelled")


@router.get("/calendar")
async def calendar_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    """Month grid (``?month=YYYY-MM``) or week list (``?view=week&date=YYYY-MM-DD``), ``?channel=`` filter."""
    workspace = user.workspace
    zone = zone_of(workspace)
    today = utcnow().astimezone(get_zone(zone)).date()
    channels = await channel_repo.list_all(session, workspace.id)
    rubrics = [{"name": r.name, "class": rubric_css_class(r.id), "target": r.target_share}
               for r in await rubric_repo.list_all(session, workspace.id)]
    channel_id = request.query_params.get("channel") or None
    if channel_id not in {c.id for c in channels}:
        channel_id = None
    view = "week" if request.query_params.get("view") == "week" else "month"
    try:
        day = parse_day(request.query_params.get("date"), today) if view == "week" else today
        month = parse_month(request.query_params.get("month"), today) if view == "month" else today
    except TimeInputError as exc:
        name = "date" if view == "week" else "month"
        return render(request, "error.html", {"title": "No such calendar page",
                                              "message": f"The {name} in the address cannot be shown: {exc}"},
                      user=user, status_code=400)
    if view == "week":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=6)
        days, more = await build_days(session, workspace, channels, first, last, month=None,
                                      channel_id=channel_id, today=today)
        title = f"Week of {first:%d %b %Y}"
        nav = {
            "prev": filters_query(channel_id, view="week", date=(first - timedelta(days=7)).isoformat()),
            "next": filters_query(channel_id, view="week", date=(first + timedelta(days=7)).isoformat()),
            "today": filters_query(channel_id, view="week"),
            "month": filters_query(channel_id, month=f"{first:%Y-%m}"),
            "week": filters_query(channel_id, view="week", date=first.isoformat()),
        }
    else:
        first, last = month_bounds(month)
        days, more = await build_days(session, workspace, channels, first, last, month=month.month,
                                      channel_id=channel_id, today=today)
        title = f"{month:%B %Y}"
        week_of = today if (today.year, today.month) == (month.year, month.month) else month
        nav = {
            "prev": filters_query(channel_id, month=f"{shift_month(month, -1):%Y-%m}"),
            "next": filters_query(channel_id, month=f"{shift_month(month, 1):%Y-%m}"),
            "today": filters_query(channel_id),
            "month": filters_query(channel_id, month=f"{month:%Y-%m}"),
            "week": filters_query(channel_id, view="week", date=week_of.isoformat()),
        }
    weeks = [days[i:i + 7] for i in range(0, len(days), 7)]
    narrower = "a channel" if view == "week" else "a channel or a week"
    shown = plan_view.CALENDAR_MAX_POSTS
    notice = (f"This {view} has more than {shown:,} posts; only the first {shown:,} are shown. Pick {narrower} to "
              "see the rest." if more else None)
    # rendering hundreds of entries is CPU work: in a worker thread (the context holds loaded values only)
    return await asyncio.to_thread(render, request, "calendar.html", {
        "view": view, "title": title, "weeks": weeks, "days": days, "nav_links": nav, "zone": zone,
        "channels": channels, "channel_id": channel_id, "statuses": STATUSES,
        "country": workspace.country, "notice": notice, "token_warnings": warnings_of(channels),
        "rubrics": rubrics,
        "weekday_names": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    }, user=user)
