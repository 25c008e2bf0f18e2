"""The calendar list reads Core rows (``list_page(rows=True)``), the single read ORM objects: same answer.

``GET /api/v1/posts`` builds its items from table rows, not mapped ``Post`` objects (bench/RESULTS.md, "API
under load"); every item must still be exactly what ``GET /api/v1/posts/{id}`` answers for that post, for each
filter the list takes (channel, status, the keyset cursor).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import make_channel


def _at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


async def _seed(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    tg = await make_channel(client)
    vk = await make_channel(client, "vk")
    bodies: list[dict[str, Any]] = [
        {"text": "both, with media and an override", "channel_ids": [tg["id"], vk["id"]], "scheduled_at": _at(2),
         "media": [{"url": "https://example.org/a.jpg", "kind": "photo", "alt_text": "a"}],
         "overrides": {vk["id"]: {"text": "VK only"}}, "priority": 5, "rubric": "News",
         "text_format": "html", "link": "https://example.org/", "silent": True},
        {"text": "a draft", "channel_ids": [tg["id"]]},
        {"text": "zoned", "channel_ids": [vk["id"]], "scheduled_at": "2031-07-01T18:31:00",
         "timezone": "Europe/Berlin"},
        {"text": "to cancel", "channel_ids": [tg["id"], vk["id"]], "scheduled_at": _at(3)},
    ]
    ids = []
    for body in bodies:
        r = await client.post("/api/v1/posts", json=body)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    assert (await client.delete(f"/api/v1/posts/{ids[3]}")).status_code == 200
    return tg, vk, ids


async def _singles(client: httpx.AsyncClient, ids: list[str]) -> dict[str, Any]:
    out = {}
    for pid in ids:
        r = await client.get(f"/api/v1/posts/{pid}")
        assert r.status_code == 200, r.text
        body = r.json()
        # the cadence checks (``warnings``) belong to the single read and to create/update, not to lists
        assert isinstance(body.pop("warnings"), list)
        body["warnings"] = []
        out[pid] = body
    return out


async def test_list_items_equal_single_reads(client: httpx.AsyncClient) -> None:
    tg, vk, ids = await _seed(client)
    singles = await _singles(client, ids)
    assert singles[ids[0]]["overrides"] == {vk["id"]: {"text": "VK only"}}
    assert singles[ids[3]]["status"] == "cancelled"
    for params, expected in [
        ({}, ids),
        ({"channel_id": tg["id"]}, [ids[0], ids[1], ids[3]]),
        ({"channel_id": vk["id"]}, [ids[0], ids[2], ids[3]]),
        ({"status": "cancelled"}, [ids[3]]),
        ({"channel_id": vk["id"], "status": "scheduled"}, [ids[0], ids[2]]),
        ({"start": "2031-07-01", "end": "2031-07-02"}, [ids[2]]),
        ({"channel_id": vk["id"], "start": "2031-07-01", "end": "2031-07-02"}, [ids[2]]),
    ]:
        r = await client.get("/api/v1/posts", params=params)
        assert r.status_code == 200, (params, r.text)
        items = r.json()["items"]
        assert sorted(i["id"] for i in items) == sorted(expected), params
        for item in items:
            assert item == singles[item["id"]], params


async def test_cursor_pages_equal_single_reads(client: httpx.AsyncClient) -> None:
    tg, _, ids = await _seed(client)
    singles = await _singles(client, ids)
    for params in ({"limit": "1"}, {"limit": "1", "channel_id": tg["id"]}):
        seen: list[str] = []
        cursor = None
        while True:
            r = await client.get("/api/v1/posts", params={**params, **({"cursor": cursor} if cursor else {})})
            assert r.status_code == 200, r.text
            page = r.json()
            for item in page["items"]:
                assert item == singles[item["id"]]
                seen.append(item["id"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        expected = ids if "channel_id" not in params else [ids[0], ids[1], ids[3]]
        assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen)), params
