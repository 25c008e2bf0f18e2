"""Rubrics as workspace objects: CRUD, posts naming them, the migration of free-text rubrics, the plan mix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import DateTime, MetaData, insert, text
from sqlalchemy.engine import Connection

from app.db import make_engine
from app.migrate import upgrade_to_head
from app.models.base import UTCDateTime
from tests.conftest import make_channel, make_settings
from tests.test_upgrades import _upgrade_to, empty_database  # noqa: F401  (a fixture)


async def _post(client: httpx.AsyncClient, channels: list[str], at: str | None, rubric: str | None,
                text_: str = "hello") -> dict[str, Any]:
    r = await client.post("/api/v1/posts", json={"text": text_, "channel_ids": channels, "scheduled_at": at,
                                                 "rubric": rubric})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_create_list_rename_recolour_delete(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/rubrics", json={"name": "  Reputation ", "colour": "#10B981", "target_share": 0.3})
    assert r.status_code == 201, r.text
    rep = r.json()
    assert {k: rep[k] for k in ("name", "colour", "target_share", "posts")} == {
        "name": "Reputation", "colour": "#10b981", "target_share": 0.3, "posts": 0}
    auto = (await client.post("/api/v1/rubrics", json={"name": "Ads"})).json()
    assert auto["colour"].startswith("#") and len(auto["colour"]) == 7 and auto["target_share"] is None
    assert [x["name"] for x in (await client.get("/api/v1/rubrics")).json()["items"]] == ["Reputation", "Ads"]

    ch = await make_channel(client)
    post = await _post(client, [ch["id"]], "2030-01-15T10:00:00Z", "reputation")
    assert post["rubric"] == "Reputation"  # matched whatever the case, stored in the rubric's spelling
    r = await client.patch(f"/api/v1/rubrics/{rep['id']}", json={"name": "Brand", "colour": "#112233"})
    assert r.status_code == 200 and r.json()["name"] == "Brand" and r.json()["posts"] == 1
    assert (await client.get(f"/api/v1/posts/{post['id']}")).json()["rubric"] == "Brand"  # the post follows
    r = await client.patch(f"/api/v1/rubrics/{rep['id']}", json={"target_share": None})
    assert r.json()["target_share"] is None
    assert (await client.delete(f"/api/v1/rubrics/{rep['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/posts/{post['id']}")).json()["rubric"] is None
    assert (await client.get(f"/api/v1/rubrics/{rep['id']}")).status_code == 404


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"name": "ads"}, 409, "exists already"),
    ({"name": "New", "colour": "red"}, 422, "#rrggbb"),
    ({"name": "New", "target_share": 0.8}, 422, "add up to 1.1"),
    ({"name": "New", "target_share": -0.1}, 422, "between 0 and 1"),
    ({"name": "   "}, 422, "needs a name"),
    ({"name": "x" * 101}, 422, "at most 100"),
])
async def test_refusals_say_why(client: httpx.AsyncClient, body: dict[str, Any], status: int, words: str) -> None:
    assert (await client.post("/api/v1/rubrics", json={"name": "Ads", "target_share": 0.3})).status_code == 201
    r = await client.post("/api/v1/rubrics", json=body)
    assert r.status_code == status and words in r.json()["detail"], r.text
    assert [x["name"] for x in (await client.get("/api/v1/rubrics")).json()["items"]] == ["Ads"]


async def test_a_post_with_an_unknown_rubric_creates_it(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    post = await _post(client, [ch["id"]], None, "Contests")
    items = (await client.get("/api/v1/rubrics")).json()["items"]
    assert [(x["name"], x["posts"]) for x in items] == [("Contests", 1)] and post["rubric"] == "Contests"
    r = await client.patch(f"/api/v1/posts/{post['id']}", json={"rubric": ""})
    assert r.status_code == 200 and r.json()["rubric"] is None
    refused = await client.post("/api/v1/posts", json={"text": "", "channel_ids": [ch["id"]], "rubric": "Fresh",
                                                       "media": [{"url": "ftp://x"}]})
    assert refused.status_code == 422
    assert [x["name"] for x in (await client.get("/api/v1/rubrics")).json()["items"]] == ["Contests"]


async def test_the_mix_per_week_and_channel_beside_the_targets(client: httpx.AsyncClient) -> None:
    await client.patch("/api/v1/workspace", json={"timezone": "Europe/Berlin", "rubric_mix": {"News": 0.5,
                                                                                              "Fun": 0.5}})
    a = (await make_channel(client, name="A"))["id"]
    b = (await make_channel(client, name="B"))["id"]
    await _post(client, [a, b], "2030-01-14T09:00:00+01:00", "News")   # Monday, week of 2030-01-14
    await _post(client, [a, b], "2030-01-20T23:30:00+01:00", "news")   # Sunday night, still that week in Berlin
    await _post(client, [a], "2030-01-16T09:00:00+01:00", "Fun")
    await _post(client, [b], "2030-01-21T00:30:00+01:00", None)        # the next week
    r = await client.get("/api/v1/plan/mix", params={"start": "2030-01-14", "end": "2030-01-28"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["timezone"] == "Europe/Berlin" and body["targets"] == {"News": 0.5, "Fun": 0.5}
    first, second = body["weeks"]
    assert first["week"] == "2030-01-14" and first["posts"] == 3
    assert [(x["rubric"], x["posts"], x["share"], x["target_share"], x["gap"]) for x in first["rubrics"]] == [
        ("News", 2, 0.6667, 0.5, 0.1667), ("Fun", 1, 0.3333, 0.5, -0.1667)]
    assert second["week"] == "2030-01-21" and [(x["rubric"], x["posts"]) for x in second["rubrics"]] == [
        ("News", 0), ("Fun", 0), (None, 1)]
    per = {c["name"]: c["weeks"][0] for c in body["channels"]}
    assert [(x["rubric"], x["posts"]) for x in per["A"]["rubrics"]] == [("News", 2), ("Fun", 1)]
    assert [(x["rubric"], x["posts"], x["share"]) for x in per["B"]["rubrics"]] == [
        ("News", 2, 1.0), ("Fun", 0, 0.0)]
    only_b = (await client.get("/api/v1/plan/mix", params={"start": "2030-01-14", "end": "2030-01-21",
                                                           "channel_id": b})).json()
    assert [c["name"] for c in only_b["channels"]] == ["B"] and only_b["weeks"][0]["posts"] == 2
    for params, field in (({"channel_id": "nope"}, "channel_id"), ({"start": "soon"}, "start"),
                          ({"start": "2030-01-14", "end": "2030-01-01"}, "end"),
                          ({"start": "2030-01-01", "end": "2032-01-01"}, "end")):
        r = await client.get("/api/v1/plan/mix", params=params)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text


def _seed_free_text(connection: Connection) -> None:
    meta = MetaData()
    meta.reflect(connection)
    for table in meta.tables.values():  # instants as UTCDateTime writes them
        for column in table.columns:
            if isinstance(column.type, DateTime):
                column.type = UTCDateTime()
    now = datetime(2026, 11, 2, 9, tzinfo=UTC)
    connection.execute(insert(meta.tables["workspaces"]).values(id="w" * 32, name="default", timezone="UTC",
                                                                created_at=now))
    for i, rubric in enumerate(["news", "News ", "Tips", None, "  "]):
        connection.execute(insert(meta.tables["posts"]).values(
            id=f"p{i:031d}", workspace_id="w" * 32, text="x", media=[], options={}, priority=3, rubric=rubric,
            order_at=now + timedelta(days=i), created_at=now, updated_at=now))


async def test_free_text_rubrics_become_rubric_rows(empty_database: str, tmp_path: Path) -> None:  # noqa: F811
    engine = make_engine(make_settings(empty_database, tmp_path))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_to, "0004")
        async with engine.begin() as conn:
            await conn.run_sync(_seed_free_text)
        await upgrade_to_head(engine)
        async with engine.connect() as conn:
            rubrics = (await conn.execute(text("SELECT name, colour FROM rubrics ORDER BY name"))).all()
            posts = (await conn.execute(text("SELECT id, rubric FROM posts ORDER BY id"))).all()
            token = (await conn.execute(text("SELECT ical_token FROM workspaces"))).scalar_one()
    finally:
        await engine.dispose()
    assert [r[0] for r in rubrics] == ["Tips", "news"] and all(len(r[1]) == 7 for r in rubrics)
    assert [p[1] for p in posts] == ["news", "news", "Tips", None, None]  # one spelling per rubric
    assert token and len(token) > 40
