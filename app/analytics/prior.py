"""Priors on the 168 weekday×hour slot effects: pooled from other channels' fits or shaped by audience-online data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from app.analytics.grid import N_CELLS, utc_offsets

if TYPE_CHECKING:
    from app.analytics.model import Fit

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Prior:
    """Prior slot effects on the log scale: ``mean[c]`` and ``var[c]`` for cell ``c = weekday * 24 + hour``.

    Only differences between cells matter (a constant shift is absorbed by the account mean).
    """

    mean: FloatArray
    var: FloatArray

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=np.float64)
        var = np.asarray(self.var, dtype=np.float64)
        if mean.shape != (N_CELLS,) or var.shape != (N_CELLS,):
            raise ValueError("a prior needs 168 means and 168 variances")
        if not (np.all(np.isfinite(mean)) and np.all(var >= 0)):
            raise ValueError("prior means must be finite and variances non-negative")
        object.__setattr__(self, "mean", mean - mean.mean())
        object.__setattr__(self, "var", var)


def prior_from_fits(fits: Sequence[Fit], *, floor_sd: float = 0.03) -> Prior:
    """Pool the slot scores of other channels (e.g. the workspace's channels of the same platform).

    Scores are taken in each channel's own local time (audiences keep local hours). The variance is the
    between-channel spread beyond each fit's own uncertainty, plus the uncertainty of the pooled mean.
    """
    if not fits:
        raise ValueError("prior_from_fits needs at least one fit")
    scores = np.stack([f.score - f.score.mean() for f in fits])
    within = np.stack([f.score_var for f in fits]).mean(axis=0)
    k = len(fits)
    mean = scores.mean(axis=0)
    if k >= 2:
        between = np.maximum(scores.var(axis=0, ddof=1) - within, 0.0)
        var = between * (1.0 + 1.0 / k) + within / k
    else:
        var = within.copy()
    return Prior(mean=mean, var=var + floor_sd**2)


def prior_from_audience_online(
    by_hour_utc: Sequence[float],
    tz: str,
    *,
    at: datetime | None = None,
    elasticity: float = 0.5,
    sd: float = 0.05,
) -> Prior:
    """A prior from an audience-online curve (24 values by UTC hour, e.g. Instagram ``online_followers``).

    The curve is moved to the channel's local hours (offset at ``at``, default now; fractional offsets are
    interpolated) and turned into log effects ``elasticity × log(online / mean online)``: more people online
    does not mean proportionally more engagement, hence the elasticity < 1 and a generous variance.
    """
    a = np.asarray(by_hour_utc, dtype=np.float64)
    if a.shape != (24,) or not np.all(np.isfinite(a)):
        raise ValueError("by_hour_utc needs 24 finite values")
    a = np.maximum(a, 1e-9 + 1e-3 * max(float(a.max()), 0.0))
    when = (at or datetime.now(UTC)).timestamp()
    offset_h = float(utc_offsets(np.array([when]), tz)[0]) / 3600.0
    utc_hour = (np.arange(24) + 0.5 - offset_h) % 24.0  # local hour h ↔ UTC hour h − offset
    centres = np.arange(24) + 0.5
    log_a = np.log(a / a.mean())
    local = np.interp(utc_hour, centres, log_a, period=24.0)
    eff = elasticity * local
    mean = np.tile(eff, 7)
    var = np.full(N_CELLS, sd**2) + (0.5 * mean) ** 2
    return Prior(mean=mean, var=var)
