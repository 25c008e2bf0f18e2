"""Platform previews on the new-post and post pages: server-rendered (no JavaScript needed), cut at each
platform's limit, with the fold, the first media and the link; the rules agree with what the connectors refuse."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.web import preview
from connectors.registry import load_registry
from tests.conftest import make_channel
from tests.web.conftest import csrf_of


def _card(page: str, channel_id: str) -> str:
    match = re.search(r'<li class="preview-card"[^>]*data-channel-id="' + channel_id + r'".*?</li>', page, re.S)
    assert match, f"no preview card for {channel_id}"
    return match.group(0)


def _visible(card: str) -> str:
    match = re.search(r"data-preview-text>(.*?)</p>", card, re.S)
    assert match
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1)))


@pytest.mark.parametrize("platform", sorted(preview.RULES))
def test_rules_agree_with_the_connectors(platform: str) -> None:
    limits = load_registry()[platform].limits
    rule = preview.RULES[platform]
    assert (rule.text_max, rule.caption_max, rule.unit, rule.needs_media) == (
        limits.text_max, limits.caption_max, limits.length_unit, limits.needs_media)


def test_cut_counts_like_the_platform() -> None:
    assert preview.cut("😀" * 3, 5, "utf16") == "😀😀"  # 2 units each: never half a character
    assert preview.cut("😀" * 3, 2, "chars") == "😀😀"
    assert preview.first_link("see https://example.org/a, now") == "https://example.org/a"


async def test_compose_preview_without_javascript(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    tg = await make_channel(client)
    ig = await make_channel(client, "instagram")
    vk = await make_channel(client, "vk")
    page = (await web.get("/posts/new")).text
    assert 'id="platform-preview"' in page and "/static/preview.js" in page
    assert "Choose a channel to see how the post will look there." in page
    token = csrf_of(page)
    text = "x" * 1500 + " https://example.org/read"
    r = await web.post("/posts/new", data={
        "csrf_token": token, "text": text, "channel_ids": [tg["id"], ig["id"]], "when": "draft",
        "media_url": "https://example.org/a.jpg", "media_kind": "photo",
        f"override_{vk['id']}": "not chosen"})
    assert r.status_code == 422  # Telegram's caption limit refuses it: the form comes back with the preview
    tg_card, ig_card = _card(r.text, tg["id"]), _card(r.text, ig["id"])
    assert _visible(tg_card) == "x" * 1024  # the caption cut at Telegram's 1024
    assert "501 characters over Telegram&#39;s 1024-character limit for a caption with media" in tg_card
    assert "1525 / 1024" in tg_card and 'data-caption-max="1024"' in tg_card and 'data-unit="utf16"' in tg_card
    assert _visible(ig_card) == "x" * 125 + "… more"  # Instagram's feed fold
    assert "then “… more”" in ig_card and "over" not in _visible(ig_card)
    assert "First media: photo · a.jpg" in tg_card  # another host's image is named, not loaded
    assert "Link: https://example.org/read — Telegram shows a preview" in tg_card
    assert "not clickable" in ig_card
    assert re.search(r'data-channel-id="' + vk["id"] + r'"[^>]*hidden', r.text)  # not chosen: hidden


async def test_override_and_instagram_without_media(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    tg = await make_channel(client)
    ig = await make_channel(client, "instagram")
    token = csrf_of((await web.get("/posts/new")).text)
    r = await web.post("/posts/new", data={
        "csrf_token": token, "text": "Hello all", "channel_ids": [tg["id"], ig["id"]], "when": "draft",
        f"override_{tg['id']}": "Hello, Telegram"})
    assert _visible(_card(r.text, tg["id"])) == "Hello, Telegram"
    assert _visible(_card(r.text, ig["id"])) == "Hello all"
    assert "Instagram needs a photo or a video" in _card(r.text, ig["id"])


async def test_post_page_preview(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    tg = await make_channel(client)
    vk = await make_channel(client, "vk")
    at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    post = (await client.post("/api/v1/posts", json={
        "text": "a" * 3000, "channel_ids": [tg["id"], vk["id"]], "scheduled_at": at,
        "overrides": {vk["id"]: {"text": "Short for VK"}}})).json()
    page = (await web.get(f"/posts/{post['id']}")).text
    assert 'id="preview-title"' in page
    assert _visible(_card(page, tg["id"])) == "a" * 3000 and "3000 / 4096" in _card(page, tg["id"])
    assert _visible(_card(page, vk["id"])) == "Short for VK"
