"""The posts API's extensions for the web UI's safe actions: a post's channels and the best slot through PATCH,
undoing a cancel (``POST /posts/{id}/restore``) and deleting a post (``DELETE /posts/{id}?purge=true``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from tests.conftest import make_channel, targets_out_of_step


def future(hours: float = 2) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0).isoformat()


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/posts", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_patch_channel_ids_adds_and_removes_targets(client: httpx.AsyncClient, app: Any) -> None:
    a, b = await make_channel(client, name="A"), await make_channel(client, "vk", name="B")
    post = await create(client, text="hello", channel_ids=[a["id"]], scheduled_at=future(),
                        overrides={a["id"]: {"text": "for A"}})
    r = await client.patch(f"/api/v1/posts/{post['id']}", json={"channel_ids": [b["id"]]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [t["channel_id"] for t in body["targets"]] == [b["id"]]
    assert body["targets"][0]["status"] == "scheduled" and body["targets"][0]["platform"] == "vk"
    assert body["overrides"] == {}  # A's override went with A
    r = await client.patch(f"/api/v1/posts/{post['id']}", json={"channel_ids": [a["id"], b["id"]],
                                                              "scheduled_at": None})
    assert r.status_code == 200 and [t["status"] for t in r.json()["targets"]] == ["draft", "draft"]
    assert await targets_out_of_step(app) == []
    r = await client.patch(f"/api/v1/posts/{post['id']}", json={"channel_ids": ["nope"]})
    assert r.status_code == 422 and "unknown channel" in r.json()["detail"]
    r = await client.patch(f"/api/v1/posts/{post['id']}", json={"channel_ids": []})
    assert r.status_code == 422
    r = await client.patch(f"/api/v1/posts/{post['id']}", json={"channel_ids": [b["id"]],
                                                              "overrides": {a["id"]: {"text": "x"}}})
    assert r.status_code == 422 and "not one of the post's channel_ids" in r.text
    assert len((await client.get(f"/api/v1/posts/{post['id']}")).json()["targets"]) == 2  # refused: unchanged


async def test_patch_a_new_channel_is_validated_for_its_platform(client: httpx.AsyncClient) -> None:
    tg, ig = await make_channel(client), await make_channel(client, "instagram")
    post = await create(client, text="no picture", channel_ids=[tg["id"]], scheduled_at=future())
    r = await client.patch(f"/api/v1/posts/{post['id']}", json={"channel_ids": [tg["id"], ig["id"]]})
    assert r.status_code == 422 and "Instagram" in r.json()["detail"]


async def test_patch_auto_takes_the_best_free_slot(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    post = await create(client, text="a draft", channel_ids=[ch["id"]])
    r = await client.patch(f"/api/v1/posts/{post['id']}", json={"scheduled_at": "auto"})
    assert r.status_code == 200, r.text
    body = r.json()
    at = datetime.fromisoformat(body["scheduled_at"].replace("Z", "+00:00"))
    assert body["status"] == "scheduled" and at > datetime.now(UTC)
    assert body["targets"][0]["next_attempt_at"] is not None


async def test_restore_brings_a_cancel_back(client: httpx.AsyncClient, app: Any) -> None:
    ch = await make_channel(client)
    when = future(3)
    post = await create(client, text="oops", channel_ids=[ch["id"]], scheduled_at=when)
    r = await client.post(f"/api/v1/posts/{post['id']}/restore")
    assert r.status_code == 409 and "not cancelled" in r.json()["detail"]
    assert (await client.delete(f"/api/v1/posts/{post['id']}")).json()["status"] == "cancelled"
    r = await client.post(f"/api/v1/posts/{post['id']}/restore")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "scheduled" and r.json()["scheduled_at"] == post["scheduled_at"]
    assert r.json()["targets"][0]["next_attempt_at"] is not None
    # a draft comes back as a draft; an explicit null makes a scheduled one a draft
    assert (await client.delete(f"/api/v1/posts/{post['id']}")).status_code == 200
    r = await client.post(f"/api/v1/posts/{post['id']}/restore", json={"scheduled_at": None})
    assert r.status_code == 200 and r.json()["status"] == "draft" and r.json()["scheduled_at"] is None
    assert await targets_out_of_step(app) == []
    # a channel disabled meanwhile is refused, as at creation
    assert (await client.delete(f"/api/v1/posts/{post['id']}")).status_code == 200
    assert (await client.patch(f"/api/v1/channels/{ch['id']}", json={"status": "disabled"})).status_code == 200
    r = await client.post(f"/api/v1/posts/{post['id']}/restore")
    assert r.status_code == 422 and "enable them first" in r.json()["detail"]
    assert (await client.get(f"/api/v1/posts/{post['id']}")).json()["status"] == "cancelled"


async def test_restore_after_the_time_passed_asks_for_one(client: httpx.AsyncClient, app: Any) -> None:
    from app.models import Post, Target

    ch = await make_channel(client)
    post = await create(client, text="late", channel_ids=[ch["id"]], scheduled_at=future())
    assert (await client.delete(f"/api/v1/posts/{post['id']}")).status_code == 200
    past = datetime.now(UTC) - timedelta(hours=1)
    async with app.state.sessionmaker() as session:  # the clock moved on: the post's time is an hour ago
        await session.execute(update(Post).where(Post.id == post["id"]).values(scheduled_at=past, order_at=past))
        await session.execute(update(Target).where(Target.post_id == post["id"]).values(order_at=past))
        await session.commit()
    r = await client.post(f"/api/v1/posts/{post['id']}/restore")
    assert r.status_code == 422 and "has passed" in r.json()["detail"]
    assert r.json()["errors"][0]["field"] == "scheduled_at"
    r = await client.post(f"/api/v1/posts/{post['id']}/restore",
                          json={"scheduled_at": "2031-03-01T10:00", "timezone": "Europe/Berlin"})
    assert r.status_code == 200, r.text
    assert r.json()["scheduled_at"].startswith("2031-03-01T09:00") and r.json()["timezone"] == "Europe/Berlin"


async def test_a_tried_target_is_not_restored(client: httpx.AsyncClient, app: Any) -> None:
    from app.models import Target

    ch = await make_channel(client)
    post = await create(client, text="tried", channel_ids=[ch["id"]], scheduled_at=future())
    async with app.state.sessionmaker() as session:  # what the publisher leaves after a refused send
        await session.execute(update(Target).where(Target.post_id == post["id"])
                              .values(status="failed", attempts=1, last_error="chat not found"))
        await session.commit()
    assert (await client.delete(f"/api/v1/posts/{post['id']}")).status_code == 200
    r = await client.post(f"/api/v1/posts/{post['id']}/restore")
    assert r.status_code == 409 and "tried before the cancel" in r.json()["detail"]


async def test_purge_deletes_a_post_nothing_of_which_went_out(client: httpx.AsyncClient, app: Any) -> None:
    from app.models import Target

    ch = await make_channel(client)
    draft = await create(client, text="draft", channel_ids=[ch["id"]])
    r = await client.delete(f"/api/v1/posts/{draft['id']}?purge=true")
    assert r.status_code == 204 and r.content == b""
    assert (await client.get(f"/api/v1/posts/{draft['id']}")).status_code == 404
    assert (await client.delete(f"/api/v1/posts/{draft['id']}?purge=true")).status_code == 404
    sent = await create(client, text="sent", channel_ids=[ch["id"]], scheduled_at=future())
    async with app.state.sessionmaker() as session:  # what the publisher writes once it is out
        await session.execute(update(Target).where(Target.post_id == sent["id"])
                              .values(status="published", url="https://t.me/mychannel/1"))
        await session.commit()
    r = await client.delete(f"/api/v1/posts/{sent['id']}?purge=true")
    assert r.status_code == 409 and "would not take it down" in r.json()["detail"]
    assert (await client.get(f"/api/v1/posts/{sent['id']}")).status_code == 200
    async with app.state.sessionmaker() as session:
        await session.execute(update(Target).where(Target.post_id == sent["id"]).values(status="publishing"))
        await session.commit()
    r = await client.delete(f"/api/v1/posts/{sent['id']}?purge=true")
    assert r.status_code == 409 and "being published" in r.json()["detail"]
