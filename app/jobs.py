"""The periodic jobs every publisher runner runs, listed once here and handed to the runner by the
composition roots (``app.main.create_app``, ``app.worker.run_worker``): no registration by import."""

from __future__ import annotations

from app.analytics.jobs import ENGAGEMENT_SYNC
from app.connect.jobs import TOKEN_REFRESH
from app.publishing.jobs import PREPARE_MEDIA
from app.publishing.runner import Periodic
from app.series.jobs import MATERIALISE_SERIES

PERIODIC_JOBS: tuple[Periodic, ...] = (MATERIALISE_SERIES, ENGAGEMENT_SYNC, TOKEN_REFRESH, PREPARE_MEDIA)
