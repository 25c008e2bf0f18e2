"""Benchmark of the best-time analyzer (analyzer.md, "How to measure it").

Run from the repository root:  .venv/bin/python -m bench.analyzer [--quick]

1. Synthetic ground truth with selection bias at 30/100/300/1000 posts: normalised regret@5, recall@5, Spearman,
   80%-interval coverage for the model and the baselines B0 (mean raw interactions per local hour) and B1 (mean
   outcome per weekday×hour cell); flat-truth false-positive rate of ``effect_detected``; detection power.
2. Real past → future on the Thai Facebook sellers CSV: lift@5 with a bootstrap interval over weeks, skill.
3. Fit time for 1,000,000 history rows.

Writes its block between ``<!-- analyzer:start -->`` and ``<!-- analyzer:end -->`` in bench/RESULTS.md.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small (≈200²) solves: threads only add latency

import argparse
import csv
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from app.analytics.grid import local_cells, local_weekday_hour
from app.analytics.model import Fit, History, fit
from app.analytics.outcome import as_float, interactions, outcomes
from app.analytics.synthetic import Channel, make_channel
from bench.synthetic_b import make_channel_b

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
CSV_PATH = Path("/work/shared/data/facebook_live_sellers_thailand.csv")
FB_METRICS_PATH = ROOT / "bench" / "data" / "facebook_metrics.csv"
START, END = "<!-- analyzer:start -->", "<!-- analyzer:end -->"
SIZES = (30, 100, 300, 1000)
TOP_K = 5
Z80 = 1.2815515655446004
BENCH_SEED = 20_240_601  # evaluation seeds; model tuning used seeds from 500_000 (see tune_seed_base)
MIN_AGE_DAYS = 3.0


# ----------------------------------------------------------------------------- baselines


def _prepared(h: History, now: datetime) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(unix seconds, raw interactions, outcome) of the posts every method may use (old enough, outcome known)."""
    t = np.asarray(h.posted_at, dtype=np.float64)
    n = t.size
    cols = [as_float(getattr(h, k), n) for k in ("likes", "comments", "shares", "reach", "followers")]
    y, _ = outcomes(t, *cols)
    inter = interactions(cols[0], cols[1], cols[2])
    ok = ~np.isnan(y) & ((now.timestamp() - t) / 86_400 >= MIN_AGE_DAYS)
    return t[ok], inter[ok], y[ok]


def baseline_b0(t: FloatArray, inter: FloatArray, tz: str) -> FloatArray:
    """B0: mean raw interactions per local hour of day (weekday mean as a tie-break); unseen hours = overall mean."""
    wd, hr = local_weekday_hour(t, tz)
    overall = float(inter.mean())
    cnt_h = np.bincount(hr, minlength=24)
    mean_h = np.where(cnt_h > 0, np.bincount(hr, inter, 24) / np.maximum(cnt_h, 1), overall)
    cnt_d = np.bincount(wd, minlength=7)
    mean_d = np.where(cnt_d > 0, np.bincount(wd, inter, 7) / np.maximum(cnt_d, 1), overall)
    return np.asarray((mean_h[None, :] + 1e-6 * mean_d[:, None] / max(overall, 1e-9)).reshape(-1))


def baseline_b1(t: FloatArray, y: FloatArray, tz: str) -> tuple[FloatArray, FloatArray, IntArray]:
    """B1: mean outcome per cell minus the channel mean (0 for empty cells), its normal-theory sd, and counts."""
    cells = local_cells(t, tz)
    cnt = np.bincount(cells, minlength=168)
    sums = np.bincount(cells, y, 168)
    mean = np.where(cnt > 0, sums / np.maximum(cnt, 1), np.nan)
    resid = y - mean[cells]
    dof = max(int(y.size - np.count_nonzero(cnt)), 1)
    sd = float(np.sqrt(np.sum(resid**2) / dof)) if y.size > 1 else 1.0
    score = np.where(cnt > 0, mean - y.mean(), 0.0)
    return score, np.where(cnt > 0, sd / np.sqrt(np.maximum(cnt, 1)), np.inf), cnt


def top_k(score: FloatArray, k: int = TOP_K, observed: IntArray | None = None) -> IntArray:
    """Top-k cells; with ``observed`` counts, cells with data rank before empty ones (B1 cannot rank empties)."""
    if observed is None:
        return np.argsort(-score, kind="stable")[:k].astype(np.int64)
    return np.lexsort((-score, observed == 0))[:k].astype(np.int64)


# ----------------------------------------------------------------------------- synthetic protocol


def regret(truth: FloatArray, rec: IntArray, k: int = TOP_K) -> float:
    best = np.sort(truth)[::-1][:k].mean()
    return float((best - truth[rec].mean()) / (best - truth.mean()))


def recall(truth: FloatArray, rec: IntArray, k: int = TOP_K) -> float:
    true_top = set(np.argsort(-truth, kind="stable")[:k].tolist())
    return len(true_top & set(rec.tolist())) / k


@dataclass
class ChannelResult:
    size: int
    flat: bool
    ptt: float
    detected: bool
    log_bf: float
    fit_seconds: float
    metrics: dict[str, dict[str, float]]  # method → metric → value


GENERATORS = {"A": "app.analytics.synthetic (the project's generator)",
              "B": "bench.synthetic_b (independent: sharp and broad peaks, 1–3 habit changes, rate drift)"}


def evaluate_channel(args: tuple[int, int, bool, str]) -> ChannelResult:
    seed, size, flat, gen = args
    ch: Channel = make_channel(seed, size, flat=flat) if gen == "A" else make_channel_b(seed, size, flat=flat)
    t0 = time.perf_counter()
    f: Fit = fit(ch.history, ch.tz, now=ch.now)
    elapsed = time.perf_counter() - t0
    t, inter, y = _prepared(ch.history, ch.now)
    out: dict[str, dict[str, float]] = {}
    if not flat:
        truth = ch.truth
        centred = truth - float(f.reference @ truth)
        sd = np.sqrt(f.score_var)
        m_rec = f.ranking()[:TOP_K]
        out["model"] = {"regret": regret(truth, m_rec), "recall": recall(truth, m_rec),
                        "spearman": float(stats.spearmanr(f.score, truth)[0]),
                        "coverage": float(np.mean(np.abs(centred - f.score) <= Z80 * sd))}
        b0 = baseline_b0(t, inter, ch.tz)
        b0_rec = top_k(b0)
        out["B0"] = {"regret": regret(truth, b0_rec), "recall": recall(truth, b0_rec),
                     "spearman": float(stats.spearmanr(b0, truth)[0])}
        b1, b1_sd, cnt = baseline_b1(t, y, ch.tz)
        b1_rec = top_k(b1, observed=cnt)
        seen = cnt > 0
        b1_truth = truth - float(np.average(truth, weights=cnt))
        out["B1"] = {"regret": regret(truth, b1_rec), "recall": recall(truth, b1_rec),
                     "spearman": float(stats.spearmanr(b1, truth)[0]),
                     "coverage": float(np.mean(np.abs(b1_truth[seen] - b1[seen]) <= Z80 * b1_sd[seen]))}
    return ChannelResult(size, flat, ch.peak_to_trough, f.effect_detected, f.log_bayes_factor, elapsed, out)


def run_synthetic(n_channels: int, seed_base: int, workers: int, gen: str = "A",
                  sizes: tuple[int, ...] = SIZES) -> list[ChannelResult]:
    jobs = [(seed_base + 1000 * s + i, s, flat, gen) for s in sizes for flat in (False, True)
            for i in range(n_channels)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as ex:
            return list(ex.map(evaluate_channel, jobs, chunksize=8))
    return [evaluate_channel(j) for j in jobs]


def summarise_synthetic(results: list[ChannelResult], sizes: tuple[int, ...] = SIZES
                        ) -> tuple[list[str], dict[str, float]]:
    lines = ["| posts | method | regret@5 | recall@5 | Spearman | coverage 80% | detected (non-flat) | "
             "flat: effect_detected false |", "|---|---|---|---|---|---|---|---|"]
    key: dict[str, float] = {}
    for size in sizes:
        real = [r for r in results if r.size == size and not r.flat]
        flat = [r for r in results if r.size == size and r.flat]
        det = np.mean([r.detected for r in real])
        tn = 1 - np.mean([r.detected for r in flat]) if flat else float("nan")
        for method in ("model", "B0", "B1"):
            vals = {m: float(np.mean([r.metrics[method][m] for r in real])) for m in real[0].metrics[method]}
            cov = f"{vals['coverage']:.1%}" if "coverage" in vals else "—"
            extra = (f"{det:.0%} | {tn:.1%}" if method == "model" else "— | —")
            lines.append(f"| {size} | {method} | {vals['regret']:.3f} | {vals['recall']:.2f} | "
                         f"{vals['spearman']:.3f} | {cov} | {extra} |")
            for m, v in vals.items():
                key[f"{method}.{m}.{size}"] = v
        key[f"flat_tn.{size}"] = float(tn)
        key[f"detected.{size}"] = float(det)
        strong = [r.detected for r in real if r.ptt >= 1.3]
        key[f"power_ptt130.{size}"] = float(np.mean(strong)) if strong else float("nan")
    flat_all = [r.detected for r in results if r.flat]
    key["flat_tn.all"] = 1 - float(np.mean(flat_all))
    key["coverage.all"] = float(np.mean([r.metrics["model"]["coverage"] for r in results if not r.flat]))
    key["fit_ms_median"] = 1000 * float(np.median([r.fit_seconds for r in results]))
    return lines, key


# ----------------------------------------------------------------------------- real data protocol


@dataclass
class Page:
    name: str
    t: FloatArray
    likes: FloatArray
    comments: FloatArray
    shares: FloatArray
    kind: npt.NDArray[np.str_]
    reach: FloatArray | None = None
    followers: FloatArray | None = None


@dataclass
class RealSet:
    """One real data set: its channels (pages), the zone their cells are read in, and a note on the source."""

    name: str
    pages: list[Page]
    tz: str
    note: str


def load_thai(path: Path = CSV_PATH) -> tuple[list[Page], dict[str, int]]:
    """Pages of the Thai sellers CSV (BOM, duplicate ids and empty columns handled; times read as UTC)."""
    rows: dict[str, tuple[str, float, float, float, float, str]] = {}
    total = unparsed = 0
    pat = re.compile(r"^(\d+)/(\d+)/(\d{4}|\d{2}) (\d+):(\d+)$")  # both "4/22/2018 6:00" and "4/11/18 04:53"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            total += 1
            m = pat.match(row["status_published"].strip())
            if not m:
                unparsed += 1
                continue
            mo, d, yr, hh, mi = (int(g) for g in m.groups())
            yr = yr + 2000 if yr < 100 else yr
            ts = datetime(yr, mo, d, hh, mi, tzinfo=UTC).timestamp()
            sid = row["status_id"].strip()
            rows.setdefault(sid, (sid.split("_")[0], ts, float(row["num_reactions"]),
                                  float(row["num_comments"]), float(row["num_shares"]), row["status_type"]))
    pages: dict[str, list[tuple[str, float, float, float, float, str]]] = {}
    for r in rows.values():
        pages.setdefault(r[0], []).append(r)
    out = []
    for name, rs in sorted(pages.items(), key=lambda kv: -len(kv[1])):
        rs.sort(key=lambda r: r[1])
        out.append(Page(name, np.array([r[1] for r in rs]), np.array([r[2] for r in rs]),
                        np.array([r[3] for r in rs]), np.array([r[4] for r in rs]), np.array([r[5] for r in rs])))
    return out, {"rows": total, "unique": len(rows), "duplicates": total - unparsed - len(rows),
                 "unparsed": unparsed, "pages": len(out)}


def _num(cell: str) -> float:
    return float(cell) if cell.strip() else float("nan")


def load_fb_metrics(path: Path = FB_METRICS_PATH) -> Page:
    """The UCI Facebook-metrics page (500 posts of one cosmetics brand, 2014; bench/data/README.md).

    The file gives month, weekday (1–7, read as 1 = Sunday) and hour but no day: rows run newest first, so the
    dates are rebuilt oldest first as the earliest day ≥ the previous post's day with that month and weekday
    (2014). Reach and the page's total likes (followers) are known, so the outcome is the reach path.
    """
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))[::-1]
    day = datetime(2014, 1, 1, tzinfo=UTC).timestamp() / 86_400
    ts, likes, comments, shares, reach, followers, kind = [], [], [], [], [], [], []
    for r in rows:
        month, wd_sun1, hour = int(r["month"]), int(r["weekday"]), int(r["hour"])
        want = (wd_sun1 + 5) % 7  # 1 = Sunday → Monday-based 6
        d = day
        for _ in range(400):
            dt = datetime.fromtimestamp(d * 86_400, UTC)
            if dt.month > month or dt.year > 2014:
                d = day  # out of order: keep the previous day
                break
            if dt.month == month and dt.weekday() == want:
                break
            d += 1
        day = d
        ts.append(d * 86_400 + hour * 3_600 + 1_800)
        likes.append(_num(r["like"]))
        comments.append(_num(r["comment"]))
        shares.append(_num(r["share"]))
        reach.append(_num(r["reach"]))
        followers.append(_num(r["page_likes"]))
        kind.append(f"category {r['category']}" + (" paid" if r["paid"].strip() == "1" else ""))
    order = np.argsort(np.array(ts), kind="stable")

    def arr(v: list[float]) -> FloatArray:
        return np.asarray(np.array(v, dtype=np.float64)[order])

    return Page("UCI facebook-metrics", arr(ts), arr(likes), arr(comments), arr(shares),
                np.array(kind)[order], reach=arr(reach), followers=arr(followers))


def _page_history(p: Page, sel: npt.NDArray[np.bool_]) -> History:
    return History(posted_at=p.t[sel], likes=p.likes[sel], comments=p.comments[sel], shares=p.shares[sel],
                   reach=None if p.reach is None else p.reach[sel],
                   followers=None if p.followers is None else p.followers[sel], kind=p.kind[sel])


def _page_outcome(p: Page) -> FloatArray:
    nan = np.full(p.t.size, np.nan)
    y, _ = outcomes(p.t, p.likes, p.comments, p.shares, nan if p.reach is None else p.reach,
                    nan if p.followers is None else p.followers)
    return y


Fitter = Callable[[History, str, datetime], Fit]


def default_fitter(h: History, tz: str, now: datetime) -> Fit:
    return fit(h, tz, now=now)


@dataclass
class RealResult:
    lines: list[str]
    key: dict[str, float]
    page_lines: list[str]


def run_real(rs: RealSet, boot: int, rng: np.random.Generator, fitter: Fitter = default_fitter,
             train_share: float = 0.7) -> RealResult:
    """Train on the first 70% of each page's posts by time; score the last 30%."""
    tz = rs.tz
    per_method: dict[str, list[tuple[FloatArray, npt.NDArray[np.bool_], IntArray]]] = {"model": [], "B0": [],
                                                                                       "B1": []}
    sq: dict[str, list[float]] = {"model": [], "B1": [], "mean": []}
    page_lines = []
    detected = 0
    for p in rs.pages:
        n = p.t.size
        if n < 40:
            continue
        y_all = _page_outcome(p)  # outcome of every post, past-only
        cut = int(train_share * n)
        train = np.zeros(n, dtype=bool)
        train[:cut] = True
        test = ~train & ~np.isnan(y_all)
        now = datetime.fromtimestamp(float(p.t[cut - 1]) + MIN_AGE_DAYS * 86_400 + 1, UTC)
        f = fitter(_page_history(p, train), tz, now)
        detected += int(f.effect_detected)
        tr_ok = train & ~np.isnan(y_all)
        inter = interactions(p.likes, p.comments, p.shares)
        b1, _, cnt = baseline_b1(p.t[tr_ok], y_all[tr_ok], tz)
        recs = {"model": f.ranking()[:TOP_K], "B0": top_k(baseline_b0(p.t[tr_ok], inter[tr_ok], tz)),
                "B1": top_k(b1, observed=cnt)}
        cells = local_cells(p.t[test], tz)
        y_test = y_all[test]
        weeks = np.floor(p.t[test] / (7 * 86_400)).astype(np.int64)
        for k, rec in recs.items():
            per_method[k].append((y_test, np.isin(cells, rec), weeks))
        pred_model = f.predict(p.t[test], p.kind[test])
        train_mean = float(np.mean(y_all[tr_ok]))
        pred_b1 = np.where(cnt[cells] > 0, train_mean + b1[cells], train_mean)
        sq["model"].extend((y_test - pred_model) ** 2)
        sq["B1"].extend((y_test - pred_b1) ** 2)
        sq["mean"].extend((y_test - train_mean) ** 2)
        lifts = {k: _lift(y_test, np.isin(cells, r)) for k, r in recs.items()}
        inside = "/".join(str(int(np.isin(cells, r).sum())) for r in recs.values())
        page_lines.append(f"| {p.name} | {n} | {int(test.sum())} | {f.effect_detected} | "
                          f"{f.log_bayes_factor:.1f} | {lifts['model']:+.3f} | {lifts['B0']:+.3f} | "
                          f"{lifts['B1']:+.3f} | {inside} |")
    key: dict[str, float] = {f"real.{rs.name}.detected": float(detected)}
    lines = ["| method | lift@5 (log) | 90% bootstrap over weeks | skill |", "|---|---|---|---|"]
    mse_mean = float(np.mean(sq["mean"]))
    for k, parts in per_method.items():
        est, lo, hi, missing = _pooled_lift_boot(parts, boot, rng)
        skill = 1 - float(np.mean(sq[k])) / mse_mean if k in sq else float("nan")
        key[f"real.{rs.name}.lift.{k}"], key[f"real.{rs.name}.skill.{k}"] = est, skill
        key[f"real.{rs.name}.lo.{k}"], key[f"real.{rs.name}.hi.{k}"] = lo, hi
        key[f"real.{rs.name}.missing.{k}"] = missing
        sk = f"{skill:+.3f}" if k in sq else "n/a (ranks raw counts)"
        lines.append(f"| {k} | {est:+.3f} | {_interval(lo, hi, missing)} | {sk} |")
    return RealResult(lines, key, page_lines)


def _lift(y: FloatArray, inside: npt.NDArray[np.bool_]) -> float:
    if inside.all() or not inside.any():
        return float("nan")
    return float(y[inside].mean() - y[~inside].mean())


def _pooled_lift(parts: list[tuple[FloatArray, npt.NDArray[np.bool_], IntArray]]) -> float:
    """Test-post-weighted mean over pages of each page's lift (pages with no test post in or out skipped)."""
    vals, wts = [], []
    for y, inside, _ in parts:
        v = _lift(y, inside)
        if not np.isnan(v):
            vals.append(v)
            wts.append(y.size)
    return float(np.average(vals, weights=wts)) if vals else float("nan")


def _pooled_lift_boot(parts: list[tuple[FloatArray, npt.NDArray[np.bool_], IntArray]], boot: int,
                      rng: np.random.Generator) -> tuple[float, float, float, float]:
    """(lift, 5% and 95% bootstrap quantiles over test weeks, share of draws with no measurable lift).

    A draw in which no page's top 5 (or no page's other cells) holds a test post has no lift: it counts as
    unknown at both tails, not dropped. Dropping it conditions on the few posts being drawn, and a lift measured on
    a single test post then gets a tight interval that is only the spread of the other cells' mean. With more than
    5% such draws the bound is undefined (−inf / +inf): too few test posts in the top 5 to tell."""
    est = _pooled_lift(parts)
    draws = []
    for _ in range(boot):
        res = []
        for y, inside, weeks in parts:
            uw, inv = np.unique(weeks, return_inverse=True)
            pick = rng.integers(0, uw.size, uw.size)
            idx = np.concatenate([np.nonzero(inv == j)[0] for j in pick])
            res.append((y[idx], inside[idx], weeks[idx]))
        draws.append(_pooled_lift(res))
    d = np.array(draws)
    missing = float(np.mean(np.isnan(d)))
    lo = float(np.quantile(np.where(np.isnan(d), -np.inf, d), 0.05, method="lower"))
    hi = float(np.quantile(np.where(np.isnan(d), np.inf, d), 0.95, method="higher"))
    return est, lo, hi, missing


def _interval(lo: float, hi: float, missing: float) -> str:
    if np.isfinite(lo) and np.isfinite(hi):
        return f"[{lo:+.3f}, {hi:+.3f}]"
    return f"undefined: {missing:.0%} of draws hold no test post in the top 5"


# ----------------------------------------------------------------------------- timing


def big_history(n: int, seed: int = 7) -> tuple[History, datetime]:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(1.60e9, 1.70e9, n))
    reach = rng.integers(100, 100_000, n).astype(np.float64)
    likes = rng.poisson(reach * 0.03).astype(np.float64)
    h = History(posted_at=t, likes=likes, comments=rng.poisson(3, n).astype(np.float64),
                shares=rng.poisson(1, n).astype(np.float64), reach=reach,
                kind=np.array(["photo", "video", "text", "link"])[rng.integers(0, 4, n)])
    return h, datetime.fromtimestamp(1.70e9 + 86_400 * 10, UTC)


def time_fit(n: int, repeats: int, variant: str = "reach") -> float:
    h, now = big_history(n)
    if variant == "no-reach":
        h = History(posted_at=h.posted_at, likes=h.likes, comments=h.comments, shares=h.shares, kind=h.kind)
    fit(h, "Europe/Berlin", now=now)  # warm-up (zone tables, imports)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()  # CPU time of this process: the shared host's queue is not the fit's cost
        fit(h, "Europe/Berlin", now=now)
        best = min(best, time.process_time() - t0)
    return best


def time_fit_default_threads(n: int) -> float | None:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    code = f"from bench.analyzer import time_fit; print(time_fit({n}, 3))"
    try:
        res = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                             timeout=300, check=True)
        return float(res.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError):
        return None


def _history_csv(h: History, extra: int = 0) -> bytes:
    """A history as the import CSV (plus ``extra`` fresh posts an hour apart after the last one)."""
    t = np.asarray(h.posted_at, dtype=np.float64)
    cols = [np.asarray(getattr(h, k), dtype=np.float64) for k in ("likes", "comments", "shares", "reach", "followers")]
    lines = ["external_id,posted_at,likes,comments,shares,reach,followers,kind"]
    kinds = np.asarray(h.kind) if h.kind is not None else np.full(t.size, "")
    for i in range(t.size):
        lines.append(",".join([f"p{i}", datetime.fromtimestamp(float(t[i]), UTC).isoformat(),
                               *(f"{c[i]:.0f}" for c in cols), str(kinds[i])]))
    for j in range(extra):
        at = datetime.fromtimestamp(float(t.max()) + 3_600 * (j + 1), UTC).isoformat()
        lines.append(f"x{j},{at},50,3,1,2000,20000,photo")
    return ("\n".join(lines) + "\n").encode()


async def _warm_cache(db: Any, n_posts: int, calls: int) -> dict[str, float]:
    from app.analytics import service as svc
    from app.db import make_engine, make_sessionmaker, session_scope
    from app.workspaces.service import DEFAULT_WORKSPACE, ensure_workspace
    from bench.common import seed_channels, settings_for

    _, ids = await seed_channels(db, [{"bot_token": "1:bench", "chat_id": "@bench"}])
    ch = make_channel(4242, n_posts)
    engine = make_engine(settings_for(db))
    maker = make_sessionmaker(engine)
    out: dict[str, float] = {}
    try:
        async with session_scope(maker) as s:
            ws = await ensure_workspace(s, DEFAULT_WORKSPACE)
            await svc.import_csv(s, ws, ids[0], _history_csv(ch.history), now=ch.now)
        svc._fits.clear()

        cpu: list[float] = []

        async def answer() -> tuple[float, int]:
            t0, c0 = time.perf_counter(), time.process_time()
            async with session_scope(maker) as s:
                ws = await ensure_workspace(s, DEFAULT_WORKSPACE)
                body = await svc.best_slots(s, ws, ids[0], 5, now=ch.now)
            cpu.append(time.process_time() - c0)
            return time.perf_counter() - t0, int(body["posts_used"])

        cold, used = await answer()
        out["cold_ms"] = 1000 * cold
        warm: list[float] = []
        for _ in range(calls):
            warm.append(1000 * (await answer())[0])
        warm.sort()
        out["warm_p50_ms"] = warm[len(warm) // 2]
        out["warm_p95_ms"] = warm[int(0.95 * (len(warm) - 1))]
        warm_cpu = sorted(1000 * c for c in cpu[1:])
        out["warm_cpu_p95_ms"] = warm_cpu[int(0.95 * (len(warm_cpu) - 1))]
        async with session_scope(maker) as s:  # new engagement data: the cached fit must not be served
            ws = await ensure_workspace(s, DEFAULT_WORKSPACE)
            await svc.import_csv(s, ws, ids[0], _history_csv(ch.history, extra=1), now=ch.now)
        t_new, used_new = await answer()
        out["after_import_ms"] = 1000 * t_new
        out["invalidated"] = float(used_new == used + 1)
        out["posts"] = float(used)
    finally:
        await engine.dispose()
    return out


def time_best_slots(n_posts: int, calls: int) -> dict[str, float]:
    """Best slots through the service on a real SQLite database: cold (fit), warm (cached fit), after an import."""
    import asyncio

    from bench.common import temp_database

    with temp_database("sqlite", "analyzer") as db:
        return asyncio.run(_warm_cache(db, n_posts, calls))


# ----------------------------------------------------------------------------- report


def machine() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.platform()}, CPU {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"numpy {np.__version__}")


def write_block(text: str, path: Path = RESULTS) -> None:
    block = f"{START}\n{text.rstrip()}\n{END}"
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    if START in old and END in old:
        new = old[: old.index(START)] + block + old[old.index(END) + len(END):]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    path.write_text(new)


TRIED = [
    "### What was tried for flexibility and ranking (why the defaults won)",
    "",
    "Scratch runs of the real protocol above (100 bootstrap draws; lift@5 model on Thai sellers / UCI Facebook "
    "metrics; B0 +0.673 / +0.376, B1 +0.487 / +0.365):",
    "",
    "| variant | Thai | UCI FB |",
    "|---|---|---|",
    "| issue-7 model (4 harmonics, fixed 1/k² smoothness, content adjusted), ranked by mean | −0.223 | −0.047 |",
    "| same, ranked by mean − sd | +0.205 | −0.063 |",
    "| 12 harmonics, rough curve only (decay 0), ranked as posted, mean − sd | +0.659 | +0.129 |",
    "| 12 harmonics, smoothness by marginal likelihood (decay 2/1/0), content adjusted, mean − sd | +0.311 | −0.644 |",
    "| same, ranked by mean | +0.159 | −0.024 |",
    "| 12 harmonics, rough curve only (decay 0), content adjusted, mean − sd | +0.556 | −0.644 |",
    "| 4 harmonics (1/k²) + a free 24-hour block with its own sd (smooth + rough), content adjusted "
    "| +0.239 | −0.379 |",
    "| 12 harmonics by marginal likelihood, content effect added back per slot (\"as you usually post there\") "
    "| +0.450 | +0.455 |",
    "| content adjustment chosen per channel by time-ordered CV (70/30 inside the training part) | +0.498 | −0.644 |",
    "| 12 harmonics, smoothness by marginal likelihood, ranked as posted (no content adjustment), mean − sd "
    "(issue-15 first default) | +0.694 | +0.129 |",
    "| same + smoothness chosen by time-ordered CV inside the training part (oldest 70% → newest 30%), "
    "held-out MSE (`select=\"cv\"`) | +0.527 | +0.098 |",
    "| same, CV scored by the held-out lift@5 of each candidate's top 5 | +0.527 | +0.098 |",
    "| CV (MSE) choosing among the model, an additive hour+weekday structure and an hour-only structure "
    "(rough curve; ≈ the additive ridge and a shrunk B0 on the outcome) | +0.551 | +0.098 |",
    "| same, CV scored by held-out lift@5 | +0.527 | +0.098 |",
    "| the two simpler structures as extra candidates chosen by marginal likelihood | +0.603 | +0.129 |",
    "| block sds freer (hyperprior sd 2 instead of 1) | +0.598 | +0.129 |",
    "| rank caution 0.5 / 1.5 sd instead of 1 | +0.704 / +0.664 | +0.129 / +0.151 |",
    "| calendar-period levels (vague fixed effects per 28 / 56 / 91 days) | +0.850 / +0.889 / +0.696 | +0.151 |",
    "| calendar-period levels per 56 days, shrunk (sd by marginal likelihood) | +0.873 | +0.151 |",
    "| same + Huber reweighting (one pass) | +0.677 | +0.151 |",
    "| same + hour curves averaged over 5 smoothnesses (3/2/1/0.5/0) by marginal likelihood | +0.872 | +0.151 |",
    "| same, averaged over the 3 smoothnesses 2/1/0 (**default**) | **+0.732** | +0.151 |",
    "",
    "Synthetic regret ratios of the same variants (scratch, tuning seeds from 500 000 — never the benchmark's — "
    "30–60 channels at 100/300 posts, model ÷ B1, generator A / B): first default 0.75–0.80 / 0.72–0.80 at 100, "
    "0.59 / 0.72–0.76 at 300; CV on MSE 0.77 / 0.80 at 100; CV on lift 0.76 / 0.74–0.75 at 100 but 0.60–0.65 / "
    "0.70–0.77 at 300; rank caution 0 or 2.5 worse on both (0.83–0.89 at 100); shrunk 56-day periods 0.755 / 0.788 "
    "at 100, 0.597 / 0.723 at 300 vs 0.747 / 0.771 and 0.592 / 0.720 without (60 channels: within noise); "
    "averaging the curves (40 channels) 0.72 / 0.73 at 100 and 0.56 / 0.74 at 300 vs 0.76 / 0.78 and 0.57 / 0.76 "
    "picking the best one; five smoothnesses averaged 0.71 / 0.73 and 0.53 / 0.74, not kept: averaged over more "
    "smooth curves, the evidence for a planted one-cell peak fell below the detection threshold "
    "(tests/analytics/test_api.py, log BF 0.99). "
    "CV selection lost on the primary measure every time: the newest 30% of one channel's training posts is too "
    "little to choose between curves, while the marginal likelihood uses every post; the lift-scored CV helped "
    "generator B at 100 posts only. The period levels won on real data: engagement drifts (follower mix, reach, "
    "bursts) and a slot used mostly in a good month otherwise takes that month's level for its own. Averaging "
    "the curves won on both generators at both sizes and kept the real lift above both baselines (per Thai page "
    "mixed: 3 better, 2 worse, one 1-test-post page dropping out), so the intervals now carry the uncertainty "
    "about how rough the curve is.",
    "",
    "Effect detection: with a log-BF threshold of 1.0 as posted, flat truth claimed an effect in 22% of generator "
    "A's 300-post channels (tuning seeds): A puts videos (+25%) out at its first habitual slot, so that slot "
    "really does better as posted. A stricter threshold (1.75, calibrated to ≥ 90% at every size) fixed that but "
    "lost a planted one-cell peak (tests/analytics/test_api.py, log BF 1.02). The default now asks whether timing "
    "matters beyond content: the evidence is computed with content types as fixed effects in both the timing and "
    "the mean-only model (threshold 1.0; flat A 98.8%, B 93.8% at 100/300 posts on tuning seeds, detection power "
    "up from 28% to 34% on A), or an as-posted log BF above 5 (very strong evidence; kept because two Thai "
    "sellers' live-video pages have log BF 29 and 5.7 as posted, ≈ 0 beyond content, and their as-posted ranking "
    "wins out of sample).",
    "",
    "Interval honesty: the UCI page's baselines reached +0.376 / +0.365 on 1 / 2 test posts in their top 5; the "
    "first version of this bench dropped bootstrap draws where those posts were not drawn, which conditions on "
    "them and gave B0 a tight [+0.20, +0.53]. Draws without any test post in the top 5 now count as unknown at both "
    "tails; above 5% of draws the interval is undefined (reported as such), and such a baseline does not set the "
    "target.",
    "",
    "Why the ranking: the cautious order (mean − 1 sd) beat the mean order in every structure on Thai sellers, so"
    " the score shown is that cautious value and slots are ranked by it. Adjusting the ranking for content type "
    "cost most of the real lift: what a channel posts at an hour is part of what that hour earns it. On UCI "
    "Facebook metrics no variant reached the baselines' +0.38 / +0.37, measured on 1 / 2 test posts inside their "
    "top 5 (the model's top 5 hold 34).",
    "",
    "For comparison, the model on main before this work (issue-15 first default), run on this benchmark's own "
    "seeds with 100 channels at 100 / 300 posts after the choices above were made (measurement only, nothing "
    "chosen by it): regret ÷ B1 generator A 0.747 / 0.546, generator B 0.824 / 0.684; coverage A 84.5%, B 85.0%; "
    "flat truth false at 100+300 posts A 85.0%, B 93.0%. Generator B's targets are missed by both; no variant "
    "tried reached 0.6 at 300 posts on tuning seeds either (best 0.70).",
    "",
]


def _ratio(key: dict[str, float], size: int, gen: str = "A") -> float:
    return key[f"{gen}.model.regret.{size}"] / key[f"{gen}.B1.regret.{size}"]


def _real_checks(key: dict[str, float], names: list[str]) -> list[tuple[str, bool, str]]:
    out = []
    for n in names:
        lift = key[f"real.{n}.lift.model"]
        base = [b for b in ("B0", "B1") if key[f"real.{n}.lo.{b}"] > 0]
        if base:
            best = max(base, key=lambda b: key[f"real.{n}.lift.{b}"])
            target = key[f"real.{n}.lift.{best}"]
            out.append((f"{n}: model lift@5 ≥ best baseline with interval above 0 ({best})", lift >= target,
                        f"{lift:+.3f} vs {target:+.3f}"))
        else:
            det = key[f"real.{n}.detected"]
            why = "; ".join(f"{b} {key[f'real.{n}.lift.{b}']:+.3f}, interval "
                            + ("undefined" if not np.isfinite(key[f"real.{n}.lo.{b}"])
                               else f"from {key[f'real.{n}.lo.{b}']:+.3f}") for b in ("B0", "B1"))
            out.append((f"{n}: no baseline's interval above 0 → effect_detected false", det == 0,
                        f"{det:.0f} pages detected ({why}; model {key[f'real.{n}.lift.model']:+.3f})"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="few channels, small timing run (CI)")
    ap.add_argument("--channels", type=int, default=None, help="synthetic channels per size and truth type")
    ap.add_argument("--seed", type=int, default=BENCH_SEED)
    ap.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 4))
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    args = ap.parse_args(argv)
    n_channels = args.channels or (6 if args.quick else 100)
    sizes = (100, 300) if args.quick else SIZES
    started = time.time()
    rng = np.random.default_rng(args.seed)

    pages, info = load_thai()
    real_sets = [RealSet("thai", pages, "UTC", "Thai Facebook sellers (shared data)"),
                 RealSet("fbm", [load_fb_metrics()], "UTC", "UCI Facebook metrics (bench/data/facebook_metrics.csv)")]
    real = {rs.name: run_real(rs, 200 if args.quick else 1000, rng) for rs in real_sets}
    key: dict[str, float] = {}
    for rr in real.values():
        key.update(rr.key)
    r_lines = [line for rs in real_sets for line in
               ["", f"#### {rs.note}", "", *real[rs.name].lines, "",
                "| page | posts | test posts | model effect_detected | log BF | lift@5 model | B0 | B1 | "
                "test posts in top 5 (model/B0/B1) |", "|---|---|---|---|---|---|---|---|---|",
                *real[rs.name].page_lines]]
    s_lines: dict[str, list[str]] = {}
    for gen in GENERATORS:
        lines, k = summarise_synthetic(run_synthetic(n_channels, args.seed, args.workers, gen, sizes), sizes)
        s_lines[gen] = lines
        key.update({f"{gen}.{name}": v for name, v in k.items()})
    n_big = 1_000_000
    t_reach = time_fit(n_big, 1 if args.quick else 3)
    t_noreach = time_fit(n_big, 1 if args.quick else 3, "no-reach")
    cache = time_best_slots(300 if args.quick else 2000, 50 if args.quick else 300)

    checks = [chk for gen in GENERATORS for chk in (
        (f"{gen}: regret@5 at 100 posts ≤ 0.75 × B1", _ratio(key, 100, gen) <= 0.75,
         f"ratio {_ratio(key, 100, gen):.2f}"),
        (f"{gen}: regret@5 at 300 posts ≤ 0.6 × B1", _ratio(key, 300, gen) <= 0.6,
         f"ratio {_ratio(key, 300, gen):.2f}"),
        (f"{gen}: 80% interval coverage in 75–85%", 0.75 <= key[f"{gen}.coverage.all"] <= 0.85,
         f"{key[f'{gen}.coverage.all']:.1%}"),
        (f"{gen}: flat truth → effect_detected false ≥ 90%", key[f"{gen}.flat_tn.all"] >= 0.9,
         f"{key[f'{gen}.flat_tn.all']:.1%}"),
    )]
    checks += _real_checks(key, [rs.name for rs in real_sets])
    checks += [("fit 1,000,000 rows < 1 s", t_reach < 1.0, f"{t_reach:.2f} s (with reach)"),
               ("best slots from a warm cache < 50 ms p95", cache["warm_p95_ms"] < 50,
                f"p95 {cache['warm_p95_ms']:.1f} ms wall, {cache['warm_cpu_p95_ms']:.1f} ms CPU"),
               ("new engagement data invalidates the cached fit", cache["invalidated"] == 1.0,
                "yes" if cache["invalidated"] == 1.0 else "NO")]
    cmd = (".venv/bin/python -m bench.analyzer" + (" --quick" if args.quick else "")
           + (f" --channels {args.channels}" if args.channels else ""))
    out = [
        "## Best-time analyzer",
        "",
        f"Command: `{cmd}` (seed {args.seed}, {n_channels} synthetic channels per size, truth type and generator, "
        f"{time.time() - started:.0f} s). Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        f"Machine: {machine()}; load average at the end {os.getloadavg()[0]:.1f} (a shared host: times are upper "
        "bounds).",
        "",
        "### Targets",
        "",
        "| target | met | figure |",
        "|---|---|---|",
        *[f"| {name} | {'yes' if ok else 'NO'} | {fig} |" for name, ok, fig in checks],
        "",
        "### Real data, past → future (the primary measure)",
        "",
        f"Thai sellers: {info['rows']} rows, {info['duplicates']} duplicate ids dropped, {info['unparsed']} "
        f"unparsable times, {info['pages']} pages (status_id prefix); the CSV's time zone is undocumented, so times "
        "are read as UTC. No reach or followers: outcome = log1p(interactions) − median of the previous 20 posts. "
        "UCI Facebook metrics: one page, 500 posts of 2014 with reach (outcome = log((interactions+1)/(reach+1))); "
        "dates rebuilt from month/weekday/hour (bench/data/README.md). Each page: train on the first 70% of its "
        "posts by time, test on the rest (pages with < 40 posts skipped). lift@5 = mean test outcome in the "
        "recommended top-5 cells − the others (per page, pooled weighted by test posts; pages where a method's top 5 "
        "hold no test post, or all of them, count as nan and drop out); 90% bootstrap over test weeks; skill = "
        "1 − MSE/MSE(train mean). B0 = mean raw interactions per hour of day (its top 5 = the best hour on 5 days); "
        "B1 = mean outcome per weekday×hour cell (observed cells only).",
        *r_lines,
        "",
        *TRIED,
    ]
    for gen, desc in GENERATORS.items():
        out += [
            f"### Synthetic generator {gen}: {desc}",
            "",
            "Coverage = share of the 168 true centred effects inside the 80% intervals (B1: normal-theory intervals "
            "on its non-empty cells). Regret is normalised (0 = ideal, 1 = random).",
            "",
            *s_lines[gen],
            "",
        ]
    out += [
        "### Time",
        "",
        f"Fit of 1,000,000 rows (numpy arrays in, 4 kinds, Europe/Berlin, OPENBLAS_NUM_THREADS=1, best of runs, "
        "CPU seconds of the process — single-threaded, so the wall time on an idle core; the wall time here is "
        "inflated by the shared host's load): "
        f"with reach {t_reach:.2f} s; without reach/followers (rolling-median path, incl. time sort) "
        f"{t_noreach:.2f} s.",
        "",
        f"Best slots through app.analytics.service on a real SQLite database, {cache['posts']:.0f} posts: first "
        f"answer (fit) {cache['cold_ms']:.0f} ms; from the warm per-channel cache p50 {cache['warm_p50_ms']:.1f} ms, "
        f"p95 {cache['warm_p95_ms']:.1f} ms wall, {cache['warm_cpu_p95_ms']:.1f} ms CPU (each answer opens a "
        "session and reads the history stamp: count and "
        f"newest update); after importing one more post the next answer refits ({cache['after_import_ms']:.0f} ms, "
        f"posts_used +1: {'yes' if cache['invalidated'] == 1.0 else 'NO'}).",
    ]
    text = "\n".join(out)
    print(text)
    if not args.no_write:
        write_block(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
