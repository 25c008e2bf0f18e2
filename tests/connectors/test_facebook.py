"""FacebookConnector against the fake Graph API (in-process over ASGI, and once over real TCP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from connectors import fakekit
from connectors.base import Credentials, MediaItem, PostContent
from connectors.errors import AuthError, OutcomeUnknownError, PermanentError, RateLimitedError
from connectors.facebook.connector import FacebookConnector
from connectors.facebook.fake import create_app

PAGE = "104857600000001"
TOKEN = "EAAG-page-token-secret"
CREDS = Credentials({"page_id": PAGE, "access_token": TOKEN})
SEED: dict[str, Any] = {
    "pages": [{"id": PAGE, "name": "Bakery", "followers_count": 1234, "fan_count": 1200}],
    "tokens": [{"token": TOKEN, "page_id": PAGE}],
}


@pytest.fixture
def fake() -> FastAPI:
    app = create_app()
    app.state.fake.seed(SEED)
    return app


@pytest.fixture
async def client(fake: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake), base_url="http://fb") as c:
        yield c


@pytest.fixture
def fb(client: httpx.AsyncClient) -> FacebookConnector:
    return FacebookConnector(client, "http://fb")


async def published(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    return (await client.get("/_control/published")).json()


async def arm(client: httpx.AsyncClient, **spec: Any) -> None:
    assert (await client.post("/_control/faults", json=spec)).status_code == 200


# ------------------------------------------------------------------ post shapes
async def test_text_with_link(fb: FacebookConnector, client: httpx.AsyncClient) -> None:
    result = await fb.publish(PostContent(text="Fresh bread", link="https://bakery.example/bread"), CREDS, "k1")
    [post] = await published(client)
    assert result.external_id == post["id"] and post["id"].startswith(f"{PAGE}_")
    assert result.url == f"https://www.facebook.com/{post['id']}"
    assert (post["text"], post["link"]) == ("Fresh bread", "https://bakery.example/bread")


async def test_link_without_preview_goes_into_the_text(fb: FacebookConnector, client: httpx.AsyncClient) -> None:
    await fb.publish(PostContent(text="Read", link="https://x.example/a", link_preview=False), CREDS, "k")
    [post] = await published(client)
    assert post["text"] == "Read\n\nhttps://x.example/a" and post["link"] == ""


async def test_one_photo_by_url(fb: FacebookConnector, client: httpx.AsyncClient, fake: FastAPI) -> None:
    result = await fb.publish(PostContent(text="Cake", media=(MediaItem("https://cdn.example/c.jpg"),)), CREDS, "k")
    [post] = await published(client)
    assert result.external_id == post["id"]
    assert post["media"][0]["url"] == "https://cdn.example/c.jpg" and post["text"] == "Cake"
    assert [p["published"] for p in fake.state.fake.photos.values()] == [True]


async def test_one_photo_uploaded_from_the_media_store(
    fb: FacebookConnector, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    path = tmp_path / "pie.jpg"
    path.write_bytes(b"\xff\xd8\xff" + b"x" * 1000)
    item = MediaItem("http://localhost/media/pie.jpg", path=path, mime_type="image/jpeg")
    await fb.publish(PostContent(text="Pie", media=(item,)), CREDS, "k")
    [post] = await published(client)
    assert post["media"][0]["filename"] == "pie.jpg" and post["media"][0]["size"] == 1003


async def test_several_photos_make_one_post(fb: FacebookConnector, client: httpx.AsyncClient, fake: FastAPI) -> None:
    media = tuple(MediaItem(f"https://cdn.example/{i}.jpg") for i in range(3))
    result = await fb.publish(PostContent(text="Album", media=media), CREDS, "k")
    [post] = await published(client)
    assert result.external_id == post["id"]
    assert [m["url"] for m in post["media"]] == [f"https://cdn.example/{i}.jpg" for i in range(3)]
    assert [p["published"] for p in fake.state.fake.photos.values()] == [False, False, False]


async def test_video_by_url(fb: FacebookConnector, client: httpx.AsyncClient) -> None:
    video = MediaItem("https://cdn.example/v.mp4", kind="video")
    result = await fb.publish(PostContent(text="Watch", media=(video,)), CREDS, "k")
    [post] = await published(client)
    assert result.external_id == f"{PAGE}_{post['media'][0]['id']}" == post["id"]
    assert post["text"] == "Watch" and post["media"][0]["url"] == "https://cdn.example/v.mp4"


def test_validate_rejects_what_facebook_cannot_post(fb: FacebookConnector) -> None:
    mixed = PostContent(text="x", media=(MediaItem("a.jpg"), MediaItem("b.mp4", kind="video")))
    assert [p.rule for p in fb.validate(mixed)] == ["video_with_media"]
    assert [p.rule for p in fb.validate(PostContent(text="x", kind="reel"))] == ["kind"]
    assert [p.rule for p in fb.validate(PostContent())] == ["empty"]
    assert fb.validate(PostContent(text="fine")) == []


async def test_private_media_url_is_refused_for_the_real_graph_api() -> None:
    def no_network(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request should be sent")

    async with httpx.AsyncClient(transport=httpx.MockTransport(no_network)) as c:
        real = FacebookConnector(c, "https://graph.facebook.com")
        post = PostContent(text="x", media=(MediaItem("http://127.0.0.1:8000/media/a.jpg"),))
        with pytest.raises(PermanentError, match="SMM_PUBLIC_BASE_URL"):
            await real.publish(post, CREDS, "k")


# ------------------------------------------------------------------ duplicates and reconciliation
async def test_duplicate_506_is_an_unknown_outcome_that_reconciles(
    fb: FacebookConnector, client: httpx.AsyncClient
) -> None:
    since = datetime.now(UTC)
    post = PostContent(text="Same words")
    first = await fb.publish(post, CREDS, "k")
    with pytest.raises(OutcomeUnknownError, match=r"\(#506\) Duplicate status message"):
        await fb.publish(post, CREDS, "k")
    found = await fb.find_published(CREDS, "k", since, post)
    assert found is not None and found.external_id == first.external_id
    assert len(await published(client)) == 1


async def test_lost_response_then_find_published_means_no_second_post(
    fb: FacebookConnector, client: httpx.AsyncClient
) -> None:
    since = datetime.now(UTC)
    post = PostContent(text="Opening at 9", link="https://bakery.example")
    await arm(client, method="POST /feed", kind="lost_response")
    with pytest.raises(OutcomeUnknownError):
        await fb.publish(post, CREDS, "k")
    found = await fb.find_published(CREDS, "k", since, post)
    [only] = await published(client)
    assert found is not None and found.external_id == only["id"]
    assert found.url == f"https://www.facebook.com/{only['id']}"


async def test_find_published_proves_absence_across_pages(fb: FacebookConnector, fake: FastAPI) -> None:
    now = datetime.now(UTC).timestamp()
    posts = [{"page_id": PAGE, "message": f"post {i}", "created_time": now - 10 - i} for i in range(230)]
    posts.append({"page_id": PAGE, "message": "target", "created_time": now - 3000})  # before the attempt
    fake.state.fake.seed({"posts": posts})
    since = datetime.fromtimestamp(now - 600, UTC)
    assert await fb.find_published(CREDS, "k", since, PostContent(text="target")) is None
    deep = await fb.find_published(CREDS, "k", since, PostContent(text="post 229"))
    assert deep is not None and deep.external_id.startswith(f"{PAGE}_")
    calls = (await fb.client.get("/_control/calls")).json()
    assert calls["GET /posts"] >= 6  # three pages of 100 per lookup


async def test_find_published_without_text_cannot_tell(fb: FacebookConnector) -> None:
    post = PostContent(media=(MediaItem("https://cdn.example/a.jpg"),))
    with pytest.raises(OutcomeUnknownError):
        await fb.find_published(CREDS, "k", datetime.now(UTC), post)


# ------------------------------------------------------------------ verify
async def test_verify_ok(fb: FacebookConnector) -> None:
    info = await fb.verify(CREDS)
    assert (info.name, info.followers, info.url) == ("Bakery", 1234, f"https://www.facebook.com/{PAGE}")


@pytest.mark.parametrize(
    ("token", "error", "words"),
    [
        ({"scopes": ["pages_read_engagement"]}, PermanentError, "pages_manage_posts"),
        ({"scopes": ["pages_manage_posts"]}, PermanentError, "pages_read_engagement"),
        ({"type": "USER"}, PermanentError, "not a Page access token"),
        ({"page_id": "999"}, PermanentError, "belongs to Page 999"),
        ({"expired": True}, AuthError, "Session has expired"),
    ],
)
async def test_verify_says_what_is_wrong(
    fake: FastAPI, client: httpx.AsyncClient, token: dict[str, Any], error: type[Exception], words: str
) -> None:
    fake.state.fake.seed({"tokens": [{"token": "t2", "page_id": PAGE, **token}]})
    with pytest.raises(error, match=words) as info:
        await FacebookConnector(client, "http://fb").verify(Credentials({"page_id": PAGE, "access_token": "t2"}))
    assert "t2" not in str(info.value)


async def test_verify_unknown_token_is_auth_error(fb: FacebookConnector) -> None:
    with pytest.raises(AuthError, match="Invalid OAuth access token") as info:
        await fb.verify(Credentials({"page_id": PAGE, "access_token": "nope"}))
    assert info.value.code == 190


async def test_posting_without_permission_is_permanent(fake: FastAPI, client: httpx.AsyncClient) -> None:
    fake.state.fake.seed({"tokens": [{"token": "ro", "page_id": PAGE, "scopes": ["pages_read_engagement"]}]})
    creds = Credentials({"page_id": PAGE, "access_token": "ro"})
    with pytest.raises(PermanentError, match=r"^\(#200\)"):
        await FacebookConnector(client, "http://fb").publish(PostContent(text="x"), creds, "k")
    assert await published(client) == []


# ------------------------------------------------------------------ engagement and rate limits
async def test_fetch_engagement_pages_and_counts(fb: FacebookConnector, fake: FastAPI) -> None:
    now = datetime.now(UTC).timestamp()
    posts = [
        {
            "page_id": PAGE,
            "message": f"m{i}",
            "created_time": now - 3600 * i,
            "reactions": i,
            "comments": 2,
            "shares": i % 2,
        }
        for i in range(1, 151)
    ]
    fake.state.fake.seed({"posts": posts})
    records = await fb.fetch_engagement(CREDS, datetime.fromtimestamp(now - 3600 * 120 - 1, UTC))
    assert len(records) == 120
    assert [r.likes for r in records[:3]] == [1, 2, 3]
    assert [r.shares for r in records[:2]] == [1, 0]  # shares omitted by Graph when 0
    assert {r.comments for r in records} == {2} and {r.followers for r in records} == {1234}
    assert records == sorted(records, key=lambda r: r.posted_at, reverse=True)


async def test_page_buc_limit_waits_the_advertised_minutes(fb: FacebookConnector, fake: FastAPI) -> None:
    fake.state.fake.buc_call_limit = 2
    await fb.publish(PostContent(text="one"), CREDS, "k")
    await fb.publish(PostContent(text="two"), CREDS, "k")
    with pytest.raises(RateLimitedError, match="80001") as info:
        await fb.publish(PostContent(text="three"), CREDS, "k")
    assert 3540 <= info.value.retry_after <= 3600  # estimated_time_to_regain_access = 60 minutes


# ------------------------------------------------------------------ mounting and real TCP
async def test_works_mounted_under_a_prefix_in_sandbox_mode() -> None:
    parent = FastAPI()
    parent.mount("/sandbox/facebook", create_app(sandbox=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=parent), base_url="http://svc") as c:
        fb = FacebookConnector(c, "http://svc/sandbox/facebook", graph_version="v99.0")
        creds = Credentials({"page_id": "555", "access_token": "anything"})
        assert (await fb.verify(creds)).name == "Page 555"
        for i in range(120):
            await fb.publish(PostContent(text=f"n{i}"), creds, "k")
        found = await fb.find_published(creds, "k", datetime.now(UTC) - timedelta(hours=1), PostContent(text="n0"))
        assert found is not None
        assert len((await c.get("/sandbox/facebook/_control/published")).json()) == 120


def test_over_real_tcp_including_a_hang_after_the_side_effect() -> None:
    import asyncio

    app = create_app(lost_response_mode="hang")
    app.state.fake.seed(SEED)

    async def scenario(base: str) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=0.5) as c:
            fb = FacebookConnector(c, base)
            assert (await fb.publish(PostContent(text="tcp"), CREDS, "k")).external_id.startswith(PAGE)
            since = datetime.now(UTC)
            await arm(c, method="POST /feed", kind="lost_response", delay=1.5)
            with pytest.raises(OutcomeUnknownError):
                await fb.publish(PostContent(text="hung"), CREDS, "k")
            found = await fb.find_published(CREDS, "k", since, PostContent(text="hung"))
            assert found is not None
            assert [p["text"] for p in await published(c)] == ["tcp", "hung"]

    with fakekit.serve_in_thread(app) as base:
        asyncio.run(scenario(base))
