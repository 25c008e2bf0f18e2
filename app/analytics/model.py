"""Best posting times: a small Bayesian model of per-post outcomes over the 168 weekday×hour cells.

outcome = account mean + smooth wrap-around hour curve (Fourier) + weekday effect + weekend hour curve
          + heavily shrunk weekday×hour cell term + content-type / normalisation fixed effects + noise,

with recency weights (exponential half-life) as observation weights. Noise and block prior variances are set by
empirical Bayes (marginal likelihood, lightly regularised by a log-normal hyperprior). All per-row work is a few
vectorised numpy passes that reduce the history to sufficient statistics per (cell × category) group; the solve
is on ≈ 200 parameters whatever the history size. See /work/shared/docs/analyzer.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from app import metrics
from app.analytics.design import BLOCKS, Design, categories, null_log_ml, slot_matrix
from app.analytics.explain import explain
from app.analytics.grid import N_CELLS, local_cells, to_unix_seconds
from app.analytics.outcome import as_float, outcomes
from app.analytics.prior import Prior, prior_from_audience_online, prior_from_fits

__all__ = [
    "DETECTION_LOG_BF",
    "Fit",
    "History",
    "Prior",
    "Slot",
    "fit",
    "prior_from_audience_online",
    "prior_from_fits",
]

FloatArray = npt.NDArray[np.float64]
Z80 = 1.2815515655446004
MIN_EFFECTIVE_POSTS = 300.0
"""Recency weighting never shrinks the history below this many effective posts (Σ weights)."""
DETECTION_LOG_BF = 1.0
ROBUST_ITERATIONS = 0
RANK_CAUTION = 1.0
"""The score shown (and ranked by) is the posterior mean minus this many posterior sds: a cautious lift, so an
untested slot must beat a tested one clearly, not just on a wiggle of the curve. Measured on real channels past →
future (bench/analyzer.py): the cautious order beats ranking by the mean (Thai sellers lift@5 +0.56 vs +0.24)."""
HOUR_DECAYS: tuple[float, ...] = (2.0, 1.0, 0.0)
"""Candidate smoothness of the hour curves (Fourier variance decay 1/k^d); each channel's data picks one by
marginal likelihood."""
HARMONICS = 12
"""Fourier harmonics of the hour curves: 12 can follow any 24-hour shape; the chosen decay decides how rough."""
CONTENT = "ignore"
"""Whether slot scores adjust for content type ("adjust") or rank slots by the outcome of posts as they were posted
there ("ignore", the default): on both real data sets past → future the adjusted ranking lost (bench/analyzer.py,
Thai sellers lift@5 +0.31 vs +0.69, UCI Facebook metrics −0.64 vs +0.13): what a channel posts at an hour is part
of what that hour earns it, and a time-only ranking keeps what the channel's habits actually achieve."""
HUBER_C = 1.5
"""Log marginal-likelihood gain of the timing model over the mean-only model needed to claim an effect."""
EXPLORATION_MAX = 3
"""At most this many exploration slots; callers should spend at most ~10% of posts on them."""


@dataclass(frozen=True)
class History:
    """Past posts of one channel, one entry per post. ``None``/NaN = unknown.

    ``posted_at``: aware datetimes, or a numpy array of unix seconds / ``datetime64`` (fastest).
    ``views`` is accepted for completeness but not used (reach is the exposure measure).
    """

    posted_at: Sequence[datetime] | Sequence[float] | npt.NDArray[Any]
    likes: Sequence[float | None] | npt.NDArray[Any] | None = None
    comments: Sequence[float | None] | npt.NDArray[Any] | None = None
    shares: Sequence[float | None] | npt.NDArray[Any] | None = None
    views: Sequence[float | None] | npt.NDArray[Any] | None = None
    reach: Sequence[float | None] | npt.NDArray[Any] | None = None
    followers: Sequence[float | None] | npt.NDArray[Any] | None = None
    kind: Sequence[str | None] | npt.NDArray[Any] | None = None

    def __len__(self) -> int:
        return len(self.posted_at)


@dataclass(frozen=True)
class Slot:
    """One weekday×hour cell: ``score`` = cautious log lift over the channel average (posterior mean − RANK_CAUTION
    posterior sds; slots are ranked by it), ``low``/``high`` = 80% interval of the lift, post count."""

    weekday: int
    hour: int
    score: float
    low: float
    high: float
    posts: int

    def to_dict(self) -> dict[str, float | int]:
        return {"weekday": self.weekday, "hour": self.hour, "score": round(self.score, 4),
                "low": round(self.low, 4), "high": round(self.high, 4), "posts": self.posts}


@dataclass
class Fit:
    """A fitted channel. ``score``/``score_var``: posterior mean/variance of each cell's lift (168 vectors);
    ``shown_score()`` is what the answer shows and ranks by."""

    timezone: str
    score: FloatArray
    score_var: FloatArray
    counts: npt.NDArray[np.int64]
    effect_detected: bool
    posts_used: int
    log_bayes_factor: float
    hyper: dict[str, float]
    kind_effects: dict[str, float]
    explanation: str = ""
    reference: FloatArray = field(default_factory=lambda: np.full(N_CELLS, 1.0 / N_CELLS))
    level: float = 0.0
    caution: float = RANK_CAUTION
    _score_cov_chol: FloatArray | None = field(default=None, repr=False)

    def shown_score(self) -> FloatArray:
        """The score of each cell as the answer shows it: posterior mean − ``caution`` × posterior sd."""
        return np.asarray(self.score - self.caution * np.sqrt(self.score_var), dtype=np.float64)

    def _slot(self, c: int) -> Slot:
        sd = float(np.sqrt(self.score_var[c]))
        s = float(self.score[c])
        return Slot(c // 24, c % 24, s - self.caution * sd, s - Z80 * sd, s + Z80 * sd, int(self.counts[c]))

    def heatmap(self) -> list[Slot]:
        """All 168 cells, Monday 0h first."""
        return [self._slot(c) for c in range(N_CELLS)]

    def ranking(self) -> npt.NDArray[np.int64]:
        """Cells ranked best first by the shown score (ties: more posts first), so a client never sees a slot
        with a higher score below a lower one."""
        key = np.round(self.shown_score(), 4)  # the answer rounds to 4 places: rank what it shows
        return np.lexsort((-self.counts, -key)).astype(np.int64)

    def best_slots(self, count: int = 5) -> list[Slot]:
        """The ``count`` cells with the highest shown score, best first."""
        return [self._slot(int(c)) for c in self.ranking()[: max(count, 0)]]

    def exploration(self, count: int = 2, *, draws: int = 400, seed: int = 0, max_posts: int = 2) -> list[Slot]:
        """Plausible untested slots (≤ ``max_posts`` posts) by Thompson sampling: how often each is the best cell
        in a posterior draw. At most ``min(count, EXPLORATION_MAX)`` slots, most often best first."""
        if self._score_cov_chol is None or count <= 0:
            return []
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((draws, self._score_cov_chol.shape[1]))
        samples = self.score[None, :] + z @ self._score_cov_chol.T
        wins = np.bincount(np.argmax(samples, axis=1), minlength=N_CELLS)
        cand = np.nonzero((self.counts <= max_posts) & (wins > 0))[0]
        cand = cand[np.argsort(-wins[cand], kind="stable")][: min(count, EXPLORATION_MAX)]
        return [self._slot(int(c)) for c in cand]

    def predict(self, posted_at: Sequence[datetime] | npt.NDArray[Any],
                kind: Sequence[str | None] | npt.NDArray[Any] | None = None) -> FloatArray:
        """Predicted outcome (log scale, the fit's main normalisation) of posts at these instants and kinds."""
        cells = local_cells(to_unix_seconds(posted_at), self.timezone)
        pred = self.level + self.score[cells]
        if kind is not None:
            codes, names = categories(kind, cells.size)
            pred = pred + np.array([self.kind_effects.get(nm, 0.0) for nm in names])[codes]
        return pred

    def to_dict(self, count: int = 5) -> dict[str, Any]:
        """The best-slots answer of the API contract."""
        return {"timezone": self.timezone, "effect_detected": self.effect_detected, "posts_used": self.posts_used,
                "slots": [s.to_dict() for s in self.best_slots(count)], "explanation": self.explanation}


def _group_stats(cells: npt.NDArray[np.int64], combo: npt.NDArray[np.int64], n_combo: int, y: FloatArray,
                 w: FloatArray) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray]:
    """Groups (cell × category) present in the data, with Σw and Σwy per group."""
    g = cells * n_combo + combo
    size = N_CELLS * n_combo
    sw = np.bincount(g, weights=w, minlength=size)
    swy = np.bincount(g, weights=w * y, minlength=size)
    present = np.nonzero(np.bincount(g, minlength=size))[0].astype(np.int64)
    return present, sw[present].astype(np.float64), swy[present].astype(np.float64)


def effective_half_life(age_days: FloatArray, half_life_days: float | None, min_effective_posts: float
                        ) -> float | None:
    """The recency half-life actually used: ``half_life_days``, lengthened (by bisection on a per-day age
    histogram) until the weights sum to at least ``min(n, min_effective_posts)``, so that a channel posting
    rarely is not reduced to a handful of effective posts. ``None`` = no recency weighting."""
    if not half_life_days or age_days.size == 0:
        return None
    counts = np.bincount(np.floor(np.maximum(age_days, 0)).astype(np.int64))
    days = np.arange(counts.size) + 0.5
    need = min(float(age_days.size), min_effective_posts) * 0.999

    def mass(hl: float) -> float:
        return float(counts @ 0.5 ** (days / hl))

    if mass(half_life_days) >= need:
        return float(half_life_days)
    lo, hi = np.log(half_life_days), np.log(half_life_days) + 1.0
    while mass(float(np.exp(hi))) < need and hi < np.log(half_life_days) + 12:
        hi += 1.0
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mass(float(np.exp(mid))) < need else (lo, mid)
    return float(np.exp(hi))


_StatsCache = dict[int, tuple[FloatArray, tuple[npt.NDArray[np.int64], FloatArray, FloatArray]]]


def _solve(zbs: tuple[FloatArray, npt.NDArray[np.int64], FloatArray], prior: Prior | None,
           cells: npt.NDArray[np.int64], kcodes: npt.NDArray[np.int64], mcodes: npt.NDArray[np.int64], nk: int,
           nm: int, kbase: int, mbase: int, y: FloatArray, w: FloatArray, var0: float,
           stats_cache: _StatsCache) -> tuple[float, tuple[Any, ...]]:
    """Empirical-Bayes fit of one slot structure; (log marginal likelihood, everything the caller needs).
    ``stats_cache`` keeps the per-row reduction (the only O(rows) step) across structures."""
    z, blocks, scale = zbs
    q = z.shape[1]
    fe_k = [k for k in range(nk) if k != kbase]
    fe_m = [k for k in range(nm) if k != mbase]
    p = 1 + q + len(fe_k) + len(fe_m)

    combo = kcodes * nm + mcodes
    row_group = cells * (nk * nm) + combo

    def design_for(weights: FloatArray) -> tuple[Design, FloatArray, npt.NDArray[np.int64]]:
        hit = stats_cache.get(id(weights))
        if hit is None or hit[0] is not weights:
            hit = (weights, _group_stats(cells, combo, nk * nm, y, weights))
            stats_cache[id(weights)] = hit
        groups, sw, swy = hit[1]
        gc, gk, gm = groups // (nk * nm), (groups % (nk * nm)) // nm, groups % nm
        x = np.zeros((groups.size, p))
        x[:, 0] = 1.0
        x[:, 1 : 1 + q] = z[gc]
        for j, k in enumerate(fe_k):
            x[:, 1 + q + j] = gk == k
        for j, k in enumerate(fe_m):
            x[:, 1 + q + len(fe_k) + j] = gm == k
        m0 = np.zeros(p)
        m0[0] = float(swy.sum() / sw.sum()) if sw.sum() > 0 else 0.0
        extra = np.zeros(p)
        if prior is not None:
            cell_cols = 1 + np.nonzero(blocks == BLOCKS.index("cell"))[0]
            m0[cell_cols] = prior.mean
            extra[cell_cols] = prior.var
        block = np.concatenate([[-1], blocks, np.full(p - 1 - q, -1)]).astype(np.int64)
        scl = np.concatenate([[1.0], scale, np.ones(p - 1 - q)])
        des = Design(xtwx=(x * sw[:, None]).T @ x, xtwy=x.T @ swy, ywy=float(np.sum(weights * y * y)),
                     n=float(np.sum(weights)), block=block, scale=scl, m0=m0, extra_var=extra)
        return des, x, groups

    robust = np.ones(y.size)
    theta: FloatArray | None = None
    for it in range(ROBUST_ITERATIONS + 1):
        des, x, groups = design_for(w if it == 0 else w * robust)  # the same array: its reduction is cached
        theta, logml = des.optimise(len(BLOCKS), var0, start=theta)
        if it == ROBUST_ITERATIONS or y.size == 0:
            break
        # Huber reweighting: engagement noise is skewed (flops), a few posts should not move a slot
        resid = y - (x @ des.posterior(theta)[0])[np.searchsorted(groups, row_group)]
        robust = np.minimum(1.0, HUBER_C * float(np.exp(0.5 * theta[0])) / np.maximum(np.abs(resid), 1e-12))
    assert theta is not None
    return logml, (des, x, groups, theta, logml, z, q, p, fe_k, design_for, robust)


_blas_limited = False


def _single_threaded_blas() -> None:
    """The solves are on ≈ 230 parameters: BLAS threads only spin-wait, and on a busy 2-core host that made a
    0.3 s fit take tens of seconds. One thread, once per process (the server does the same, service.py)."""
    global _blas_limited
    if not _blas_limited:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
        _blas_limited = True


@metrics.timed_fit
def fit(
    history: History,
    tz: str,
    *,
    now: datetime,
    prior: Prior | None = None,
    half_life_days: float | None = 56.0,
    min_age_days: float = 3.0,
    min_effective_posts: float = MIN_EFFECTIVE_POSTS,
    harmonics: int = HARMONICS,
    decays: Sequence[float] = HOUR_DECAYS,
    content: str = CONTENT,
) -> Fit:
    """Fit the slot model to one channel's history in IANA zone ``tz``.

    The hour curves' smoothness is chosen per channel by marginal likelihood among ``decays`` (Fourier variance
    decay 1/k^d over ``harmonics`` harmonics: 2 smooth … 0 any hour may stand out), alongside the block sds.
    ``content`` = "adjust" adds content-type fixed effects (the slot scores are then for a post of the commonest
    type); "ignore" (default, see CONTENT) ranks slots by the outcome of posts as posted there.

    Posts younger than ``min_age_days`` at ``now`` (or without any known interaction count) are ignored; older
    posts are down-weighted with the given half-life (``None`` = no recency weighting). ``prior`` shapes the
    cell terms (see ``prior_from_fits`` / ``prior_from_audience_online``); without it cells shrink toward the
    smooth hour/weekday structure.
    """
    _single_threaded_blas()
    t = to_unix_seconds(history.posted_at)
    n_all = t.size
    cols = [as_float(getattr(history, k), n_all) for k in ("likes", "comments", "shares", "reach", "followers")]
    y_all, method_all = outcomes(t, *cols)
    age = (now.timestamp() - t) / 86_400.0
    use = ~np.isnan(y_all) & (age >= min_age_days)
    y, age_u = y_all[use], age[use]
    half_life = effective_half_life(age_u, half_life_days, min_effective_posts)
    w = np.ones(y.size) if half_life is None else 0.5 ** (age_u / half_life)
    cells = local_cells(t[use], tz)
    kcodes, knames = categories(history.kind, n_all)
    kcodes = kcodes[use]
    adjust = content == "adjust"
    if not adjust:
        kcodes, knames = np.zeros(y.size, dtype=np.int64), ["(all)"]
    mvals, mcodes = np.unique(method_all[use], return_inverse=True)
    mcodes = mcodes.astype(np.int64).reshape(-1)
    nk, nm = len(knames), max(len(mvals), 1)
    kbase = int(np.argmax(np.bincount(kcodes, weights=w, minlength=nk))) if y.size else 0
    mbase = int(np.argmax(np.bincount(mcodes, weights=w, minlength=nm))) if y.size else 0

    var0 = float(np.average((y - np.average(y, weights=w)) ** 2, weights=w)) if y.size > 1 else 1.0
    best: tuple[float, Any] | None = None
    stats_cache: _StatsCache = {}
    logmls = []
    for decay in decays:
        cand = _solve(slot_matrix(harmonics, decay), prior, cells, kcodes, mcodes, nk, nm, kbase, mbase, y, w, var0,
                      stats_cache)
        logmls.append(cand[0])
        if best is None or cand[0] > best[0] + 1e-9:
            best = (cand[0], cand[1] + (decay,))
    assert best is not None
    des, _x, _groups, theta, _logml, z, q, p, fe_k, design_for, robust, decay_used = best[1]
    null_cols = np.array([0, *range(1 + q, p)], dtype=np.int64)
    # evidence of "timing matters" averages over the candidate smoothnesses (equal prior weight), so trying
    # several curves does not by itself make an effect easier to claim
    top = max(logmls)
    evidence = top + float(np.log(np.mean(np.exp(np.array(logmls) - top))))
    log_bf = evidence - null_log_ml(des, null_cols, var0) if y.size else 0.0
    m, cov, _, _ = des.posterior(theta)

    counts = np.bincount(cells, minlength=N_CELLS).astype(np.int64)
    ref_w = np.bincount(cells, weights=w, minlength=N_CELLS).astype(np.float64)
    ref: FloatArray = ref_w / ref_w.sum() if ref_w.sum() > 0 else np.full(N_CELLS, 1.0 / N_CELLS)
    zfull = np.zeros((N_CELLS, p))
    zfull[:, 1 : 1 + q] = z
    contrast = zfull - ref @ zfull
    factor = contrast @ np.linalg.cholesky(cov + 1e-12 * np.eye(p))
    raw = zfull @ m
    kind_eff = {knames[k]: float(m[1 + q + j]) for j, k in enumerate(fe_k)}
    if knames:  # an empty history has no kinds at all
        kind_eff[knames[kbase]] = 0.0
    hyper = {"sigma": float(np.exp(0.5 * theta[0]))}
    hyper.update({f"tau_{b}": float(np.exp(0.5 * th)) for b, th in zip(BLOCKS, theta[1:], strict=True)})

    result = Fit(timezone=tz, score=contrast @ m, score_var=np.sum(factor**2, axis=1), counts=counts,
                 effect_detected=bool(y.size > 0 and log_bf > DETECTION_LOG_BF), posts_used=int(y.size),
                 log_bayes_factor=float(log_bf), hyper=hyper, kind_effects=kind_eff, reference=ref,
                 level=float(m[0] + ref @ raw), _score_cov_chol=factor,
                 caution=RANK_CAUTION if y.size else 0.0)  # no evidence at all: nothing to be cautious about
    unweighted_top: int | None = None
    if half_life is not None and y.size:
        m_u = design_for(robust)[0].posterior(theta)[0]
        unweighted_top = int(np.argmax(contrast @ m_u))
    result.hyper["hour_decay"] = float(decay_used)
    result.hyper["content_adjusted"] = float(adjust and len(knames) > 1)
    result.hyper["half_life_days"] = float(half_life) if half_life is not None else float("inf")
    result.explanation = explain(result, unweighted_top=unweighted_top, half_life_days=half_life)
    return result
