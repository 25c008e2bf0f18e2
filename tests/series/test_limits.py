"""Series without loss or flood: caps per run and per request, rules that never fire, no skipped occurrences."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.db import session_scope
from app.series import service
from tests.conftest import make_channel


def body(cron: str, channel_ids: list[str], **extra: Any) -> dict[str, Any]:
    return {"name": "s", "cron": cron, "timezone": "UTC", "template": {"text": "tick"}, "channel_ids": channel_ids,
            **extra}


async def all_posts(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/posts", params=params)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


async def test_flooding_rule_is_refused_with_the_count(client: httpx.AsyncClient) -> None:
    channels = [(await make_channel(client, name=f"c{i}"))["id"] for i in range(3)]
    r = await client.post("/api/v1/series", json=body("* * * * *", channels))
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["errors"][0]["field"] == "cron"
    assert "this rule makes 20,160 posts in the next 14 days on 3 channels" in err["detail"]
    assert "60,480" in err["detail"] and f"{service.MAX_TARGETS_PER_RUN:,}" in err["detail"]
    assert (await client.get("/api/v1/series")).json()["items"] == []
    assert await all_posts(client) == []


async def test_rule_that_never_fires_is_refused(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    for cron in ("0 0 30 2 *", "0 0 31 4 *"):
        r = await client.post("/api/v1/series", json=body(cron, [ch["id"]]))
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "cron"
        assert "does not fire in the next 5 years" in r.json()["detail"]
    # rare but real: 29 February fires within five years
    r = await client.post("/api/v1/series", json=body("0 9 29 2 *", [ch["id"]]))
    assert r.status_code == 201, r.text
    assert all(datetime.fromisoformat(at).strftime("%m-%d") == "02-29" for at in r.json()["next_occurrences"])


async def test_occurrences_past_the_run_cap_follow_on_the_next_run(client: httpx.AsyncClient, app: Any) -> None:
    ch = await make_channel(client)
    r = await client.post("/api/v1/series", json=body("*/30 * * * *", [ch["id"]]))  # 672 in 14 days
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    first = await all_posts(client)
    assert len(first) == service.MAX_OCCURRENCES_PER_RUN
    until = datetime.fromisoformat((await client.get(f"/api/v1/series/{sid}")).json()["materialized_until"])
    assert until == max(datetime.fromisoformat(p["scheduled_at"]) for p in first)  # not the horizon
    async with session_scope(app.state.sessionmaker) as s:
        made, _ = await service.run_all(s, datetime.now(UTC), 14)
    assert 160 <= made <= 180
    times = sorted(datetime.fromisoformat(p["scheduled_at"]) for p in await all_posts(client))
    assert len(times) == len(set(times)) == len(first) + made
    assert all(b - a == timedelta(minutes=30) for a, b in itertools.pairwise(times))  # nothing skipped
    until = datetime.fromisoformat((await client.get(f"/api/v1/series/{sid}")).json()["materialized_until"])
    assert until > datetime.now(UTC) + timedelta(days=13, hours=23)
    async with session_scope(app.state.sessionmaker) as s:
        again, _ = await service.run_all(s, datetime.now(UTC), 14)
    assert again <= 1  # at most the half hour that came into the horizon meanwhile


async def test_targets_per_run_are_capped_across_channels(client: httpx.AsyncClient, app: Any) -> None:
    """A rule within the creation limit still makes at most MAX_TARGETS_PER_RUN targets in one run (a longer
    horizon set later must not flood)."""
    channels = [(await make_channel(client, name=f"c{i}"))["id"] for i in range(5)]
    r = await client.post("/api/v1/series", json=body("0 */2 * * *", channels))  # 168 × 5 = 840 in 14 days
    assert r.status_code == 201, r.text
    async with session_scope(app.state.sessionmaker) as s:
        made, _ = await service.run_all(s, datetime.now(UTC), 60)  # 720 occurrences × 5 channels
    assert made == service.MAX_TARGETS_PER_RUN // 5
    horizon = datetime.now(UTC) + timedelta(days=59)
    until = datetime.fromisoformat((await client.get(f"/api/v1/series/{r.json()['id']}")).json()["materialized_until"])
    assert until < horizon  # the rest follows on the next run
