"""Plain-language explanation of a fit: the evidence named (posts behind the top slot, plain percent, how sure),
counts with the right singular/plural, hour ranges written as clock times."""

from __future__ import annotations

from math import erf, sqrt
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from app.analytics.model import Fit

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
Z80 = 1.2815515655446004


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 post``, ``2 posts``, ``0 posts``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _pct(log_lift: float) -> str:
    v = (np.exp(log_lift) - 1.0) * 100.0
    return f"{abs(v):.0f}% {'better' if v >= 0 else 'worse'}"


def _signed_pct(log_lift: float) -> str:
    v = (np.exp(log_lift) - 1.0) * 100.0
    return f"{v:+.0f}%".replace("-", "−")


def _slot_name(c: int) -> str:
    return f"{DAYS[c // 24][:3]} {c % 24:02d}:00"


def _clock(h: int) -> str:
    return f"{h % 24:02d}:00"


def hour_ranges(hours: list[int]) -> str:
    """Hours of the day as clock-time ranges, wrapping midnight: [22, 23] → '22:00–00:00',
    [23, 0, 1] → '23:00–02:00', [5] → '05:00–06:00', all 24 → 'all hours'."""
    hs = sorted({h % 24 for h in hours})
    if not hs:
        return ""
    if len(hs) == 24:
        return "all hours"
    runs: list[list[int]] = []
    for h in hs:
        if runs and h == runs[-1][-1] + 1:
            runs[-1].append(h)
        else:
            runs.append([h])
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][-1] == 23:
        runs[0] = runs.pop() + runs[0]
    return ", ".join(f"{_clock(r[0])}–{_clock(r[-1] + 1)}" for r in runs)


def _sureness(mean: float, sd: float) -> str:
    """How sure the slot beats the average, in words and as a probability (normal posterior)."""
    p = 0.5 * (1.0 + erf(mean / (sd * sqrt(2.0)))) if sd > 0 else (1.0 if mean > 0 else 0.0)
    word = "very likely" if p >= 0.95 else "likely" if p >= 0.8 else "possibly" if p >= 0.6 else "not clearly"
    return f"{word} better than average ({p:.0%} sure)"


def explain(fit: Fit, *, unweighted_top: int | None, half_life_days: float | None) -> str:
    """One short paragraph for a person: the best times and the evidence behind them, what is untested, what else
    mattered."""
    n = fit.posts_used
    if n == 0:
        return "No usable posting history yet (posts need engagement numbers and to be a few days old)."
    order = fit.ranking()
    parts: list[str] = []
    best = int(order[0])
    behind = int(fit.counts[best])
    if fit.effect_detected:
        top = [int(c) for c in order[:3]]
        mean, sd = float(fit.score[best]), float(np.sqrt(fit.score_var[best]))
        evidence = (f"{plural(behind, 'post')} of the {n} analysed went out in that slot"
                    if behind else f"none of the {n} posts analysed went out in that slot: its score comes from "
                                   "the same hour on other days and neighbouring hours")
        parts.append(
            f"Best times: {', '.join(_slot_name(c) for c in top)} (your time zone {fit.timezone}). "
            f"A post at {_slot_name(best)} does about {_pct(mean)} than your average "
            f"(80% interval {_signed_pct(mean - Z80 * sd)} to {_signed_pct(mean + Z80 * sd)}; "
            f"{_sureness(mean, sd)}); {evidence}."
        )
    else:
        parts.append(
            f"No reliable difference between posting times: based on {plural(n, 'post')}, no day or hour does "
            "measurably better than your average, so post when it suits you. The slots below are ranked anyway but "
            "are close to a coin toss."
        )
    if fit.caution > 0:
        parts.append(
            "Scores are cautious: each is the expected lift minus one standard error, so a slot with few posts "
            "behind it ranks below an equally good one with more evidence; the ranges show the 80% interval."
        )
    untested_hours = [h for h in range(24) if fit.counts.reshape(7, 24)[:, h].sum() == 0]
    untested_days = [DAYS[d] for d in range(7) if fit.counts.reshape(7, 24)[d].sum() == 0]
    if untested_hours:
        parts.append(f"Untested hours (no post yet): {hour_ranges(untested_hours)}.")
    if untested_days:
        parts.append(f"Untested days: {', '.join(untested_days)}.")
    if len(fit.kind_effects) > 1:
        name, eff = max(fit.kind_effects.items(), key=lambda kv: abs(kv[1]))
        base = next(k for k, v in fit.kind_effects.items() if v == 0.0 and k != name)
        if abs(eff) > 0.05:
            parts.append(f"Content type matters too: {name} posts do about {_pct(eff)} than {base} posts "
                         "(the times above are adjusted for it).")
    if fit.effect_detected and unweighted_top is not None and unweighted_top != best:
        parts.append(f"Recent posts count more (half-life {half_life_days:.0f} days); weighing all posts equally "
                     f"would favour {_slot_name(unweighted_top)}.")
    return " ".join(parts)
