"""VK connector against the fake VK API (mounted under /vk next to a small media host), in-process and over TCP."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Response

from connectors.base import Credentials, MediaItem, PostContent
from connectors.errors import (
    AuthError,
    OutcomeUnknownError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from connectors.fakekit import serve_in_thread
from connectors.fetch import FetchPolicy
from connectors.pacing import Pacer
from connectors.vk.connector import VKConnector
from connectors.vk.errors import error_from_vk
from connectors.vk.fake import create_app

TOKEN = "vk1.a.admin-user-token-0001"
MOD_TOKEN = "vk1.a.moderator-token-0002"
STRANGER = "vk1.a.stranger-token-0003"
GROUP_TOKEN = "vk1.a.community-token-0004"
GID, RIVAL, CLOSED = 555, 777, 888
BASE = "http://fake.test"
API = f"{BASE}/vk"
MEDIA_HOST = FetchPolicy.allowing("fake.test")  # the in-process media host has no address to check


def seed(vk: FastAPI) -> None:
    state = vk.state.fake
    state.seed({
        "users": [{"id": 1001, "first_name": "Ann", "last_name": "Admin", "screen_name": "ann", "followers_count": 42},
                  {"id": 1, "first_name": "Pavel", "last_name": "Durov", "screen_name": "durov",
                   "followers_count": 9000}],
        "tokens": [{"token": TOKEN, "user_id": 1001}, {"token": MOD_TOKEN, "user_id": 1002},
                   {"token": STRANGER, "user_id": 1003}, {"token": GROUP_TOKEN, "group_id": GID}],
        "groups": [{"id": GID, "name": "My Shop", "screen_name": "myshop", "members_count": 1200,
                    "admins": {"1001": 3, "1002": 1}},
                   {"id": RIVAL, "name": "Rival", "screen_name": "rival", "members_count": 5000},
                   {"id": CLOSED, "name": "Closed", "screen_name": "closed", "is_closed": 1}],
    })  # fmt: skip


def media_host(vk: FastAPI) -> FastAPI:
    parent = FastAPI()

    @parent.get("/media/{name}")
    async def media(name: str) -> Response:
        if name == "missing.jpg":
            return Response(status_code=404)
        return Response(b"\xff\xd8\xff" + name.encode() * 50, media_type="image/jpeg")

    parent.mount("/vk", vk)
    return parent


def creds(owner: int | str = -GID, token: str = TOKEN) -> Credentials:
    return Credentials({"access_token": token, "owner_id": str(owner)})


@pytest.fixture
def vk_app(fake_clock: Any) -> FastAPI:
    app = create_app()
    app.state.fake.clock = fake_clock
    seed(app)
    return app


@pytest.fixture
def vk(vk_app: FastAPI, fake_client: Any, fake_pacer: Pacer) -> VKConnector:
    return VKConnector(fake_client(media_host(vk_app)), API, pacer=fake_pacer, fetch_policy=MEDIA_HOST)


def published(app: FastAPI) -> list[dict[str, Any]]:
    return app.state.fake.published()


def calls(app: FastAPI) -> dict[str, int]:
    return dict(app.state.faults.calls)


# -- post shapes ---------------------------------------------------------------------------------------


async def test_text_post_to_community_wall(vk: VKConnector, vk_app: FastAPI) -> None:
    result = await vk.publish(PostContent(text="Hello <b>VK</b> & co", text_format="html"), creds(), "t1")
    assert (result.external_id, result.url) == ("-555_1", "https://vk.com/wall-555_1")
    [post] = published(vk_app)
    assert post["text"] == "Hello VK & co" and post["guid"] == "t1" and post["chat"] == -GID
    assert vk_app.state.fake.walls[-GID][0].from_id == -GID  # from_group=1
    second = await vk.publish(PostContent(text="plain _*[]"), creds(), "t2")
    assert second.external_id == "-555_2" and published(vk_app)[1]["text"] == "plain _*[]"


async def test_user_wall(vk: VKConnector, vk_app: FastAPI) -> None:
    result = await vk.publish(PostContent(text="mine"), creds(1001), "u")
    assert result.url == "https://vk.com/wall1001_1"
    assert vk_app.state.fake.walls[1001][0].from_id == 1001


async def test_photo_upload_flow_from_url_and_path_with_link(vk: VKConnector, vk_app: FastAPI,
                                                             tmp_path: Path) -> None:  # fmt: skip
    local = tmp_path / "local.png"
    local.write_bytes(b"\x89PNG" + b"0" * 500)
    media = (MediaItem(f"{BASE}/media/a.jpg"), MediaItem("https://unused.example/x.png", path=local))
    post = PostContent(text="two photos", media=media, link="https://shop.example/sale")
    result = await vk.publish(post, creds(), "p1")
    [entry] = published(vk_app)
    assert [a["type"] for a in entry["media"]] == ["photo", "photo", "link"]
    first, second, link = entry["media"]
    assert first["photo"]["owner_id"] == -GID and second["photo"]["id"] == first["photo"]["id"] + 1
    assert first["photo"]["upload"] == {"filename": "a.jpg", "size": 3 + 5 * 50}
    assert second["photo"]["upload"] == {"filename": "local.png", "size": 504}
    assert link["link"]["url"] == "https://shop.example/sale"
    assert calls(vk_app)["photos.getWallUploadServer"] == 2 and calls(vk_app)["upload"] == 2
    assert calls(vk_app)["photos.saveWallPhoto"] == 2 and result.external_id == "-555_1"


async def test_community_key_publishes_on_its_own_wall(vk: VKConnector, vk_app: FastAPI) -> None:
    """What VK's community sign-in hands out: the community key posts (as the community) and uploads photos on its
    own wall; verify recognises it without admin fields (the shared connector is of the user kind)."""
    media = (MediaItem(f"{BASE}/media/a.jpg"),)
    result = await vk.publish(PostContent(text="from the club", media=media), creds(token=GROUP_TOKEN), "c1")
    [entry] = published(vk_app)
    assert result.external_id == "-555_1" and entry["text"] == "from the club"
    assert entry["media"][0]["photo"]["owner_id"] == -GID and vk_app.state.fake.walls[-GID][0].from_id == -GID
    info = await vk.verify(creds(token=GROUP_TOKEN))
    assert info.name == "My Shop"
    vk_app.state.fake.tokens[GROUP_TOKEN].scopes = ["manage", "photos"]
    with pytest.raises(PermanentError, match=r"groups\.getTokenPermissions lists manage, photos"):
        await vk.verify(creds(token=GROUP_TOKEN))


async def test_unreachable_image_and_rejected_upload(vk: VKConnector, vk_app: FastAPI, arm_fault: Any) -> None:
    with pytest.raises(PermanentError, match="could not be fetched \\(HTTP 404\\)"):
        await vk.publish(PostContent(media=(MediaItem(f"{BASE}/media/missing.jpg"),)), creds(), "k")
    await arm_fault(vk.client, "upload", prefix="/vk", status=200, body={"server": 1, "photo": "[]", "hash": ""})
    with pytest.raises(PermanentError, match="did not accept the image"):
        await vk.publish(PostContent(media=(MediaItem(f"{BASE}/media/b.jpg"),)), creds(), "k")
    assert published(vk_app) == []


async def test_guid_dedups_within_the_hour(vk: VKConnector, vk_app: FastAPI, fake_clock: Any) -> None:
    first = await vk.publish(PostContent(text="once"), creds(), "target-42")
    again = await vk.publish(PostContent(text="once"), creds(), "target-42")
    assert again.external_id == first.external_id and len(published(vk_app)) == 1
    other = await vk.publish(PostContent(text="once"), creds(), "target-43")
    assert other.external_id == "-555_2"
    fake_clock.advance(3601)
    late = await vk.publish(PostContent(text="once"), creds(), "target-42")
    assert late.external_id == "-555_3" and len(published(vk_app)) == 3


# -- errors --------------------------------------------------------------------------------------------

VK_ERRORS = [
    (6, "Too many requests per second", RateLimitedError, 1.0),
    (9, "Flood control", RateLimitedError, 3600.0),
    (29, "Rate limit reached", RateLimitedError, None),
    (219, "Advertisement post was recently added", RateLimitedError, 3600.0),
    (224, "Too many ads posts", RateLimitedError, None),
    (214, "Access to adding post denied: post limit reached (50 posts a day)", RateLimitedError, None),
    (5, "User authorization failed: invalid access_token (4).", AuthError, None),
    (27, "Group authorization failed: method is unavailable with group auth.", AuthError, None),
    (28, "Application authorization failed", AuthError, None),
    (17, "Validation required: please open redirect_uri in browser", AuthError, None),
    (14, "Captcha needed", PermanentError, None),
    (15, "Access denied", PermanentError, None),
    (18, "User was deleted or banned", PermanentError, None),
    (100, "One of the parameters specified was missing or invalid: message is empty", PermanentError, None),
    (203, "Access to group denied", PermanentError, None),
    (214, "Access to adding post denied: access to the wall is closed", PermanentError, None),
    (222, "Hyperlinks are forbidden", PermanentError, None),
    (1, "Unknown error occurred", TransientError, None),
    (10, "Internal server error", TransientError, None),
]


@pytest.mark.parametrize(("code", "msg", "error_type", "retry_after"), VK_ERRORS)
async def test_vk_errors_are_mapped(vk: VKConnector, vk_app: FastAPI, arm_fault: Any, code: int, msg: str,
                                    error_type: type, retry_after: float | None) -> None:  # fmt: skip
    body = {"error": {"error_code": code, "error_msg": msg, "request_params": [{"key": "v", "value": "5.199"}]}}
    await arm_fault(vk.client, "wall.post", prefix="/vk", status=200, body=body)
    with pytest.raises(error_type) as err:
        await vk.publish(PostContent(text="x"), creds(), "k")
    assert type(err.value) is error_type and err.value.code == code
    assert msg in err.value.message and TOKEN not in str(err.value)
    if retry_after is not None:
        assert err.value.retry_after == retry_after
    elif isinstance(err.value, RateLimitedError):
        assert 60 <= err.value.retry_after <= 86400
    if code == 214 and error_type is RateLimitedError:
        assert err.value.needs_attention is True
    if code == 14:
        assert "captcha" in err.value.message and "by hand" in err.value.message
    if error_type is TransientError:
        assert err.value.maybe_sent is True
    assert published(vk_app) == []


def test_daily_limits_wait_until_moscow_midnight() -> None:
    err = error_from_vk({"error_code": 29, "error_msg": "Rate limit reached"},
                        now=datetime(2026, 3, 1, 20, 0, tzinfo=UTC))  # fmt: skip
    assert isinstance(err, RateLimitedError) and err.retry_after == 3600.0


async def test_http_5xx_is_transient(vk: VKConnector, arm_fault: Any) -> None:
    await arm_fault(vk.client, "wall.post", prefix="/vk", status=502, body={"detail": "Bad Gateway"})
    with pytest.raises(TransientError) as err:
        await vk.publish(PostContent(text="x"), creds(), "k")
    assert err.value.code == 502 and err.value.maybe_sent is True


async def test_fake_refusals_in_platform_words(vk: VKConnector, vk_app: FastAPI) -> None:
    cases: list[tuple[PostContent, Credentials, type, int, str]] = [
        (PostContent(text="x"), creds(token="vk1.a.unknown-token-9999"), AuthError, 5, "invalid access_token"),
        (PostContent(text="x"), creds(token=MOD_TOKEN), PermanentError, 214, "access to the wall is closed"),
        (PostContent(text="x"), creds(-RIVAL, token=GROUP_TOKEN), PermanentError, 15, "only on behalf of its own"),
        (PostContent(text="x"), creds(1001, token=GROUP_TOKEN), PermanentError, 15, "only on behalf of its own"),
        (
            PostContent(text=""),
            creds(),
            PermanentError,
            100,
            "One of the parameters specified was missing or invalid: message is empty or invalid",
        ),
        (PostContent(text="x"), creds(-999), PermanentError, 100, "invalid group id"),
    ]
    for post, cred, error_type, code, message in cases:
        with pytest.raises(error_type) as err:
            await vk.publish(post, cred, "k")
        assert type(err.value) is error_type and err.value.code == code and message in err.value.message
    vk_app.state.fake.daily_cap = 2
    await vk.publish(PostContent(text="1"), creds(), "a")
    await vk.publish(PostContent(text="2"), creds(), "b")
    with pytest.raises(RateLimitedError) as limited:
        await vk.publish(PostContent(text="3"), creds(), "c")
    assert limited.value.needs_attention and "post limit" in limited.value.message


# -- unknown outcomes and reconciliation ---------------------------------------------------------------


async def test_lost_response_then_find_published_and_guid_retry(vk: VKConnector, vk_app: FastAPI,
                                                                arm_fault: Any, fake_clock: Any) -> None:  # fmt: skip
    since = datetime.fromtimestamp(fake_clock.now, UTC)
    for i in range(130):  # other posts, so the search must page
        vk_app.state.fake.add_post(-GID, f"filler {i}", date=int(fake_clock.now) - 10 + i)
    post = PostContent(text="the one", link="https://shop.example/x")
    await arm_fault(vk.client, "wall.post", prefix="/vk", kind="lost_response")
    with pytest.raises(OutcomeUnknownError):
        await vk.publish(post, creds(), "key-1")
    fake_clock.advance(200)
    for i in range(120):
        vk_app.state.fake.add_post(-GID, f"later {i}", date=int(fake_clock.now) + i)
    before = calls(vk_app).get("wall.get", 0)
    found = await vk.find_published(creds(), "key-1", since, post)
    assert found is not None and found.external_id == "-555_131" and found.url == "https://vk.com/wall-555_131"
    assert calls(vk_app)["wall.get"] - before == 3
    retry = await vk.publish(post, creds(), "key-1")
    assert retry.external_id == "-555_131" and len(published(vk_app)) == 1
    absent = await vk.find_published(creds(), "key-2", since, PostContent(text="never sent"))
    assert absent is None
    assert await vk.find_published(creds(), "key-1", since, PostContent(text="the one")) is None  # link differs


async def test_drop_is_outcome_unknown_and_absence_is_proven(vk: VKConnector, vk_app: FastAPI,
                                                             arm_fault: Any, fake_clock: Any) -> None:  # fmt: skip
    since = datetime.fromtimestamp(fake_clock.now, UTC)
    await arm_fault(vk.client, "wall.post", prefix="/vk", kind="drop")
    with pytest.raises(OutcomeUnknownError):
        await vk.publish(PostContent(text="dropped"), creds(), "d")
    assert await vk.find_published(creds(), "d", since, PostContent(text="dropped")) is None


async def test_connection_refused_is_transient(fake_pacer: Pacer) -> None:
    async with httpx.AsyncClient(timeout=2) as client:
        vk = VKConnector(client, "http://127.0.0.1:9", pacer=fake_pacer)
        with pytest.raises(TransientError) as err:
            await vk.publish(PostContent(text="x"), creds(), "k")
    assert type(err.value) is TransientError and err.value.maybe_sent is False


# -- verify, engagement, public walls ------------------------------------------------------------------


async def test_verify(vk: VKConnector) -> None:
    info = await vk.verify(creds())
    assert (info.name, info.username, info.url, info.followers) == ("My Shop", "myshop", "https://vk.com/myshop",
                                                                    1200)  # fmt: skip
    assert info.details["admin_level"] == "3"
    with pytest.raises(PermanentError, match="only a moderator of the community “My Shop”"):
        await vk.verify(creds(token=MOD_TOKEN))
    with pytest.raises(PermanentError, match="not an administrator of the community “My Shop”"):
        await vk.verify(creds(token=STRANGER))
    with pytest.raises(AuthError, match="VK error 5"):
        await vk.verify(creds(token="vk1.a.revoked-token-xxxx"))
    user = await vk.verify(creds(1001))
    assert (user.name, user.followers, user.url) == ("Ann Admin", 42, "https://vk.com/ann")
    with pytest.raises(PermanentError, match="cannot post on the wall of user 1"):
        await vk.verify(creds(1))


async def test_fetch_engagement_pages_until_since(vk: VKConnector, vk_app: FastAPI, fake_clock: Any) -> None:
    state, now = vk_app.state.fake, int(fake_clock.now)
    state.add_post(-GID, "pinned old", date=now - 400 * 3600, is_pinned=True, likes=999)
    for i in range(230):
        attachments = [{"type": "photo", "photo": {}}] if i % 2 else []
        state.add_post(-GID, f"p{i}", date=now - (230 - i) * 3600, likes=i, reposts=i // 2, comments=1,
                       views=None if i == 229 else 10 * i, attachments=attachments)  # fmt: skip
    since = datetime.fromtimestamp(now - 150 * 3600, UTC)
    records = await vk.fetch_engagement(creds(), since)
    assert len(records) == 150 and calls(vk_app)["wall.get"] == 2
    newest = records[0]
    assert (newest.likes, newest.shares, newest.comments, newest.views) == (229, 114, 1, None)
    assert newest.external_id == "-555_231" and newest.followers == 1200 and newest.kind == "photo"
    assert records[1].views == 2280 and records[1].kind == "text"
    assert all(a.posted_at > b.posted_at for a, b in itertools.pairwise(records))
    assert records[-1].posted_at == since


@pytest.mark.parametrize("ref", ["https://vk.com/rival", "vk.com/rival?w=1", "club777", "-777", "rival"])
async def test_fetch_public_wall(vk: VKConnector, vk_app: FastAPI, fake_clock: Any, ref: str) -> None:
    now = int(fake_clock.now)
    for i in range(5):
        vk_app.state.fake.add_post(-RIVAL, f"r{i}", date=now - i * 86400, likes=i * 3, views=100)
    records = await vk.fetch_public_wall(creds(), ref, datetime.fromtimestamp(now - 3 * 86400 - 1, UTC))
    assert [r.likes for r in records] == [0, 3, 6, 9] and {r.followers for r in records} == {5000}


async def test_public_wall_closed_community_and_user_page(vk: VKConnector, vk_app: FastAPI,
                                                          fake_clock: Any) -> None:  # fmt: skip
    since = datetime.fromtimestamp(fake_clock.now - 3600, UTC)
    with pytest.raises(PermanentError, match="VK error 15: Access denied"):
        await vk.fetch_public_wall(creds(), "https://vk.com/closed", since)
    vk_app.state.fake.add_post(1, "hello from a user page", date=int(fake_clock.now), likes=7)
    [record] = await vk.fetch_public_wall(creds(), "https://vk.com/durov", since)
    assert (record.likes, record.followers, record.external_id) == (7, 9000, "1_1")


# -- pacing, sandbox, real TCP -------------------------------------------------------------------------


class ClockedTransport(httpx.ASGITransport):
    """Records the fake clock's time of every request (a test transport, not a patch of the connector)."""

    def __init__(self, app: FastAPI, clock: Any) -> None:
        super().__init__(app=app)
        self.clock, self.seen = clock, []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((self.clock(), request.url.path))
        return await super().handle_async_request(request)


@pytest.mark.parametrize(("kind", "spacing"), [("user", 1 / 3), ("community", 1 / 20)])
async def test_pacing_per_token_and_per_wall(vk_app: FastAPI, fake_clock: Any, fake_pacer: Pacer, kind: str,
                                             spacing: float) -> None:  # fmt: skip
    transport = ClockedTransport(media_host(vk_app), fake_clock)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        vk = VKConnector(client, API, pacer=fake_pacer, token_kind=kind)
        await vk.verify(creds())
        await vk.publish(PostContent(text="a"), creds(), "a")
        await vk.publish(PostContent(text="b"), creds(), "b")
    times = [t for t, path in transport.seen if path.startswith("/vk/method/")]
    # verify: the rights check (a community connector given this user key asks groups.getTokenPermissions first,
    # then account.getAppPermissions) and groups.getById; then two wall.post
    assert len(times) == (5 if kind == "community" else 4)
    assert all(b - a >= spacing - 1e-6 for a, b in itertools.pairwise(times))
    posts = [t for t, path in transport.seen if path.endswith("/wall.post")]
    assert posts[1] - posts[0] >= 1.0


async def test_sandbox_accepts_invented_credentials(fake_client: Any, fake_pacer: Pacer) -> None:
    vk_app = create_app(sandbox=True)
    vk = VKConnector(fake_client(media_host(vk_app)), API, pacer=fake_pacer, fetch_policy=MEDIA_HOST)
    invented = Credentials({"access_token": "my-invented-token-123", "owner_id": "-4242"})
    result = await vk.publish(PostContent(text="hi", media=(MediaItem(f"{BASE}/media/s.jpg"),)), invented, "s")
    assert result.url == "https://vk.com/wall-4242_1"
    assert (await vk.verify(invented)).details["admin_level"] == "3"
    listed = (await vk.client.get("/vk/_control/published")).json()
    assert [(p["id"], p["chat"], p["text"]) for p in listed] == [(1, -4242, "hi")]
    with pytest.raises(AuthError):
        await vk.publish(PostContent(text="x"), Credentials({"access_token": "short", "owner_id": "-1"}), "k")


async def test_real_tcp_upload_and_hanging_answer(fake_pacer: Pacer) -> None:
    vk_app = create_app(lost_response_mode="hang")
    seed(vk_app)
    with serve_in_thread(media_host(vk_app)) as url:
        async with httpx.AsyncClient(timeout=0.5) as client:
            fetch_policy = FetchPolicy.allowing(url.removeprefix("http://"))
            vk = VKConnector(client, f"{url}/vk", pacer=fake_pacer, fetch_policy=fetch_policy)
            since = datetime.now(UTC) - timedelta(seconds=5)
            post = PostContent(text="over tcp", media=(MediaItem(f"{url}/media/t.jpg"),))
            result = await vk.publish(post, creds(), "tcp-1")
            assert result.url == "https://vk.com/wall-555_1"
            armed = await client.post(
                f"{url}/vk/_control/faults", json={"method": "wall.post", "kind": "lost_response", "delay": 1.0}
            )
            assert armed.status_code == 200
            with pytest.raises(OutcomeUnknownError, match="ReadTimeout"):
                await vk.publish(PostContent(text="hang"), creds(), "tcp-2")
            found = await vk.find_published(creds(), "tcp-2", since, PostContent(text="hang"))
            assert found is not None and found.external_id == "-555_2"


async def test_fake_query_string_and_envelope(vk_app: FastAPI, fake_client: Any) -> None:
    client = fake_client(vk_app)
    ok = await client.get("/method/users.get", params={"access_token": TOKEN, "v": "5.199"})
    assert ok.status_code == 200 and ok.json() == {
        "response": [{"id": 1001, "first_name": "Ann", "last_name": "Admin"}]
    }
    bad = await client.post("/method/wall.post", data={"access_token": TOKEN, "v": "5.199", "owner_id": "-555"})
    error = bad.json()["error"]
    assert bad.status_code == 200 and error["error_code"] == 100
    assert error["error_msg"] == "One of the parameters specified was missing or invalid: message is empty or invalid"
    assert {"key": "method", "value": "wall.post"} in error["request_params"]
    assert all(p["key"] != "access_token" for p in error["request_params"])
    server = await client.post("/method/photos.getWallUploadServer", data={"access_token": TOKEN, "v": "5.199",
                                                                           "group_id": "555"})  # fmt: skip
    assert server.json()["response"]["upload_url"].startswith("http://fake.test/upload/photo?")
