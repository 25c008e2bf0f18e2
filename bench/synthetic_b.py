"""A second synthetic generator for the analyzer benchmark, written from the description in analyzer.md ("How to
measure it") and the issue, not from the model: other peak shapes (sharp commute-like hours with a cliff after them
and broad flat-topped plateaus), weekday-specific shifts, habit changes (the posting schedule moves 1–3 times),
a slow drift of the engagement rate, missing reach on some channels.

``make_channel_b(seed, n_posts, flat=...)`` returns the same ``Channel`` record as app.analytics.synthetic.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from app.analytics.grid import DAY, HOUR, N_CELLS, local_to_utc
from app.analytics.model import History
from app.analytics.synthetic import Channel

FloatArray = npt.NDArray[np.float64]
ZONES_B = ("Asia/Tokyo", "Europe/London", "America/Los_Angeles", "Asia/Kolkata", "Europe/Moscow",
           "America/Sao_Paulo", "Africa/Cairo")


def _peak(hours: FloatArray, centre: float, width: float, sharp: bool) -> FloatArray:
    """A daily peak on the 24 h circle: ``sharp`` = 1 h plateau with a cliff after it and a short ramp before;
    else a flat top of ``width`` hours with soft shoulders."""
    d = (hours - centre + 12.0) % 24.0 - 12.0  # signed distance, wrapping midnight
    if sharp:
        return np.where((d >= 0) & (d < 1.0), 1.0, np.where((d < 0) & (d > -1.5), 0.35 * (1 + d / 1.5), 0.0))
    half = width / 2
    return np.clip(1.0 - np.maximum(np.abs(d) - half, 0.0) / 1.5, 0.0, 1.0)


def make_truth_b(rng: np.random.Generator, *, flat: bool = False) -> FloatArray:
    if flat:
        return np.zeros(N_CELLS)
    ptt = float(rng.uniform(1.05, 1.5))
    hours = np.arange(24, dtype=np.float64)
    n_peaks = int(rng.integers(1, 4))
    g = np.zeros((7, 24))
    kinds = rng.random(n_peaks) < 0.5  # True = sharp
    centres = rng.uniform(0, 24, n_peaks)
    widths = rng.uniform(3, 6, n_peaks)
    amps = rng.uniform(0.3, 1.0, n_peaks)
    weekend_shift = float(rng.integers(0, 4))
    weekend_amp = rng.uniform(0.3, 1.6)
    for d in range(7):
        we = d >= 5
        for sharp, c, wdt, a in zip(kinds, centres, widths, amps, strict=True):
            g[d] += a * (weekend_amp if we else 1.0) * _peak(hours, c + (weekend_shift if we else 0.0), wdt,
                                                             bool(sharp))
    g += rng.uniform(-0.2, 0.2, 7)[:, None]  # some days better than others
    g = (g - g.min()) / max(float(g.max() - g.min()), 1e-9)
    return np.asarray(g.reshape(-1) * np.log(ptt), dtype=np.float64)


def _habit_probs(rng: np.random.Generator, truth: FloatArray) -> FloatArray:
    hour = np.arange(N_CELLS) % 24
    awake = np.where((hour >= 6) & (hour <= 23), 1.0, 0.05)
    bias = rng.uniform(0.0, 3.0)  # how strongly the channel is drawn to cells that work
    span = float(truth.max() - truth.min())
    pick = awake * np.exp(bias * (truth - truth.min()) / span if span > 0 else 0.0)
    n_habit = int(rng.integers(3, 6))
    habits = rng.choice(N_CELLS, n_habit, replace=False, p=pick / pick.sum())
    share = rng.uniform(0.7, 0.9)
    probs = (1 - share) * awake / awake.sum()
    probs[habits] += share * rng.dirichlet(np.ones(n_habit))
    return np.asarray(probs / probs.sum(), dtype=np.float64)


def make_channel_b(seed: int, n_posts: int, *, flat: bool = False) -> Channel:
    rng = np.random.default_rng(seed + 7_777_777)
    zone = str(rng.choice(ZONES_B))
    truth = make_truth_b(rng, flat=flat)
    n_regimes = int(rng.integers(2, 5))  # 1–3 habit changes
    bounds: npt.NDArray[np.int64] = (np.sort(rng.choice(np.arange(1, n_posts), n_regimes - 1, replace=False))
                                     if n_posts > n_regimes else np.zeros(0, dtype=np.int64))
    regime = np.searchsorted(bounds, np.arange(n_posts), side="right")
    cells = np.empty(n_posts, dtype=np.int64)
    first_habits = np.zeros(0, dtype=np.int64)
    for r in range(n_regimes):
        idx = np.nonzero(regime == r)[0]
        probs = _habit_probs(rng, truth)
        cells[idx] = rng.choice(N_CELLS, idx.size, p=probs)
        if r == 0:
            first_habits = np.argsort(-probs)[:5].astype(np.int64)
    per_week = rng.uniform(2.0, 20.0)
    weeks = np.floor(np.arange(n_posts) / per_week).astype(np.int64)
    start = datetime(int(rng.integers(2018, 2024)), 3, 1, tzinfo=UTC).timestamp()
    start -= ((np.floor(start / DAY) + 3) % 7) * DAY  # a Monday
    wall = start + weeks * 7 * DAY + (cells // 24) * DAY + (cells % 24) * HOUR + rng.uniform(0, HOUR, n_posts)
    t = local_to_utc(wall, zone)
    order = np.argsort(t, kind="stable")
    t, cells = t[order], cells[order]
    years = (t - t.min()) / (365.25 * DAY)
    followers = np.round(rng.uniform(500, 50_000) * np.exp(rng.uniform(-0.1, 0.8) * years))
    reach = np.round(followers * rng.uniform(0.05, 0.4) * rng.lognormal(0.0, 0.4, n_posts))
    drift = np.exp(rng.uniform(-0.3, 0.3) * years)  # the audience warms to or tires of the channel
    mean = reach * rng.uniform(0.01, 0.1) * drift * np.exp(truth[cells])
    size = rng.uniform(1.5, 8.0)
    inter = rng.negative_binomial(size, size / (size + mean))
    likes = rng.binomial(inter, 0.75)
    comments = rng.binomial(inter - likes, 0.5)
    shares = inter - likes - comments
    observed = rng.choice(["reach", "followers", "none"], p=[0.5, 0.3, 0.2])
    now = datetime.fromtimestamp(float(t.max()) + 5 * DAY, UTC)
    hist = History(posted_at=t, likes=likes.astype(np.float64), comments=comments.astype(np.float64),
                   shares=shares.astype(np.float64), reach=reach if observed == "reach" else None,
                   followers=followers if observed != "none" else None,
                   kind=np.array(["post"] * n_posts))
    ptt = 1.0 if flat else float(np.exp(truth.max() - truth.min()))
    return Channel(hist, zone, now, truth, ptt, first_habits, cells)
