"""Synthetic channels with a known answer, shared by the tests and the benchmark (analyzer.md, "How to measure").

A true log response ``f`` over the 168 local weekday×hour cells (1–3 daily peaks, weekend modulation,
peak-to-trough 1.05–1.5, or flat), posting habits with selection bias (70–90% of posts in 3–5 habitual slots),
follower growth, reach tied to followers, content types with their own effect (videos favoured in one habitual
slot, a confounder), and negative-binomial interactions with mean reach × rate × exp(f + kind effect).
Everything is driven by one ``numpy`` Generator, so a seed reproduces a channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import numpy.typing as npt

from app.analytics.grid import DAY, HOUR, N_CELLS, local_to_utc
from app.analytics.model import History

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Observed = Literal["reach", "followers", "none"]

ZONES = ("Europe/Moscow", "Europe/Berlin", "America/New_York", "Asia/Bangkok", "UTC", "Australia/Sydney")
KINDS = ("photo", "video", "text")
KIND_EFFECT = np.array([0.0, 0.25, -0.2])


@dataclass(frozen=True)
class Channel:
    """One synthetic channel: its history, the truth ``f`` (168 log effects, local cells) and its settings."""

    history: History
    tz: str
    now: datetime
    truth: FloatArray
    peak_to_trough: float
    habit_cells: IntArray
    cells: IntArray  # local cell of each post (ground truth of the bucketing)


def make_truth(rng: np.random.Generator, *, flat: bool = False, peak_to_trough: float | None = None) -> FloatArray:
    """A true log response over the 168 cells with max − min = log(peak_to_trough) (0 if flat)."""
    if flat:
        return np.zeros(N_CELLS)
    ptt = float(peak_to_trough if peak_to_trough is not None else rng.uniform(1.05, 1.5))
    hours = np.arange(24) + 0.5
    n_peaks = int(rng.integers(1, 4))
    centres = rng.uniform(6.0, 23.5, n_peaks)
    kappas = rng.uniform(1.0, 6.0, n_peaks)
    amps = rng.uniform(0.4, 1.0, n_peaks)
    shift = rng.uniform(-1.5, 3.0)  # weekend peaks move (later mornings)
    we_amp = rng.uniform(0.5, 1.4)
    day_level = rng.normal(0.0, 0.15, 7)
    g = np.zeros((7, 24))
    for d in range(7):
        wk = d >= 5
        for c, k, a in zip(centres, kappas, amps, strict=True):
            mu = c + (shift if wk else 0.0)
            g[d] += (a * (we_amp if wk else 1.0)) * np.exp(k * (np.cos(2 * np.pi * (hours - mu) / 24) - 1))
        g[d] += day_level[d]
    g += rng.normal(0.0, 0.03, g.shape)  # a little cell-level texture
    g = (g - g.min()) / (g.max() - g.min())
    return np.asarray(g.reshape(-1) * np.log(ptt), dtype=np.float64)


def make_channel(
    seed: int,
    n_posts: int,
    *,
    flat: bool = False,
    peak_to_trough: float | None = None,
    observed: Observed = "reach",
    tz: str | None = None,
) -> Channel:
    """A reproducible synthetic channel of ``n_posts`` posts (all older than 3 days at ``now``)."""
    rng = np.random.default_rng(seed)
    zone = tz or str(rng.choice(ZONES))
    truth = make_truth(rng, flat=flat, peak_to_trough=peak_to_trough)
    ptt = 1.0 if flat else float(np.exp(truth.max() - truth.min()))

    # posting habits: 3–5 habitual cells (daytime, mildly drawn to good cells) hold 70–90% of the posts
    hour = np.arange(N_CELLS) % 24
    daytime = np.where((hour >= 7) & (hour <= 22), 1.0, 0.08)
    spread = truth - truth.min()
    pick = daytime * np.exp(2.0 * spread / max(float(spread.max()), 1e-9) if not flat else 0.0)
    n_habit = int(rng.integers(3, 6))
    habits = rng.choice(N_CELLS, n_habit, replace=False, p=pick / pick.sum()).astype(np.int64)
    habit_share = rng.uniform(0.7, 0.9)
    hw = rng.dirichlet(np.full(n_habit, 2.0))
    probs = (1 - habit_share) * daytime / daytime.sum()
    probs[habits] += habit_share * hw
    cells = rng.choice(N_CELLS, n_posts, p=probs / probs.sum()).astype(np.int64)

    # calendar: a random start Monday, 0.5–3 posts a day on average
    rate = rng.uniform(0.5, 3.0)
    n_weeks = max(int(np.ceil(n_posts / rate / 7)), 1)
    start = datetime(int(rng.integers(2019, 2024)), 1, 1, tzinfo=UTC).timestamp()
    start = start - ((np.floor(start / DAY) + 3) % 7) * DAY  # back to a Monday (wall-clock epoch seconds)
    week = rng.integers(0, n_weeks, n_posts)
    wall = start + week * 7 * DAY + (cells // 24) * DAY + (cells % 24) * HOUR + rng.uniform(0, HOUR, n_posts)
    t_raw = local_to_utc(wall, zone)
    order = np.argsort(t_raw, kind="stable")
    t, cells = t_raw[order], cells[order]

    # audience: follower growth, reach tied to followers, kinds with a confounded mix
    years = (t - t.min()) / (365.25 * DAY)
    followers = np.round(np.exp(rng.uniform(np.log(2e3), np.log(1e5)) + rng.uniform(0.0, 0.6) * years))
    reach = np.round(followers * rng.uniform(0.08, 0.3) * np.exp(rng.normal(0, 0.25, n_posts)))
    p_video = np.where(cells == habits[0], 0.5, 0.15)
    u = rng.uniform(size=n_posts)
    kind = np.where(u < p_video, 1, np.where(u < p_video + 0.3, 2, 0))
    mean = reach * rng.uniform(0.02, 0.08) * np.exp(truth[cells] + KIND_EFFECT[kind])
    shape = rng.uniform(3.0, 10.0)
    inter = rng.poisson(rng.gamma(shape, mean / shape))
    likes = rng.binomial(inter, 0.8)
    comments = rng.binomial(inter - likes, 0.65)
    shares = inter - likes - comments
    now = datetime.fromtimestamp(float(t.max()) + 4 * DAY, UTC)
    hist = History(
        posted_at=t,
        likes=likes.astype(np.float64),
        comments=comments.astype(np.float64),
        shares=shares.astype(np.float64),
        views=None,
        reach=reach if observed == "reach" else None,
        followers=followers if observed in ("reach", "followers") else None,
        kind=np.array(KINDS)[kind],
    )
    return Channel(hist, zone, now, truth, ptt, habits, cells)
