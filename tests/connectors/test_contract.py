"""One contract, every connector: the same expectations run over Telegram, VK, Facebook and Instagram, each against
its fake platform in sandbox mode (any well-formed credentials work there)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from connectors.base import AccountInfo, BaseConnector, Credentials, MediaItem, PostContent, Published
from connectors.errors import ConnectorError, OutcomeUnknownError, PermanentError, TransientError
from connectors.facebook import fake as facebook_fake
from connectors.instagram import fake as instagram_fake
from connectors.registry import BUILTIN, load_registry
from connectors.telegram import fake as telegram_fake
from connectors.vk import fake as vk_fake

BASE = "http://platform.test"
PHOTO = MediaItem(url="https://example.org/picture.jpg", kind="photo", mime_type="image/jpeg")


@dataclass(frozen=True)
class Case:
    platform: str
    make_fake: Callable[..., FastAPI]
    creds: dict[str, str]
    publish_method: str  # the fake's fault name for the publishing call
    error_body: Any  # a platform refusal, as the platform sends it
    error_status: int
    needs_media: bool = False
    can_tell: bool = True  # can find_published prove presence or absence?


TOKEN = "abcdefghijklmnopqrstuvwxyz0123456789"
CASES = [
    Case("telegram", telegram_fake.create_app, {"bot_token": "123456789:AAE" + TOKEN[:32], "chat_id": "@contract"},
         "sendMessage", {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}, 400,
         can_tell=False),
    Case("vk", vk_fake.create_app, {"access_token": "vk1.a." + TOKEN, "owner_id": "-777"}, "wall.post",
         {"error": {"error_code": 100, "error_msg": "One of the parameters specified was missing or invalid",
                    "request_params": []}}, 200),
    Case("facebook", facebook_fake.create_app, {"page_id": "1234567", "access_token": "EAA" + TOKEN}, "POST /feed",
         {"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100,
                    "fbtrace_id": "X"}}, 400),
    Case("instagram", instagram_fake.create_app, {"ig_user_id": "17841400000000042", "access_token": "EAA" + TOKEN},
         "POST /media*", {"error": {"message": "Unsupported format", "type": "OAuthException", "code": 36001,
                                    "error_subcode": 2207005, "fbtrace_id": "X"}}, 400, needs_media=True),
]


@pytest.fixture(params=CASES, ids=[c.platform for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def bound(case: Case) -> AsyncIterator[tuple[BaseConnector, httpx.AsyncClient]]:
    app = case.make_fake(sandbox=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        yield BUILTIN[case.platform](client, BASE), client


def content(case: Case, text: str) -> PostContent:
    return PostContent(text=text, media=(PHOTO,) if case.needs_media else ())


async def publish_to_end(connector: BaseConnector, post: PostContent, creds: Credentials, key: str,
                         client: httpx.AsyncClient) -> Published:
    """Drive a publication to its end, following PublishPending (Instagram's container flow)."""
    from connectors.errors import PublishPending

    checkpoint: dict[str, str] | None = None
    for _ in range(10):
        try:
            return await connector.publish(post, creds, key, checkpoint)
        except PublishPending as pending:
            checkpoint = dict(pending.checkpoint)
            await client.post("/_control/clock", json={"advance": pending.retry_after + 1})
    raise AssertionError("never finished")


def test_registry_and_limits(case: Case) -> None:
    cls = load_registry()[case.platform]
    assert cls.platform == case.platform and set(cls.credential_fields) == set(case.creds)
    lim = cls.limits
    assert 0 < lim.caption_max <= lim.text_max and lim.media_max >= 1 and lim.needs_media == case.needs_media


def test_validate_is_pure_and_names_rules(case: Case, bound: tuple[BaseConnector, httpx.AsyncClient]) -> None:
    connector, _ = bound
    assert connector.validate(content(case, "fine")) == []
    too_long = connector.validate(content(case, "x" * (connector.limits.text_max + 1)))
    assert too_long and all(p.message and p.rule for p in too_long)
    too_many = connector.validate(PostContent(text="x", media=(PHOTO,) * (connector.limits.media_max + 1)))
    assert any(p.rule == "too_many_media" for p in too_many)


def test_credentials_never_show(case: Case) -> None:
    creds = Credentials(case.creds)
    token = case.creds.get("bot_token") or case.creds["access_token"]
    assert token not in repr(creds) and token not in str(creds)


async def test_verify_and_publish(case: Case, bound: tuple[BaseConnector, httpx.AsyncClient]) -> None:
    connector, client = bound
    creds = Credentials(case.creds)
    info = await connector.verify(creds)
    assert isinstance(info, AccountInfo) and info.name
    published = await publish_to_end(connector, content(case, f"contract {case.platform}"), creds, "smm-c1", client)
    assert published.external_id and (published.url is None or published.url.startswith("https://"))
    sent = (await client.get("/_control/published")).json()
    assert [item["text"] for item in sent] == [f"contract {case.platform}"]


async def test_refusal_is_permanent_in_platform_words(case: Case,
                                                      bound: tuple[BaseConnector, httpx.AsyncClient]) -> None:
    connector, client = bound
    await client.post("/_control/faults", json={"method": case.publish_method, "kind": "error",
                                                "status": case.error_status, "body": case.error_body})
    with pytest.raises(PermanentError) as err:
        await publish_to_end(connector, content(case, "refused"), Credentials(case.creds), "smm-c2", client)
    words = str(case.error_body.get("description") or (case.error_body["error"].get("error_msg")
                                                       or case.error_body["error"]["message"]))
    assert words.split(":")[-1].strip()[:20] in err.value.message
    assert (await client.get("/_control/published")).json() == []


async def test_lost_answer_is_never_a_plain_failure(case: Case,
                                                     bound: tuple[BaseConnector, httpx.AsyncClient]) -> None:
    """A request whose side effect happened but whose answer was lost must not look like a clean refusal."""
    connector, client = bound
    method = "POST /media_publish" if case.platform == "instagram" else case.publish_method
    await client.post("/_control/faults", json={"method": method, "kind": "lost_response"})
    creds, post = Credentials(case.creds), content(case, f"lost {case.platform}")
    since = datetime.now(UTC) - timedelta(minutes=1)
    with pytest.raises(ConnectorError) as err:
        await publish_to_end(connector, post, creds, "smm-c3", client)
    assert isinstance(err.value, OutcomeUnknownError | TransientError) and not isinstance(err.value, PermanentError)
    checkpoint = None
    if case.platform == "instagram":  # the container id is what the publisher stored before media_publish
        checkpoint = {"container_id": (await client.get("/_control/published")).json()[0].get("container", "")}
    if case.can_tell:
        found = await connector.find_published(creds, "smm-c3", since, post, checkpoint)
        assert found is not None and found.external_id
    else:
        with pytest.raises(OutcomeUnknownError):
            await connector.find_published(creds, "smm-c3", since, post, checkpoint)
    assert len((await client.get("/_control/published")).json()) == 1


async def test_find_published_proves_absence(case: Case, bound: tuple[BaseConnector, httpx.AsyncClient]) -> None:
    if not case.can_tell:
        pytest.skip(f"{case.platform} cannot tell (covered by the lost-answer case)")
    connector, _ = bound
    found = await connector.find_published(Credentials(case.creds), "smm-none", datetime.now(UTC) - timedelta(hours=1),
                                           content(case, "never sent"), None)
    assert found is None
