"""Media URLs of posts against an "internal network" on 127.0.0.1, through the API and the publisher (the SSRF
finding): refused at creation when the address is private, and when a name only resolves privately later, the
target fails with that reason and nothing reaches the internal server.

The test's DNS is ``socket.getaddrinfo`` answering a few invented names (the system resolver for the rest), so a
public-looking name can change its answer between creation and publishing, the way DNS rebinding does.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Response
from fastapi.responses import RedirectResponse

from app.config import Settings
from connectors.fakekit import _free_port, serve_in_thread
from tests.conftest import make_channel, make_settings
from tests.publishing.conftest import Env
from tests.publishing.test_outcomes import queue, run_once

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 200
PRIVATE = "points to a private address"


class Hits(list[str]):
    pass


def internal_app(hits: Hits) -> FastAPI:
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST", "HEAD"])
    async def anything(path: str) -> Response:
        hits.append(path)
        return Response("internal", status_code=403)

    return app


def media_app(hits: Hits, internal_port: int) -> FastAPI:
    app = FastAPI()

    @app.get("/photo.jpg")
    async def photo() -> Response:
        hits.append("photo.jpg")
        return Response(JPEG, media_type="image/jpeg")

    @app.get("/moved.jpg")
    async def moved() -> Response:
        hits.append("moved.jpg")
        return RedirectResponse(f"http://127.0.0.1:{internal_port}/admin/photo.jpg", status_code=302)

    return app


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[int, Hits, int, Hits]]:
    internal_hits, media_hits = Hits(), Hits()
    internal_port = _free_port()
    with serve_in_thread(internal_app(internal_hits), port=internal_port):
        with serve_in_thread(media_app(media_hits, internal_port)) as media_url:
            yield internal_port, internal_hits, int(media_url.rsplit(":", 1)[1]), media_hits


@pytest.fixture
def internal(servers: tuple[int, Hits, int, Hits]) -> tuple[int, Hits]:
    servers[1].clear()
    return servers[0], servers[1]


@pytest.fixture
def media(servers: tuple[int, Hits, int, Hits]) -> tuple[int, Hits]:
    servers[3].clear()
    return servers[2], servers[3]


@pytest.fixture
def settings(database_url: str, tmp_path: Path, servers: tuple[int, Hits, int, Hits]) -> Settings:
    """Only the media server is allowed although private (SMM_FETCH_ALLOW_HOSTS), the internal one is not."""
    return make_settings(database_url, tmp_path, fetch_allow_hosts=f"127.0.0.1:{servers[2]}")


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, Callable[[], str]]:
    """``dns[name] = lambda: "1.2.3.4"``: what the resolver answers for ``name`` at each lookup."""
    table: dict[str, Callable[[], str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        answer = table.get(str(host).lower())
        if answer is None:
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer(), int(port or 0)))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


async def test_a_private_media_url_is_refused_at_creation(
    env: Env, api: httpx.AsyncClient, internal: tuple[int, Hits], dns: dict[str, Callable[[], str]]
) -> None:
    port, hits = internal
    ch = await make_channel(api, "vk")
    dns["files.intranet-cdn.com"] = lambda: "10.20.30.40"
    closed = _free_port()
    for url in (
        f"http://127.0.0.1:{port}/a.jpg",
        f"http://127.0.0.1:{closed}/a.jpg",  # open or closed: one answer
        f"http://[::ffff:127.0.0.1]:{port}/a.jpg",
        f"http://localhost:{port}/a.jpg",
        "http://169.254.169.254/latest/meta-data/",
        f"http://100.64.0.1:{port}/a.jpg",
        f"http://files.intranet-cdn.com:{port}/a.jpg",
    ):
        r = await api.post(
            "/api/v1/posts",
            json={"text": "x", "channel_ids": [ch["id"]], "scheduled_at": "now", "media": [{"url": url}]},
        )
        assert r.status_code == 422, (url, r.text)
        assert r.json() == {
            "detail": f"media[0].url: {PRIVATE}",
            "errors": [{"field": "media[0].url", "message": PRIVATE}],
        }
    r = await api.post(
        "/api/v1/posts",
        json={
            "text": "x",
            "channel_ids": [ch["id"]],
            "scheduled_at": "now",
            "overrides": {
                ch["id"]: {"media": [{"url": "https://example.org/a.jpg"}, {"url": f"http://127.0.0.1:{port}/"}]}
            },
        },
    )
    assert r.status_code == 422 and r.json()["errors"] == [
        {"field": f"overrides.{ch['id']}.media[1].url", "message": PRIVATE}
    ]
    assert (await api.get("/api/v1/posts")).json()["items"] == [] and hits == []


async def test_an_allowed_media_host_is_fetched_and_published(
    env: Env, api: httpx.AsyncClient, media: tuple[int, Hits]
) -> None:
    port, hits = media
    ch = await make_channel(api, "vk")
    post = await queue(api, ch["id"], "photo", media=[{"url": f"http://127.0.0.1:{port}/photo.jpg"}])
    await run_once(env)
    target = await env.target(post["id"])
    assert target.status == "published", target.last_error
    [sent] = await env.published_at_fake("vk")
    assert [a["type"] for a in sent["media"]] == ["photo"] and sent["media"][0]["photo"]["upload"]["size"] == len(JPEG)
    assert hits == ["photo.jpg"]


async def test_a_name_that_resolves_privately_at_publish_time_fails_the_target(
    env: Env, api: httpx.AsyncClient, internal: tuple[int, Hits], dns: dict[str, Callable[[], str]]
) -> None:
    port, hits = internal
    ch = await make_channel(api, "vk")
    dns["img.rebind-example.com"] = rebinding()
    post = await queue(api, ch["id"], "rebound", media=[{"url": f"http://img.rebind-example.com:{port}/a.jpg"}])
    await run_once(env)
    target = await env.target(post["id"])
    assert target.status == "failed"
    assert target.last_error == f"The media from img.rebind-example.com could not be fetched: {PRIVATE}."
    assert hits == [] and await env.published_at_fake("vk") == []
    # a closed port gives the very same sentence: last_error is no port scanner
    dns["img2.rebind-example.com"] = rebinding()
    url = f"http://img2.rebind-example.com:{_free_port()}/a.jpg"
    other = await queue(api, ch["id"], "rebound", media=[{"url": url}])
    await run_once(env)
    assert (await env.target(other["id"])).last_error == target.last_error.replace("img.", "img2.")


def rebinding() -> Callable[[], str]:
    """A public address for the first lookup (the post's creation), loopback ever after."""
    answers = iter(["93.184.215.14"])
    return lambda: next(answers, "127.0.0.1")


async def test_a_redirect_to_a_private_address_is_not_followed(
    env: Env, api: httpx.AsyncClient, media: tuple[int, Hits], internal: tuple[int, Hits]
) -> None:
    ch = await make_channel(api, "vk")
    post = await queue(api, ch["id"], "moved", media=[{"url": f"http://127.0.0.1:{media[0]}/moved.jpg"}])
    await run_once(env)
    target = await env.target(post["id"])
    assert target.status == "failed"
    assert target.last_error == "The media from 127.0.0.1 could not be fetched: it redirects to a private address."
    assert media[1] == ["moved.jpg"] and internal[1] == [] and await env.published_at_fake("vk") == []


async def test_a_name_that_does_not_resolve_at_creation_is_accepted(env: Env, api: httpx.AsyncClient) -> None:
    ch = await make_channel(api, "vk")
    post = await queue(
        api,
        ch["id"],
        "later",
        scheduled_at="2031-01-01T10:00:00Z",
        media=[{"url": "https://media.not-in-dns.invalid/a.jpg"}],
    )
    assert post["media"] == [{"kind": "photo", "url": "https://media.not-in-dns.invalid/a.jpg"}]
