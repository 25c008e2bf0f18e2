"""The content plan's new form fields in a real browser (Debian's Chromium through Playwright) against the real
service: a channel's spacing and UTM tags on its page, a post's own UTM tags on the edit form (opened from its
collapsed section), and a short link shown on the page of a post not sent yet that already redirects.

One ``smm serve`` (sandbox on), one browser, at 1280 px and 390 px: at 390 px nothing scrolls sideways, with long
UTM templates in effect and every collapsed section open.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.served import Served
from tests.web.browser_kit import chromium, sandbox_service, skip_without_chromium

pytestmark = pytest.mark.browser

KEY = "smm_browser_planui_key_0123456789abcdefghijklmnop"
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
LONG_UTM = "utm_source={platform}&utm_medium=social&utm_campaign={rubric}&utm_content={channel}_{post_id}_{date}"

skip_without_chromium()

from playwright.sync_api import Browser, Page  # noqa: E402


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with sandbox_service(tmp_path_factory.mktemp("browser-data"), KEY) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def _page(browser: Browser, served: Served, size: str) -> Page:
    context = browser.new_context(base_url=served.base, viewport=SIZES[size])  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login")
    page.fill("#api_key", KEY)
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/calendar")
    return page


def _fits(page: Page) -> bool:
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_plan_fields_in_a_browser(browser: Browser, served: Served, size: str) -> None:
    api: httpx.Client = served.api
    assert api.patch("/api/v1/workspace", json={"utm_template": LONG_UTM, "short_links": True,
                                                "default_spacing_minutes": 120}).status_code == 200
    r = api.post("/api/v1/channels", json={"platform": "telegram", "name": f"Plan {size}", "sandbox": True})
    assert r.status_code == 201, r.text
    ch = r.json()["id"]
    page = _page(browser, served, size)
    page.goto(f"/channels/{ch}")
    assert "In effect: 120 min (the workspace's default)." in page.inner_text("#hint-spacing")
    assert _fits(page), "the channel page scrolls sideways"
    page.get_by_label("Spacing between posts").fill("oops")
    page.get_by_label("UTM tags of links").fill("utm_source={platform}&utm_campaign=" + "x" * 200)
    page.click("button:has-text('Save settings')")
    assert "Spacing is a whole number of minutes" in page.inner_text("#err-spacing_minutes")
    page.get_by_label("Spacing between posts").fill("45")
    page.click("button:has-text('Save settings')")
    page.wait_for_url(re.compile(r".*done=renamed"))
    assert "In effect: 45 min (this channel's own)." in page.inner_text("#hint-spacing")
    assert "(this channel's own)" in page.inner_text("#hint-utm")
    assert api.get(f"/api/v1/channels/{ch}").json()["spacing_minutes"] == 45
    assert _fits(page), "the channel page scrolls sideways with a long template in effect"

    at = (datetime.now(UTC) + timedelta(days=5)).isoformat()
    r = api.post("/api/v1/posts", json={"text": "Shop https://shop.example/sale", "channel_ids": [ch],
                                        "scheduled_at": at})
    assert r.status_code == 201, r.text
    post = r.json()["id"]
    page.goto(f"/posts/{post}/edit")
    page.click("summary:has-text('UTM tags for this post')")
    page.get_by_label("UTM tags for this post").fill("utm_campaign=spring")
    assert _fits(page), "the edit form scrolls sideways"
    page.click("button:has-text('Save changes')")
    page.wait_for_url(re.compile(rf".*/posts/{post}\?done=saved"))
    assert api.get(f"/api/v1/posts/{post}").json()["options"]["utm"] == "utm_campaign=spring"
    assert _fits(page), "the post page scrolls sideways"
    shown = re.search(r"https?://\S+/l/([A-Za-z0-9]+)", page.inner_text("#outgoing"))
    assert shown, page.inner_text("#outgoing")
    hop = httpx.get(f"{served.base}/l/{shown.group(1)}", follow_redirects=False)
    assert hop.status_code == 302 and "utm_campaign=spring" in hop.headers["location"]
    page.context.close()
