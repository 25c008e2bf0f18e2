"""Platform previews and channel management in a real browser (Debian's Chromium through Playwright), at desktop
(1280 px) and phone (390 px) widths, against one real ``smm serve`` with the sandbox on.

Types in the new-post form and watches each platform's preview follow (cut at Telegram's caption limit, folded at
Instagram's "… more", the per-channel text, the card of an unchosen channel hidden); then, on a channel page:
rename, time zone, disable / enable, CSV import, the channel's post lists, and delete through the confirmation
page. The pages touched must not scroll sideways on a phone. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.served import wait_for
from tests.web.browser_kit import chromium, sandbox_service, skip_without_chromium

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
KEY = "smm_browser_channel_key_0123456789abcdefghijk"
WIDTHS = {"desktop": 1280, "phone": 390}

skip_without_chromium()

from playwright.sync_api import Browser, Page, expect  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real service on a free port: sandbox on, a known API key, the safety tick out of the way."""
    with sandbox_service(tmp_path_factory.mktemp("browser-data"), KEY) as running:
        yield running.base


@pytest.fixture(scope="module")
def api(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module", params=list(WIDTHS))
def page(request: pytest.FixtureRequest, browser: Browser, server: str) -> Iterator[Page]:
    """A signed-in page at one width (each module-scoped width runs every test below)."""
    width = WIDTHS[request.param]
    context = browser.new_context(base_url=server, viewport={"width": width, "height": 900})
    p = context.new_page()
    p.set_default_timeout(15_000)
    p.goto("/login")
    p.fill("#api_key", KEY)
    p.click("button:has-text('Sign in')")
    p.wait_for_url("**/calendar")
    p.width_name = request.param  # type: ignore[attr-defined]
    yield p
    context.close()


def _channel(api: httpx.Client, platform: str, name: str) -> dict[str, Any]:
    r = api.post("/api/v1/channels", json={"platform": platform, "name": name, "timezone": "Europe/Berlin",
                                           "sandbox": True})
    assert r.status_code == 201, r.text
    return dict(r.json())


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"channel-{name}-{page.width_name}.png"),  # type: ignore[attr-defined]
                    full_page=True)


def no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} scrolls {overflow} px sideways at {page.viewport_size}"


def card(page: Page, channel_id: str) -> Any:
    return page.locator(f"[data-preview-card][data-channel-id='{channel_id}']")


def test_preview_follows_the_typing(page: Page, api: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:6]
    tg = _channel(api, "telegram", f"News {tag}")
    ig = _channel(api, "instagram", f"Photos {tag}")
    page.goto("/posts/new")
    expect(page.locator("#preview-empty")).to_be_visible()
    expect(card(page, tg["id"])).to_be_hidden()
    page.check(f"#ch-{tg['id']}")
    page.check(f"#ch-{ig['id']}")
    expect(page.locator("#preview-empty")).to_be_hidden()
    page.locator("#text").press_sequentially("Hello 👋 https://example.org/read")
    expect(card(page, tg["id"]).locator("[data-preview-text]")).to_have_text("Hello 👋 https://example.org/read")
    expect(card(page, tg["id"]).locator("[data-preview-link]")).to_contain_text("Link: https://example.org/read")
    expect(card(page, ig["id"])).to_contain_text("Instagram needs a photo or a video")
    expect(card(page, tg["id"])).to_have_attribute("aria-label", f"Preview on Telegram: News {tag}")

    page.fill("#media_url", "https://example.org/cover.jpg")
    page.fill("#text", "x" * 1100)
    tg_text = card(page, tg["id"]).locator("[data-preview-text]")
    expect(tg_text).to_have_text("x" * 1024)  # the caption with media stops at Telegram's 1024
    expect(card(page, tg["id"])).to_contain_text("76 characters over Telegram's 1024-character limit")
    expect(card(page, tg["id"]).locator("[data-preview-count]")).to_have_text("1100 / 1024")
    expect(card(page, tg["id"]).locator("[data-preview-media]")).to_have_text("First media: photo · cover.jpg")
    expect(card(page, ig["id"]).locator("[data-preview-text]")).to_have_text("x" * 125 + "… more")
    expect(card(page, ig["id"])).not_to_contain_text("over Instagram")
    page.fill("#media_url", "")
    expect(tg_text).to_have_text("x" * 1100)  # text only: up to 4096
    expect(card(page, tg["id"])).not_to_contain_text("over Telegram")

    page.locator(f"details.override:has(#override_{tg['id']}) summary").click()
    page.fill(f"#override_{tg['id']}", "Short for Telegram")
    expect(tg_text).to_have_text("Short for Telegram")
    page.uncheck(f"#ch-{ig['id']}")
    expect(card(page, ig["id"])).to_be_hidden()
    shot(page, "preview")
    no_sideways_scroll(page)


def test_post_page_preview(page: Page, api: httpx.Client) -> None:
    tg = _channel(api, "telegram", "Post page")
    at = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    post = api.post("/api/v1/posts", json={"text": "y" * 2000, "channel_ids": [tg["id"]], "scheduled_at": at}).json()
    page.goto(f"/posts/{post['id']}")
    expect(card(page, tg["id"]).locator("[data-preview-text]")).to_have_text("y" * 2000)
    expect(card(page, tg["id"]).locator("[data-preview-count]")).to_have_text("2000 / 4096")
    no_sideways_scroll(page)


def test_manage_a_channel(page: Page, api: httpx.Client, tmp_path: Path) -> None:
    ch = _channel(api, "telegram", f"Manage me {page.width_name}")  # type: ignore[attr-defined]
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    post = api.post("/api/v1/posts", json={"text": "Queued for tomorrow", "channel_ids": [ch["id"]],
                                           "scheduled_at": soon}).json()
    page.goto(f"/channels/{ch['id']}")
    upcoming = page.locator("section[aria-labelledby='upcoming-title']")
    expect(upcoming.locator(f"a[href='/posts/{post['id']}']")).to_be_visible()
    expect(upcoming).to_contain_text("Queued for tomorrow")
    expect(page.locator("section[aria-labelledby='recent-title']")).to_contain_text("No posts sent")
    sent = api.post("/api/v1/posts", json={"text": "Sent a moment ago", "channel_ids": [ch["id"]],
                                           "scheduled_at": "now"}).json()
    wait_for(lambda: api.get(f"/api/v1/posts/{sent['id']}").json()["status"] == "published", timeout=30)
    page.goto(f"/channels/{ch['id']}")
    recent = page.locator("section[aria-labelledby='recent-title']")
    expect(recent.locator(f"a[href='/posts/{sent['id']}']")).to_be_visible()
    expect(recent.locator("a.target-link")).to_have_attribute("href", re.compile(r"^https://t\.me/"))
    expect(recent).to_contain_text("published")
    expect(upcoming).not_to_contain_text("Sent a moment ago")
    expect(page.locator("body")).not_to_contain_text("/api/v1/channels")
    no_sideways_scroll(page)

    page.fill("#ch-name", "Renamed channel")
    page.select_option("#ch-zone", "Asia/Tokyo")
    page.click("button:has-text('Save settings')")
    expect(page.locator(".banner-success")).to_have_text("Channel settings saved.")
    expect(page.locator("h1")).to_contain_text("Renamed channel")
    assert api.get(f"/api/v1/channels/{ch['id']}").json()["timezone"] == "Asia/Tokyo"

    page.click("button:has-text('Disable channel')")
    expect(page.locator("h1 .badge")).to_have_text("disabled")
    page.click("button:has-text('Enable channel')")
    expect(page.locator("h1 .badge")).to_have_text("active")

    csv = tmp_path / "history.csv"
    now = datetime.now(UTC)
    csv.write_text("posted_at,likes,comments,shares,views,reach,followers\n" + "".join(
        f"{(now - timedelta(days=5 + i)).isoformat()},{5 + i},1,0,{100 + i},90,500\n" for i in range(4))
        + "yesterday,1,1,1,1,1,1\n")
    page.set_input_files("#csv_file", str(csv))
    page.click("button:has-text('Import history')")
    expect(page.locator("section[aria-labelledby='import-title'] .banner-success")).to_have_text(
        "Imported 4 new rows, skipped 1 row with problems.")
    expect(page.locator(".import-errors")).to_contain_text("Row 6:")
    shot(page, "manage")
    no_sideways_scroll(page)

    page.click("a:has-text('Delete channel')")
    expect(page.locator("h1")).to_have_text("Delete “Renamed channel”?")
    expect(page.locator("main")).to_contain_text("1 queued post will not be sent")
    no_sideways_scroll(page)
    page.click("a:has-text('No, keep it')")
    expect(page.locator("h1")).to_contain_text("Renamed channel")
    page.click("a:has-text('Delete channel')")
    page.click("button:has-text('Yes, delete')")
    expect(page.locator(".banner-success")).to_contain_text("Channel “Renamed channel” deleted")
    expect(page.locator(".channel-list")).not_to_contain_text("Renamed channel")
    assert api.get(f"/api/v1/channels/{ch['id']}").status_code == 404
    no_sideways_scroll(page)
