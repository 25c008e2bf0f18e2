"""The calendar: a month grid and a week time grid of the content plan, the drafts tray, and moving a post.

Moving (``POST /calendar/move``) is what a drag and drop sends (``app/static/calendar.js``, answered in JSON when
asked with ``Accept: application/json``) and what the no-JS "Move" form sends (answered with a redirect back to
the calendar, or the form again with the refusal in words). Both reschedule through ``app/posts/service.py``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import repository as channel_repo
from app.connect.lifetimes import warnings_of
from app.db import SessionDep
from app.errors import ApiError
from app.posts import service as post_service
from app.posts.schemas import PostUpdate
from app.rubrics import repository as rubric_repo
from app.timeutil import TimeInputError, get_zone, parse_date, parse_instant, utcnow
from app.web import plan_view
from app.web.plan_view import (
    Filters,
    build_days,
    drafts_tray,
    month_bounds,
    parse_day,
    parse_month,
    platforms_of,
    rubric_css_class,
    shift_month,
    zone_of,
)
from app.web.render import local_time, redirect, render
from app.web.session import CsrfUserDep, UserDep, WebUser

router = APIRouter(include_in_schema=False)

STATUSES = ("scheduled", "publishing", "published", "partially_published", "failed", "needs_check", "draft",
            "cancelled")
HOURS = tuple(range(24))
DRAFT_DROP_TIME = "09:00"
"""The time a draft gets when it is dropped on a day of the month grid (the week grid gives the hour)."""


def _filters(request: Request, channel_ids: set[str], rubric_names: set[str]) -> Filters:
    """The filters of the address; an unknown channel, rubric or status is ignored (the calendar shows all)."""
    q = request.query_params
    channel = q.get("channel") or None
    rubric = q.get("rubric") or None
    status = q.get("status") or None
    return Filters(channel_id=channel if channel in channel_ids else None,
                   rubric=rubric if rubric in rubric_names else None,
                   status=status if status in STATUSES else None)


def _back(filters: Filters, view: str, at: str) -> str:
    """The calendar address a move returns to: the same view, page and filters."""
    extra = {"view": "week", "date": at} if view == "week" else {"month": at}
    return "/calendar?" + filters.query(**extra)


@router.get("/calendar")
async def calendar_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    """Month grid (``?month=YYYY-MM``) or week time grid (``?view=week&date=YYYY-MM-DD``) with the drafts tray;
    ``?channel=``, ``?rubric=`` and ``?status=`` filter both."""
    workspace = user.workspace
    zone = zone_of(workspace)
    today = utcnow().astimezone(get_zone(zone)).date()
    channels = await channel_repo.list_all(session, workspace.id)
    rubric_rows = await rubric_repo.list_all(session, workspace.id)
    rubrics = [{"name": r.name, "class": rubric_css_class(r.id), "target": r.target_share} for r in rubric_rows]
    filters = _filters(request, {c.id for c in channels}, {r.name for r in rubric_rows})
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
        days, more = await build_days(session, workspace, channels, first, last, month=None, filters=filters,
                                      today=today)
        title = f"Week of {first:%d %b %Y}"
        page_key = first.isoformat()
        nav = {
            "prev": filters.query(view="week", date=(first - timedelta(days=7)).isoformat()),
            "next": filters.query(view="week", date=(first + timedelta(days=7)).isoformat()),
            "today": filters.query(view="week"),
            "month": filters.query(month=f"{first:%Y-%m}"),
            "week": filters.query(view="week", date=first.isoformat()),
        }
    else:
        first, last = month_bounds(month)
        days, more = await build_days(session, workspace, channels, first, last, month=month.month,
                                      filters=filters, today=today)
        title = f"{month:%B %Y}"
        page_key = f"{month:%Y-%m}"
        week_of = today if (today.year, today.month) == (month.year, month.month) else month
        nav = {
            "prev": filters.query(month=f"{shift_month(month, -1):%Y-%m}"),
            "next": filters.query(month=f"{shift_month(month, 1):%Y-%m}"),
            "today": filters.query(),
            "month": filters.query(month=f"{month:%Y-%m}"),
            "week": filters.query(view="week", date=week_of.isoformat()),
        }
    tray, tray_more = await drafts_tray(session, workspace, channels, filters)
    weeks = [days[i:i + 7] for i in range(0, len(days), 7)]
    narrower = "a channel" if view == "week" else "a channel or a week"
    shown = plan_view.CALENDAR_MAX_POSTS
    notice = (f"This {view} has more than {shown:,} posts; only the first {shown:,} are shown. Pick {narrower} to "
              "see the rest." if more else None)
    moved = await _moved_notice(session, user, request.query_params.get("moved"), zone)
    # rendering hundreds of entries is CPU work: in a worker thread (the context holds loaded values only)
    return await asyncio.to_thread(render, request, "calendar.html", {
        "view": view, "title": title, "weeks": weeks, "days": days, "nav_links": nav, "zone": zone,
        "channels": channels, "channel_id": filters.channel_id, "filters": filters, "statuses": STATUSES,
        "country": workspace.country, "notice": notice, "token_warnings": warnings_of(channels),
        "rubrics": rubrics, "tray": tray, "tray_more": tray_more, "hours": HOURS, "moved": moved,
        "back": _back(filters, view, page_key), "page_key": page_key, "today": today,
        "weekday_names": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    }, user=user)


async def _moved_notice(session: AsyncSession, user: WebUser, post_id: str | None, zone: str) -> str | None:
    """"Moved: … now at …" after a move, from the post as stored (nothing for an unknown id)."""
    if not post_id or len(post_id) > 64:
        return None
    try:
        post = await post_service.get(session, user.workspace, post_id)
    except ApiError:
        return None
    if post.scheduled_at is None:
        return None
    snippet = " ".join(post.text.split())[:40] or "(no text)"
    return f"Moved “{snippet}”: scheduled for {local_time(post.scheduled_at, zone)}."


def _clean(form: Any, name: str, limit: int = 64) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


async def _move_form(
    request: Request, session: AsyncSession, user: WebUser, post_id: str, values: dict[str, str], *,
    error: str = "", status_code: int = 200,
) -> Response:
    """The no-JS way to move a post: a date and a time on the workspace's wall clock."""
    workspace = user.workspace
    zone = zone_of(workspace)
    post = await post_service.get(session, workspace, post_id)
    out = await post_service.to_out(session, workspace, post)
    current = out.scheduled_at.astimezone(get_zone(zone)) if out.scheduled_at is not None else None
    if not values.get("date") and current is not None:
        values = {**values, "date": current.date().isoformat()}
    if not values.get("time"):
        values = {**values, "time": current.strftime("%H:%M") if current is not None else DRAFT_DROP_TIME}
    return render(request, "calendar_move.html", {
        "post": out, "zone": zone, "values": values, "error": error, "current": current,
        "platforms": platforms_of(out), "back": values.get("back") or "/calendar",
    }, user=user, status_code=status_code)


def _safe_back(value: str) -> str:
    """Only a calendar address of this site is a place to return to."""
    return value if value.startswith("/calendar") and "//" not in value and "\\" not in value else "/calendar"


@router.get("/calendar/move/{post_id}")
async def move_page(post_id: str, request: Request, session: SessionDep, user: UserDep) -> Response:
    """The form that moves a post to another day and time (what a drag does, for keyboards and without JS)."""
    back = _safe_back(request.query_params.get("back", "")[:500])
    try:
        return await _move_form(request, session, user, post_id, {"back": back})
    except ApiError as exc:
        return render(request, "error.html", {"title": "Post not found", "message": exc.detail}, user=user,
                      status_code=exc.status)


def _refusal(exc: ApiError) -> str:
    """The service's refusal as one sentence a person reads."""
    if exc.errors and exc.status == 422:
        return "; ".join(str(e.get("message", "")) for e in exc.errors) or exc.detail
    return exc.detail


async def reschedule_to(
    request: Request, session: AsyncSession, user: WebUser, post_id: str, day: str, time: str,
) -> None:
    """Move the post to ``day`` (``YYYY-MM-DD``) at ``time`` (``HH:MM``) on the workspace's wall clock, through
    the post service (the same checks as ``PATCH /api/v1/posts/{id}``: not in the past, not while publishing,
    the content still fits every channel). The post keeps its own time zone. Raises ``ApiError`` with the refusal.
    """
    zone = zone_of(user.workspace)
    if not day:
        raise ApiError(422, "Pick a day.", [{"field": "date", "message": "Pick a day."}])
    try:
        parse_date(day)
    except TimeInputError as exc:
        raise ApiError(422, str(exc), [{"field": "date", "message": f"The day cannot be used: {exc}"}]) from exc
    hh, sep, mm = time.partition(":")
    if not (sep and hh.isdigit() and mm[:2].isdigit() and int(hh) < 24 and int(mm[:2]) < 60):
        raise ApiError(422, "Pick a time.", [{"field": "time",
                                               "message": f"'{time[:20]}' is not a time; use HH:MM, e.g. 09:30."}])
    try:
        at = parse_instant(f"{day}T{int(hh):02d}:{int(mm[:2]):02d}", zone)
    except TimeInputError as exc:
        raise ApiError(422, str(exc), [{"field": "time", "message": str(exc)}]) from exc
    settings = request.app.state.settings
    await post_service.update(session, user.workspace, post_id, PostUpdate(scheduled_at=at.isoformat()),
                              request.app.state.hub, public_base=settings.effective_public_base_url,
                              media_dir=settings.media_dir)


@router.post("/calendar/move")
async def move_post(request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Reschedule a post to a day and time (a drag and drop, or the Move form). JSON when asked for it:
    ``{"ok": true, "scheduled_at", "message", "redirect"}``, or ``{"detail"}`` with the refusal's status."""
    form = await request.form()
    post_id = _clean(form, "post_id")
    values = {"date": _clean(form, "date", 40), "time": _clean(form, "time", 20),
              "back": _safe_back(_clean(form, "back", 500))}
    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        await reschedule_to(request, session, user, post_id, values["date"], values["time"])
    except ApiError as exc:
        await session.rollback()  # the service may have touched the post before refusing
        await session.refresh(user.workspace)
        message = _refusal(exc)
        if wants_json:
            return JSONResponse({"detail": message}, status_code=exc.status)
        try:
            return await _move_form(request, session, user, post_id, values, error=message,
                                    status_code=exc.status)
        except ApiError as missing:
            return render(request, "error.html", {"title": "Post not found", "message": missing.detail},
                          user=user, status_code=missing.status)
    await session.commit()
    back = values["back"]
    target = back + ("&" if "?" in back else "?") + urlencode({"moved": post_id})
    if wants_json:
        out = await post_service.to_out(session, user.workspace,
                                        await post_service.get(session, user.workspace, post_id))
        when = local_time(out.scheduled_at, zone_of(user.workspace))
        return JSONResponse({"ok": True, "scheduled_at": out.scheduled_at.isoformat() if out.scheduled_at else None,
                             "message": f"Scheduled for {when}.", "redirect": target})
    return redirect(target)

