"""Placing posts in the best free slots.

Candidates are the hour starts (minute 0) on the wall clock of the post's first channel, from ``not_before`` over
``HORIZON_DAYS``; local times that do not exist (DST gap) are skipped and a repeated hour (DST fold) is offered
once. A candidate is free when every channel of the post keeps ``min_post_spacing`` from its other posts
(scheduled, publishing or published). The best free candidate has the highest summed ranking key over the post's
channels (the analyzer's ``score − sd`` in each channel's own zone); ties go to the earliest. When no channel has
anything to go by (no detected effect and no prior), the next free hour between ``DAY_START`` and ``DAY_END``
local is taken, and the reason says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.model import RANK_CAUTION
from app.analytics.service import ChannelFit, channel_fit
from app.channels import repository as channel_repo
from app.config import Settings
from app.errors import ApiError, Invalid
from app.models import Channel, Workspace
from app.plan import repository as repo
from app.plan.schemas import FillIn
from app.platforms import ConnectorHub
from app.posts import service as post_service
from app.posts.schemas import PostUpdate
from app.timeutil import TimeInputError, parse_instant, utcnow

HORIZON_DAYS = 14
MAX_WINDOW_DAYS = 92
DAY_START, DAY_END = 9, 21
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class Scores:
    """What the analyzer knows about one channel: a ranking key per cell, or nothing."""

    channel: Channel
    fit: ChannelFit
    key: np.ndarray | None


@dataclass
class Placement:
    at: datetime
    slot: dict[str, Any]
    reason: str


def candidates(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Hour starts of ``zone``'s wall clock within [start, end), as UTC instants, DST-correct."""
    out: list[datetime] = []
    day: date = start.astimezone(zone).date()
    while True:
        for hour in range(24):
            naive = datetime.combine(day, time(hour))
            local = naive.replace(tzinfo=zone)
            at = local.astimezone(UTC)
            if at.astimezone(zone).replace(tzinfo=None) != naive:
                continue  # in the spring-forward gap: this wall-clock hour does not exist
            if at >= end:
                return out
            if at >= start:
                out.append(at)
        day += timedelta(days=1)


def _cell(at: datetime, tz: str) -> int:
    local = at.astimezone(ZoneInfo(tz))
    return local.weekday() * 24 + local.hour


async def channel_scores(session: AsyncSession, channels: Sequence[Channel], now: datetime) -> list[Scores]:
    out = []
    for ch in channels:
        cf = await channel_fit(session, ch, now)
        informative = cf.fit.effect_detected or cf.prior is not None
        key = cf.fit.score - RANK_CAUTION * np.sqrt(cf.fit.score_var) if informative else None
        out.append(Scores(ch, cf, key))
    return out


def _free(at: datetime, channel_ids: Sequence[str], busy: dict[str, list[datetime]], spacing: timedelta) -> bool:
    return all(abs(at - other) >= spacing for cid in channel_ids for other in busy.get(cid, ()))


def choose(scores: Sequence[Scores], busy: dict[str, list[datetime]], start: datetime, end: datetime,
           spacing: timedelta) -> Placement | None:
    """The best free candidate for a post on these channels, or None when the window is full."""
    ref = scores[0].channel
    ids = [s.channel.id for s in scores]
    free = [at for at in candidates(ZoneInfo(ref.timezone), start, end) if _free(at, ids, busy, spacing)]
    informed = [s for s in scores if s.key is not None]
    if not informed:
        zone = ZoneInfo(ref.timezone)
        daytime = [at for at in free if DAY_START <= at.astimezone(zone).hour <= DAY_END]
        if not (daytime or free):
            return None
        pick = (daytime or free)[0]
        local = pick.astimezone(zone)
        why = ("no engagement history with a reliable difference between hours yet, so the next free hour "
               f"between {DAY_START}:00 and {DAY_END}:00 ({ref.timezone}) that keeps "
               f"{spacing.total_seconds() / 3600:g} h between posts of a channel was taken")
        return Placement(pick, {"weekday": local.weekday(), "hour": local.hour, "score": None, "low": None,
                                "high": None, "posts": 0, "timezone": ref.timezone}, why)
    if not free:
        return None
    keys = [(s.key, s.channel.timezone) for s in informed if s.key is not None]
    totals = [sum(float(key[_cell(at, tz)]) for key, tz in keys) for at in free]
    best = int(np.argmax(totals))  # the first maximum: ties go to the earliest time
    at = free[best]
    main = informed[0]
    cell = main.fit.fit.heatmap()[_cell(at, main.channel.timezone)]
    slot: dict[str, Any] = {**cell.to_dict(), "timezone": main.channel.timezone}
    names = ", ".join(f"'{s.channel.name}'" for s in informed)
    why = (f"best free slot {DAYS[cell.weekday]} {cell.hour:02d}:00 ({main.channel.timezone}): expected lift "
           f"{cell.score:+.3f} [{cell.low:+.3f}, {cell.high:+.3f}] from {cell.posts} past posts "
           f"(ranked on {names}); keeps {spacing.total_seconds() / 3600:g} h between posts of a channel")
    return Placement(at, slot, why)


async def find_slot(session: AsyncSession, channels: Sequence[Channel], not_before: datetime, *,
                    spacing: float, now: datetime | None = None, horizon_days: int = HORIZON_DAYS) -> Placement:
    """The best free slot for one post on ``channels`` at or after ``not_before`` (never fails: a full horizon
    falls back to the first time that keeps the spacing after everything already planned)."""
    now = now or utcnow()
    gap = timedelta(seconds=spacing)
    end = not_before + timedelta(days=horizon_days)
    busy = await repo.busy_times(session, [c.id for c in channels], not_before - gap, end + gap)
    found = choose(await channel_scores(session, channels, now), busy, not_before, end, gap)
    if found is not None:
        return found
    latest = max((t for times in busy.values() for t in times), default=not_before)
    at = (latest + gap).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return Placement(at, {}, f"the next {horizon_days} days are full; the first time after them that keeps "
                             "the spacing was taken")


async def auto_schedule(session: AsyncSession, workspace: Workspace, channels: Sequence[Channel],
                        not_before: datetime, *, spacing: float) -> datetime:
    """``scheduled_at: "auto"``: the best free slot for a post on ``channels`` at or after ``not_before`` (UTC).

    The slot is ranked by the summed analyzer scores of the channels (hour starts on the first channel's wall
    clock), keeps ``settings.min_post_spacing`` between posts of each channel, and falls back to the next free
    daytime hour when there is no history to go by. Never raises for lack of data."""
    return (await find_slot(session, channels, not_before, spacing=spacing)).at


def _bound(value: str | None, name: str, zone: str, default: datetime) -> datetime:
    if value is None:
        return default
    try:
        return parse_instant(value, zone)
    except TimeInputError as exc:
        raise Invalid(name, str(exc)) from exc


async def fill(session: AsyncSession, workspace: Workspace, data: FillIn, hub: ConnectorHub, settings: Settings,
               now: datetime | None = None) -> dict[str, Any]:
    """Place drafts in the best free slots, most important first (priority 1 before 5, then oldest).

    A dry run (``confirm`` false) changes nothing; ``confirm`` recomputes the same plan and schedules every
    placed post through the posts service (its validation and 409 rules apply; any refusal undoes all)."""
    now = now or utcnow()
    zone = workspace.timezone or "UTC"
    start = max(_bound(data.start, "start", zone, now), now)
    end = _bound(data.end, "end", zone, start + timedelta(days=HORIZON_DAYS))
    if end <= start:
        raise Invalid("end", "end must be after start (and after now)")
    if end - start > timedelta(days=MAX_WINDOW_DAYS):
        raise Invalid("end", f"the window may span at most {MAX_WINDOW_DAYS} days")
    found = await repo.drafts(session, workspace.id, data.post_ids)
    if data.post_ids is not None:
        missing = sorted(set(data.post_ids) - {p.id for p, _ in found})
        if missing:
            raise ApiError(422, f"post_ids: unknown post id(s): {', '.join(missing)}",
                           [{"field": "post_ids", "message": f"unknown post {pid}"} for pid in missing])
    wanted = set(data.channel_ids or [])
    gap = timedelta(seconds=settings.min_post_spacing)
    channel_ids = sorted({cid for _, ts in found for cid, _ in ts})
    channels = {c.id: c for c in (await channel_repo.get_many(session, workspace.id, channel_ids)).values()
                if c.status != "disabled"}
    busy = await repo.busy_times(session, channel_ids, start - gap, end + gap)
    scores = {s.channel.id: s for s in await channel_scores(session, list(channels.values()), now)}
    plan: list[dict[str, Any]] = []
    unplaced: list[dict[str, str]] = []
    for post, targets in found:
        ids = [cid for cid, _ in targets]
        if wanted and not wanted.intersection(ids):
            continue
        if any(status != "draft" for _, status in targets) or post.scheduled_at is not None:
            unplaced.append({"post_id": post.id, "reason": "not a draft: it is already scheduled or further along"})
            continue
        if not ids or any(cid not in channels for cid in ids):
            unplaced.append({"post_id": post.id, "reason": "a channel of the post is disabled or deleted"})
            continue
        placed = choose([scores[cid] for cid in ids], busy, start, end, gap)
        if placed is None:
            unplaced.append({"post_id": post.id, "reason": "no free slot in the window keeps the spacing on "
                                                           "all of its channels"})
            continue
        for cid in ids:
            busy[cid].append(placed.at)
        plan.append({"post_id": post.id, "scheduled_at": placed.at, "slot": placed.slot, "channel_ids": ids,
                     "priority": post.priority, "reason": placed.reason})
    if data.confirm:
        for item in plan:
            await post_service.update(session, workspace, item["post_id"],
                                      PostUpdate(scheduled_at=item["scheduled_at"].isoformat()), hub,
                                      public_base=settings.effective_public_base_url, media_dir=settings.media_dir,
                                      now=now)
    return {"plan": plan, "unplaced": unplaced, "committed": data.confirm, "start": start, "end": end}
