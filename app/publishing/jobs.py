"""The periodic job of the publisher's preparation ahead (:mod:`app.publishing.prepare`)."""

from __future__ import annotations

from app.publishing.prepare import PREPARE_TICK_S, Preparer
from app.publishing.runner import Periodic, PeriodicJob, PublisherRunner


def _prepare(runner: PublisherRunner) -> PeriodicJob:
    preparer = Preparer(runner.settings, runner.maker, runner.hub, runner.box, runner.clock)
    return preparer.run_once


# exclusive: one process prepares at a time (two would upload the same photos twice)
PREPARE_MEDIA = Periodic("prepare-media", lambda s: PREPARE_TICK_S, _prepare, exclusive=True)
