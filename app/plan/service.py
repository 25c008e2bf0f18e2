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

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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
from app.plan.slots import ChannelRank, Placement, SlotBoard
from app.platforms import ConnectorHub
from app.posts import service as post_service
from app.posts.schemas import PostUpdate
from app.timeutil import TimeInputError, parse_instant, utcnow

HORIZON_DAYS = 14
MAX_WINDOW_DAYS = 92
MAX_FILL_DRAFTS = 500
"""Drafts one fill request places (``post_ids`` may name at most this many; ``drafts: "all"`` takes the most
important ones and answers ``truncated: true`` when more wait)."""


@dataclass
class Scores:
    """What the analyzer knows about one channel: a ranking key per cell, or nothing."""

    channel: Channel
    fit: ChannelFit
    key: np.ndarray | None

    def rank(self) -> ChannelRank:
        """Plain values for the slot board (safe in a worker thread: no ORM attribute is read there)."""
        return ChannelRank(self.channel.id, self.channel.name, self.channel.timezone, self.fit.fit, self.key)


async def channel_scores(session: AsyncSession, channels: Sequence[Channel], now: datetime) -> list[Scores]:
    out = []
    for ch in channels:
        cf = await channel_fit(session, ch, now)
        informative = cf.fit.effect_detected or cf.prior is not None
        key = cf.fit.score - RANK_CAUTION * np.sqrt(cf.fit.score_var) if informative else None
        out.append(Scores(ch, cf, key))
    return out


def choose(scores: Sequence[Scores], busy: dict[str, list[datetime]], start: datetime, end: datetime,
           spacing: timedelta) -> Placement | None:
    """The best free candidate for a post on these channels, or None when the window is full."""
    return SlotBoard(busy, start, end, spacing).choose([s.rank() for s in scores])


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
    found = await repo.drafts(session, workspace.id, data.post_ids, limit=MAX_FILL_DRAFTS + 1)
    truncated = len(found) > MAX_FILL_DRAFTS
    found = found[:MAX_FILL_DRAFTS]
    if data.post_ids is not None:
        missing = sorted(set(data.post_ids) - {p.id for p, _ in found})
        if missing:
            raise ApiError(422, f"post_ids: unknown post id(s): {', '.join(missing)}",
                           [{"field": "post_ids", "message": f"unknown post {pid}"} for pid in missing])
    gap = timedelta(seconds=settings.min_post_spacing)
    channel_ids = sorted({cid for _, ts in found for cid, _ in ts})
    channels = {c.id: c for c in (await channel_repo.get_many(session, workspace.id, channel_ids)).values()
                if c.status != "disabled"}
    busy = await repo.busy_times(session, channel_ids, start - gap, end + gap)
    ranks = {s.channel.id: s.rank() for s in await channel_scores(session, list(channels.values()), now)}
    drafts = [_FillDraft(post.id, post.priority, post.scheduled_at is not None, targets) for post, targets in found]
    board = SlotBoard(busy, start, end, gap)
    plan, unplaced = await asyncio.to_thread(_place_all, board, drafts, ranks, set(data.channel_ids or []))
    if data.confirm:
        for item in plan:
            await post_service.update(session, workspace, item["post_id"],
                                      PostUpdate(scheduled_at=item["scheduled_at"].isoformat()), hub,
                                      public_base=settings.effective_public_base_url, media_dir=settings.media_dir,
                                      now=now)
    return {"plan": plan, "unplaced": unplaced, "committed": data.confirm, "start": start, "end": end,
            "truncated": truncated}


@dataclass
class _FillDraft:
    post_id: str
    priority: int
    scheduled: bool
    targets: list[tuple[str, str]]


def _place_all(board: SlotBoard, drafts: Sequence[_FillDraft], ranks: dict[str, ChannelRank], wanted: set[str]
               ) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Place ``drafts`` in order on ``board`` (pure: runs in a worker thread)."""
    plan: list[dict[str, Any]] = []
    unplaced: list[dict[str, str]] = []
    for draft in drafts:
        ids = [cid for cid, _ in draft.targets]
        if wanted and not wanted.intersection(ids):
            continue
        if any(status != "draft" for _, status in draft.targets) or draft.scheduled:
            unplaced.append({"post_id": draft.post_id,
                             "reason": "not a draft: it is already scheduled or further along"})
            continue
        if not ids or any(cid not in ranks for cid in ids):
            unplaced.append({"post_id": draft.post_id, "reason": "a channel of the post is disabled or deleted"})
            continue
        placed = board.choose([ranks[cid] for cid in ids])
        if placed is None:
            unplaced.append({"post_id": draft.post_id, "reason": "no free slot in the window keeps the spacing on "
                                                                 "all of its channels"})
            continue
        board.book(ids, placed.at)
        plan.append({"post_id": draft.post_id, "scheduled_at": placed.at, "slot": placed.slot, "channel_ids": ids,
                     "priority": draft.priority, "reason": placed.reason})
    return plan, unplaced
