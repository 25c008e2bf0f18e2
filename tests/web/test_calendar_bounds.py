"""The calendar page answers an address it cannot show with a 400 page (error.html), never a 500."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from app.timeutil import utcnow
from app.web import plan_view
from tests.conftest import make_channel


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


async def test_a_crowded_month_shows_its_first_posts_and_says_so(
    web: httpx.AsyncClient, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plan_view, "CALENDAR_MAX_POSTS", 3)
    monkeypatch.setattr(plan_view, "PAGE", 2)  # the first posts are read over more than one page
    crowded, other = await make_channel(client), await make_channel(client, name="Quiet")
    month = (utcnow() + timedelta(days=45)).replace(day=1)
    for i, channel in enumerate([crowded, crowded, crowded, other]):
        at = month.replace(day=3 + i, hour=12, minute=0, second=0, microsecond=0)
        r = await client.post("/api/v1/posts", json={"text": f"crowded post {i}", "channel_ids": [channel["id"]],
                                                     "scheduled_at": at.isoformat()})
        assert r.status_code == 201, r.text
    r = await web.get("/calendar", params={"month": f"{month:%Y-%m}"})
    assert r.status_code == 200
    assert all(f"crowded post {i}" in r.text for i in range(3)) and "crowded post 3" not in r.text
    assert "This month has more than 3 posts; only the first 3 are shown. Pick a channel or a week" in r.text
    narrowed = await web.get("/calendar", params={"month": f"{month:%Y-%m}", "channel": crowded["id"]})
    assert "crowded post 2" in narrowed.text and "more than 3 posts" not in narrowed.text  # exactly the cap
    quiet = await web.get("/calendar", params={"month": f"{month:%Y-%m}", "channel": other["id"]})
    assert "crowded post 3" in quiet.text and "crowded post 0" not in quiet.text
