"""Post operations: create (validated against every target's platform), read, edit, cancel, retry."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import repository as channel_repo
from app.config import Settings
from app.errors import ApiError, Conflict, Invalid, NotFound
from app.models import Attempt, Channel, MediaFile, Post, Target, Workspace
from app.models.base import new_id
from app.models.statuses import CANCELLABLE, RETRYABLE, TargetStatus
from app.platforms import ConnectorHub
from app.posts import repository as repo
from app.posts.content import build_content, summarise
from app.posts.schemas import MediaIn, OverrideIn, PostCreate, PostOut, PostUpdate, TargetOut
from app.publishing.wakeup import schedule_changed
from app.rubrics import service as rubrics
from app.timeutil import TimeInputError, get_zone, how_long, parse_instant, utcnow
from connectors.base import Connector, PostContent, Problem
from connectors.fetch import FetchPolicy, FetchRefused, check_url

PAST_TOLERANCE = timedelta(seconds=60)
EDITABLE = ("draft", "scheduled")


def parse_schedule(value: str | None, zone: str | None, now: datetime, field: str = "scheduled_at") -> datetime | None:
    """``None`` (a draft), ``"now"``, or a time per the contract; a time over a minute in the past is refused."""
    if zone is not None:
        try:
            get_zone(zone)
        except TimeInputError as exc:
            raise Invalid("timezone", str(exc)) from exc
    if value is None:
        return None
    if value.strip().lower() == "now":
        return now
    try:
        at = parse_instant(value, zone)
    except TimeInputError as exc:
        raise Invalid(field, str(exc)) from exc
    if at < now - PAST_TOLERANCE:
        raise Invalid(
            field,
            f"{value} is in the past ({how_long((now - at).total_seconds())} ago); "
            'pick a future time, or "now" to publish at once.',
        )
    return at


async def resolve_media(
    session: AsyncSession, workspace: Workspace, items: Sequence[MediaIn], public_base: str, field: str,
    policy: FetchPolicy,
) -> list[dict[str, Any]]:
    """The stored form of ``items``: uploads looked up in the workspace, URLs checked against ``policy`` (a URL
    that points to a private address is a 422 naming ``<field>[i].url``)."""
    await _check_urls(items, policy, field)
    out: list[dict[str, Any]] = []
    for i, m in enumerate(items):
        entry: dict[str, Any] = {"kind": m.kind}
        if m.alt_text:
            entry["alt_text"] = m.alt_text
        if m.media_id is not None:
            stmt = select(MediaFile).where(MediaFile.id == m.media_id, MediaFile.workspace_id == workspace.id)
            file = (await session.execute(stmt)).scalar_one_or_none()
            if file is None:
                raise Invalid(f"{field}[{i}].media_id", f"no uploaded file with id {m.media_id}")
            entry.update(
                media_id=file.id, filename=file.filename, mime_type=file.mime_type,
                url=f"{public_base}/media/{file.id}/{file.filename}",
            )
        else:
            entry["url"] = m.url
            if m.mime_type:
                entry["mime_type"] = m.mime_type
        out.append(entry)
    return out


async def _check_urls(items: Sequence[MediaIn], policy: FetchPolicy, field: str) -> None:
    """Check every media URL at once (each waits at most a second for DNS, so the list costs about one)."""
    urls = [(i, m.url) for i, m in enumerate(items) if m.url is not None]
    results = await asyncio.gather(*(check_url(url, policy=policy) for _, url in urls), return_exceptions=True)
    for (i, _), result in zip(urls, results, strict=True):
        if isinstance(result, FetchRefused):
            raise Invalid(f"{field}[{i}].url", result.reason)
        if isinstance(result, BaseException):
            raise result


async def _overrides(
    session: AsyncSession, workspace: Workspace, overrides: dict[str, OverrideIn], channel_ids: Sequence[str],
    public_base: str, policy: FetchPolicy,
) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for cid, ov in overrides.items():
        if cid not in channel_ids:
            raise Invalid(f"overrides.{cid}", "this channel is not one of the post's channel_ids")
        entry: dict[str, Any] = {}
        if ov.text is not None:
            entry["text"] = ov.text
        if ov.media is not None:
            entry["media"] = await resolve_media(session, workspace, ov.media, public_base, f"overrides.{cid}.media",
                                                 policy)
        result[cid] = entry
    return result


async def validate_content(
    post: Post, channels: Sequence[Channel], overrides: dict[str, dict[str, Any]], hub: ConnectorHub, media_dir: Path,
    *, workspace: Workspace | None = None, public_base: str = "", rubric: str | None = None,
) -> None:
    """Refuse now what a platform would refuse at 3 a.m.: every problem, named by channel and rule.

    The platforms' checks run in a worker thread: a 100,000-character HTML text takes ~0.1 s to check, and a body
    holds up to ten distinct ones (overrides), which would otherwise hold the event loop for a second."""
    checks = [_ContentCheck(ch.id, ch.name, ch.platform, ch.sandbox, hub.get(ch.platform, ch.sandbox),
                            build_content(post.text, post.media, post.options, overrides.get(ch.id), media_dir))
              for ch in channels]
    if workspace is not None:  # what the platform will receive: the links tagged as at send time (app.links)
        from app.links.service import outgoing_checked

        checks = [replace(c, content=outgoing_checked(c.content, post, ch, workspace, public_base, rubric))
                  for c, ch in zip(checks, channels, strict=True)]
    errors = await asyncio.to_thread(_content_problems, checks)
    if errors:
        detail = "; ".join(f"{e['platform']} channel '{e['channel']}': {e['message']}" for e in errors)
        raise ApiError(422, detail, errors)


@dataclass(frozen=True)
class _ContentCheck:
    """One channel's content and its platform's connector: plain values, safe in a worker thread."""

    channel_id: str
    channel: str
    platform: str
    sandbox: bool
    connector: Connector
    content: PostContent


def _content_problems(checks: Sequence[_ContentCheck]) -> list[dict[str, str]]:
    """Every problem of every check (pure: runs in a worker thread); one content on one platform is checked once."""
    errors: list[dict[str, str]] = []
    seen: dict[Any, list[Problem]] = {}  # 100 channels of one platform check one 100,000-character text once
    for check in checks:
        try:
            problems = seen.get(key := (check.platform, check.sandbox, check.content))
        except TypeError:  # content holding something unhashable: check it on its own
            key, problems = None, None
        if problems is None:
            problems = check.connector.validate(check.content)
            if key is not None:
                seen[key] = problems
        errors.extend({"field": p.field, "message": p.message, "rule": p.rule, "channel_id": check.channel_id,
                       "channel": check.channel, "platform": check.platform} for p in problems)
    return errors


async def load_channels(session: AsyncSession, workspace: Workspace, ids: Sequence[str]) -> list[Channel]:
    found = await channel_repo.get_many(session, workspace.id, list(ids))
    missing = [cid for cid in ids if cid not in found]
    if missing:
        raise ApiError(422, f"channel_ids: unknown channel id(s): {', '.join(missing)}",
                       [{"field": "channel_ids", "message": f"unknown channel {cid}"} for cid in missing])
    disabled = [found[cid].name for cid in ids if found[cid].status == "disabled"]
    if disabled:
        raise Invalid("channel_ids", f"channel(s) disabled: {', '.join(disabled)}; enable them first")
    return [found[cid] for cid in ids]


OPTION_FIELDS = {"text_format", "link", "link_preview", "silent", "kind"}  # PostCreate fields kept in posts.options


async def create(
    session: AsyncSession, workspace: Workspace, data: PostCreate, hub: ConnectorHub, settings: Settings, *,
    now: datetime | None = None,
) -> Post:
    """Validate and store a post with one target per channel; ``scheduled_at="auto"`` asks the analyzer."""
    now = now or utcnow()
    public_base, media_dir = settings.effective_public_base_url, settings.media_dir
    channels = await load_channels(session, workspace, data.channel_ids)
    auto = (data.scheduled_at or "").strip().lower() == "auto"
    scheduled_at = None if auto else parse_schedule(data.scheduled_at, data.timezone, now)
    media = await resolve_media(session, workspace, data.media, public_base, "media", hub.fetch_policy)
    overrides = await _overrides(session, workspace, data.overrides, data.channel_ids, public_base, hub.fetch_policy)
    post = Post(
        workspace_id=workspace.id, text=data.text, media=media,
        options={**data.model_dump(include=OPTION_FIELDS), **({"utm": data.utm} if data.utm else {})},
        scheduled_at=scheduled_at, timezone=data.timezone, order_at=scheduled_at or now,
        priority=data.priority,
    )
    await validate_content(post, channels, overrides, hub, media_dir, workspace=workspace, public_base=public_base,
                           rubric=data.rubric)
    if auto:
        from app.plan.service import auto_schedule  # the analyzer's slot finder

        not_before = parse_schedule(data.not_before, data.timezone, now, "not_before") if data.not_before else now
        post.scheduled_at = await auto_schedule(session, workspace, channels, max(not_before or now, now),
                                                spacing=settings.min_post_spacing)
        post.order_at = post.scheduled_at
    # last: a refused post must leave no new rubric behind (the web form commits its upload after a refusal)
    post.rubric = await rubrics.resolve(session, workspace, data.rubric)
    await insert_post(session, post, channels, overrides)
    if post.scheduled_at is not None:
        await schedule_changed(session)
    return post


async def insert_post(
    session: AsyncSession, post: Post, channels: Sequence[Channel], overrides: dict[str, dict[str, Any]]
) -> None:
    """Store a validated post and one target per channel (scheduled, or draft without a time)."""
    stage_post(session, post, channels, overrides)
    await session.flush()


def stage_post(
    session: AsyncSession, post: Post, channels: Sequence[Channel], overrides: dict[str, dict[str, Any]]
) -> list[Target]:
    """:func:`insert_post` without the flush (a bulk load flushes thousands at once); returns the targets."""
    post.id = post.id or new_id()  # known up front: the post and its targets go in one flush
    post.order_at = post.order_at or post.scheduled_at or utcnow()  # its targets carry a copy (the calendar key)
    session.add(post)
    status = "scheduled" if post.scheduled_at is not None else "draft"
    targets = [Target(post_id=post.id, channel_id=ch.id, order_at=post.order_at, status=status,
                      overrides=overrides.get(ch.id, {}), next_attempt_at=post.scheduled_at) for ch in channels]
    session.add_all(targets)
    return targets


async def get(session: AsyncSession, workspace: Workspace, post_id: str) -> Post:
    post = await repo.get(session, workspace.id, post_id)
    if post is None:
        raise NotFound("Post")
    return post


def target_out(t: Any) -> TargetOut:
    """One target as answered: ``t`` is a row of ``repository.target_rows_of``."""
    return TargetOut(
        channel_id=t.channel_id, platform=t.platform, status=t.status,
        external_id=t.external_id, url=t.url, attempts=t.attempts, last_error=t.last_error,
        published_at=t.published_at, next_attempt_at=t.next_attempt_at if t.status == "scheduled" else None,
        late_by_s=t.late_by_s, late=t.late, prepared_at=t.prepared_at, prepare_error=t.prepare_error,
    )


async def to_out_many(session: AsyncSession, workspace: Workspace, posts: Sequence[Post]) -> list[PostOut]:
    targets = await repo.target_rows_of(session, [p.id for p in posts])
    out = []
    for p in posts:
        ts = targets[p.id]
        out.append(PostOut(
            id=p.id, status=summarise(t.status for t in ts), scheduled_at=p.scheduled_at, timezone=p.timezone,
            text=p.text, media=[_public_media(m) for m in p.media], options=p.options,
            overrides={t.channel_id: t.overrides for t in ts if t.overrides},
            priority=p.priority, rubric=p.rubric, series_id=p.series_id,
            created_at=p.created_at, updated_at=p.updated_at, targets=[target_out(t) for t in ts],
        ))
    return out


def _public_media(m: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in m.items() if k != "filename"}


async def to_out(session: AsyncSession, workspace: Workspace, post: Post) -> PostOut:
    return (await to_out_many(session, workspace, [post]))[0]


async def _lock_editable(session: AsyncSession, post: Post, now: datetime) -> list[Target]:
    """The post's targets, refusing with 409 once any has left draft/scheduled (a publisher claimed it)."""
    targets = (await repo.targets_of(session, [post.id]))[post.id]
    busy = [t for t in targets if t.status not in EDITABLE]
    if busy:
        states = sorted({t.status for t in busy})
        if "publishing" in states:
            raise Conflict("The post is already being published; it can no longer be edited or cancelled.")
        raise Conflict(f"The post can no longer be edited: a target is {', '.join(states)}.")
    # touch every target in one conditional statement: a claim that won the race shows as a short count
    if await repo.set_targets(session, post.id, EDITABLE, updated_at=now) != len(targets):
        raise Conflict("The post is already being published; it can no longer be edited or cancelled.")
    return targets


async def update(
    session: AsyncSession, workspace: Workspace, post_id: str, data: PostUpdate, hub: ConnectorHub, *,
    public_base: str, media_dir: Path, now: datetime | None = None, spacing: float = 7200.0,
) -> Post:
    """Change what ``data`` names while every target is draft or scheduled (409 otherwise). ``channel_ids``
    replaces the post's channels; ``scheduled_at: "auto"`` takes the best free slot (``spacing`` seconds from the
    channels' other posts), as at creation."""
    now = now or utcnow()
    post = await get(session, workspace, post_id)
    targets = await _lock_editable(session, post, now)
    fields = data.model_fields_set
    if data.channel_ids is not None:
        targets = await retarget(session, workspace, post, targets, data.channel_ids)
    if "text" in fields and data.text is not None:
        post.text = data.text
    if "media" in fields and data.media is not None:
        post.media = await resolve_media(session, workspace, data.media, public_base, "media", hub.fetch_policy)
    options = dict(post.options)
    for key in ("text_format", "link", "link_preview", "silent", "kind", "utm"):
        if key in fields and (getattr(data, key) is not None or key in ("link", "utm")):
            options[key] = getattr(data, key)
    post.options = options
    if data.priority is not None:
        post.priority = data.priority
    if "rubric" in fields:
        post.rubric = await rubrics.resolve(session, workspace, data.rubric)
    channel_ids = [t.channel_id for t in targets]
    if data.overrides is not None:
        ov = await _overrides(session, workspace, data.overrides, channel_ids, public_base, hub.fetch_policy)
        for t in targets:
            t.overrides = ov.get(t.channel_id, {})
    if "timezone" in fields:
        post.timezone = data.timezone
    if "scheduled_at" in fields:
        if (data.scheduled_at or "").strip().lower() == "auto":
            post.scheduled_at = await _best_slot(session, workspace, post, targets, now, spacing)
        else:
            post.scheduled_at = parse_schedule(data.scheduled_at, post.timezone, now)
        post.order_at = post.scheduled_at or post.created_at
        status = "scheduled" if post.scheduled_at is not None else "draft"
        for t in targets:  # every target of the post: targets.order_at is the calendar's copy of posts.order_at
            t.status, t.next_attempt_at, t.order_at = status, post.scheduled_at, post.order_at
    channels = await load_channels(session, workspace, channel_ids)
    await validate_content(post, channels, {t.channel_id: t.overrides for t in targets}, hub, media_dir,
                           workspace=workspace, public_base=public_base)
    post.updated_at = now
    await session.flush()
    if ("scheduled_at" in fields or data.channel_ids is not None) and post.scheduled_at is not None:
        await schedule_changed(session)  # a new channel's target is due as well
    return post


async def retarget(
    session: AsyncSession, workspace: Workspace, post: Post, targets: list[Target], channel_ids: Sequence[str]
) -> list[Target]:
    """Make ``channel_ids`` the post's channels: targets of the others are removed (with their attempt history:
    they were never sent), new ones added in the post's state. The caller holds the targets (draft/scheduled)."""
    await load_channels(session, workspace, channel_ids)  # unknown or disabled channels are refused
    wanted = set(channel_ids)
    gone = [t.id for t in targets if t.channel_id not in wanted]
    if gone:
        await session.execute(delete(Attempt).where(Attempt.target_id.in_(gone)))
        await session.execute(delete(Target).where(Target.id.in_(gone)))
    have = {t.channel_id for t in targets}
    status = "scheduled" if post.scheduled_at is not None else "draft"
    added = [Target(post_id=post.id, channel_id=cid, order_at=post.order_at, status=status, overrides={},
                    next_attempt_at=post.scheduled_at) for cid in channel_ids if cid not in have]
    session.add_all(added)
    await session.flush()
    by_channel = {t.channel_id: t for t in targets if t.channel_id in wanted} | {t.channel_id: t for t in added}
    return [by_channel[cid] for cid in channel_ids]


async def _best_slot(session: AsyncSession, workspace: Workspace, post: Post, targets: Sequence[Target],
                     now: datetime, spacing: float) -> datetime:
    """The analyzer's best free slot for the post's channels (its own current time does not count as busy)."""
    from app.plan.service import auto_schedule  # the analyzer's slot finder

    for t in targets:
        t.status, t.next_attempt_at = "draft", None
    await session.flush()
    channels = await load_channels(session, workspace, [t.channel_id for t in targets])
    return await auto_schedule(session, workspace, channels, now, spacing=spacing)


async def cancel(session: AsyncSession, workspace: Workspace, post_id: str, now: datetime | None = None) -> Post:
    now = now or utcnow()
    post = await get(session, workspace, post_id)
    targets = (await repo.targets_of(session, [post.id]))[post.id]
    if any(t.status == TargetStatus.PUBLISHING for t in targets):
        raise Conflict("The post is already being published; it can no longer be cancelled.")
    wanted = sum(1 for t in targets if t.status in CANCELLABLE)
    if wanted == 0:
        states = ", ".join(sorted({t.status for t in targets}))
        raise Conflict(f"Nothing left to cancel: the post is {states}.")
    if await repo.set_targets(session, post.id, CANCELLABLE, status=TargetStatus.CANCELLED, next_attempt_at=None,
                              updated_at=now) != wanted:
        raise Conflict("The post is already being published; it can no longer be cancelled.")
    post.cancelled_at = now
    post.updated_at = now
    await session.flush()
    return post


async def retry(session: AsyncSession, workspace: Workspace, post_id: str, now: datetime | None = None) -> Post:
    """A person decided: send the failed or needs_check targets again, now."""
    now = now or utcnow()
    post = await get(session, workspace, post_id)
    count = await repo.set_targets(
        session, post.id, RETRYABLE, status=TargetStatus.SCHEDULED, next_attempt_at=now, failures=0,
        last_error=None, error_code=None, checkpoint={}, lease_owner=None, lease_expires_at=None, updated_at=now,
    )
    if count == 0:
        raise Conflict("Nothing to retry: only failed or needs_check targets can be retried.")
    post.updated_at = now
    await session.flush()
    await schedule_changed(session)
    return post
