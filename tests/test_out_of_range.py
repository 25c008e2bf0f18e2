"""Instants at the edges of the calendar are 422s naming the field (schemathesis found them as 500s)."""

from __future__ import annotations

import httpx

from tests.conftest import make_channel

EDGES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "9999-12-31", "0001-01-01"]


async def test_edge_instants_are_refused_with_the_field(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    for value in EDGES:
        answers = {
            "scheduled_at": await client.post("/api/v1/posts", json={
                "text": "a", "channel_ids": [ch["id"]], "scheduled_at": value, "timezone": "UTC"}),
            "start": await client.get("/api/v1/posts", params={"start": value}),
            "plan start": await client.post("/api/v1/plan/fill", json={"drafts": "all", "start": value}),
        }
        for name, r in answers.items():
            assert r.status_code == 422, (name, value, r.text)
            assert "out of range" in r.json()["detail"], (name, value, r.text)
    r = await client.post("/api/v1/posts", json={"text": "a", "channel_ids": [ch["id"]],
                                                 "scheduled_at": "9999-12-31T23:59:59-01:00"})
    assert r.json()["errors"][0]["field"] == "scheduled_at", r.text
