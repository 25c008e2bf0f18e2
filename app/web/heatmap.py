"""The best-time heatmap as inline SVG: 7 rows (Mon..Sun) × 24 columns (hours), coloured by score.

A pure function of the analyzer's cells, so it renders on the server without JavaScript and is unit-tested.
Cells with no posts behind them are hatched grey: the score there is the prior, not evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CELL_W, CELL_H, GAP = 26, 24, 2
LEFT, TOP = 40, 22
LEGEND_H = 44

# a diverging scale: below-average slots in warm sand, above-average in the accent's blues
NEGATIVE = ((250, 244, 236), (214, 130, 76))
POSITIVE = ((238, 242, 255), (67, 56, 202))


MIN_SCALE = 0.15


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> str:
    t = max(0.0, min(1.0, t))
    r, g, bl = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return f"#{r:02x}{g:02x}{bl:02x}"


def score_colour(score: float, scale: float) -> str:
    """The fill for ``score`` when ``scale`` is the largest absolute score on the map."""
    if scale <= 0:
        return _mix(*POSITIVE, 0.0)
    t = abs(score) / scale
    return _mix(*(POSITIVE if score >= 0 else NEGATIVE), t)


def _num(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _signed(value: float) -> str:
    return f"{value:+.2f}".replace("-", "−")


def _title(cell: Mapping[str, Any], weekday: int, hour: int) -> str:
    posts = int(_num(cell.get("posts")))
    text = (f"{WEEKDAYS[weekday]} {hour:02d}:00–{(hour + 1) % 24:02d}:00 · score {_signed(_num(cell.get('score')))} "
            f"(80%: {_signed(_num(cell.get('low')))} … {_signed(_num(cell.get('high')))}) · "
            f"{posts} post{'s' if posts != 1 else ''}")
    return escape(text)


def render_heatmap_svg(cells: list[dict[str, Any]], *, label: str = "Best time to post") -> str:
    """An accessible SVG heatmap of 168 weekday×hour cells (missing cells count as no posts, score 0)."""
    grid: dict[tuple[int, int], Mapping[str, Any]] = {}
    for item in cells:
        wd, hr = int(_num(item.get("weekday"), -1)), int(_num(item.get("hour"), -1))
        if 0 <= wd < 7 and 0 <= hr < 24:
            grid[(wd, hr)] = item
    # never stretch noise to full colour: a lift of MIN_SCALE (about ±15%) is the least that reads as strong
    scale = max(MIN_SCALE, max((abs(_num(c.get("score"))) for c in grid.values() if _num(c.get("posts")) > 0),
                               default=0.0))
    width = LEFT + 24 * (CELL_W + GAP)
    height = TOP + 7 * (CELL_H + GAP) + LEGEND_H
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="heatmap-title">',
        f'<title id="heatmap-title">{escape(label)}</title>',
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f1f2f4"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#c9ccd3" stroke-width="2"/></pattern></defs>',
    ]
    for hour in range(0, 24, 3):
        x = LEFT + hour * (CELL_W + GAP) + CELL_W / 2
        out.append(f'<text class="axis" x="{x:.0f}" y="{TOP - 8}" text-anchor="middle">{hour:02d}</text>')
    for weekday, name in enumerate(WEEKDAYS):
        y = TOP + weekday * (CELL_H + GAP)
        out.append(f'<text class="axis" x="{LEFT - 8}" y="{y + CELL_H / 2 + 4:.0f}" text-anchor="end">{name}</text>')
        for hour in range(24):
            cell: Mapping[str, Any] = grid.get((weekday, hour)) or {}
            x = LEFT + hour * (CELL_W + GAP)
            has_posts = _num(cell.get("posts")) > 0
            fill = score_colour(_num(cell.get("score")), scale) if has_posts else "url(#hatch)"
            out.append(
                f'<rect class="cell{"" if has_posts else " empty"}" x="{x}" y="{y}" width="{CELL_W}" '
                f'height="{CELL_H}" rx="3" fill="{fill}"><title>{_title(cell, weekday, hour)}</title></rect>'
            )
    out.append(_legend(TOP + 7 * (CELL_H + GAP) + 14, scale))
    out.append("</svg>")
    return "".join(out)


def _legend(y: int, scale: float) -> str:
    parts = ['<g class="legend">']
    steps = 9
    for i in range(steps):
        value = (i - steps // 2) / (steps // 2) * (scale or 1.0)
        x = LEFT + i * 22
        parts.append(f'<rect x="{x}" y="{y}" width="20" height="12" rx="2" fill="{score_colour(value, scale)}"/>')
    parts.append(f'<text class="axis" x="{LEFT}" y="{y + 26}">worse</text>')
    parts.append(f'<text class="axis" x="{LEFT + steps * 22 - 2}" y="{y + 26}" text-anchor="end">better</text>')
    hx = LEFT + steps * 22 + 24
    parts.append(f'<rect x="{hx}" y="{y}" width="20" height="12" rx="2" fill="url(#hatch)"/>')
    parts.append(f'<text class="axis" x="{hx + 26}" y="{y + 10}">no posts yet</text>')
    parts.append("</g>")
    return "".join(parts)
