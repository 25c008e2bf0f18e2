from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import make_channel, targets_out_of_step


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


async def _calendar(client: httpx.AsyncClient, channel_id: str, start: str | None = "2031-03-02T00:00:00Z",
                    end: str | None = "2031-03-06T00:00:00Z", limit: int = 2, **extra: Any) -> list[str]:
    """Texts of the channel's calendar, walking every page."""
    texts: list[str] = []
    params: dict[str, Any] = {"channel_id": channel_id, "limit": limit, **extra}
    if start:
        params["start"] = start
    if end:
        params["end"] = end
    while True:
        page = (await client.get("/api/v1/posts", params=params)).json()
        texts += [p["text"] for p in page["items"]]
        if not page["next_cursor"]:
            return texts
        params["cursor"] = page["next_cursor"]


async def _order_at(app: Any, post_id: str) -> tuple[datetime, set[datetime]]:
    """The post's order_at and the set of its targets' copies."""
    from sqlalchemy import select

    from app.models import Post, Target

    async with app.state.sessionmaker() as session:
        post = (await session.execute(select(Post.order_at).where(Post.id == post_id))).scalar_one()
        copies = set((await session.execute(select(Target.order_at).where(Target.post_id == post_id))).scalars())
    return post, copies


async def test_channel_calendar_follows_reschedules(client: httpx.AsyncClient, anon: httpx.AsyncClient,
                                                    app: Any) -> None:
    from app.db import session_scope
    from app.workspaces import service as workspaces

    a = await make_channel(client)
    b = await make_channel(client, "vk")
    base = datetime(2031, 3, 1, 12, tzinfo=UTC)
    ids: dict[str, str] = {}
    for day in range(8):  # p<day> at 1 March + day, 12:00 UTC; the even days on both channels
        channels = [a["id"], b["id"]] if day % 2 == 0 else [a["id"]]
        at = (base + timedelta(days=day)).isoformat()
        r = await create(client, text=f"p{day}", channel_ids=channels, scheduled_at=at)
        ids[f"p{day}"] = r.json()["id"]
    assert await _calendar(client, a["id"]) == ["p1", "p2", "p3", "p4"]
    assert await _calendar(client, b["id"]) == ["p2", "p4"]

    # out of the range: both of its targets follow
    moved = datetime(2031, 3, 20, 9, tzinfo=UTC)
    r = await client.patch(f"/api/v1/posts/{ids['p2']}", json={"scheduled_at": moved.isoformat()})
    assert r.status_code == 200
    assert await _order_at(app, ids["p2"]) == (moved, {moved})
    assert await _calendar(client, a["id"]) == ["p1", "p3", "p4"]
    assert await _calendar(client, b["id"]) == ["p4"]
    assert await _calendar(client, b["id"], "2031-03-20", "2031-03-21") == ["p2"]

    # into the range, between two others
    r = await client.patch(f"/api/v1/posts/{ids['p6']}", json={"scheduled_at": "2031-03-03T18:00:00Z"})
    assert r.status_code == 200
    assert await _calendar(client, a["id"]) == ["p1", "p6", "p3", "p4"]
    assert await _calendar(client, b["id"]) == ["p6", "p4"]

    # onto another post's instant: the id breaks the tie, also across a page boundary
    r = await client.patch(f"/api/v1/posts/{ids['p7']}", json={"scheduled_at": "2031-03-04T12:00:00Z"})
    assert r.status_code == 200
    tied = [t for _, t in sorted((ids[t], t) for t in ("p3", "p7"))]
    for limit in (1, 2, 3, 500):
        assert await _calendar(client, a["id"], limit=limit) == ["p1", "p6", *tied, "p4"]

    # during a walk: a post moved behind the cursor is not seen again, one moved ahead of it is seen once
    first = (await client.get("/api/v1/posts", params={"channel_id": a["id"], "start": "2031-03-02",
                                                       "end": "2031-03-06", "limit": 2})).json()
    assert [p["text"] for p in first["items"]] == ["p1", "p6"]
    await client.patch(f"/api/v1/posts/{ids['p4']}", json={"scheduled_at": "2031-03-02T06:00:00Z"})
    await client.patch(f"/api/v1/posts/{ids['p1']}", json={"scheduled_at": "2031-03-05T20:00:00Z"})
    rest = (await client.get("/api/v1/posts", params={"channel_id": a["id"], "start": "2031-03-02",
                                                      "end": "2031-03-06", "limit": 10,
                                                      "cursor": first["next_cursor"]})).json()
    assert [p["text"] for p in rest["items"]] == [*tied, "p1"]
    assert await _calendar(client, a["id"]) == ["p4", "p6", *tied, "p1"]

    # back to a draft: sorted by its creation time, on every target
    r = await client.patch(f"/api/v1/posts/{ids['p6']}", json={"scheduled_at": None})
    assert r.status_code == 200 and r.json()["status"] == "draft"
    created = datetime.fromisoformat(r.json()["created_at"])
    assert await _order_at(app, ids["p6"]) == (created, {created})
    assert await _calendar(client, a["id"]) == ["p4", *tied, "p1"]
    assert await _calendar(client, b["id"], None, None, status="draft") == ["p6"]
    assert await _calendar(client, b["id"], None, None, status="scheduled") == ["p0", "p4", "p2"]
    assert await targets_out_of_step(app) == []

    # the channel filter agrees with the whole workspace's calendar filtered by hand
    everything = (await client.get("/api/v1/posts", params={"limit": 500})).json()["items"]
    for ch in (a, b):
        by_hand = [p["text"] for p in everything if any(t["channel_id"] == ch["id"] for t in p["targets"])]
        assert await _calendar(client, ch["id"], None, None, limit=3) == by_hand

    # another workspace naming this channel sees nothing
    async with session_scope(app.state.sessionmaker) as session:
        ws = await workspaces.ensure_workspace(session, "other")
        key, _ = await workspaces.add_key(session, ws)
    r = await anon.get("/api/v1/posts", params={"channel_id": a["id"]}, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and r.json()["items"] == []


async def test_channel_calendar_matches_the_workspace_walk(client: httpx.AsyncClient, app: Any) -> None:
    """The targets-driven query answers exactly what filtering the workspace's posts by an EXISTS answered."""
    from sqlalchemy import and_, exists, select, tuple_, update

    from app.db import session_scope
    from app.models import Channel, Post, Target
    from app.posts import repository as repo
    from app.workspaces import service as workspaces

    async def reference(session: Any, ws_id: str, *, start: datetime | None, end: datetime | None,
                        channel_id: str, status: str | None, after: tuple[datetime, str] | None,
                        limit: int) -> list[str]:  # list_page as it was before targets.order_at
        stmt = select(Post.id).where(Post.workspace_id == ws_id)
        if start is not None:
            stmt = stmt.where(Post.order_at >= start)
        if end is not None:
            stmt = stmt.where(Post.order_at < end)
        conds = [Target.post_id == Post.id, Target.channel_id == channel_id]
        if status == "partially_published":
            stmt = stmt.where(exists().where(and_(*conds, Target.status == "published")),
                              exists().where(and_(*conds, Target.status == "failed")))
        elif status is not None:
            stmt = stmt.where(exists().where(and_(*conds, Target.status == status)))
        else:
            stmt = stmt.where(exists().where(and_(*conds)))
        if after is not None:
            stmt = stmt.where(tuple_(Post.order_at, Post.id) > after)
        return list((await session.execute(stmt.order_by(Post.order_at, Post.id).limit(limit))).scalars())

    chans = [await make_channel(client), await make_channel(client, "vk"), await make_channel(client)]
    base = datetime(2031, 5, 1, tzinfo=UTC)
    statuses = ["scheduled", "published", "failed", "cancelled", "needs_check"]
    for i in range(24):
        on = [c["id"] for j, c in enumerate(chans) if (i + j) % 3 != 0 or i % 5 == 0]
        at = base + timedelta(hours=6 * (i // 2))  # pairs share an instant: ties go by id
        post = (await create(client, text=f"q{i}", channel_ids=on, scheduled_at=at.isoformat())).json()
        async with session_scope(app.state.sessionmaker) as session:
            for k, cid in enumerate(on):
                await session.execute(update(Target).where(Target.post_id == post["id"], Target.channel_id == cid)
                                      .values(status=statuses[(i + k) % len(statuses)]))
    await create(client, text="draft", channel_ids=[chans[0]["id"]], scheduled_at=None)
    async with session_scope(app.state.sessionmaker) as session:
        other = await workspaces.ensure_workspace(session, "other")
        stranger = Channel(workspace_id=other.id, platform="telegram", name="theirs", timezone="UTC",
                           credentials_sealed="x", account={})
        session.add(stranger)
        await session.flush()
        stranger_id = stranger.id
        ws_id = (await session.execute(select(Channel.workspace_id).where(Channel.id == chans[0]["id"]))).scalar_one()

    windows = [(None, None), (base + timedelta(hours=6), base + timedelta(days=2))]
    checked = 0
    async with app.state.sessionmaker() as session:
        for cid in [c["id"] for c in chans] + [stranger_id, "no-such-channel"]:
            for status in (None, "draft", *statuses, "partially_published"):
                for start, end in windows:
                    for limit in (1, 3, 100):
                        after: tuple[datetime, str] | None = None
                        while True:
                            args = dict(start=start, end=end, channel_id=cid, status=status, after=after,
                                        limit=limit)
                            got = await repo.list_page(session, ws_id, **args)  # type: ignore[arg-type]
                            assert [p.id for p in got] == await reference(session, ws_id, **args)  # type: ignore[arg-type]
                            checked += 1
                            if len(got) < limit:
                                break
                            after = (got[-1].order_at, got[-1].id)
    assert checked > 300
