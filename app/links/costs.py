"""A channel's spend (ads, paid placements) and what it bought: cost per click and per follower gained.

Spend over a period is spread evenly over its days, so a report window that covers part of a period counts that
part. Followers come from the collected engagement history (``engagement_posts.followers``: the follower count at
each past post, from CSV imports and the platform sync): the gain in a window is the last reading in it minus the
first.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import repository as channel_repo
from app.errors import Invalid, NotFound
from app.links import service as links
from app.models import ChannelSpend, EngagementPost, Workspace
from app.timeutil import TimeInputError, parse_date, utcnow

MAX_NOTE = 500
MAX_AMOUNT = 1e12


def _day(value: str | None, field: str) -> date:
    if not value:
        raise Invalid(field, "a date is required (YYYY-MM-DD)")
    try:
        return parse_date(value)
    except TimeInputError as exc:
        raise Invalid(field, str(exc)) from exc


def out(row: ChannelSpend) -> dict[str, Any]:
    return {"id": row.id, "channel_id": row.channel_id, "amount": row.amount, "currency": row.currency,
            "start": row.period_start.isoformat(), "end": row.period_end.isoformat(), "note": row.note}


async def add(session: AsyncSession, workspace: Workspace, channel_id: str, *, amount: float, currency: str,
              start: str, end: str, note: str | None) -> dict[str, Any]:
    """Record money spent on a channel over [start, end] (inclusive days); 422 with the reason otherwise."""
    if not (await channel_repo.get_many(session, workspace.id, [channel_id])):
        raise NotFound("Channel")
    if not 0 <= amount <= MAX_AMOUNT or amount != amount:
        raise Invalid("amount", "the amount is a number from 0 up (in the currency's units, e.g. 120.50)")
    code = currency.strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise Invalid("currency", f"'{currency[:10]}' is not a currency code; use ISO 4217 such as EUR, USD or RUB")
    first, last = _day(start, "start"), _day(end, "end")
    if last < first:
        raise Invalid("end", "the period ends before it starts")
    clean = " ".join((note or "").split()) or None
    if clean is not None and (len(clean) > MAX_NOTE or not clean.isprintable()):
        raise Invalid("note", f"a note has at most {MAX_NOTE} printable characters")
    row = ChannelSpend(workspace_id=workspace.id, channel_id=channel_id, amount=round(float(amount), 2),
                       currency=code, period_start=first, period_end=last, note=clean)
    session.add(row)
    await session.flush()
    return out(row)


async def list_for(session: AsyncSession, workspace: Workspace, channel_id: str) -> list[dict[str, Any]]:
    if not (await channel_repo.get_many(session, workspace.id, [channel_id])):
        raise NotFound("Channel")
    rows = (await session.execute(select(ChannelSpend).where(
        ChannelSpend.workspace_id == workspace.id, ChannelSpend.channel_id == channel_id)
        .order_by(ChannelSpend.period_start, ChannelSpend.id))).scalars()
    return [out(r) for r in rows]


async def delete(session: AsyncSession, workspace: Workspace, channel_id: str, spend_id: str) -> None:
    row = await session.get(ChannelSpend, spend_id)
    if row is None or row.workspace_id != workspace.id or row.channel_id != channel_id:
        raise NotFound("Spend entry")
    await session.delete(row)
    await session.flush()


def _share(row: ChannelSpend, first: date, last: date) -> float:
    """The part of ``row``'s amount that falls in [first, last] (spread evenly over its days)."""
    days = (row.period_end - row.period_start).days + 1
    lo, hi = max(first, row.period_start), min(last, row.period_end)
    overlap = (hi - lo).days + 1
    return row.amount * overlap / days if overlap > 0 else 0.0


async def followers_gained(session: AsyncSession, channel_id: str, first: date, last: date) -> int | None:
    """The last follower reading in [first, last] minus the first one (None with fewer than two readings)."""
    lo = datetime.combine(first, time(0), tzinfo=utcnow().tzinfo)
    hi = datetime.combine(last + timedelta(days=1), time(0), tzinfo=utcnow().tzinfo)
    rows = (await session.execute(
        select(EngagementPost.posted_at, EngagementPost.followers)
        .where(EngagementPost.channel_id == channel_id, EngagementPost.followers.is_not(None),
               EngagementPost.posted_at >= lo, EngagementPost.posted_at < hi)
        .order_by(EngagementPost.posted_at))).all()
    if len(rows) < 2:
        return None
    return int(rows[-1][1] or 0) - int(rows[0][1] or 0)


async def report(session: AsyncSession, workspace: Workspace, first: date, last: date) -> dict[str, Any]:
    """Per channel: spend in [first, last] by currency, clicks, followers gained, cost per click and follower."""
    channels = await channel_repo.list_all(session, workspace.id)
    spend = (await session.execute(select(ChannelSpend).where(
        ChannelSpend.workspace_id == workspace.id, ChannelSpend.period_start <= last,
        ChannelSpend.period_end >= first))).scalars().all()
    counted = await links.clicks(session, workspace, start=first, end=last)
    clicks_of = {c["channel_id"]: c["clicks"] for c in counted["by_channel"]}
    items = []
    for ch in channels:
        by_currency: dict[str, float] = {}
        for row in spend:
            if row.channel_id == ch.id:
                by_currency[row.currency] = by_currency.get(row.currency, 0.0) + _share(row, first, last)
        n = clicks_of.get(ch.id, 0)
        gained = await followers_gained(session, ch.id, first, last)
        costs = [{"currency": cur, "amount": round(amount, 2),
                  "per_click": round(amount / n, 4) if n else None,
                  "per_follower": round(amount / gained, 4) if gained and gained > 0 else None}
                 for cur, amount in sorted(by_currency.items())]
        if not costs and not n and gained is None:
            continue
        items.append({"channel_id": ch.id, "name": ch.name, "platform": ch.platform, "clicks": n,
                      "followers_gained": gained, "spend": costs})
    return {"start": first.isoformat(), "end": last.isoformat(), "items": items}
