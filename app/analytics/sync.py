"""Pulling engagement history from the platforms: on request and as a periodic job of every runner.

A sync asks the channel's connector for posts since the newest synced post minus ``REFRESH_DAYS`` (so recent
posts get their growing numbers refreshed; a first sync reaches ``FIRST_SYNC_DAYS`` back), and never later than
the oldest post this service published within ``REFRESH_DAYS``. Records whose external id is one of our
published targets' ids (Telegram albums: any of ``"2,3,4"``) are linked to that target (source ``published``).
Instagram's audience-online curve, when there is one, is saved as the channel's prior (source
``online_followers``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import repository as repo
from app.analytics.importer import dedupe_key
from app.analytics.service import ONLINE_SOURCE, platform_error
from app.channels import repository as channel_repo
from app.db import session_scope
from app.errors import ApiError
from app.models import AnalyzerPrior, Channel
from app.platforms import ConnectorHub
from app.publishing.runner import PublisherRunner
from app.security import CredentialBox
from app.timeutil import utcnow
from connectors.base import Credentials, EngagementRecord
from connectors.errors import ConnectorError

log = logging.getLogger("smm.analytics.sync")

FIRST_SYNC_DAYS = 120
REFRESH_DAYS = 7


def _target_index(targets: list[tuple[str, str | None, datetime | None]]) -> dict[str, str]:
    index: dict[str, str] = {}
    for target_id, external_id, _ in targets:
        for part in str(external_id).split(","):
            if part.strip():
                index[part.strip()] = target_id
    return index


def _rows(records: list[EngagementRecord], links: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for r in records:
        external_id = str(r.external_id) if r.external_id is not None else None
        target_id = links.get(external_id or "")
        rows.append({
            "dedupe_key": dedupe_key(external_id, r.posted_at, r.kind), "external_id": external_id,
            "posted_at": r.posted_at, "kind": (r.kind or None) and str(r.kind)[:20], "target_id": target_id,
            "source": "published" if target_id else "sync",
            "likes": r.likes, "comments": r.comments, "shares": r.shares, "views": r.views, "reach": r.reach,
            "followers": r.followers,
        })
    return rows


async def sync_since(session: AsyncSession, channel: Channel, now: datetime) -> datetime:
    """Where the next sync of ``channel`` starts (see the module docstring)."""
    newest = await repo.latest_posted(session, channel.id, ("sync", "published"))
    since = newest - timedelta(days=REFRESH_DAYS) if newest else now - timedelta(days=FIRST_SYNC_DAYS)
    recent = [at for _, _, at in await repo.published_targets(session, channel.id)
              if at is not None and at >= now - timedelta(days=REFRESH_DAYS)]
    return min([since, *recent])


async def _audience_online(session: AsyncSession, channel: Channel, connector: Any, creds: Credentials) -> bool:
    fetch = getattr(connector, "fetch_audience_online", None)
    if fetch is None:
        return False
    curve = await fetch(creds)
    if curve is None:
        return False
    await repo.replace_prior(session, AnalyzerPrior(
        workspace_id=channel.workspace_id, platform=None, channel_id=channel.id,
        name=f"{channel.name}: followers online", source=ONLINE_SOURCE,
        cells={"by_hour_utc": list(curve.by_hour_utc)},
    ))
    return True


async def sync_channel(session: AsyncSession, channel: Channel, hub: ConnectorHub, box: CredentialBox,
                       now: datetime | None = None) -> dict[str, Any]:
    """Pull and store one channel's engagement; connector failures become ``ApiError`` in the platform's words
    (a rejected token also marks the channel ``needs_reauth``; callers should commit before re-raising)."""
    now = now or utcnow()
    connector = hub.get(channel.platform, channel.sandbox)
    creds = Credentials(box.open(channel.credentials_sealed))
    since = await sync_since(session, channel, now)
    try:
        records = await connector.fetch_engagement(creds, since)
        online = await _audience_online(session, channel, connector, creds)
    except ConnectorError as exc:
        raise await platform_error(session, channel, exc) from exc
    links = _target_index(await repo.published_targets(session, channel.id))
    rows = _rows(records, links)
    counts = await repo.upsert_posts(session, channel.id, rows, source="sync", now=now)
    newest = max(records, key=lambda r: r.posted_at, default=None)
    followers = next((r.followers for r in sorted(records, key=lambda r: r.posted_at, reverse=True)
                      if r.followers is not None), None)
    log.info("analytics.sync.done", extra={"channel_id": channel.id, "records": len(records),
                                           "inserted": counts.inserted, "updated": counts.updated})
    return {"imported": counts.inserted, "updated": counts.updated, "unchanged": counts.unchanged,
            "followers": followers if newest is not None else None, "since": since.isoformat(),
            "linked": sum(1 for r in rows if r["target_id"]), "audience_online": online}


async def sync_all(runner: PublisherRunner) -> int:
    """The periodic job: sync every active channel, each in its own transaction; returns channels synced."""
    async with session_scope(runner.maker) as session:
        ids = await repo.active_channel_ids(session)
    done = 0
    for channel_id in ids:
        try:
            async with session_scope(runner.maker) as session:
                channel = await channel_repo.by_id(session, channel_id)
                if channel is None or channel.status != "active" or channel.platform == "telegram":
                    continue  # the Bot API lists no history
                try:
                    await sync_channel(session, channel, runner.hub, runner.box, runner.clock())
                except ApiError as exc:
                    await session.commit()  # keep a needs_reauth mark
                    log.warning("analytics.sync.failed", extra={"channel_id": channel_id, "detail": exc.detail})
                    continue
            done += 1
        except Exception:  # one broken channel must not stop the others
            log.exception("analytics.sync.crashed", extra={"channel_id": channel_id})
    return done
