"""Recurring series: a cron rule in an IANA zone, materialised as ordinary posts a horizon ahead.

The time rules (gaps, folds) are in :mod:`app.series.rules`, which also does every cron computation, bounded and
in a worker thread. What this module adds:

* no backlog: after a pause or a downtime only the latest missed occurrence may still go out (within
  ``SMM_MISSED_GRACE``); older ones are cancelled with a note, never published in a burst;
* no flood: one request or one run of the periodic job creates at most :data:`MAX_TARGETS_PER_RUN` targets
  (posts × channels) and :data:`MAX_OCCURRENCES_PER_RUN` posts per series; a rule whose horizon holds more
  targets than that is refused at creation with a 422 that says how many it would make;
* no loss: ``materialized_until`` advances only as far as posts were made; the next run continues from there;
* a rule that does not fire within :data:`~app.series.rules.FIRE_WITHIN_YEARS` years is refused at creation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import Invalid, NotFound
from app.models import Post, Series, Workspace
from app.platforms import ConnectorHub
from app.posts import repository as post_repo
from app.posts import service as posts
from app.publishing.wakeup import schedule_changed
from app.series import repository as repo
from app.series.rules import FIRE_WITHIN_YEARS, PREVIEW_DAYS, Rule, estimate_count, first_fire, occurrences, trigger
from app.series.schemas import SeriesCreate, SeriesOut, SeriesUpdate
from app.timeutil import TimeInputError, parse_instant, utcnow

log = logging.getLogger("smm.series")
MAX_OCCURRENCES_PER_RUN = 500
"""Posts one series gets per request or per run of the periodic job; the rest follow on the next runs."""
MAX_TARGETS_PER_RUN = 2000
"""Targets (occurrences × channels) one series gets per request or run; also the most a rule may make within the
horizon at creation."""


def rule_of(series: Series) -> Rule:
    return Rule(series.cron, series.timezone, series.starts_at, series.ends_at)


def per_run(channel_count: int) -> int:
    """Occurrences one run may make for a series on ``channel_count`` channels."""
    return max(1, min(MAX_OCCURRENCES_PER_RUN, MAX_TARGETS_PER_RUN // max(channel_count, 1)))


def to_out(series: Series, upcoming: Sequence[datetime] = ()) -> SeriesOut:
    """The series as answered; ``upcoming`` from :func:`upcoming_of` (computed off the event loop)."""
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
        next_occurrences=list(upcoming),
        created_at=series.created_at,
    )


async def to_out_many(rows: Sequence[Series], now: datetime | None = None) -> list[SeriesOut]:
    """Every series with its next five occurrences (one worker-thread trip for the whole page)."""
    now = now or utcnow()
    rules = [rule_of(s) if s.status == "active" else None for s in rows]

    def compute() -> list[list[datetime]]:
        return [occurrences(r, now, now + timedelta(days=PREVIEW_DAYS), 5) if r else [] for r in rules]

    upcoming = await asyncio.to_thread(compute)
    return [to_out(s, u) for s, u in zip(rows, upcoming, strict=True)]


async def answer(series: Series) -> SeriesOut:
    return (await to_out_many([series]))[0]


def _instant(value: str | None, zone: str, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_instant(value, zone)
    except TimeInputError as exc:
        raise Invalid(field, str(exc)) from exc


async def check_rule(rule: Rule, channel_count: int, now: datetime, horizon_days: int) -> None:
    """Refuse (422) a rule that cannot fire within the years ahead or floods the horizon with targets."""
    until = now + timedelta(days=horizon_days)
    cap = MAX_TARGETS_PER_RUN // max(channel_count, 1)

    def compute() -> tuple[datetime | None, int, int | None]:
        fire = first_fire(rule, now)
        within = len(occurrences(rule, now, until, cap + 1)) if fire is not None else 0
        estimate = estimate_count(rule, now, until) if within > cap else None
        return fire, within, estimate

    fire, within, estimate = await asyncio.to_thread(compute)
    if fire is None:
        raise Invalid("cron", f"'{rule.cron}' does not fire in the next {FIRE_WITHIN_YEARS} years"
                              f"{' after starts_at' if rule.starts_at and rule.starts_at > now else ''} "
                              f"in {rule.timezone}: check the day-of-month, month and weekday fields (a day "
                              "and a weekday must both match, e.g. '0 0 30 2 *' asks for 30 February).")
    if estimate is not None:
        made = max(estimate, within)
        channels = f"{channel_count:,} channel{'s' if channel_count != 1 else ''}"
        raise Invalid("cron", f"this rule makes {made:,} posts in the next {horizon_days} days on {channels} "
                              f"({made * channel_count:,} posts × channels); the limit is "
                              f"{MAX_TARGETS_PER_RUN:,} posts × channels within {horizon_days} days: choose a "
                              "sparser rule or fewer channels.")


async def create(
    session: AsyncSession,
    workspace: Workspace,
    data: SeriesCreate,
    hub: ConnectorHub,
    settings: Settings,
    now: datetime | None = None,
) -> Series:
    """A new series, checked (rule, limits, content on every channel), with its first horizon materialised."""
    now = now or utcnow()
    trigger(data.cron, data.timezone)
    starts_at = _instant(data.starts_at, data.timezone, "starts_at")
    ends_at = _instant(data.ends_at, data.timezone, "ends_at")
    if starts_at and ends_at and ends_at <= starts_at:
        raise Invalid("ends_at", "ends_at must be after starts_at")
    channels = await posts.load_channels(session, workspace, data.channel_ids)
    await check_rule(Rule(data.cron.strip(), data.timezone, starts_at, ends_at), len(data.channel_ids), now,
                     settings.series_horizon_days)
    template = data.template.model_dump(exclude={"media"})
    template["media"] = await posts.resolve_media(
        session, workspace, data.template.media, settings.effective_public_base_url, "template.media",
        hub.fetch_policy,
    )
    sample = _post_from(workspace, template, None)
    await posts.validate_content(sample, channels, {}, hub, settings.media_dir)
    series = Series(
        workspace_id=workspace.id,
        name=data.name.strip(),
        cron=data.cron.strip(),
        timezone=data.timezone,
        template=template,
        channel_ids=list(data.channel_ids),
        starts_at=starts_at,
        ends_at=ends_at,
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
    """Create the posts of the occurrences up to ``now + horizon`` that do not exist yet (idempotent).

    At most :func:`per_run` occurrences per call; ``materialized_until`` then stops at the last one made, so the
    next run continues there instead of skipping the rest."""
    if series.status != "active":
        return 0
    until = now + timedelta(days=horizon_days)
    after = max(series.materialized_until or now, now)
    workspace = await session.get(Workspace, series.workspace_id)
    if workspace is None:
        return 0
    channels = await posts.load_channels(session, workspace, list(series.channel_ids))
    limit = per_run(len(channels))
    found = await asyncio.to_thread(occurrences, rule_of(series), after, until, limit)
    made = 0
    for at in found:
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
    reached = found[-1] if len(found) >= limit else until
    if series.materialized_until is None or reached > series.materialized_until:
        series.materialized_until = reached
    if len(found) >= limit:
        log.info("series.materialize.capped", extra={"series": series.id, "occurrences": len(found),
                                                     "until": reached.isoformat()})
    if series.ends_at is not None and series.ends_at <= now:
        series.status = "ended"
    await session.flush()
    if made:
        await schedule_changed(session)  # outside the savepoints above: a NOTIFY inside one would go with it
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
