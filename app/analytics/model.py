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
from app.analytics.design import ALL_BLOCKS, BLOCKS, Design, categories, null_log_ml, slot_matrix
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
"""Log marginal-likelihood gain of the timing model over the mean-only model, both with content types as fixed
effects, needed to claim an effect (see EVIDENCE_BEYOND_CONTENT)."""
DETECTION_AS_POSTED_LOG_BF = 5.0
"""... or this gain as posted (no content adjustment; a Bayes factor ≈ 150, "very strong"): the hours then really differ
in what they earn the channel as it posts, even if what it posts at them explains part of it (Thai sellers' live
videos: log BF 29 and 5.7 as posted, ≈ 0 beyond content, and the as-posted ranking wins out of sample)."""
ROBUST_ITERATIONS = 0
RANK_CAUTION = 1.0
"""The score shown (and ranked by) is the posterior mean minus this many posterior sds: a cautious lift, so an
untested slot must beat a tested one clearly, not just on a wiggle of the curve. Measured on real channels past →
future (bench/analyzer.py): the cautious order beats ranking by the mean (Thai sellers lift@5 +0.56 vs +0.24)."""
HOUR_DECAYS: tuple[float, ...] = (2.0, 1.0, 0.0)
"""Candidate smoothness of the hour curves (Fourier variance decay 1/k^d); each channel's data weighs them by
marginal likelihood (see BMA)."""
HARMONICS = 12
"""Fourier harmonics of the hour curves: 12 can follow any 24-hour shape; the chosen decay decides how rough."""
CONTENT = "ignore"
"""Whether slot scores adjust for content type ("adjust") or rank slots by the outcome of posts as they were posted
there ("ignore", the default): on both real data sets past → future the adjusted ranking lost (bench/analyzer.py,
Thai sellers lift@5 +0.31 vs +0.69, UCI Facebook metrics −0.64 vs +0.13): what a channel posts at an hour is part
of what that hour earns it, and a time-only ranking keeps what the channel's habits actually achieve."""
HUBER_C = 1.5
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


_StatsCache = dict[int, tuple[FloatArray, tuple[npt.NDArray[np.int64], FloatArray, FloatArray],
                              dict[bytes, tuple[FloatArray, FloatArray, FloatArray]]]]
"""Per weights array: the per-row reduction and, per slot structure, the design rows and X'WX, X'Wy (the
candidate smoothnesses share columns and differ only in prior scales, so they share these)."""


def _solve(zbs: tuple[FloatArray, npt.NDArray[np.int64], FloatArray], prior: Prior | None,
           cells: npt.NDArray[np.int64], kcodes: npt.NDArray[np.int64], mcodes: npt.NDArray[np.int64], nk: int,
           nm: int, kbase: int, mbase: int, y: FloatArray, w: FloatArray, var0: float,
           stats_cache: _StatsCache, pcodes: npt.NDArray[np.int64] | None = None, npd: int = 1,
           start: FloatArray | None = None) -> tuple[float, tuple[Any, ...]]:
    """Empirical-Bayes fit of one slot structure; (log marginal likelihood, everything the caller needs).
    ``stats_cache`` keeps the per-row reduction (the only O(rows) step) across structures."""
    z, blocks, scale = zbs
    q = z.shape[1]
    fe_k = [k for k in range(nk) if k != kbase]
    fe_m = [k for k in range(nm) if k != mbase]
    n_per = npd if npd > 1 and pcodes is not None else 0
    p = 1 + q + len(fe_k) + len(fe_m) + n_per
    npd = max(n_per, 1)
    n_combo = nk * nm * npd

    combo = (kcodes * nm + mcodes) * npd
    if n_per and pcodes is not None:
        combo = combo + pcodes
    row_group = cells * n_combo + combo

    def design_for(weights: FloatArray) -> tuple[Design, FloatArray, npt.NDArray[np.int64]]:
        hit = stats_cache.get(id(weights))
        if hit is None or hit[0] is not weights:
            hit = (weights, _group_stats(cells, combo, n_combo, y, weights), {})
            stats_cache[id(weights)] = hit
        groups, sw, swy = hit[1]
        key = blocks.tobytes()
        if key not in hit[2]:
            gp, rest = groups % npd, groups // npd
            gc, gk, gm = rest // (nk * nm), (rest % (nk * nm)) // nm, rest % nm
            x = np.zeros((groups.size, p))
            x[:, 0] = 1.0
            x[:, 1 : 1 + q] = z[gc]
            for j, k in enumerate(fe_k):
                x[:, 1 + q + j] = gk == k
            for j, k in enumerate(fe_m):
                x[:, 1 + q + len(fe_k) + j] = gm == k
            for j in range(n_per):
                x[:, 1 + q + len(fe_k) + len(fe_m) + j] = gp == j
            hit[2][key] = (x, (x * sw[:, None]).T @ x, x.T @ swy)
        x, xtwx, xtwy = hit[2][key]
        m0 = np.zeros(p)
        m0[0] = float(swy.sum() / sw.sum()) if sw.sum() > 0 else 0.0
        extra = np.zeros(p)
        cell_cols = 1 + np.nonzero(blocks == BLOCKS.index("cell"))[0]
        if prior is not None and cell_cols.size:
            m0[cell_cols] = prior.mean
            extra[cell_cols] = prior.var
        block = np.concatenate([[-1], blocks, np.full(p - 1 - q - n_per, -1),
                                np.full(n_per, ALL_BLOCKS.index("period"))]).astype(np.int64)
        scl = np.concatenate([[1.0], scale, np.ones(p - 1 - q)])
        des = Design(xtwx=xtwx, xtwy=xtwy, ywy=float(np.sum(weights * y * y)),
                     n=float(np.sum(weights)), block=block, scale=scl, m0=m0, extra_var=extra)
        return des, x, groups

    robust = np.ones(y.size)
    theta: FloatArray | None = start
    for it in range(ROBUST_ITERATIONS + 1):
        des, x, groups = design_for(w if it == 0 else w * robust)  # the same array: its reduction is cached
        theta, logml = des.optimise(len(ALL_BLOCKS), var0, start=theta)
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


EVIDENCE_BEYOND_CONTENT = True
"""``effect_detected`` asks whether timing matters beyond what is posted when: the evidence is computed with content
types as fixed effects in both models (slots are still ranked as posted, see CONTENT). Without it, a channel that
puts its videos out at one habitual hour "detects" that hour on a flat timing truth (the project's synthetic
generator: 22% of flat 300-post channels)."""
PERIOD_DAYS: float | None = 56.0
"""Calendar periods of this many days (newest first) get their own level, shrunk like the slot blocks (sd by
marginal likelihood): a channel's engagement drifts (follower mix, platform reach, bursts), and a slot used mostly
in a good month otherwise takes that month's level for its own. Real channels past → future (bench/analyzer.py):
Thai sellers lift@5 +0.87 with it vs +0.69 without; synthetic regret within noise (±0.02 × B1). ``None`` = off."""
MAX_PERIODS = 12
"""Older periods than this share the last level."""
BMA = True
"""Average the candidate hour curves (HOUR_DECAYS) by their marginal likelihoods instead of keeping the best one:
the slot scores and intervals then carry the uncertainty about how rough the curve is. Scratch runs (tuning seeds,
40 channels, model ÷ B1 regret at 100 / 300 posts): generator A 0.72 / 0.56 vs 0.76 / 0.57, generator B
0.73 / 0.74 vs 0.78 / 0.76; real Thai sellers lift@5 +0.73 vs +0.87 (per page mixed: 3 pages better, 2 worse),
still above both baselines. Five candidates (3, 2, 1, 0.5, 0) averaged did better still (Thai +0.87, A 0.71 /
0.53, B 0.73 / 0.74) but the evidence, averaged over more smooth curves, fell below the threshold for a planted
one-cell peak (tests/analytics/test_api.py: log BF 0.99)."""
CV_MIN_POSTS = 40
SELECT = "ml"
"""How the hour-curve smoothness is chosen: "ml" (marginal likelihood, the default) or "cv" (time-ordered
validation inside the history, oldest CV_SHARE → newest rest, scored by CV_METRIC "mse" or "lift" of the top 5).
"cv" lost on the real data past → future (Thai sellers +0.53 vs +0.69): a 30% slice of one channel's newest
posts is too few to choose between curves, the marginal likelihood uses every post."""
CV_SHARE = 0.7
CV_METRIC = "mse"


def _predict_rows(theta_des: Any, z: FloatArray, q: int, p: int, fe_k: list[int], fe_m: list[int],
                  cells: npt.NDArray[np.int64], kcodes: npt.NDArray[np.int64], mcodes: npt.NDArray[np.int64]
                  ) -> FloatArray:
    des, theta = theta_des
    m = des.posterior(theta)[0]
    pred = m[0] + z[cells] @ m[1 : 1 + q]
    for j, k in enumerate(fe_k):
        pred = pred + m[1 + q + j] * (kcodes == k)
    for j, k in enumerate(fe_m):
        pred = pred + m[1 + q + len(fe_k) + j] * (mcodes == k)
    return np.asarray(pred, dtype=np.float64)


def _cv_choose(cands: list[tuple[float, tuple[str, ...]]], harmonics: int, prior: Prior | None, t: FloatArray,
               cells: npt.NDArray[np.int64], kcodes: npt.NDArray[np.int64], mcodes: npt.NDArray[np.int64],
               nk: int, nm: int, kbase: int, mbase: int, y: FloatArray, w: FloatArray, var0: float) -> int:
    """Time-ordered validation inside the history: fit each candidate on the oldest CV_SHARE of the posts,
    score it on the newest rest; the index of the best."""
    cut = float(np.quantile(t, CV_SHARE))
    tr, te = t <= cut, t > cut
    if tr.sum() < 10 or te.sum() < 5:
        return -1
    cache: _StatsCache = {}
    w_tr = w[tr]
    scores = []
    for decay, blocks_on in cands:
        zbs = slot_matrix(harmonics, decay, blocks_on)
        _, res = _solve(zbs, prior, cells[tr], kcodes[tr], mcodes[tr], nk, nm, kbase, mbase, y[tr], w_tr, var0,
                        cache)
        des, _x, _g, theta, _l, z, q, p, fe_k = res[:9]
        fe_m = [k for k in range(nm) if k != mbase]
        pred = _predict_rows((des, theta), z, q, p, fe_k, fe_m, cells[te], kcodes[te], mcodes[te])
        if CV_METRIC == "mse":
            scores.append(-float(np.mean((y[te] - pred) ** 2)))
        else:
            zfull = np.zeros((N_CELLS, p))
            zfull[:, 1 : 1 + q] = z
            m, cov = des.posterior(theta)[:2]
            sd = np.sqrt(np.einsum("ij,jk,ik->i", zfull, cov, zfull))
            sc = zfull @ m - RANK_CAUTION * sd
            top = np.argsort(-sc)[:5]
            inside = np.isin(cells[te], top)
            if inside.all() or not inside.any():
                scores.append(-1e9)
            else:
                scores.append(float(y[te][inside].mean() - y[te][~inside].mean()))
    return int(np.argmax(scores))


def _log_bf_beyond_content(kc: npt.NDArray[np.int64], theta0: FloatArray,
                           cands: list[tuple[float, tuple[str, ...]]], harmonics: int, prior: Prior | None,
                           cells: npt.NDArray[np.int64], mcodes: npt.NDArray[np.int64], nm: int, mbase: int,
                           y: FloatArray, w: FloatArray, var0: float, pcodes: npt.NDArray[np.int64], npd: int
                           ) -> float | None:
    """Evidence that timing matters once content type is accounted for (both the timing model and the mean-only
    model get content fixed effects); ``None`` if the history has one kind only."""
    present = np.nonzero(np.bincount(kc))[0]
    if present.size < 2:
        return None
    if present.size < int(kc.max()) + 1:
        kc = np.searchsorted(present, kc).astype(np.int64)
    nk = int(present.size)
    kbase = int(np.argmax(np.bincount(kc, weights=w, minlength=nk)))
    cache: _StatsCache = {}
    sols = [_solve(slot_matrix(harmonics, d, b), prior, cells, kc, mcodes, nk, nm, kbase, mbase, y, w, var0, cache,
                   pcodes, npd, start=theta0) for d, b in cands]
    lms = np.array([sol[0] for sol in sols])
    top = float(lms.max())
    des, theta, q, p = (lambda r: (r[0], r[3], r[6], r[7]))(sols[int(np.argmax(lms))][1])
    evidence = top + float(np.log(np.mean(np.exp(lms - top))))
    return evidence - null_log_ml(des, np.array([0, *range(1 + q, p)], dtype=np.int64), var0, theta[1:])


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
    structures: Sequence[tuple[str, ...]] | None = None,
    select: str | None = None,
    period_days: float | None = PERIOD_DAYS,
) -> Fit:
    """Fit the slot model to one channel's history in IANA zone ``tz``.

    The hour curves' smoothness is chosen per channel by marginal likelihood among ``decays`` (Fourier variance
    decay 1/k^d over ``harmonics`` harmonics: 2 smooth … 0 any hour may stand out), alongside the block sds.
    ``content`` = "adjust" adds content-type fixed effects (the slot scores are then for a post of the commonest
    type); "ignore" (default, see CONTENT) ranks slots by the outcome of posts as posted there.

    Posts younger than ``min_age_days`` at ``now`` (or without any known interaction count) are ignored; older
    posts are down-weighted with the given half-life (``None`` = no recency weighting). ``prior`` shapes the
    cell terms (see ``prior_from_fits`` / ``prior_from_audience_online``); without it cells shrink toward the
    smooth hour/weekday structure. ``period_days``: see PERIOD_DAYS. ``structures`` adds simpler candidate
    structures (tuples of block names, e.g. ``("hour", "weekday")``) with a rough hour curve; ``select``: see SELECT.
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
    kcodes = kcodes_all = kcodes[use]
    adjust = content == "adjust"
    if not adjust:
        kcodes, knames = np.zeros(y.size, dtype=np.int64), ["(all)"]
    mvals, mcodes = np.unique(method_all[use], return_inverse=True)
    mcodes = mcodes.astype(np.int64).reshape(-1)
    pdays = period_days
    pcodes, npd = np.zeros(y.size, dtype=np.int64), 1
    if pdays and y.size:
        per = np.minimum(np.floor((age_u - age_u.min()) / pdays), MAX_PERIODS - 1).astype(np.int64)
        pvals, inv = np.unique(per, return_inverse=True)
        pcodes, npd = inv.astype(np.int64).reshape(-1), int(pvals.size)  # code 0 = the newest period
    nk, nm = len(knames), max(len(mvals), 1)
    kbase = int(np.argmax(np.bincount(kcodes, weights=w, minlength=nk))) if y.size else 0
    mbase = int(np.argmax(np.bincount(mcodes, weights=w, minlength=nm))) if y.size else 0

    var0 = float(np.average((y - np.average(y, weights=w)) ** 2, weights=w)) if y.size > 1 else 1.0
    best: tuple[float, Any] | None = None
    stats_cache: _StatsCache = {}
    logmls = []
    cands = [(d, BLOCKS) for d in decays] + [(0.0, b) for b in (structures or ())]
    select = select or SELECT
    cv_pick = _cv_choose(cands, harmonics, prior, t[use], cells, kcodes, mcodes, nk, nm, kbase, mbase, y, w,
                         var0) if select != "ml" and y.size >= CV_MIN_POSTS and len(cands) > 1 else None
    if cv_pick is not None and cv_pick < 0:
        cv_pick = None
    sols: list[tuple[Any, ...]] = []
    for decay, blocks_on in cands:
        cand = _solve(slot_matrix(harmonics, decay, blocks_on), prior, cells, kcodes, mcodes, nk, nm, kbase, mbase,
                      y, w, var0, stats_cache, pcodes, npd)
        logmls.append(cand[0])
        sols.append(cand[1])
        if cv_pick is not None:
            if len(logmls) - 1 == cv_pick:
                best = (cand[0], cand[1] + (decay,))
        elif best is None or cand[0] > best[0] + 1e-9:
            best = (cand[0], cand[1] + (decay,))
    assert best is not None
    des, _x, _groups, theta, _logml, z, q, p, fe_k, design_for, robust, decay_used = best[1]
    null_cols = np.array([0, *range(1 + q, p)], dtype=np.int64)
    # evidence of "timing matters" averages over the candidate smoothnesses (equal prior weight), so trying
    # several curves does not by itself make an effect easier to claim
    top = max(logmls)
    evidence = top + float(np.log(np.mean(np.exp(np.array(logmls) - top))))
    log_bf = evidence - null_log_ml(des, null_cols, var0, theta[1:]) if y.size else 0.0
    log_bf_content = log_bf
    if not adjust and y.size and EVIDENCE_BEYOND_CONTENT:
        adjusted = _log_bf_beyond_content(kcodes_all, theta, cands, harmonics, prior, cells, mcodes, nm, mbase, y,
                                          w, var0, pcodes, npd)
        log_bf_content = log_bf if adjusted is None else adjusted
    detected = bool(y.size > 0 and (log_bf_content > DETECTION_LOG_BF or log_bf > DETECTION_AS_POSTED_LOG_BF))
    m, cov, _, _ = des.posterior(theta)
    if BMA and cv_pick is None and structures is None and len(sols) > 1:
        # average the candidate curves by their marginal likelihoods (same columns, other prior scales)
        wts = np.exp(np.array(logmls) - max(logmls))
        wts /= wts.sum()
        posts = [sol[0].posterior(sol[3])[:2] for sol in sols]
        m = sum(wt * pm for wt, (pm, _) in zip(wts, posts, strict=True))
        second = sum(wt * (pc + np.outer(pm, pm)) for wt, (pm, pc) in zip(wts, posts, strict=True))
        cov = second - np.outer(m, m)

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
    hyper.update({f"tau_{b}": float(np.exp(0.5 * th)) for b, th in zip(ALL_BLOCKS, theta[1:], strict=True)})

    result = Fit(timezone=tz, score=contrast @ m, score_var=np.sum(factor**2, axis=1), counts=counts,
                 effect_detected=detected, posts_used=int(y.size),
                 log_bayes_factor=float(log_bf), hyper=hyper, kind_effects=kind_eff, reference=ref,
                 level=float(m[0] + ref @ raw + (m[p - npd] if npd > 1 else 0.0)), _score_cov_chol=factor,
                 caution=RANK_CAUTION if y.size else 0.0)  # no evidence at all: nothing to be cautious about
    unweighted_top: int | None = None
    if half_life is not None and y.size:
        m_u = design_for(robust)[0].posterior(theta)[0]
        unweighted_top = int(np.argmax(contrast @ m_u))
    result.hyper["hour_decay"] = float(decay_used)
    result.hyper["log_bf_beyond_content"] = float(log_bf_content)
    result.hyper["content_adjusted"] = float(adjust and len(knames) > 1)
    result.hyper["half_life_days"] = float(half_life) if half_life is not None else float("inf")
    result.explanation = explain(result, unweighted_top=unweighted_top, half_life_days=half_life)
    return result
