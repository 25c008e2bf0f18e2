"""Design of the slot model and its empirical-Bayes Gaussian solve on sufficient statistics.

Columns: intercept | hour Fourier (2K) | weekday (7) | weekend × hour Fourier (2K) | cell (168) | fixed effects.
Each slot block ``b`` has prior N(m0, τ_b² · scale + extra); the intercept and fixed effects are vague.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import linalg, optimize
from scipy.linalg import lapack

from app.analytics.grid import N_CELLS

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

K_HOUR = 4
"""Fourier harmonics of the 24 h curves (period 24 h, so 23h → 0h is continuous)."""
BLOCKS = ("hour", "weekday", "weekend", "cell")
ALL_BLOCKS = (*BLOCKS, "period")
"""The slot blocks plus the calendar-period level block (not a slot effect: see model.PERIOD_DAYS)."""
HYPER_CENTRE = {"hour": 0.05, "weekday": 0.04, "weekend": 0.05, "cell": 0.02, "period": 0.1}
"""Centres of the log-normal hyperpriors on the block standard deviations (log-lift units)."""
HYPER_SD = 1.0
"""Hyperprior standard deviation of log τ_b: weak; keeps τ away from exactly 0 with thin data."""
VAGUE_VAR = 100.0
LOG_BOUNDS_TAU2 = (np.log(1e-8), np.log(4.0))
LOG_BOUNDS_SIGMA2 = (np.log(1e-4), np.log(1e2))


def slot_matrix(k: int = K_HOUR, decay: float = 2.0, blocks_on: tuple[str, ...] = BLOCKS
                ) -> tuple[FloatArray, IntArray, FloatArray]:
    """Slot design Z (168 × q), the block of each column (index into BLOCKS) and each column's prior scale.
    ``blocks_on`` keeps only those blocks' columns (a simpler structure, e.g. hour + weekday only).

    Fourier prior variances decay as 1/k^``decay`` (2 = smooth, 0 = every harmonic alike, i.e. any hour may differ
    from its neighbours) and are normalised so τ_b is the prior sd of the curve at any hour.
    """
    cells = np.arange(N_CELLS)
    wd, hr = cells // 24, cells % 24
    ang = 2 * np.pi * (hr + 0.5) / 24.0
    harm = np.arange(1, k + 1)
    four = np.concatenate([np.cos(np.outer(ang, harm)), np.sin(np.outer(ang, harm))], axis=1)
    fscale = np.tile(harm.astype(np.float64) ** -decay, 2)
    fscale = fscale / (fscale.sum() / 2)  # var at a point = τ² Σ_k s_k (cos² + sin²) = τ²
    weekend = (wd >= 5).astype(np.float64)[:, None]
    z = np.concatenate([four, np.eye(7)[wd], weekend * four, np.eye(N_CELLS)], axis=1)
    blocks = np.concatenate([np.zeros(2 * k), np.ones(7), np.full(2 * k, 2), np.full(N_CELLS, 3)]).astype(np.int64)
    scale = np.concatenate([fscale, np.ones(7), fscale, np.ones(N_CELLS)])
    if blocks_on != BLOCKS:
        keep = np.isin(blocks, [BLOCKS.index(b) for b in blocks_on])
        z, blocks, scale = z[:, keep], blocks[keep], scale[keep]
    return z, blocks, scale


@dataclass
class Design:
    """Sufficient statistics X'WX, X'Wy, y'Wy of a weighted linear model plus its prior layout."""

    xtwx: FloatArray
    xtwy: FloatArray
    ywy: float
    n: float  # Σ weights: observation weights act as fractional observations (power likelihood)
    block: IntArray  # block index per column, -1 = vague
    scale: FloatArray
    m0: FloatArray
    extra_var: FloatArray

    def subset(self, cols: IntArray) -> Design:
        return Design(self.xtwx[np.ix_(cols, cols)], self.xtwy[cols], self.ywy, self.n,
                      self.block[cols], self.scale[cols], self.m0[cols], self.extra_var[cols])

    def prior_var(self, tau2: FloatArray) -> FloatArray:
        lam = np.full(self.block.size, VAGUE_VAR)
        slot = self.block >= 0
        lam[slot] = tau2[self.block[slot]] * self.scale[slot] + self.extra_var[slot]
        return lam

    def posterior(self, theta: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, float]:
        """(mean, covariance, prior variances, log marginal likelihood) at θ = [log σ², log τ_b² ...]."""
        sigma2 = float(np.exp(theta[0]))
        lam = self.prior_var(np.exp(theta[1:]))
        a = self.xtwx / sigma2 + np.diag(1.0 / lam)
        b = self.xtwy / sigma2 + self.m0 / lam
        chol = linalg.cho_factor(a, lower=True, check_finite=False)
        m = linalg.cho_solve(chol, b, check_finite=False)
        inv, _ = lapack.dpotri(chol[0], lower=True)
        cov = np.tril(inv) + np.tril(inv, -1).T
        logdet_a = 2.0 * float(np.sum(np.log(np.diag(chol[0]))))
        quad = self.ywy / sigma2 + float(np.sum(self.m0**2 / lam)) - float(b @ m)
        logml = (-0.5 * self.n * np.log(2 * np.pi * sigma2) - 0.5 * quad
                 - 0.5 * float(np.sum(np.log(lam))) - 0.5 * logdet_a)
        return m, cov, lam, float(logml)

    def _objective(self, theta: FloatArray, centre: FloatArray) -> tuple[float, FloatArray]:
        m, cov, lam, logml = self.posterior(theta)
        sigma2 = float(np.exp(theta[0]))
        rss = self.ywy - 2.0 * float(m @ self.xtwy) + float(m @ self.xtwx @ m)
        grad = np.zeros_like(theta)
        grad[0] = -0.5 * self.n + 0.5 * (rss + float(np.sum(self.xtwx * cov))) / sigma2
        tau2 = np.exp(theta[1:])
        slot = np.nonzero(self.block >= 0)[0]
        e = ((m[slot] - self.m0[slot]) ** 2 + np.diag(cov)[slot]) / lam[slot] - 1.0
        dj = 0.5 * tau2[self.block[slot]] * self.scale[slot] / lam[slot] * e
        grad[1:] = np.bincount(self.block[slot], weights=dj, minlength=tau2.size)
        # log-normal hyperprior on τ_b (θ_b = 2 log τ_b)
        z = (0.5 * theta[1:] - centre) / HYPER_SD
        value = -logml + 0.5 * float(np.sum(z**2))
        grad_prior = z / HYPER_SD * 0.5
        return value, -grad + np.concatenate([[0.0], grad_prior])

    def optimise(self, n_blocks: int, sigma2_start: float, start: FloatArray | None = None
                 ) -> tuple[FloatArray, float]:
        """MAP hyperparameters (marginal likelihood × hyperprior) and the log marginal likelihood there."""
        centre = np.log([HYPER_CENTRE[b] for b in ALL_BLOCKS[:n_blocks]])
        if start is None:
            start = np.concatenate([[np.log(max(sigma2_start, 1e-4))], 2 * centre])
        if self.n == 0:
            return start, self.posterior(start)[3]
        bounds = [LOG_BOUNDS_SIGMA2] + [LOG_BOUNDS_TAU2] * n_blocks
        res = optimize.minimize(self._objective, start, args=(centre,), jac=True, method="L-BFGS-B",
                                bounds=bounds, options={"maxiter": 200})
        theta = np.asarray(res.x, dtype=np.float64)
        return theta, self.posterior(theta)[3]


def null_log_ml(design: Design, cols: IntArray, sigma2_start: float, tau2_log: FloatArray | None = None) -> float:
    """Log marginal likelihood of the mean-only model (intercept + fixed effects), σ² by maximum likelihood;
    ``tau2_log`` = log τ² of every block, for shrunk non-slot columns kept in the null (the period levels)."""
    sub = design.subset(cols)
    if sub.n == 0:
        return 0.0
    rest = np.zeros(0) if tau2_log is None else np.asarray(tau2_log, dtype=np.float64)

    def neg(log_s2: float) -> float:
        return -sub.posterior(np.concatenate([[log_s2], rest]))[3]

    c = np.log(max(sigma2_start, 1e-4))
    res = optimize.minimize_scalar(neg, bounds=(max(c - 4, LOG_BOUNDS_SIGMA2[0]), min(c + 4, LOG_BOUNDS_SIGMA2[1])),
                                   method="bounded", options={"xatol": 1e-4})
    return -float(res.fun)


def categories(values: object, n: int) -> tuple[IntArray, list[str]]:
    """Factorise a kind column (None → "(none)") into codes and names, vectorised."""
    if values is None:
        return np.zeros(n, dtype=np.int64), ["(none)"]
    arr = np.asarray(values)
    if arr.dtype == object:
        arr = np.array(["(none)" if v is None else str(v) for v in arr.tolist()])
    names, codes = np.unique(arr.astype(str), return_inverse=True)
    return codes.astype(np.int64).reshape(-1), [str(s) for s in names]
