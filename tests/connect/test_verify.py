"""POST /channels/{id}/verify says exactly which right is missing, in the platform's words: a VK key without
``wall`` (account.getAppPermissions), a Facebook Page token without pages_manage_posts (debug_token), a Telegram
bot that is no administrator allowed to post (getChatMember). Fakes served over HTTP; both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from connectors.facebook.fake import create_app as facebook_fake
from connectors.fakekit import serve_in_thread
from connectors.telegram.fake import create_app as telegram_fake
from connectors.vk.fake import create_app as vk_fake
from tests.conftest import make_settings

VK_TOKEN = "vk1.a.nowallright0123456789abcdef"
FB_TOKEN = "EAAnopublish0123456789abcdefghij"


@pytest.fixture
def fakes() -> Iterator[dict[str, str]]:
    with serve_in_thread(vk_fake()) as vk, serve_in_thread(facebook_fake()) as fb, \
            serve_in_thread(telegram_fake()) as tg:
        yield {"vk": vk, "facebook": fb, "telegram": tg}


@pytest.fixture
def settings(database_url: str, tmp_path: Path, fakes: dict[str, str]) -> Settings:
    return make_settings(database_url, tmp_path, vk_api_base=fakes["vk"], facebook_api_base=fakes["facebook"],
                         telegram_api_base=fakes["telegram"])


async def verify(client: httpx.AsyncClient, platform: str, credentials: dict[str, Any]) -> httpx.Response:
    made = await client.post("/api/v1/channels", json={"platform": platform, "name": platform,
                                                       "credentials": credentials})
    assert made.status_code == 201, made.text
    return await client.post(f"/api/v1/channels/{made.json()['id']}/verify")


TG_TOKEN = "123456789:AAEabcdefghijklmnopqrstuvwxyz012345"


async def test_verify_names_the_missing_right(client: httpx.AsyncClient, fakes: dict[str, str]) -> None:
    async with httpx.AsyncClient() as control:
        await seed(control, fakes)
    vk = await verify(client, "vk", {"access_token": VK_TOKEN, "owner_id": -77})
    assert vk.status_code == 422, vk.text
    assert "lacks the “wall” right" in vk.json()["detail"] and "account.getAppPermissions" in vk.json()["detail"]
    fb = await verify(client, "facebook", {"page_id": "501", "access_token": FB_TOKEN})
    assert fb.status_code == 422 and "pages_manage_posts" in fb.json()["detail"], fb.text
    tg = await verify(client, "telegram", {"bot_token": TG_TOKEN, "chat_id": "@news"})
    assert tg.status_code == 422 and "lacks the “Post messages” right" in tg.json()["detail"], tg.text


async def seed(control: httpx.AsyncClient, fakes: dict[str, str]) -> None:
    await control.post(f"{fakes['vk']}/_control/seed", json={
        "users": [{"id": 42}], "groups": [{"id": 77, "name": "Club", "admins": {"42": 3}}],
        "tokens": [{"token": VK_TOKEN, "user_id": 42, "scopes": ["groups", "photos", "offline"]}]})
    await control.post(f"{fakes['facebook']}/_control/seed", json={
        "pages": [{"id": "501", "name": "Bakery"}],
        "tokens": [{"token": FB_TOKEN, "page_id": "501", "scopes": ["pages_read_engagement", "pages_show_list"]}]})
    await control.post(f"{fakes['telegram']}/_control/seed", json={
        "bots": [{"token": TG_TOKEN, "username": "smm_bot"}],
        "chats": [{"id": -1001234567890, "type": "channel", "title": "News", "username": "news",
                   "bots": {"123456789": {"status": "administrator", "can_post_messages": False}}}]})
