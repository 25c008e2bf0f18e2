"""Recurring series: a cron rule in an IANA zone, materialised as ordinary posts a horizon ahead.

Time rules (documented in the README):
* occurrences are computed by APScheduler's ``CronTrigger`` in the series' zone;
* a wall time that does not exist (spring forward, e.g. 02:30 in Europe/Berlin on the last Sunday of March)
  is moved forward by the length of the gap (02:30 -> 03:30 local) and runs once;
* a wall time that happens twice (fall back) runs once, at its first occurrence;
* no backlog: after a pause or a downtime only the latest missed occurrence may still go out (within
  ``SMM_MISSED_GRACE``); older ones are cancelled with a note, never published in a burst.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import Invalid, NotFound
from app.models import Post, Series, Workspace
from app.platforms import ConnectorHub
from app.posts import repository as post_repo
from app.posts import service as posts
from app.series import repository as repo
from app.series.schemas import SeriesCreate, SeriesOut, SeriesUpdate
from app.timeutil import TimeInputError, get_zone, parse_instant, utcnow

log = logging.getLogger("smm.series")
MAX_PER_RUN = 500  # occurrences materialised per series per run (a '* * * * *' rule must not flood the table)


def trigger(cron: str, zone: str) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(cron.strip(), timezone=get_zone(zone))
    except TimeInputError as exc:
        raise Invalid("timezone", str(exc)) from exc
    except (ValueError, KeyError) as exc:
        raise Invalid(
            "cron",
            f"'{cron}' is not a valid 5-field crontab expression ({exc}); "
            "e.g. '31 18 * * mon' for every Monday at 18:31",
        ) from exc


def _ambiguous_repeat(fire: datetime) -> bool:
    """The second run of a wall time that happens twice (fall back): skipped."""
    return fire.fold == 1 and fire.replace(fold=0).utcoffset() != fire.utcoffset()


def occurrences(series: Series, after: datetime, until: datetime, limit: int = MAX_PER_RUN) -> list[datetime]:
    """UTC instants of the series' occurrences in (after, until], by the rules in the module docstring."""
    trig = trigger(series.cron, series.timezone)
    zone = get_zone(series.timezone)
    start = max(after, series.starts_at) if series.starts_at else after
    end = min(until, series.ends_at) if series.ends_at else until
    out: list[datetime] = []
    prev: datetime | None = None
    now = start.astimezone(zone)
    while len(out) < limit:
        fire = trig.get_next_fire_time(prev, now)
        if fire is None or fire > end:
            break
        prev, now = fire, fire
        if fire <= start or _ambiguous_repeat(fire):
            continue
        out.append(fire.astimezone(start.tzinfo))
    return out


def to_out(series: Series, now: datetime | None = None) -> SeriesOut:
    now = now or utcnow()
    upcoming = occurrences(series, now, now + timedelta(days=366), limit=5) if series.status == "active" else []
    return SeriesOut(
        id=series.id,
        name=series.name,
        cron=series.cron,
        timezone=series.timezone,
        template=series.template,
        channel_ids=list(series.channel_ids),
        starts_at=series.starts_at,
        ends_at=series.ends_at,
        status=series.status,
        materialized_until=series.materialized_until,
        next_occurrences=upcoming,
        created_at=series.created_at,
    )


def _instant(value: str | None, zone: str, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_instant(value, zone)
    except TimeInputError as exc:
        raise Invalid(field, str(exc)) from exc


async def create(
    session: AsyncSession,
    workspace: Workspace,
    data: SeriesCreate,
    hub: ConnectorHub,
    settings: Settings,
    now: datetime | None = None,
) -> Series:
    now = now or utcnow()
    trigger(data.cron, data.timezone)
    channels = await posts.load_channels(session, workspace, data.channel_ids)
    template = data.template.model_dump(exclude={"media"})
    template["media"] = await posts.resolve_media(
        session, workspace, data.template.media, settings.effective_public_base_url, "template.media",
        hub.fetch_policy,
    )
    sample = _post_from(workspace, template, None)
    posts.validate_content(sample, channels, {}, hub, settings.media_dir)
    series = Series(
        workspace_id=workspace.id,
        name=data.name.strip(),
        cron=data.cron.strip(),
        timezone=data.timezone,
        template=template,
        channel_ids=list(data.channel_ids),
        starts_at=_instant(data.starts_at, data.timezone, "starts_at"),
        ends_at=_instant(data.ends_at, data.timezone, "ends_at"),
    )
    session.add(series)
    await session.flush()
    await materialize(session, series, now, settings.series_horizon_days)
    return series


def _post_from(workspace: Workspace, template: dict[str, Any], at: datetime | None, zone: str | None = None) -> Post:
    options = {k: template[k] for k in ("text_format", "link", "link_preview", "silent", "kind") if k in template}
    return Post(
        workspace_id=workspace.id,
        text=str(template.get("text", "")),
        media=list(template.get("media") or []),
        options=options,
        scheduled_at=at,
        order_at=at or utcnow(),
        timezone=zone,
    )


async def materialize(session: AsyncSession, series: Series, now: datetime, horizon_days: int) -> int:
    """Create the posts of the occurrences up to ``now + horizon`` that do not exist yet (idempotent)."""
    if series.status != "active":
        return 0
    until = now + timedelta(days=horizon_days)
    after = max(series.materialized_until or now, now)
    workspace = await session.get(Workspace, series.workspace_id)
    if workspace is None:
        return 0
    channels = await posts.load_channels(session, workspace, list(series.channel_ids))
    made = 0
    for at in occurrences(series, after, until):
        if await repo.occurrence_exists(session, series.id, at):
            continue
        post = _post_from(workspace, series.template, at, series.timezone)
        post.series_id, post.occurrence_at = series.id, at
        try:
            async with session.begin_nested():
                await posts.insert_post(session, post, channels, {})
        except IntegrityError:  # another worker made the same occurrence first
            continue
        made += 1
    series.materialized_until = until
    if series.ends_at is not None and series.ends_at <= now:
        series.status = "ended"
    await session.flush()
    return made


async def drop_backlog(session: AsyncSession, series: Series, now: datetime) -> int:
    """After a pause or downtime: keep only the latest overdue occurrence, cancel the older ones."""
    overdue = await repo.overdue_unsent(session, series.id, now)
    for post_id, _ in overdue[:-1]:
        await post_repo.set_targets(
            session,
            post_id,
            ("scheduled",),
            status="cancelled",
            next_attempt_at=None,
            last_error="skipped: a later occurrence of the series superseded it (a series never publishes a backlog)",
            updated_at=now,
        )
    return max(len(overdue) - 1, 0)


async def update(
    session: AsyncSession,
    workspace: Workspace,
    series_id: str,
    data: SeriesUpdate,
    settings: Settings,
    now: datetime | None = None,
) -> Series:
    now = now or utcnow()
    series = await get(session, workspace, series_id)
    if data.name is not None:
        series.name = data.name.strip()
    if "ends_at" in data.model_fields_set:
        series.ends_at = _instant(data.ends_at, series.timezone, "ends_at")
    if data.status == "paused" and series.status == "active":
        await _drop_future(session, series)
        series.status = "paused"
    elif data.status == "active" and series.status != "active":
        series.status, series.materialized_until = "active", None
        await materialize(session, series, now, settings.series_horizon_days)
    series.updated_at = now
    await session.flush()
    return series


async def _drop_future(session: AsyncSession, series: Series) -> None:
    """Materialised occurrences nobody sent yet are removed (they come back on resume, from then on)."""
    await repo.delete_posts(session, await repo.untouched_scheduled_posts(session, series.id))
    series.materialized_until = None


async def delete(session: AsyncSession, workspace: Workspace, series_id: str) -> None:
    series = await get(session, workspace, series_id)
    await _drop_future(session, series)
    await session.delete(series)
    await session.flush()


async def get(session: AsyncSession, workspace: Workspace, series_id: str) -> Series:
    series = await repo.get(session, workspace.id, series_id)
    if series is None:
        raise NotFound("Series")
    return series


async def run_all(session: AsyncSession, now: datetime, horizon_days: int) -> tuple[int, int]:
    """The periodic job: drop backlogs, then materialise every active series; returns (made, dropped)."""
    made = dropped = 0
    for series in await repo.active(session):
        dropped += await drop_backlog(session, series, now)
        try:
            made += await materialize(session, series, now, horizon_days)
        except Exception:  # one broken series (e.g. a deleted channel) must not stop the others
            log.exception("series.materialize.failed", extra={"series": series.id})
    return made, dropped
