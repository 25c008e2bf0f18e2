"""InstagramConnector against the fake Graph API: the container flow across calls, with the fake's clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from connectors import fakekit
from connectors.base import Credentials, MediaItem, PostContent, Published
from connectors.errors import (
    AuthError,
    OutcomeUnknownError,
    PermanentError,
    PublishPending,
    RateLimitedError,
)
from connectors.instagram.connector import InstagramConnector
from connectors.instagram.fake import create_app

ME = "17841400000000001"
TOKEN = "IGQV-secret-token"
CREDS = Credentials({"ig_user_id": ME, "access_token": TOKEN})
SEED: dict[str, Any] = {
    "users": [{"id": ME, "username": "bakery", "name": "The Bakery", "followers_count": 4200}],
    "tokens": [{"token": TOKEN, "ig_user_ids": [ME]}],
}
JPG = MediaItem("https://cdn.example/a.jpg")
MP4 = MediaItem("https://cdn.example/v.mp4", kind="video")
PHOTO = PostContent(text="Fresh bread #bakery", media=(JPG,))


@pytest.fixture
def fake() -> FastAPI:
    app = create_app(processing_delay=60)
    app.state.fake.seed(SEED)
    return app


@pytest.fixture
async def client(fake: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake), base_url="http://ig") as c:
        yield c


@pytest.fixture
def ig(client: httpx.AsyncClient) -> InstagramConnector:
    return InstagramConnector(client, "http://ig")


async def pending(ig: InstagramConnector, post: PostContent, checkpoint: Mapping[str, str] | None = None) -> Any:
    with pytest.raises(PublishPending) as info:
        await ig.publish(post, CREDS, "k", checkpoint)
    return info.value


async def published(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    return (await client.get("/_control/published")).json()


async def run_to_published(ig: InstagramConnector, fake: FastAPI, post: PostContent) -> Published:
    checkpoint = (await pending(ig, post)).checkpoint
    fake.state.fake.clock.advance(61)
    return await ig.publish(post, CREDS, "k", checkpoint)


# ------------------------------------------------------------------ the container flow
async def test_container_flow_across_calls(ig: InstagramConnector, fake: FastAPI, client: httpx.AsyncClient) -> None:
    first = await pending(ig, PHOTO)
    assert set(first.checkpoint) >= {"container_id", "created_at"} and len(first.checkpoint["container_id"]) == 17
    assert 10 <= first.retry_after <= 60
    again = await pending(ig, PHOTO, first.checkpoint)  # still IN_PROGRESS: same checkpoint, nothing published
    assert again.checkpoint == first.checkpoint and await published(client) == []
    fake.state.fake.clock.advance(61)
    result = await ig.publish(PHOTO, CREDS, "k", first.checkpoint)
    [media] = await published(client)
    assert result.external_id == media["id"] and len(media["id"]) == 18
    assert result.url is not None and result.url.startswith("https://www.instagram.com/p/")
    assert media["text"] == "Fresh bread #bakery" and media["container"] == first.checkpoint["container_id"]


@pytest.mark.parametrize(
    ("post", "kind", "media"),
    [
        (PostContent(text="duo", media=(JPG, MP4)), "FEED", ["photo", "video"]),
        (PostContent(text="reel", media=(MP4,), kind="reel"), "REELS", ["video"]),
        (PostContent(text="", media=(JPG,), kind="story"), "STORY", ["photo"]),
        (PostContent(text="feed video", media=(MP4,)), "REELS", ["video"]),
    ],
)
async def test_post_shapes(
    ig: InstagramConnector,
    fake: FastAPI,
    client: httpx.AsyncClient,
    post: PostContent,
    kind: str,
    media: list[str],
) -> None:
    result = await run_to_published(ig, fake, post)
    [item] = await published(client)
    assert (item["kind"], [m["type"] for m in item["media"]]) == (kind, media)
    assert result.external_id == item["id"]
    containers = fake.state.fake.containers.values()
    assert sum(1 for c in containers if c["item"]) == (2 if len(post.media) == 2 else 0)


async def test_container_error_is_permanent_with_the_subcode_explained(ig: InstagramConnector, fake: FastAPI) -> None:
    post = PostContent(text="x", media=(MediaItem("https://cdn.example/bad/v.mp4", kind="video"),), kind="reel")
    with pytest.raises(PermanentError, match=r"2207026.*video format"):
        await run_to_published(ig, fake, post)


async def test_expired_container_is_recreated_once(ig: InstagramConnector, fake: FastAPI) -> None:
    first = await pending(ig, PHOTO)
    fake.state.fake.clock.advance(25 * 3600)
    second = await pending(ig, PHOTO, first.checkpoint)
    assert second.checkpoint["recreated"] == "1"
    assert second.checkpoint["container_id"] != first.checkpoint["container_id"]
    fake.state.fake.clock.advance(25 * 3600)
    with pytest.raises(PermanentError, match="expired"):
        await ig.publish(PHOTO, CREDS, "k", second.checkpoint)


async def test_quota_reached_waits_for_the_window(
    ig: InstagramConnector, fake: FastAPI, client: httpx.AsyncClient
) -> None:
    fake.state.fake.quota_total = 1
    await run_to_published(ig, fake, PHOTO)
    with pytest.raises(RateLimitedError, match="1 of 1") as info:
        await run_to_published(ig, fake, PostContent(text="second", media=(JPG,)))
    assert info.value.retry_after == 3600
    assert len(await published(client)) == 1


async def test_lost_publish_response_never_publishes_twice(
    ig: InstagramConnector, fake: FastAPI, client: httpx.AsyncClient
) -> None:
    checkpoint = (await pending(ig, PHOTO)).checkpoint
    fake.state.fake.clock.advance(61)
    await client.post("/_control/faults", json={"method": "POST /media_publish", "kind": "lost_response"})
    with pytest.raises(OutcomeUnknownError):
        await ig.publish(PHOTO, CREDS, "k", checkpoint)
    found = await ig.find_published(CREDS, "k", datetime.now(UTC), PHOTO, checkpoint)
    again = await ig.publish(PHOTO, CREDS, "k", checkpoint)
    [media] = await published(client)
    assert found is not None and found.external_id == again.external_id == media["id"]
    assert (await client.get("/_control/calls")).json()["POST /media_publish"] == 1


async def test_find_published_reads_the_container_status(ig: InstagramConnector, fake: FastAPI) -> None:
    since = datetime.now(UTC)
    assert await ig.find_published(CREDS, "k", since, PHOTO, None) is None
    checkpoint = (await pending(ig, PHOTO)).checkpoint
    assert await ig.find_published(CREDS, "k", since, PHOTO, checkpoint) is None  # IN_PROGRESS
    fake.state.fake.clock.advance(61)
    assert await ig.find_published(CREDS, "k", since, PHOTO, checkpoint) is None  # FINISHED
    result = await ig.publish(PHOTO, CREDS, "k", checkpoint)
    assert await ig.find_published(CREDS, "k", since, PHOTO, checkpoint) == result


# ------------------------------------------------------------------ validation and media URLs
@pytest.mark.parametrize(
    ("post", "rule"),
    [
        (PostContent(text="no media"), "media_required"),
        (PostContent(media=(MediaItem("https://x/a.png"),)), "image_format"),
        (PostContent(media=(MediaItem("https://x/a", mime_type="image/png"),)), "image_format"),
        (PostContent(text="x" * 2201, media=(JPG,)), "caption_too_long"),
        (PostContent(text=" ".join(f"#t{i}" for i in range(31)), media=(JPG,)), "too_many_hashtags"),
        (PostContent(text=" ".join(f"@u{i}" for i in range(21)), media=(JPG,)), "too_many_mentions"),
        (PostContent(media=(JPG,) * 11), "too_many_media"),
        (PostContent(media=(JPG,), kind="reel"), "reel_media"),
        (PostContent(media=(JPG, JPG), kind="story"), "story_media"),
    ],
)
def test_validate(ig: InstagramConnector, post: PostContent, rule: str) -> None:
    assert rule in [p.rule for p in ig.validate(post)]


def test_validate_accepts_jpeg_by_mime_or_extension(ig: InstagramConnector) -> None:
    assert ig.validate(PostContent(media=(MediaItem("https://x/a?id=1", mime_type="image/jpeg"),))) == []
    assert ig.validate(PostContent(text="#a @b", media=(MediaItem("https://x/a.JPEG"), MP4))) == []


async def test_private_urls_are_refused_only_for_the_real_graph_api(ig: InstagramConnector) -> None:
    local = PostContent(media=(MediaItem("http://localhost:8000/media/a.jpg"),))
    await pending(ig, local)  # a fake may fetch from localhost

    def no_network(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request should be sent")

    async with httpx.AsyncClient(transport=httpx.MockTransport(no_network)) as c:
        real = InstagramConnector(c, "https://graph.facebook.com")
        with pytest.raises(PermanentError, match="SMM_PUBLIC_BASE_URL"):
            await real.publish(local, CREDS, "k")
        behind = InstagramConnector(c, "https://graph.instagram.com", public_base_url="http://192.168.1.5")
        with pytest.raises(PermanentError, match="SMM_PUBLIC_BASE_URL"):
            await behind.publish(PostContent(media=(MediaItem("/media/a.jpg"),)), CREDS, "k")


# ------------------------------------------------------------------ verify, engagement, audience, discovery
async def test_verify(ig: InstagramConnector, fake: FastAPI, client: httpx.AsyncClient) -> None:
    info = await ig.verify(CREDS)
    assert (info.name, info.username, info.followers) == ("The Bakery", "bakery", 4200)
    with pytest.raises(AuthError, match="Invalid OAuth access token"):
        await ig.verify(Credentials({"ig_user_id": ME, "access_token": "bogus"}))
    fake.state.fake.seed({"tokens": [{"token": "ro", "ig_user_ids": [ME], "scopes": ["instagram_basic"]}]})
    with pytest.raises(PermanentError, match="instagram_content_publish"):
        await ig.verify(Credentials({"ig_user_id": ME, "access_token": "ro"}))


async def test_fetch_engagement_pages(ig: InstagramConnector, fake: FastAPI) -> None:
    now = fake.state.fake.clock.now()
    media = [
        {
            "caption": f"m{i}",
            "timestamp": now - 3600 * i,
            "like_count": i,
            "comments_count": 1,
            "media_product_type": "REELS" if i % 3 == 0 else "FEED",
        }
        for i in range(1, 231)
    ]
    fake.state.fake.seed({"users": [{"id": ME, "username": "bakery", "followers_count": 4200, "media": media}]})
    records = await ig.fetch_engagement(CREDS, datetime.fromtimestamp(now - 3600 * 200 - 1, UTC))
    assert len(records) == 200 and [r.likes for r in records[:3]] == [1, 2, 3]
    assert [r.kind for r in records[:3]] == ["feed", "feed", "reel"]
    assert {r.followers for r in records} == {4200}


async def test_online_followers_become_a_utc_curve(ig: InstagramConnector, fake: FastAPI) -> None:
    days = [
        {"value": {"0": 30, "12": 10}, "end_time": "2026-09-01T07:00:00+0000"},
        {"value": {}},
        {"value": {"0": 10, "12": 30}, "end_time": "2026-09-02T07:00:00+0000"},
    ]
    fake.state.fake.users[ME]["online_followers"] = days
    curve = await ig.fetch_audience_online(CREDS)
    assert curve is not None and len(curve.by_hour_utc) == 24
    assert curve.by_hour_utc[7] == pytest.approx(0.5) and curve.by_hour_utc[19] == pytest.approx(0.5)
    fake.state.fake.users[ME]["online_followers"] = [{"value": {}}]
    assert await ig.fetch_audience_online(CREDS) is None


async def test_online_followers_unavailable_below_100(ig: InstagramConnector, fake: FastAPI) -> None:
    fake.state.fake.users[ME]["followers_count"] = 50
    assert await ig.fetch_audience_online(CREDS) is None
    fake.state.fake.users[ME]["followers_count"] = 5000
    curve = await ig.fetch_audience_online(CREDS)
    assert curve is not None and sum(curve.by_hour_utc) == pytest.approx(1.0)


async def test_business_discovery(ig: InstagramConnector, fake: FastAPI) -> None:
    now = fake.state.fake.clock.now()
    media = [{"timestamp": now - 86400 * i, "like_count": 100 + i, "comments_count": i} for i in range(30)]
    fake.state.fake.seed(
        {
            "users": [
                {"id": "17841400000000099", "username": "rival.shop", "followers_count": 9100, "media": media},
                {"id": "17841400000000098", "username": "someone", "business": False},
            ]
        }
    )
    records = await ig.fetch_business_discovery(CREDS, "rival.shop")
    assert len(records) == 30 and {r.followers for r in records} == {9100}
    assert [r.likes for r in records[:2]] == [100, 101]
    with pytest.raises(PermanentError, match="cannot be found"):
        await ig.fetch_business_discovery(CREDS, "someone")
    with pytest.raises(PermanentError, match="not a valid"):
        await ig.fetch_business_discovery(CREDS, "x){id}")


# ------------------------------------------------------------------ real TCP
def test_hang_on_media_publish_over_real_tcp() -> None:
    app = create_app(lost_response_mode="hang")
    app.state.fake.seed(SEED)

    async def scenario(base: str) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=0.5) as c:
            ig = InstagramConnector(c, base)
            with pytest.raises(PublishPending) as info:
                await ig.publish(PHOTO, CREDS, "k")
            checkpoint = info.value.checkpoint
            fault = {"method": "POST /media_publish", "kind": "lost_response", "delay": 1.5}
            await c.post("/_control/faults", json=fault)
            with pytest.raises(OutcomeUnknownError):
                await ig.publish(PHOTO, CREDS, "k", checkpoint)
            found = await ig.find_published(CREDS, "k", datetime.now(UTC) - timedelta(minutes=1), PHOTO, checkpoint)
            assert found is not None and found.url is not None
            assert len(await published(c)) == 1

    with fakekit.serve_in_thread(app) as base:
        asyncio.run(scenario(base))


def test_validate_refuses_private_media_urls_against_the_real_graph_api() -> None:
    from connectors.base import MediaItem, PostContent
    from connectors.instagram.connector import InstagramConnector

    real = InstagramConnector(httpx.AsyncClient(), "https://graph.facebook.com", public_base_url="http://127.0.0.1:8000")
    post = PostContent(text="x", media=(MediaItem(url="http://127.0.0.1:8000/media/a/p.jpg"),))
    problems = real.validate(post)
    assert [p.rule for p in problems] == ["media_not_public"] and "SMM_PUBLIC_BASE_URL" in problems[0].message
    fake = InstagramConnector(httpx.AsyncClient(), "http://127.0.0.1:9/sandbox/instagram")
    assert fake.validate(post) == []
