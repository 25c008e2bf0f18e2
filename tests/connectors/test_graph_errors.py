"""Graph error classification, table-driven from the platform reference, through the fakes over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from connectors.base import Credentials, MediaItem, PostContent
from connectors.errors import (
    AuthError,
    ConnectorError,
    OutcomeUnknownError,
    PermanentError,
    PublishPending,
    RateLimitedError,
    TransientError,
)
from connectors.facebook.connector import FacebookConnector
from connectors.facebook.fake import create_app as create_facebook
from connectors.graph import buc_wait_seconds, error_envelope, scrub
from connectors.instagram.connector import InstagramConnector
from connectors.instagram.fake import create_app as create_instagram

TOKEN = "EAAB-secret-token-value"
FB = Credentials({"page_id": "1001", "access_token": TOKEN})
IG = Credentials({"ig_user_id": "17841400000000001", "access_token": TOKEN})
PHOTO = PostContent(text="caption", media=(MediaItem("https://cdn.example/a.jpg"),))


def buc(minutes: int) -> dict[str, str]:
    entry = {"type": "pages", "call_count": 100, "total_time": 30, "estimated_time_to_regain_access": minutes}
    return {"X-Business-Use-Case-Usage": json.dumps({"1001": [entry]})}


@pytest.fixture
async def fb_client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_facebook()
    app.state.fake.seed({"pages": [{"id": "1001"}], "tokens": [{"token": TOKEN, "page_id": "1001"}]})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fb") as c:
        yield c


@pytest.fixture
def ig_app() -> FastAPI:
    app = create_instagram()
    app.state.fake.seed({"users": [{"id": IG["ig_user_id"], "username": "me"}], "tokens": [{"token": TOKEN}]})
    return app


@pytest.fixture
async def ig_client(ig_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=ig_app), base_url="http://ig") as c:
        yield c


async def arm(client: httpx.AsyncClient, method: str, body: Any, status: int = 400, **extra: Any) -> None:
    spec = {"method": method, "kind": "error", "status": status, "body": body, **extra}
    assert (await client.post("/_control/faults", json=spec)).status_code == 200


FACEBOOK_TABLE: list[tuple[int, int | None, int, type[ConnectorError], float | None]] = [
    (1, None, 500, TransientError, None),
    (2, None, 503, TransientError, None),
    (4, None, 400, RateLimitedError, 60),
    (17, None, 400, RateLimitedError, 60),
    (32, None, 400, RateLimitedError, 60),
    (613, None, 400, RateLimitedError, 60),
    (80001, None, 400, RateLimitedError, 300),
    (341, None, 400, RateLimitedError, 300),
    (368, None, 400, RateLimitedError, 86400),
    (3, None, 400, PermanentError, None),
    (10, None, 400, PermanentError, None),
    (100, None, 400, PermanentError, None),
    (200, None, 400, PermanentError, None),
    (299, None, 400, PermanentError, None),
    (1609005, None, 400, PermanentError, None),
    (102, None, 400, AuthError, None),
    (190, 463, 400, AuthError, None),
    (190, 460, 400, AuthError, None),
    (506, None, 400, OutcomeUnknownError, None),
    (424242, None, 502, TransientError, None),
    (424242, None, 400, PermanentError, None),
]


@pytest.mark.parametrize(("code", "subcode", "status", "expected", "retry_after"), FACEBOOK_TABLE)
async def test_facebook_error_table(
    fb_client: httpx.AsyncClient,
    code: int,
    subcode: int | None,
    status: int,
    expected: type[ConnectorError],
    retry_after: float | None,
) -> None:
    message = f"(#{code}) Meta says no"
    await arm(fb_client, "POST /feed", error_envelope(code, message, subcode), status)
    with pytest.raises(ConnectorError) as info:
        await FacebookConnector(fb_client, "http://fb").publish(PostContent(text="hi"), FB, "k")
    error = info.value
    assert type(error) is expected
    assert error.message.startswith(message)
    if retry_after is not None:
        assert isinstance(error, RateLimitedError) and error.retry_after == retry_after
        assert error.needs_attention is (code == 368)
    if expected is TransientError:
        assert isinstance(error, TransientError) and error.maybe_sent is True
    assert (await fb_client.get("/_control/published")).json() == []


@pytest.mark.parametrize(("code", "minutes"), [(80001, 7), (4, 3), (32, 12)])
async def test_buc_header_sets_the_wait_in_minutes(fb_client: httpx.AsyncClient, code: int, minutes: int) -> None:
    await arm(fb_client, "POST /feed", error_envelope(code, f"(#{code}) Too many calls"), headers=buc(minutes))
    with pytest.raises(RateLimitedError) as info:
        await FacebookConnector(fb_client, "http://fb").publish(PostContent(text="hi"), FB, "k")
    assert info.value.retry_after == minutes * 60


async def test_tokens_never_reach_a_message(fb_client: httpx.AsyncClient) -> None:
    echo = f"(#100) bad request GET /v26.0/me?access_token={TOKEN}&fields=id"
    await arm(fb_client, "POST /feed", error_envelope(100, echo))
    with pytest.raises(PermanentError) as info:
        await FacebookConnector(fb_client, "http://fb").publish(PostContent(text="hi"), FB, "k")
    assert TOKEN not in info.value.message and TOKEN not in (info.value.response or "")
    assert "access_token=***" in info.value.message


async def test_dropped_connection_on_a_write_is_an_unknown_outcome(fb_client: httpx.AsyncClient) -> None:
    await arm(fb_client, "POST /feed", None, kind="drop")
    with pytest.raises(OutcomeUnknownError):
        await FacebookConnector(fb_client, "http://fb").publish(PostContent(text="hi"), FB, "k")


@pytest.mark.parametrize(
    ("exc", "write", "expected"),
    [
        (httpx.ConnectError("refused"), True, TransientError),
        (httpx.ConnectTimeout("slow connect"), True, TransientError),
        (httpx.ReadTimeout("timed out"), True, OutcomeUnknownError),
        (httpx.RemoteProtocolError("disconnected"), True, OutcomeUnknownError),
        (httpx.ReadTimeout("timed out"), False, TransientError),
    ],
)
async def test_transport_failures(exc: Exception, write: bool, expected: type[ConnectorError]) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exc

    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as c:
        fb = FacebookConnector(c, "http://fb")
        with pytest.raises(ConnectorError) as info:
            if write:
                await fb.publish(PostContent(text="hi"), FB, "k")
            else:
                await fb.fetch_engagement(FB, datetime.now(UTC))
    assert type(info.value) is expected


async def test_non_json_5xx_is_transient_maybe_sent() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(502, text="<html>"))) as c:
        with pytest.raises(TransientError) as info:
            await FacebookConnector(c, "http://fb").publish(PostContent(text="hi"), FB, "k")
    assert type(info.value) is TransientError and info.value.maybe_sent


def test_helpers() -> None:
    assert buc_wait_seconds({}) is None
    assert buc_wait_seconds({"x-business-use-case-usage": "not json"}) is None
    headers = {
        "x-business-use-case-usage": json.dumps(
            {"1": [{"estimated_time_to_regain_access": 0}], "2": [{"estimated_time_to_regain_access": 5}]}
        )
    }
    assert buc_wait_seconds(headers) == 300
    assert scrub("x?access_token=abc&input_token=def y", "zzz") == "x?access_token=***&input_token=*** y"


# ------------------------------------------------------------------ Instagram
INSTAGRAM_CREATE_TABLE: list[tuple[int, int | None, type[ConnectorError], str, float | None]] = [
    (-2, 2207003, TransientError, "downloading", None),
    (-1, 2207001, TransientError, "server error", None),
    (-1, 2207032, TransientError, "container", None),
    (4, 2207051, PermanentError, "spam", None),
    (4, None, RateLimitedError, "", 60),
    (80002, None, RateLimitedError, "", 300),
    (25, 2207050, PermanentError, "restricted", None),
    (100, 2207023, PermanentError, "media type", None),
    (100, 2207028, PermanentError, "2 to 10", None),
    (100, 2207040, PermanentError, "20 accounts", None),
    (352, 2207026, PermanentError, "video format", None),
    (9004, 2207052, PermanentError, "public", None),
    (36000, 2207004, PermanentError, "8 MB", None),
    (36001, 2207005, PermanentError, "JPEG", None),
    (36003, 2207009, PermanentError, "aspect ratio", None),
    (36004, 2207010, PermanentError, "2200", None),
    (36003, None, PermanentError, "aspect ratio", None),
    (190, None, AuthError, "reconnect", None),
    (10, None, PermanentError, "", None),
]


@pytest.mark.parametrize(("code", "subcode", "expected", "words", "retry_after"), INSTAGRAM_CREATE_TABLE)
async def test_instagram_container_error_table(
    ig_client: httpx.AsyncClient,
    code: int,
    subcode: int | None,
    expected: type[ConnectorError],
    words: str,
    retry_after: float | None,
) -> None:
    message = f"Meta message {code}"
    await arm(ig_client, "POST /media*", error_envelope(code, message, subcode))
    with pytest.raises(ConnectorError) as info:
        await InstagramConnector(ig_client, "http://ig").publish(PHOTO, IG, "k")
    assert type(info.value) is expected
    assert info.value.message.startswith(message) and words in info.value.message
    if retry_after is not None:
        assert isinstance(info.value, RateLimitedError) and info.value.retry_after == retry_after


async def finished_checkpoint(ig_client: httpx.AsyncClient) -> dict[str, str]:
    with pytest.raises(PublishPending) as info:
        await InstagramConnector(ig_client, "http://ig").publish(PHOTO, IG, "k")
    return info.value.checkpoint


async def test_instagram_not_ready_on_publish_stays_pending(ig_client: httpx.AsyncClient) -> None:
    checkpoint = await finished_checkpoint(ig_client)
    await arm(ig_client, "POST /media_publish", error_envelope(9007, "Media ID is not available", 2207027))
    with pytest.raises(PublishPending) as info:
        await InstagramConnector(ig_client, "http://ig").publish(PHOTO, IG, "k", checkpoint)
    assert info.value.checkpoint == checkpoint
    assert (await ig_client.get("/_control/published")).json() == []


async def test_instagram_quota_error_waits_for_the_window(ig_client: httpx.AsyncClient) -> None:
    checkpoint = await finished_checkpoint(ig_client)
    await arm(ig_client, "POST /media_publish", error_envelope(9, "Application request limit reached", 2207042))
    with pytest.raises(RateLimitedError, match="Application request limit reached") as info:
        await InstagramConnector(ig_client, "http://ig").publish(PHOTO, IG, "k", checkpoint)
    assert info.value.retry_after == 3600


async def test_instagram_expired_media_on_publish_recreates(ig_client: httpx.AsyncClient) -> None:
    checkpoint = await finished_checkpoint(ig_client)
    await arm(ig_client, "POST /media_publish", error_envelope(-2, "The media has expired", 2207020))
    with pytest.raises(PublishPending) as info:
        await InstagramConnector(ig_client, "http://ig").publish(PHOTO, IG, "k", checkpoint)
    assert info.value.checkpoint["recreated"] == "1"
    assert info.value.checkpoint["container_id"] != checkpoint["container_id"]
