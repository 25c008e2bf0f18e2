"""The periodic job of recurring series: materialise occurrences ``SMM_SERIES_HORIZON_DAYS`` ahead."""

from __future__ import annotations

from app.db import session_scope
from app.publishing.runner import Periodic, PeriodicJob, PublisherRunner
from app.series import service


def _materialise(runner: PublisherRunner) -> PeriodicJob:
    async def job() -> None:
        async with session_scope(runner.maker) as session:
            await service.run_all(session, runner.clock(), runner.settings.series_horizon_days)

    return job


MATERIALISE_SERIES = Periodic("series", lambda s: 300.0, _materialise, run_at_start=True)
