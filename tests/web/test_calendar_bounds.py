"""The calendar page answers an address it cannot show with a 400 page (error.html), never a 500."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize("query", ["month=9999-12", "month=0001-01", "month=2026-13", "month=abc", "month=²²²²-01",
                                   "view=week&date=9999-12-31", "view=week&date=0001-01-01",
                                   "view=week&date=2026-02-30"])
async def test_calendar_out_of_range_is_a_400_page(web: httpx.AsyncClient, query: str) -> None:
    r = await web.get(f"/calendar?{query}")
    assert r.status_code == 400, r.text[:300]
    assert "text/html" in r.headers["content-type"]
    assert "No such calendar page" in r.text and "cannot be shown" in r.text
    assert 'href="/calendar"' in r.text  # the way back


@pytest.mark.parametrize("query", ["month=1970-01", "month=8999-12", "view=week&date=1970-01-01",
                                   "view=week&date=8999-12-31", ""])
async def test_calendar_edges_of_the_range_render(web: httpx.AsyncClient, query: str) -> None:
    r = await web.get(f"/calendar?{query}")
    assert r.status_code == 200, r.text[:300]
    assert "<table" in r.text or "week" in r.text.lower()
