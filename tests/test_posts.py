from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import make_channel


def future(hours: float = 2) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0).isoformat()


async def create(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/api/v1/posts", json=body)


async def test_create_get_and_shape(client: httpx.AsyncClient) -> None:
    tg = await make_channel(client)
    vk = await make_channel(client, "vk")
    at = "2030-12-01T18:31:00+03:00"
    r = await create(client, text="Hello", channel_ids=[tg["id"], vk["id"]], scheduled_at=at,
                     media=[{"url": "https://example.org/a.jpg", "kind": "photo"}],
                     overrides={vk["id"]: {"text": "Hello, VK"}})
    assert r.status_code == 201, r.text
    post = r.json()
    assert post["status"] == "scheduled"
    assert post["scheduled_at"] == "2030-12-01T15:31:00Z"
    assert post["media"] == [{"kind": "photo", "url": "https://example.org/a.jpg"}]
    assert {t["channel_id"] for t in post["targets"]} == {tg["id"], vk["id"]}
    for t in post["targets"]:
        assert t["status"] == "scheduled" and t["attempts"] == 0 and t["external_id"] is None
        assert t["url"] is None and t["last_error"] is None and t["published_at"] is None
        assert t["late_by_s"] is None and t["late"] is False
    assert post["overrides"] == {vk["id"]: {"text": "Hello, VK"}}
    got = (await client.get(f"/api/v1/posts/{post['id']}")).json()
    assert got["id"] == post["id"] and got["scheduled_at"] == post["scheduled_at"]


async def test_local_time_with_zone_and_dst_rules(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    r = await create(client, text="x", channel_ids=[ch["id"]], scheduled_at="2030-07-01T18:31:00",
                     timezone="Europe/Berlin")
    assert r.status_code == 201 and r.json()["scheduled_at"] == "2030-07-01T16:31:00Z"
    gap = await create(client, text="x", channel_ids=[ch["id"]], scheduled_at="2030-03-31T02:30:00",
                       timezone="Europe/Berlin")
    assert gap.status_code == 422 and "does not exist" in gap.json()["detail"]
    assert gap.json()["errors"][0]["field"] == "scheduled_at"
    fold = await create(client, text="x", channel_ids=[ch["id"]], scheduled_at="2030-10-27T02:30:00",
                        timezone="Europe/Berlin")
    assert fold.status_code == 422 and "twice" in fold.json()["detail"] and "+01:00" in fold.json()["detail"]
    bare = await create(client, text="x", channel_ids=[ch["id"]], scheduled_at="2030-07-01T18:31:00")
    assert bare.status_code == 422 and "offset" in bare.json()["detail"]
    mars = await create(client, text="x", channel_ids=[ch["id"]], scheduled_at="2030-07-01T18:31:00",
                        timezone="Mars/Olympus")
    assert mars.status_code == 422 and "Mars/Olympus" in mars.json()["detail"]
    junk = await create(client, text="x", channel_ids=[ch["id"]], scheduled_at="tomorrow-ish")
    assert junk.status_code == 422 and "RFC 3339" in junk.json()["detail"]


async def test_past_now_and_draft(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    past = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    r = await create(client, text="x", channel_ids=[ch["id"]], scheduled_at=past)
    assert r.status_code == 422 and "past" in r.json()["detail"]
    slightly = (datetime.now(UTC) - timedelta(seconds=20)).isoformat()
    assert (await create(client, text="x", channel_ids=[ch["id"]], scheduled_at=slightly)).status_code == 201
    now = await create(client, text="x", channel_ids=[ch["id"]], scheduled_at="now")
    assert now.status_code == 201
    assert abs(datetime.fromisoformat(now.json()["scheduled_at"]) - datetime.now(UTC)) < timedelta(seconds=30)
    draft = await create(client, text="x", channel_ids=[ch["id"]], scheduled_at=None)
    assert draft.status_code == 201 and draft.json()["status"] == "draft"
    assert draft.json()["targets"][0]["status"] == "draft"


async def test_content_is_validated_per_platform(client: httpx.AsyncClient) -> None:
    tg = await make_channel(client)
    ig = await make_channel(client, "instagram")
    long_caption = "a" * 1100
    r = await create(client, text=long_caption, channel_ids=[tg["id"]], scheduled_at=future(),
                     media=[{"url": "https://example.org/a.jpg"}])
    assert r.status_code == 422
    err = r.json()["errors"][0]
    assert err["channel_id"] == tg["id"] and err["rule"] == "caption_too_long" and "1024" in err["message"]
    r = await create(client, text="no media", channel_ids=[ig["id"]], scheduled_at=future())
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "media_required"
    assert "Instagram" in r.json()["detail"]
    r = await create(client, text="a" * 4097, channel_ids=[tg["id"]], scheduled_at=future())
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "text_too_long"
    # the override counts for its channel only
    r = await create(client, text="a" * 5000, channel_ids=[tg["id"]], scheduled_at=future(),
                     overrides={tg["id"]: {"text": "short"}})
    assert r.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "x", "channel_ids": []}, "body.channel_ids"),
        ({"text": "x", "channel_ids": "abc"}, "body.channel_ids"),
        ({"text": "x", "channel_ids": ["nope"]}, "channel_ids"),
        ({"text": 5, "channel_ids": ["nope"]}, "body.text"),
        ({"text": "x", "channel_ids": ["nope"], "colour": "red"}, "body.colour"),
        ({"text": "x", "channel_ids": ["nope"], "media": [{"url": "ftp://x/y.jpg"}]}, "body.media[0]"),
    ],
)
async def test_bad_input_is_a_clear_4xx(client: httpx.AsyncClient, body: dict[str, Any], field: str) -> None:
    r = await client.post("/api/v1/posts", json=body)
    assert r.status_code == 422, r.text
    assert any(e["field"] == field for e in r.json()["errors"]), r.json()


async def test_malformed_json_and_huge_body(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/posts", content=b'{"text": ', headers={"content-type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["detail"]
    r = await client.post("/api/v1/posts", content=b"[" + b"1," * 600_000 + b"1]",
                          headers={"content-type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json()["detail"]


async def test_idempotency_key_replays(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    body = {"text": "once", "channel_ids": [ch["id"]], "scheduled_at": future()}
    first = await client.post("/api/v1/posts", json=body, headers={"Idempotency-Key": "abc-1"})
    second = await client.post("/api/v1/posts", json=body, headers={"Idempotency-Key": "abc-1"})
    assert first.status_code == second.status_code == 201
    assert second.headers.get("idempotent-replayed") == "true"
    assert first.json()["id"] == second.json()["id"]
    assert len((await client.get("/api/v1/posts")).json()["items"]) == 1
    other = await client.post("/api/v1/posts", json={**body, "text": "else"}, headers={"Idempotency-Key": "abc-1"})
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]


async def test_calendar_range_filters_and_cursor(client: httpx.AsyncClient) -> None:
    a = await make_channel(client)
    b = await make_channel(client, "vk")
    base = datetime(2031, 1, 1, 12, tzinfo=UTC)
    for day in range(10):
        at = (base + timedelta(days=day)).isoformat()
        await create(client, text=f"a{day}", channel_ids=[a["id"]], scheduled_at=at)
        if day % 2 == 0:
            await create(client, text=f"b{day}", channel_ids=[b["id"]], scheduled_at=at)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"start": "2031-01-03T00:00:00Z", "end": "2031-01-09T00:00:00Z",
                                  "channel_id": a["id"], "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/posts", params=params)).json()
        seen += [p["text"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["a2", "a3", "a4", "a5", "a6", "a7"]
    only_b = (await client.get("/api/v1/posts", params={"channel_id": b["id"]})).json()["items"]
    assert [p["text"] for p in only_b] == ["b0", "b2", "b4", "b6", "b8"]
    drafts = (await client.get("/api/v1/posts", params={"status": "draft"})).json()["items"]
    assert drafts == []
    first = (await client.get("/api/v1/posts", params={"limit": 1})).json()
    tampered = first["next_cursor"][:-3] + ("aaa" if not first["next_cursor"].endswith("aaa") else "bbb")
    r = await client.get("/api/v1/posts", params={"cursor": tampered})
    assert r.status_code == 400 and "cursor" in r.json()["detail"]
    r = await client.get("/api/v1/posts", params={"cursor": "!!!"})
    assert r.status_code == 400
    r = await client.get("/api/v1/posts", params={"status": "bogus"})
    assert r.status_code == 422


async def test_edit_cancel_retry(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    post = (await create(client, text="v1", channel_ids=[ch["id"]], scheduled_at=future())).json()
    r = await client.patch(f"/api/v1/posts/{post['id']}", json={"text": "v2", "scheduled_at": future(5)})
    assert r.status_code == 200 and r.json()["text"] == "v2"
    assert r.json()["scheduled_at"] != post["scheduled_at"]
    r = await client.patch(f"/api/v1/posts/{post['id']}", json={"text": "a" * 5000})
    assert r.status_code == 422  # an edit is validated like a create
    r = await client.patch(f"/api/v1/posts/{post['id']}", json={"scheduled_at": None})
    assert r.status_code == 200 and r.json()["status"] == "draft"
    r = await client.post(f"/api/v1/posts/{post['id']}/retry")
    assert r.status_code == 409
    r = await client.delete(f"/api/v1/posts/{post['id']}")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert r.json()["targets"][0]["status"] == "cancelled"
    assert (await client.delete(f"/api/v1/posts/{post['id']}")).status_code == 409
    r = await client.patch(f"/api/v1/posts/{post['id']}", json={"text": "v3"})
    assert r.status_code == 409
    assert (await client.get("/api/v1/posts/does-not-exist")).status_code == 404


async def test_edit_after_claim_is_409(client: httpx.AsyncClient, app: Any) -> None:
    from sqlalchemy import update

    from app.db import session_scope
    from app.models import Target

    ch = await make_channel(client)
    post = (await create(client, text="v1", channel_ids=[ch["id"]], scheduled_at=future())).json()
    async with session_scope(app.state.sessionmaker) as session:
        await session.execute(update(Target).where(Target.post_id == post["id"]).values(status="publishing"))
    r = await client.patch(f"/api/v1/posts/{post['id']}", json={"text": "late edit"})
    assert r.status_code == 409 and "already being published" in r.json()["detail"]
    r = await client.delete(f"/api/v1/posts/{post['id']}")
    assert r.status_code == 409 and "already being published" in r.json()["detail"]
    assert (await client.get(f"/api/v1/posts/{post['id']}")).json()["status"] == "publishing"


async def test_media_upload_and_use(client: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    r = await client.post("/api/v1/media", files={"file": ("pic.jpg", b"\xff\xd8\xff" + b"0" * 100, "image/jpeg")})
    assert r.status_code == 201, r.text
    media = r.json()
    assert media["kind"] == "photo" and media["size"] == 103
    served = await anon.get(media["url"].removeprefix("http://127.0.0.1:8000"))
    assert served.status_code == 200 and served.content.startswith(b"\xff\xd8\xff")
    r = await create(client, text="pic", channel_ids=[ch["id"]], scheduled_at=future(),
                     media=[{"media_id": media["id"]}])
    assert r.status_code == 201 and r.json()["media"][0]["url"] == media["url"]
    r = await create(client, text="pic", channel_ids=[ch["id"]], scheduled_at=future(),
                     media=[{"media_id": "missing"}])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "media[0].media_id"
