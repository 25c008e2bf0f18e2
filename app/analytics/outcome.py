"""Per-post outcome on the log scale, with the reach → followers → rolling-median fallbacks of analyzer.md."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

ROLLING_WINDOW = 20
"""Previous posts whose median log1p(interactions) is the baseline when neither reach nor followers is known."""
ROLLING_MIN = 3
"""Fewer previous posts than this: no baseline, the post is skipped."""

METHOD_REACH, METHOD_FOLLOWERS, METHOD_ROLLING, METHOD_NONE = 0, 1, 2, -1
METHOD_NAMES = {METHOD_REACH: "reach", METHOD_FOLLOWERS: "followers", METHOD_ROLLING: "rolling median"}


def as_float(values: object, n: int) -> FloatArray:
    """A float array of length ``n`` from a sequence with None for unknown (→ NaN); ``None`` → all NaN."""
    if values is None:
        return np.full(n, np.nan)
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (n,):
        raise ValueError(f"expected {n} values, got shape {arr.shape}")
    return arr


def interactions(likes: FloatArray, comments: FloatArray, shares: FloatArray) -> FloatArray:
    """likes + comments + shares; unknown parts count as 0 if at least one part is known, else NaN."""
    parts = np.stack([likes, comments, shares])
    known = ~np.isnan(parts)
    total = np.where(known, parts, 0.0).sum(axis=0)
    return np.where(known.any(axis=0), np.maximum(total, 0.0), np.nan)


def rolling_previous_median(x: FloatArray, window: int = ROLLING_WINDOW, min_count: int = ROLLING_MIN) -> FloatArray:
    """Median of the previous ``window`` values (fewer at the start; NaN below ``min_count``), vectorised."""
    m = x.size
    out = np.full(m, np.nan)
    for i in range(min_count, min(window, m)):  # at most `window` iterations, independent of m
        out[i] = np.median(x[:i])
    if m > window:
        lo, hi = (window - 1) // 2, window // 2
        part = np.partition(sliding_window_view(x, window)[: m - window], (lo, hi), axis=1)
        out[window:] = 0.5 * (part[:, lo] + part[:, hi])
    return out


def outcomes(
    t: FloatArray,
    likes: FloatArray,
    comments: FloatArray,
    shares: FloatArray,
    reach: FloatArray,
    followers: FloatArray,
) -> tuple[FloatArray, IntArray]:
    """Outcome per post and the normalisation used (``METHOD_*``; ``METHOD_NONE`` and NaN outcome = skip).

    * reach known (> 0):      log((interactions + 1) / (reach + 1))
    * else followers (> 0):   log1p(interactions) − log(followers)
    * else:                   log1p(interactions) − median log1p(interactions) of the previous 20 posts by time
    """
    n = t.size
    inter = interactions(likes, comments, shares)
    has_i = ~np.isnan(inter) & ~np.isnan(t)
    li = np.log1p(np.where(has_i, inter, 0.0))
    y = np.full(n, np.nan)
    method = np.full(n, METHOD_NONE, dtype=np.int64)

    use_r = has_i & (reach > 0)
    y[use_r] = li[use_r] - np.log1p(reach[use_r])
    method[use_r] = METHOD_REACH
    use_f = has_i & ~use_r & (followers > 0)
    y[use_f] = li[use_f] - np.log(followers[use_f])
    method[use_f] = METHOD_FOLLOWERS

    rest = has_i & ~use_r & ~use_f
    if rest.any():
        idx = np.nonzero(has_i)[0]
        order = idx[np.argsort(t[idx], kind="stable")]
        base = np.full(n, np.nan)
        base[order] = rolling_previous_median(li[order])
        ok = rest & ~np.isnan(base)
        y[ok] = li[ok] - base[ok]
        method[ok] = METHOD_ROLLING
    return y, method
