"""The periodic job of the analyzer: pull engagement from every channel's platform."""

from __future__ import annotations

from app.analytics.sync import sync_all
from app.publishing.runner import Periodic, PeriodicJob, PublisherRunner


def _sync(runner: PublisherRunner) -> PeriodicJob:
    async def run() -> int:
        return await sync_all(runner)

    return run


# first run one interval after start; one process at a time across all workers
ENGAGEMENT_SYNC = Periodic("engagement-sync", lambda s: s.engagement_sync_interval, _sync, exclusive=True)
