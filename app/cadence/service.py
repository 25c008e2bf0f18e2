"""Cadence and conflict checks: what a post's place in each channel's plan looks like, as warnings.

A post that is created, moved or imported is checked against the other posts of each of its channels:

* ``too_close`` — closer than the channel's spacing (``channels.spacing_minutes``, else the workspace's
  ``default_spacing_minutes``; no rule when neither is set);
* ``duplicate_text`` — the same or nearly the same text (similarity ≥ 0.9 after folding case, spaces and
  punctuation) planned or published on the channel within ``duplicate_window_days`` either side;
* ``plan_gap`` — more than ``max_gap_days`` without a post in the channel's plan, before or after this post
  (from now on: a past silence is history, not a plan), or the gap a moved post leaves behind;
* ``too_many_per_day`` — more than ``max_posts_per_day`` posts of the channel on the post's day (the channel's zone);
* ``holiday`` / ``significant_date`` — the day is a public holiday of the workspace's country or one of its own
  dates (informational; ``channel_id`` null).

Warnings never stop a post: the answer is still 201/200, with ``warnings: [{code, message, channel_id}]``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from typing import Any

from sqlalchemy import func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from app.dates.service import markers_between
from app.models import Channel, Post, Target, Workspace
from app.models.statuses import TargetStatus
from app.timeutil import TimeInputError, get_zone, utcnow

DEFAULT_MAX_GAP_DAYS = 7
DEFAULT_MAX_POSTS_PER_DAY = 3
DEFAULT_DUPLICATE_WINDOW_DAYS = 30
SIMILAR = 0.9  # SequenceMatcher ratio from which two texts count as "nearly the same"
COMPARED_CHARS = 2_000  # texts are compared on their first characters (difflib is quadratic at worst)
MAX_COMPARED = 300  # other posts of one channel compared at most (the nearest in time)
# what is "in the plan": drafts have no time, cancelled and failed posts will not appear
IN_PLAN = (TargetStatus.SCHEDULED, TargetStatus.PUBLISHING, TargetStatus.PUBLISHED, TargetStatus.NEEDS_CHECK)
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Limits:
    """The workspace's cadence settings, defaults applied."""

    max_gap_days: int
    max_posts_per_day: int
    duplicate_window_days: int


def limits_of(workspace: Workspace) -> Limits:
    return Limits(workspace.max_gap_days or DEFAULT_MAX_GAP_DAYS,
                  workspace.max_posts_per_day or DEFAULT_MAX_POSTS_PER_DAY,
                  workspace.duplicate_window_days or DEFAULT_DUPLICATE_WINDOW_DAYS)


def spacing_of(channel: Channel, workspace: Workspace) -> timedelta | None:
    minutes = channel.spacing_minutes or workspace.default_spacing_minutes
    return timedelta(minutes=minutes) if minutes else None


def normalise(text: str) -> str:
    """Text as compared: case, accents' forms, punctuation and runs of spaces folded."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).split())[:COMPARED_CHARS]


def similar(a: str, b: str) -> bool:
    """``a`` and ``b`` (both :func:`normalise`\\ d) are the same or nearly the same text."""
    matcher = SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(a)
    return _similar_to(matcher, a, b)


def _similar_to(matcher: SequenceMatcher[str], mine: str, other: str) -> bool:
    """:func:`similar` with ``mine`` already indexed as the matcher's second sequence."""
    if not mine or not other:
        return False
    if mine == other:
        return True
    matcher.set_seq1(other)
    return matcher.real_quick_ratio() >= SIMILAR and matcher.quick_ratio() >= SIMILAR and matcher.ratio() >= SIMILAR


def _span(delta: timedelta) -> str:
    minutes = int(abs(delta).total_seconds() // 60)
    if minutes >= 2 * 24 * 60:
        return f"{minutes // (24 * 60)} days"
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"


def _zone(name: str | None) -> Any:
    try:
        return get_zone(name or "UTC")
    except TimeInputError:
        return get_zone("UTC")


def _snippet(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= 40 else one[:39] + "…"


def _warning(code: str, message: str, channel_id: str | None) -> dict[str, Any]:
    return {"code": code, "message": message, "channel_id": channel_id}


async def check_post(
    session: AsyncSession, workspace: Workspace, post: Post, channels: Sequence[Channel],
    texts: Mapping[str, str] | None = None, *, moved_from: datetime | None = None, holidays: bool = True,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The warnings of ``post`` (already flushed) on each of ``channels``; ``texts`` maps a channel to the text it
    gets when an override differs from the post's; ``moved_from`` is the time the post had before a move."""
    now = now or utcnow()
    texts = texts or {}
    limits = limits_of(workspace)
    at = post.scheduled_at
    ids = [c.id for c in channels]
    if not ids:
        return []
    out: list[dict[str, Any]] = []
    ref = at or now
    window = timedelta(days=limits.duplicate_window_days)
    times: dict[str, list[tuple[datetime, str, str]]] = {}
    if at is not None:  # times only, in the span the spacing and the day's count can reach
        reach = max([timedelta(hours=36), *(g for c in channels if (g := spacing_of(c, workspace)) is not None)])
        times = await _times(session, ids, post.id, at - reach, at + reach)
        for ch in channels:
            rows = times.get(ch.id, [])
            out += _spacing(ch, workspace, at, rows)
            out += _per_day(ch, at, rows, limits)
    for ch in channels:
        mine = normalise(texts.get(ch.id, post.text))
        if not mine:
            continue
        matcher = SequenceMatcher(None, autojunk=False)
        matcher.set_seq2(mine)  # the costly side is indexed once per channel
        found = await _texts(session, ch.id, post.id, ref, window)
        if at is not None and window >= timedelta(days=limits.max_gap_days):  # the nearest on each side, if any
            times.setdefault(ch.id, []).extend((when, "", "") for when, _ in found)
        for when, text in found:
            if _similar_to(matcher, mine, normalise(text)):
                state = "published" if when <= now else "planned"
                local = when.astimezone(_zone(ch.timezone)).strftime("%Y-%m-%d %H:%M")
                out.append(_warning("duplicate_text", f"'{ch.name}' has the same or nearly the same text {state} "
                                    f"for {local} ({_snippet(text)}); repeat it only on purpose.", ch.id))
                break
    if at is not None:
        out += await _gaps(session, workspace, channels, post.id, at, limits, now, moved_from, times)
        if holidays:
            out += await _holidays(session, workspace, at)
    return out


async def _times(session: AsyncSession, channel_ids: Sequence[str], post_id: str, lo: datetime, hi: datetime
                 ) -> dict[str, list[tuple[datetime, str, str]]]:
    """The times of the other posts in the plan of each channel within [lo, hi]: ``(when, post id, "")``."""
    stmt = (
        select(Target.channel_id, Target.order_at, Target.post_id)
        .where(Target.channel_id.in_(list(channel_ids)), Target.status.in_(IN_PLAN), Target.post_id != post_id,
               Target.order_at >= lo, Target.order_at <= hi)
    )
    found: dict[str, list[tuple[datetime, str, str]]] = {}
    for cid, when, pid in (await session.execute(stmt)).all():
        found.setdefault(cid, []).append((when, pid, ""))
    return found


async def _texts(session: AsyncSession, channel_id: str, post_id: str, ref: datetime, window: timedelta
                 ) -> list[tuple[datetime, str]]:
    """The texts (the channel's override where there is one) of the channel's other posts within ``window`` of
    ``ref``: the :data:`MAX_COMPARED` nearest on each side, nearest first (two index range scans)."""
    base = (
        select(Target.order_at, Target.overrides, Post.text).join(Post, Post.id == Target.post_id)
        .where(Target.channel_id == channel_id, Target.status.in_(IN_PLAN), Target.post_id != post_id)
    )
    before = base.where(Target.order_at <= ref, Target.order_at >= ref - window) \
        .order_by(Target.order_at.desc()).limit(MAX_COMPARED // 2)
    after = base.where(Target.order_at > ref, Target.order_at <= ref + window) \
        .order_by(Target.order_at).limit(MAX_COMPARED // 2)
    b, a = before.subquery(), after.subquery()
    both = union_all(select(b.c.order_at, b.c.overrides, b.c.text), select(a.c.order_at, a.c.overrides, a.c.text))
    rows = list((await session.execute(both)).all())  # one round trip for both sides
    rows.sort(key=lambda r: abs(r[0] - ref))
    out = []
    for when, overrides, text in rows:
        own = overrides.get("text") if isinstance(overrides, dict) else None
        out.append((when, own if own is not None else text or ""))
    return out


def _spacing(ch: Channel, workspace: Workspace, at: datetime, rows: Iterable[tuple[datetime, str, str]]
             ) -> list[dict[str, Any]]:
    gap = spacing_of(ch, workspace)
    if gap is None:
        return []
    close = [r for r in rows if abs(r[0] - at) < gap]
    if not close:
        return []
    when = min(close, key=lambda r: abs(r[0] - at))[0]
    side = "before" if when < at else "after" if when > at else "at the same time as"
    local = when.astimezone(_zone(ch.timezone)).strftime("%Y-%m-%d %H:%M")
    where = f"{_span(when - at)} {side}" if when != at else side
    return [_warning("too_close", f"'{ch.name}' already has a post at {local}, {where} this one; the channel's "
                     f"spacing is {_span(gap)}.", ch.id)]


def _per_day(ch: Channel, at: datetime, rows: Iterable[tuple[datetime, str, str]], limits: Limits
             ) -> list[dict[str, Any]]:
    zone = _zone(ch.timezone)
    day = at.astimezone(zone).date()
    count = 1 + sum(1 for r in rows if r[0].astimezone(zone).date() == day)
    if count <= limits.max_posts_per_day:
        return []
    return [_warning("too_many_per_day", f"'{ch.name}' would have {count} posts on {day.isoformat()}; the workspace's "
                     f"limit is {limits.max_posts_per_day} a day.", ch.id)]


async def _neighbours(session: AsyncSession, channel_ids: Sequence[str], post_id: str, at: datetime,
                      known: Mapping[str, Sequence[tuple[datetime, str, str]]] | None = None
                      ) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """Each channel's nearest other post in the plan before and after ``at``; ``known`` (posts already read near
    ``at``) answers a side without a query where it holds one."""
    prev: dict[str, datetime] = {}
    nxt: dict[str, datetime] = {}
    for cid, rows in (known or {}).items():
        if earlier := [w for w, _, _ in rows if w < at]:
            prev[cid] = max(earlier)
        if later := [w for w, _, _ in rows if w > at]:
            nxt[cid] = min(later)
    base = (Target.status.in_(IN_PLAN), Target.post_id != post_id)
    if missing := [c for c in channel_ids if c not in prev]:
        before = select(Target.channel_id, func.max(Target.order_at)) \
            .where(Target.channel_id.in_(missing), *base, Target.order_at < at).group_by(Target.channel_id)
        prev.update({cid: when for cid, when in (await session.execute(before)).all()})
    if missing := [c for c in channel_ids if c not in nxt]:
        after = select(Target.channel_id, func.min(Target.order_at)) \
            .where(Target.channel_id.in_(missing), *base, Target.order_at > at).group_by(Target.channel_id)
        nxt.update({cid: when for cid, when in (await session.execute(after)).all()})
    return prev, nxt


async def _gaps(session: AsyncSession, workspace: Workspace, channels: Sequence[Channel], post_id: str,
                at: datetime, limits: Limits, now: datetime, moved_from: datetime | None,
                known: Mapping[str, Sequence[tuple[datetime, str, str]]] | None = None) -> list[dict[str, Any]]:
    longest = timedelta(days=limits.max_gap_days)
    ids = [c.id for c in channels]
    prev, nxt = await _neighbours(session, ids, post_id, at, known)
    out: list[dict[str, Any]] = []

    def day(ch: Channel, when: datetime) -> str:
        return when.astimezone(_zone(ch.timezone)).strftime("%Y-%m-%d")

    for ch in channels:
        start = max(prev.get(ch.id, now), now)
        if ch.id in prev and at > now and at - start > longest:  # the channel's first post has no gap before it
            since = f"after the post of {day(ch, start)}" if prev[ch.id] >= now else "from now"
            out.append(_warning("plan_gap", f"'{ch.name}' has nothing planned for {_span(at - start)} {since} until "
                                f"this post ({day(ch, at)}); the workspace's longest gap is {limits.max_gap_days} "
                                "days.", ch.id))
        if ch.id in nxt and nxt[ch.id] - max(at, now) > longest:
            out.append(_warning("plan_gap", f"'{ch.name}' has nothing planned for {_span(nxt[ch.id] - at)} after this "
                                f"post, until {day(ch, nxt[ch.id])}; the workspace's longest gap is "
                                f"{limits.max_gap_days} days.", ch.id))
    if moved_from is not None and moved_from != at:
        old_prev, old_next = await _neighbours(session, ids, post_id, moved_from)
        for ch in channels:
            if ch.id not in old_next or ch.id not in old_prev:
                continue
            start = max(old_prev.get(ch.id, now), now)
            end = old_next[ch.id]
            if end - start > longest and not (start <= at <= end):
                out.append(_warning("plan_gap", f"moving the post leaves '{ch.name}' with nothing planned between "
                                    f"{day(ch, start)} and {day(ch, end)} ({_span(end - start)}); the workspace's "
                                    f"longest gap is {limits.max_gap_days} days.", ch.id))
    return out


async def _holidays(session: AsyncSession, workspace: Workspace, at: datetime) -> list[dict[str, Any]]:
    day = at.astimezone(_zone(workspace.timezone)).date()
    out = []
    for m in await markers_between(session, workspace, day, day):
        public = m["kind"] == "public"
        what = "a public holiday" if public else "a date of the workspace"
        out.append(_warning("holiday" if public else "significant_date",
                            f"{day.isoformat()} is {what}: {m['name']}.", None))
    return out


async def check_stored(session: AsyncSession, workspace: Workspace, post: Post, *,
                       moved_from: datetime | None = None, holidays: bool = True) -> list[dict[str, Any]]:
    """:func:`check_post` for a stored post: its channels and per-channel texts read from its targets."""
    rows = (await session.execute(
        select(Target.channel_id, Target.overrides, Target.status).where(Target.post_id == post.id))).all()
    live = [(cid, ov) for cid, ov, status in rows if status not in (TargetStatus.CANCELLED,)]
    chans = {c.id: c for c in (await session.execute(
        select(Channel).where(Channel.id.in_([cid for cid, _ in live])))).scalars()}
    texts = {cid: ov["text"] for cid, ov in live if isinstance(ov, dict) and ov.get("text") is not None}
    channels = [chans[cid] for cid, _ in live if cid in chans]
    return await check_post(session, workspace, post, channels, texts, moved_from=moved_from, holidays=holidays)
