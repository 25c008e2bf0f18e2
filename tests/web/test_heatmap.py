"""The heatmap SVG renderer: a pure function of the analyzer's cells."""

from __future__ import annotations

import re
from xml.etree import ElementTree

from app.web.heatmap import render_heatmap_svg, score_colour


def _cells(**override: object) -> list[dict[str, object]]:
    return [{"weekday": d, "hour": h, "score": 0.0, "low": -0.1, "high": 0.1, "posts": 1, **override}
            for d in range(7) for h in range(24)]


def test_168_cells_with_tooltips() -> None:
    cells = _cells()
    cells[7 * 24 - 1] = {"weekday": 6, "hour": 23, "score": 0.5, "low": 0.2, "high": 0.8, "posts": 14}
    svg = render_heatmap_svg(cells)
    root = ElementTree.fromstring(svg)  # well-formed XML
    ns = {"s": "http://www.w3.org/2000/svg"}
    rects = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if "cell" in r.get("class", "")]
    assert len(rects) == 168
    last = rects[-1]
    assert last.find("s:title", ns).text == "Sun 23:00–00:00 · score +0.50 (80%: +0.20 … +0.80) · 14 posts"
    assert svg.count("<title>") == 168


def test_cells_without_posts_are_hatched_and_missing_cells_filled_in() -> None:
    svg = render_heatmap_svg([{"weekday": 0, "hour": 9, "score": 0.3, "low": 0, "high": 0.5, "posts": 4}])
    assert svg.count('class="cell"') == 1
    assert svg.count('class="cell empty"') == 167
    assert 'fill="url(#hatch)"' in svg and "0 posts" in svg


def test_colour_scale_is_diverging() -> None:
    assert score_colour(0.0, 1.0) == score_colour(0.0, 0.5)
    assert score_colour(1.0, 1.0) == "#4338ca" and score_colour(-1.0, 1.0) == "#d6824c"
    assert score_colour(0.3, 0.0).startswith("#")


def test_everything_is_escaped() -> None:
    cells = _cells(score="<script>", low="&", high=None)
    svg = render_heatmap_svg(cells, label='<script>alert("x")</script> & co')
    assert "<script>" not in svg
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in svg
    ElementTree.fromstring(svg)
    assert re.search(r'viewBox="0 0 \d+ \d+"', svg)
