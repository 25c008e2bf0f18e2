"""The analyzer's operations: import history, fit a channel (with a prior, cached), answer best slots and
heatmaps, and read a competitor's audience.

Priors, first found wins: a prior a person saved for the channel (a competitor applied to it), one saved for the
workspace and platform, the channel's Instagram audience-online curve (saved by the sync), the pooled fits of the
workspace's other channels of the same platform. Fits run in a worker thread and are cached in-process by the history's
(count, latest update), the prior and the day.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession
from threadpoolctl import threadpool_limits

from app.analytics import repository as repo
from app.analytics.explain import plural
from app.analytics.importer import parse_csv
from app.analytics.model import Fit, History, Prior, fit, prior_from_audience_online, prior_from_fits
from app.analytics.schemas import CommunityIn
from app.channels import repository as channel_repo
from app.channels import service as channel_service
from app.errors import ApiError, Invalid, NotFound
from app.models import AnalyzerPrior, Channel, Workspace
from app.platforms import ConnectorHub
from app.security import CredentialBox
from app.timeutil import TimeInputError, get_zone, utcnow
from connectors.base import Credentials, EngagementRecord
from connectors.errors import AuthError, ConnectorError, PermanentError

log = logging.getLogger("smm.analytics")

CACHE_SIZE = 256
MIN_SIBLING_POSTS = 20
"""A sibling channel joins the pooled prior once its fit uses at least this many posts."""
COMMUNITY_DAYS = 365
ONLINE_SOURCE = "online_followers"
"""Source of the audience-online prior the sync saves (Instagram ``online_followers``)."""
NO_HISTORY = ("No engagement history yet: import a CSV export (POST /api/v1/channels/{id}/engagement or "
              "`smm engagement import`) or pull it from the platform (POST /api/v1/channels/{id}/engagement/sync). "
              "Until then there is nothing to rank hours by.")

_fits: OrderedDict[tuple[Any, ...], Fit] = OrderedDict()


@dataclass
class ChannelFit:
    """A channel's fit, what it was shrunk toward, and whether any history is stored at all."""

    fit: Fit
    prior: str | None
    stored: int


# ---------------------------------------------------------------- history in


async def import_csv(
    session: AsyncSession, workspace: Workspace, channel_id: str, data: bytes, *,
    now: datetime | None = None, progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Import an engagement CSV into a channel's history; ``progress(done, total)`` after every chunk."""
    now = now or utcnow()
    channel = await channel_service.get(session, workspace, channel_id)
    parsed = await asyncio.to_thread(parse_csv, data, now)  # ~1 s of CPU at the row limit: off the event loop
    total, done = len(parsed.rows), 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    if progress is not None:
        progress(0, total)
    counts = await repo.upsert_posts(session, channel.id, parsed.rows, source="import", now=now, progress=step)
    log.info("analytics.import.done", extra={"channel_id": channel.id, "rows": total,
                                             "inserted": counts.inserted, "errors": parsed.error_count})
    return {"imported": counts.inserted, "skipped": parsed.error_count, "errors": parsed.errors,
            "updated": counts.updated, "unchanged": counts.unchanged, "rows": total + parsed.error_count,
            "ignored_columns": parsed.ignored_columns,
            "errors_truncated": parsed.error_count > len(parsed.errors)}


# ---------------------------------------------------------------- fitting


def history_from_records(records: list[EngagementRecord]) -> History:
    """A ``History`` from connector records (competitor walls, business discovery)."""
    def col(name: str) -> np.ndarray:
        return np.array([getattr(r, name) for r in records], dtype=np.float64)

    return History(posted_at=np.array([r.posted_at.timestamp() for r in records], dtype=np.float64),
                   likes=col("likes"), comments=col("comments"), shares=col("shares"), views=col("views"),
                   reach=col("reach"), followers=col("followers"),
                   kind=np.array([r.kind for r in records], dtype=object)
                   if any(r.kind is not None for r in records) else None)


_blas_limited = False


def single_threaded_blas() -> None:
    """Limit BLAS to one thread, once per process, before the first fit.

    Fits run in worker threads beside the event loop; OpenBLAS's own thread pool spin-waits between calls, so on a
    shared 2-core host a 2,000-post fit took 10 s instead of 0.26 s and kept the loop from answering /healthz for
    up to a second (bench/stalls.py). One thread per fit is also what a server serving many requests wants."""
    global _blas_limited
    if not _blas_limited:
        threadpool_limits(limits=1, user_api="blas")
        _blas_limited = True


async def fit_off_loop(history: History, tz: str, now: datetime, prior: Prior | None = None) -> Fit:
    """``model.fit`` in a worker thread (single-threaded BLAS): the event loop keeps serving meanwhile."""
    single_threaded_blas()
    return await asyncio.to_thread(fit, history, tz, now=now, prior=prior)


async def _cached_fit(key: tuple[Any, ...], history: Callable[[], Any], tz: str, now: datetime,
                      prior: Prior | None) -> Fit:
    if (hit := _fits.get(key)) is not None:
        _fits.move_to_end(key)
        return hit
    result = await fit_off_loop(await history(), tz, now, prior)
    _fits[key] = result
    while len(_fits) > CACHE_SIZE:
        _fits.popitem(last=False)
    return result


def _prior_key(prior: Prior | None) -> str:
    if prior is None:
        return ""
    return hashlib.blake2b(prior.mean.tobytes() + prior.var.tobytes(), digest_size=12).hexdigest()


async def _fit_channel(session: AsyncSession, channel: Channel, now: datetime, prior: Prior | None
                       ) -> tuple[Fit, int]:
    count, latest = await repo.history_stamp(session, channel.id)

    async def load() -> History:
        cols = await repo.history_columns(session, channel.id)
        kinds = cols.pop("kind")
        # without any known kind, the fit needs no content-type column at all
        return History(**cols, kind=kinds if any(k is not None for k in kinds) else None)

    key = (channel.id, channel.timezone, count, latest, _prior_key(prior), now.date())
    return await _cached_fit(key, load, channel.timezone, now, prior), count


def _saved_prior(saved: AnalyzerPrior, channel: Channel, now: datetime) -> Prior | None:
    cells = saved.cells or {}
    try:
        if cells.get("by_hour_utc"):
            return prior_from_audience_online(cells["by_hour_utc"], channel.timezone, at=now)
        return Prior(mean=np.asarray(cells["mean"], dtype=np.float64), var=np.asarray(cells["var"], dtype=np.float64))
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("analytics.prior.unusable", extra={"prior_id": saved.id, "error": str(exc)})
        return None


async def prior_for(session: AsyncSession, channel: Channel, now: datetime) -> tuple[Prior | None, str | None]:
    """The prior a channel's fit shrinks toward, and a short name of it (see the module docstring)."""
    saved = await repo.find_prior(session, channel.workspace_id, channel.platform, channel.id, ONLINE_SOURCE)
    if saved is not None and (prior := _saved_prior(saved, channel, now)) is not None:
        scope = "this channel" if saved.channel_id else f"the workspace's {channel.platform} channels"
        return prior, f"{saved.name} ({saved.source}, saved for {scope})"
    fits = []
    for sibling in await repo.sibling_channels(session, channel.workspace_id, channel.platform, channel.id):
        sibling_fit, _ = await _fit_channel(session, sibling, now, None)
        if sibling_fit.posts_used >= MIN_SIBLING_POSTS:
            fits.append(sibling_fit)
    if fits:
        return prior_from_fits(fits), f"pooled from {len(fits)} other {channel.platform} channel(s) of the workspace"
    return None, None


async def channel_fit(session: AsyncSession, channel: Channel, now: datetime | None = None) -> ChannelFit:
    """Fit one channel's stored history with its prior (cached)."""
    now = now or utcnow()
    prior, name = await prior_for(session, channel, now)
    result, stored = await _fit_channel(session, channel, now, prior)
    return ChannelFit(result, name, stored)


# ---------------------------------------------------------------- answers


def _answer(cf: ChannelFit, channel_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {"timezone": cf.fit.timezone, "effect_detected": cf.fit.effect_detected,
                           "posts_used": cf.fit.posts_used, "explanation": cf.fit.explanation,
                           "prior": cf.prior, "has_history": cf.stored > 0}
    if cf.stored == 0:
        out["explanation"] = NO_HISTORY.replace("{id}", channel_id) + (
            f" The hours shown come from the prior only: {cf.prior}." if cf.prior else "")
    elif cf.stored > cf.fit.posts_used:
        skipped = cf.stored - cf.fit.posts_used
        out["explanation"] += (f" {plural(cf.fit.posts_used, 'post').capitalize()} of the {cf.stored} stored "
                               f"{'was' if cf.fit.posts_used == 1 else 'were'} analysed; the other {skipped} "
                               f"{'is' if skipped == 1 else 'are'} younger than 3 days, lack engagement numbers, or "
                               "serve as the baseline (without reach or followers a post is compared with the "
                               "median of the ones before it, so the first 3 only set that baseline).")
    return out


def ranked_slots(cf: ChannelFit, count: int) -> list[dict[str, Any]]:
    """Best slots of a fit; none when there is neither usable history nor a prior (nothing to rank)."""
    if cf.fit.posts_used == 0 and cf.prior is None:
        return []
    return [s.to_dict() for s in cf.fit.best_slots(count)]


async def _channel(session: AsyncSession, workspace: Workspace, channel: Channel | str) -> Channel:
    if isinstance(channel, Channel):
        if channel.workspace_id != workspace.id or channel.deleted_at is not None:
            raise NotFound("Channel")
        return channel
    return await channel_service.get(session, workspace, channel)


async def best_slots(session: AsyncSession, workspace: Workspace, channel: Channel | str, count: int = 5, *,
                     explore: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """The best-slots answer of the contract (``exploration`` added when ``explore``)."""
    ch = await _channel(session, workspace, channel)
    cf = await channel_fit(session, ch, now)
    out = _answer(cf, ch.id)
    out["slots"] = ranked_slots(cf, count)
    if explore:
        out["exploration"] = [s.to_dict() for s in cf.fit.exploration(3)] if out["slots"] else []
    return out


async def heatmap(session: AsyncSession, workspace: Workspace, channel: Channel | str) -> dict[str, Any]:
    """All 168 cells (Monday 0 h first) plus the top 5 ``slots``, ``effect_detected``, ``posts_used`` and
    ``explanation``: the API's heatmap and the web UI's view. ``ApiError`` (404) for a foreign channel."""
    ch = await _channel(session, workspace, channel)
    cf = await channel_fit(session, ch)
    out = _answer(cf, ch.id)
    out["cells"] = [s.to_dict() for s in cf.fit.heatmap()]
    out["slots"] = ranked_slots(cf, 5)
    return out


# ---------------------------------------------------------------- competitor audiences


async def platform_error(session: AsyncSession, channel: Channel, exc: ConnectorError) -> ApiError:
    """The API error for a connector failure, in the platform's words; a rejected token marks the channel."""
    name = channel.platform.capitalize() if channel.platform != "vk" else "VK"
    if isinstance(exc, AuthError):
        await channel_repo.set_status(session, channel.id, "needs_reauth", exc.message)
        await session.flush()
        return ApiError(422, f"{name} rejected the token of channel '{channel.name}': {exc.message} "
                             "The channel now needs re-authorisation.")
    if isinstance(exc, PermanentError):
        return ApiError(422, f"{name} refused: {exc.message}")
    return ApiError(502, f"{name} did not answer usefully, try again later: {exc.message}")


async def _reader(session: AsyncSession, workspace: Workspace, data: CommunityIn) -> Channel:
    if data.channel_id:
        channel = await channel_service.get(session, workspace, data.channel_id)
        if channel.platform != data.platform:
            raise Invalid("channel_id", f"channel '{channel.name}' is a {channel.platform} channel, "
                                        f"not {data.platform}")
        return channel
    first = await repo.first_active_channel(session, workspace.id, data.platform)
    if first is None:
        raise ApiError(422, f"The workspace has no active {data.platform} channel whose token could read "
                            f"{'the community' if data.platform == 'vk' else 'the account'}; connect one "
                            "(POST /api/v1/channels) or pass channel_id.")
    return first


async def analyze_community(session: AsyncSession, workspace: Workspace, data: CommunityIn, hub: ConnectorHub,
                            box: CredentialBox, now: datetime | None = None) -> dict[str, Any]:
    """Fit a competitor's public posts; optionally save the result as a prior for later fits."""
    now = now or utcnow()
    reader = await _reader(session, workspace, data)
    tz = data.timezone or reader.timezone
    try:
        get_zone(tz)
    except TimeInputError as exc:
        raise Invalid("timezone", str(exc)) from exc
    target = (data.community or "").strip() if data.platform == "vk" else (data.username or "").strip().lstrip("@")
    apply_to = await channel_service.get(session, workspace, data.apply_to_channel_id) \
        if data.apply_to_channel_id else None
    connector: Any = hub.get(reader.platform, reader.sandbox)
    creds = Credentials(box.open(reader.credentials_sealed))
    try:
        if data.platform == "vk":
            records = await connector.fetch_public_wall(creds, target, now - timedelta(days=COMMUNITY_DAYS))
        else:
            records = await connector.fetch_business_discovery(creds, target)
    except ConnectorError as exc:
        raise await platform_error(session, reader, exc) from exc
    source = f"{data.platform}:{target}"
    result = await fit_off_loop(history_from_records(records), tz, now)
    out: dict[str, Any] = result.to_dict(data.count)
    out.update(source=source, posts_read=len(records), prior=None, has_history=bool(records), prior_id=None)
    if not records:
        out["slots"] = []
        out["explanation"] = f"No public posts of {target} could be read in the last {COMMUNITY_DAYS} days."
    if data.save_as_prior:
        if result.posts_used == 0:
            raise ApiError(422, f"Nothing to save as a prior: no usable posts of {target} (they need engagement "
                                "numbers and to be a few days old).")
        pooled = prior_from_fits([result])
        saved = await repo.replace_prior(session, AnalyzerPrior(
            workspace_id=workspace.id, platform=None if apply_to else data.platform,
            channel_id=apply_to.id if apply_to else None, name=target, source=source,
            cells={"mean": pooled.mean.tolist(), "var": pooled.var.tolist(), "timezone": tz,
                   "posts": result.posts_used, "effect_detected": result.effect_detected},
        ))
        out["prior_id"] = saved.id
    return out
