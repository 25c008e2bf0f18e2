"""Media prepared ahead (app.publishing.prepare): the upload and container steps happen before the post's time,
only the visible call at it; a failed preparation shows on the target before the time; an edit prepares again;
a cancel discards. The fakes' call log (``/_control/log``) tells what reached the platform, in order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Response

from app.config import Settings
from app.publishing.prepare import Preparer, prepared_dir
from connectors.fakekit import serve_in_thread
from tests.conftest import make_channel, make_settings
from tests.publishing.conftest import Env, drain

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 300
VISIBLE = {"vk": "wall.post", "telegram": "sendPhoto", "instagram": "POST /media_publish",
           "facebook": "POST /photos"}
AHEAD_S = 120.0


class MediaServer:
    def __init__(self) -> None:
        self.hits: list[str] = []
        self.base = ""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/p/{name}")
        async def photo(name: str) -> Response:
            self.hits.append(name)
            if name.startswith("missing"):
                return Response("no such file", status_code=404)
            return Response(JPEG, media_type="image/jpeg")

        return app


@pytest.fixture(scope="module")
def media_server() -> Iterator[MediaServer]:
    server = MediaServer()
    with serve_in_thread(server.app()) as base:
        server.base = base
        yield server


@pytest.fixture
def media(media_server: MediaServer) -> MediaServer:
    media_server.hits.clear()
    return media_server


@pytest.fixture
def settings(database_url: str, tmp_path: Path, media_server: MediaServer) -> Settings:
    host = media_server.base.removeprefix("http://")
    return make_settings(database_url, tmp_path, fetch_allow_hosts=host, prepare_ahead=300.0)


def preparer(env: Env) -> Preparer:
    return Preparer(env.settings, env.maker, env.hub, env.box, env.clock)


async def calls(env: Env, platform: str) -> list[str]:
    return [c["method"] for c in await env.fake_get(platform, "/_control/log")]


async def photo_post(env: Env, api: httpx.AsyncClient, platform: str, url: str, text: str = "Photo") -> dict[str, Any]:
    ch = await make_channel(api, platform)
    at = (env.clock.now.replace(microsecond=0)).timestamp() + AHEAD_S
    body = {"text": text, "channel_ids": [ch["id"]], "media": [{"url": url}],
            "scheduled_at": datetime.fromtimestamp(at, UTC).isoformat()}
    r = await api.post("/api/v1/posts", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def target_of(api: httpx.AsyncClient, post_id: str) -> dict[str, Any]:
    got = (await api.get(f"/api/v1/posts/{post_id}")).json()
    return dict(got["targets"][0])


async def publish_at_time(env: Env) -> None:
    env.clock.advance(AHEAD_S + 1)
    runner = env.runner()
    await runner.dispatch_once()
    await drain(runner)


@pytest.mark.parametrize("platform", ["vk", "instagram", "telegram", "facebook"])
async def test_prepared_before_the_time_then_only_the_visible_call(
    env: Env, api: httpx.AsyncClient, media: MediaServer, platform: str
) -> None:
    post = await photo_post(env, api, platform, f"{media.base}/p/cat.jpg")
    assert await preparer(env).run_once() == 1
    before = await calls(env, platform)
    assert VISIBLE[platform] not in before  # nothing visible yet
    if platform == "vk":
        assert before == ["photos.getWallUploadServer", "upload", "photos.saveWallPhoto"]
    if platform == "instagram":
        assert "POST /media:image" in before[0] or before[0].startswith("POST /media")
    assert media.hits == ["cat.jpg"]  # fetched ahead, through the guarded fetcher
    t = await target_of(api, post["id"])
    assert t["status"] == "scheduled" and t["prepared_at"] and t["prepare_error"] is None
    assert await preparer(env).run_once() == 0  # still good: not prepared twice

    await publish_at_time(env)
    t = await target_of(api, post["id"])
    assert t["status"] == "published", t
    at_time = (await calls(env, platform))[len(before):]
    writes = at_time
    if platform == "instagram":  # reads of the container's status and the quota, then the one write
        writes = [c for c in at_time if c.startswith("POST")]
    assert writes == [VISIBLE[platform]], at_time
    assert media.hits == ["cat.jpg"]  # nothing fetched at the time
    if platform in ("telegram", "facebook"):  # the kept bytes went up as a file
        sent = await env.published_at_fake(platform)
        assert len(sent) == 1


async def test_a_failed_preparation_shows_on_the_target_before_the_time(
    env: Env, api: httpx.AsyncClient, media: MediaServer
) -> None:
    post = await photo_post(env, api, "vk", f"{media.base}/p/missing.jpg")
    await preparer(env).run_once()
    t = await target_of(api, post["id"])
    host = media.base.removeprefix("http://").split(":")[0]
    message = f"The media from {host} could not be fetched (HTTP 404)."
    assert t["status"] == "scheduled"
    assert t["prepare_error"] == message and t["last_error"] == message
    assert await calls(env, "vk") == []  # the fetch failed before any upload
    # the send at the time still tries (and fails with the same reason: the file is still missing)
    await publish_at_time(env)
    t = await target_of(api, post["id"])
    assert t["status"] == "failed" and t["last_error"] == message
    assert media.hits == ["missing.jpg", "missing.jpg"]


async def test_an_edit_after_preparation_prepares_again(env: Env, api: httpx.AsyncClient, media: MediaServer) -> None:
    post = await photo_post(env, api, "telegram", f"{media.base}/p/first.jpg")
    await preparer(env).run_once()
    folder = prepared_dir(env.settings, (await env.target(post["id"])).id)
    first = sorted(p.name for p in folder.iterdir())
    r = await api.patch(f"/api/v1/posts/{post['id']}", json={"media": [{"url": f"{media.base}/p/second.jpg"}]})
    assert r.status_code == 200, r.text
    assert await preparer(env).run_once() == 1
    assert media.hits == ["first.jpg", "second.jpg"]
    assert len(list(folder.iterdir())) == 1 and sorted(p.name for p in folder.iterdir()) != first
    await publish_at_time(env)
    sent = await env.published_at_fake("telegram")
    assert len(sent) == 1 and media.hits == ["first.jpg", "second.jpg"]


async def test_cancel_discards_what_was_prepared(env: Env, api: httpx.AsyncClient, media: MediaServer) -> None:
    post = await photo_post(env, api, "telegram", f"{media.base}/p/gone.jpg")
    await preparer(env).run_once()
    target = await env.target(post["id"])
    assert target.prepared_payload and prepared_dir(env.settings, target.id).is_dir()
    r = await api.delete(f"/api/v1/posts/{post['id']}")
    assert r.status_code == 200, r.text
    await preparer(env).run_once()
    target = await env.target(post["id"])
    assert target.prepared_at is None and target.prepared_payload is None
    assert not prepared_dir(env.settings, target.id).exists()


def test_every_platform_prepares() -> None:
    from app.platforms import ConnectorHub
    from connectors.base import Preparing

    hub = ConnectorHub(make_settings("sqlite+aiosqlite://", Path("/tmp")), httpx.AsyncClient())
    assert all(isinstance(hub.get(p), Preparing) for p in ("vk", "instagram", "telegram", "facebook"))


@pytest.mark.parametrize("platform", ["instagram", "vk"])
async def test_a_lost_answer_after_preparation_is_reconciled_not_resent(
    env: Env, api: httpx.AsyncClient, media: MediaServer, platform: str
) -> None:
    """Exactly once holds with what was prepared: recovery asks about the prepared container (Instagram), and a
    resend carries the same guid and the prepared attachments (VK), so the post exists once."""
    post = await photo_post(env, api, platform, f"{media.base}/p/once.jpg")
    await preparer(env).run_once()
    await env.arm(platform, method=VISIBLE[platform], kind="lost_response")
    await publish_at_time(env)
    for _ in range(5):  # reconciliation may be asked again later, a proven absence resends
        t = await target_of(api, post["id"])
        if t["status"] == "published":
            break
        env.clock.advance(30)
        runner = env.runner()
        await runner.sweep()
        await runner.dispatch_once()
        await drain(runner)
    assert t["status"] == "published", t
    assert len(await env.published_at_fake(platform)) == 1
    if platform == "instagram":  # the container's status said PUBLISHED: never published again
        assert (await calls(env, platform)).count(VISIBLE[platform]) == 1
    assert not [c for c in await calls(env, platform) if c in ("upload", "POST /media:image")][1:]


async def test_a_container_that_would_expire_before_the_time_is_prepared_again(
    env: Env, api: httpx.AsyncClient, media: MediaServer
) -> None:
    post = await photo_post(env, api, "instagram", f"{media.base}/p/late.jpg")
    await preparer(env).run_once()
    assert (await calls(env, "instagram")).count("POST /media:image") == 1
    # moved 25 h later: the container (24 h) would be dead by then
    later = datetime.fromisoformat(post["scheduled_at"]) + timedelta(hours=25)
    r = await api.patch(f"/api/v1/posts/{post['id']}", json={"scheduled_at": later.isoformat()})
    assert r.status_code == 200, r.text
    assert await preparer(env).run_once() == 0  # not within SMM_PREPARE_AHEAD yet
    env.clock.advance(25 * 3600)
    assert await preparer(env).run_once() == 1
    assert (await calls(env, "instagram")).count("POST /media:image") == 2
