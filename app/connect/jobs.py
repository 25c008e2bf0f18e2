"""The periodic job of the sign-in flows: refresh Instagram Login tokens well before they expire."""

from __future__ import annotations

from app.connect.oauth import InstagramFlow
from app.connect.refresh import refresh_instagram_tokens
from app.publishing.runner import Periodic, PeriodicJob, PublisherRunner


def _refresh(runner: PublisherRunner) -> PeriodicJob:
    flow = InstagramFlow(runner.settings, runner.hub.client)

    async def run() -> int:
        return await refresh_instagram_tokens(runner.settings, runner.maker, runner.box, flow)

    return run


# first run one interval after start (not at start: a slow platform must not hold start-up; the 30-day margin
# leaves weeks of runs); one process at a time across all workers
TOKEN_REFRESH = Periodic("token-refresh", lambda s: s.token_refresh_interval, _refresh, exclusive=True)
