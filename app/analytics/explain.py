"""Plain-language explanation of a fit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from app.analytics.model import Fit

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _pct(log_lift: float) -> str:
    v = (np.exp(log_lift) - 1.0) * 100.0
    return f"{abs(v):.0f}% {'better' if v >= 0 else 'worse'}"


def _slot_name(c: int) -> str:
    return f"{DAYS[c // 24][:3]} {c % 24:02d}:00"


def _ranges(hours: list[int]) -> str:
    """[0,1,2,3,23] → '23–3 h' style ranges (wrapping midnight)."""
    hs = sorted(set(hours))
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
    return ", ".join(f"{r[0]}–{r[-1] + 1 if r[-1] < 23 else 24} h" if len(r) > 1 else f"{r[0]} h" for r in runs)


def explain(fit: Fit, *, unweighted_top: int | None, half_life_days: float | None) -> str:
    """One short paragraph for a person: the best times and how sure we are, what is untested, what else mattered."""
    n = fit.posts_used
    if n == 0:
        return "No usable posting history yet (posts need engagement numbers and to be a few days old)."
    order = fit.ranking()
    parts: list[str] = []
    if fit.effect_detected:
        top = [int(c) for c in order[:3]]
        best = top[0]
        sd = float(np.sqrt(fit.score_var[best]))
        lo, hi = fit.score[best] - 1.2816 * sd, fit.score[best] + 1.2816 * sd
        parts.append(
            f"Best times: {', '.join(_slot_name(c) for c in top)} (your time zone {fit.timezone}). "
            f"A post at {_slot_name(best)} does about {_pct(float(fit.score[best]))} than your average "
            f"(likely between {(np.exp(lo) - 1) * 100:+.0f}% and {(np.exp(hi) - 1) * 100:+.0f}%), based on {n} posts."
        )
    else:
        parts.append(
            f"No reliable difference between posting times: based on {n} posts, no day or hour does measurably "
            "better than your average, so post when it suits you. The slots below are ranked anyway but are "
            "close to a coin toss."
        )
    untested_hours = [h for h in range(24) if fit.counts.reshape(7, 24)[:, h].sum() == 0]
    untested_days = [DAYS[d] for d in range(7) if fit.counts.reshape(7, 24)[d].sum() == 0]
    if untested_hours:
        parts.append(f"Untested hours: {_ranges(untested_hours)}.")
    if untested_days:
        parts.append(f"Untested days: {', '.join(untested_days)}.")
    if len(fit.kind_effects) > 1:
        name, eff = max(fit.kind_effects.items(), key=lambda kv: abs(kv[1]))
        base = next(k for k, v in fit.kind_effects.items() if v == 0.0 and k != name)
        if abs(eff) > 0.05:
            parts.append(f"Content type matters too: {name} posts do about {_pct(eff)} than {base} posts "
                         "(the times above are adjusted for it).")
    if fit.effect_detected and unweighted_top is not None and unweighted_top != int(order[0]):
        parts.append(f"Recent posts count more (half-life {half_life_days:g} days); weighing all posts equally "
                     f"would favour {_slot_name(unweighted_top)}.")
    return " ".join(parts)
