"""The Instagram token refresh job, against the Instagram Login fake over HTTP, on both backends: a token that
expires within the margin is refreshed (new token sealed, new expiry, the warning gone), one refreshed less than a
day ago or far from expiry is left alone, and a refusal changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from app.config import Settings
from app.connect.oauth import InstagramFlow
from app.connect.refresh import refresh_instagram_tokens
from app.models import Channel
from app.timeutil import utcnow
from connectors.fakekit import serve_in_thread
from connectors.instagram.fake import create_app as instagram_fake
from tests.conftest import make_channel, make_settings

OLD = "IGAAoldtoken0123456789abcdefghijklmnop"


@pytest.fixture
def fake() -> Iterator[tuple[Any, str]]:
    app = instagram_fake()
    with serve_in_thread(app) as url:
        yield app, url


@pytest.fixture
def settings(database_url: str, tmp_path: Path, fake: tuple[Any, str]) -> Settings:
    return make_settings(database_url, tmp_path, instagram_login_graph_base=fake[1])


async def expiring_channel(client: httpx.AsyncClient, app: Any, days: float) -> str:
    channel = await make_channel(client, "instagram", credentials={"ig_user_id": "17841400000000777",
                                                                   "access_token": OLD})
    async with app.state.sessionmaker() as session:
        await session.execute(update(Channel).where(Channel.id == channel["id"]).values(
            token_expires_at=utcnow() + timedelta(days=days), scopes=["instagram_business_basic",
                                                                       "instagram_business_content_publish"]))
        await session.commit()
    return str(channel["id"])


async def test_refresh_renews_expiring_tokens(client: httpx.AsyncClient, app: Any, fake: tuple[Any, str]) -> None:
    fake_app, _ = fake
    now = fake_app.state.fake.clock.now()
    fake_app.state.fake.tokens[OLD] = {"ig_user_ids": ["17841400000000777"], "scopes": ["instagram_basic"],
                                       "granted": ["instagram_business_basic"], "expired": False,
                                       "issued_at": now - 50 * 86400, "expires_at": now + 5 * 86400, "kind": "long"}
    channel_id = await expiring_channel(client, app, 5)
    before = (await client.get(f"/api/v1/channels/{channel_id}")).json()
    assert [w["code"] for w in before["warnings"]] == ["token_expiring"]

    settings = app.state.settings
    flow = InstagramFlow(settings, app.state.http)
    assert await refresh_instagram_tokens(settings, app.state.sessionmaker, app.state.box, flow) == 1
    after = (await client.get(f"/api/v1/channels/{channel_id}")).json()
    assert after["warnings"] == [] and after["token_expires_at"] > before["token_expires_at"]
    async with app.state.sessionmaker() as session:
        row = await session.get(Channel, channel_id)
        assert row is not None
        token = app.state.box.open(row.credentials_sealed)["access_token"]
    assert token != OLD and fake_app.state.fake.tokens[token]["kind"] == "long"
    # refreshed just now: nothing more to do
    assert await refresh_instagram_tokens(settings, app.state.sessionmaker, app.state.box, flow) == 0


async def test_refresh_leaves_far_and_refused_tokens(client: httpx.AsyncClient, app: Any) -> None:
    far = await expiring_channel(client, app, 50)  # 50 days left: not yet
    refused = await expiring_channel(client, app, 3)  # the fake does not know the token: Graph says 190
    settings = app.state.settings
    flow = InstagramFlow(settings, app.state.http)
    assert await refresh_instagram_tokens(settings, app.state.sessionmaker, app.state.box, flow) == 0
    for channel_id in (far, refused):
        async with app.state.sessionmaker() as session:
            row = await session.get(Channel, channel_id)
            assert row is not None and app.state.box.open(row.credentials_sealed)["access_token"] == OLD
