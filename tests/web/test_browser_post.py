"""The post page in a real browser (Debian's Chromium through Playwright) against the real service.

One ``smm serve`` (sandbox on) and one browser for the module. At 1280 px: edit a scheduled post's text and time
and see the edited text published through the sandbox Telegram channel; turn a draft into "publish now" and see it
published; cancel asks (a dialog), the undo brings the post back at its time; delete asks and deletes. At 390 px:
the same confirmation as a page step without JavaScript, and no page of a post scrolls sideways.
Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import API_KEY, TG_TOKEN
from tests.served import Served
from tests.web.browser_kit import chromium, sandbox_service, skip_without_chromium

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
ZONE = "Europe/Moscow"
PUBLISH_WAIT = 40.0

skip_without_chromium()

from playwright.sync_api import Browser, Page, expect  # noqa: E402


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The real service with the sandbox on and a known API key."""
    with sandbox_service(tmp_path_factory.mktemp("browser-data"), API_KEY) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


STATE: dict[str, Any] = {}


def _signed_in(browser: Browser, served: Served, width: int, **options: Any) -> Page:
    context = browser.new_context(base_url=served.base, viewport={"width": width, "height": 860}, **options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/login")
    page.fill("#api_key", API_KEY)
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url("/calendar")
    return page


@pytest.fixture(scope="module")
def desk(browser: Browser, served: Served) -> Iterator[Page]:
    page = _signed_in(browser, served, 1280)
    yield page
    page.context.close()


@pytest.fixture(scope="module")
def phone(browser: Browser, served: Served) -> Iterator[Page]:
    page = _signed_in(browser, served, 390, java_script_enabled=False, is_mobile=True)
    yield page
    page.context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def channel(served: Served) -> str:
    if "channel" not in STATE:
        r = served.api.post("/api/v1/channels", json={
            "platform": "telegram", "name": "Sandbox news", "timezone": ZONE, "sandbox": True,
            "credentials": {"bot_token": TG_TOKEN, "chat_id": "@sandboxnews"}})
        assert r.status_code == 201, r.text
        STATE["channel"] = r.json()["id"]
    return str(STATE["channel"])


def make_post(served: Served, text: str, scheduled_at: str | None) -> str:
    r = served.api.post("/api/v1/posts", json={"text": text, "channel_ids": [channel(served)],
                                                "scheduled_at": scheduled_at})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def later(hours: float = 3) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0).isoformat()


def wait_published(page: Page, post_id: str) -> None:
    deadline = time.monotonic() + PUBLISH_WAIT
    while time.monotonic() < deadline:
        page.goto(f"/posts/{post_id}")
        if page.locator("a.target-link").count():
            return
        time.sleep(1.0)
    raise AssertionError(f"post {post_id} was not published within {PUBLISH_WAIT:.0f} s")


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url} is {width} px wide"  # type: ignore[index]


def test_edit_a_scheduled_post_then_see_the_edit_published(desk: Page, served: Served) -> None:
    post_id = make_post(served, "First draft of the text", later())
    desk.goto(f"/posts/{post_id}")
    desk.get_by_role("link", name="Edit post").click()
    expect(desk.locator("h1")).to_have_text("Edit post")
    expect(desk.get_by_label("Text", exact=True)).to_have_value("First draft of the text")
    desk.get_by_label("Text", exact=True).fill("The edited text, sent at its new time")
    at = datetime.now(ZoneInfo(ZONE)) + timedelta(seconds=8)
    desk.get_by_label("Time zone").select_option(ZONE)
    desk.get_by_label("Date and time").fill(at.strftime("%Y-%m-%dT%H:%M:%S"))
    desk.get_by_role("button", name="Save changes").click()
    expect(desk.locator(".banner-success")).to_contain_text("Changes saved. Scheduled for")
    expect(desk.locator(".banner-success")).to_contain_text(f"{at:%H:%M:%S} ({ZONE})")
    shot(desk, "post-edited")
    wait_published(desk, post_id)
    expect(desk.locator(".post-text").first).to_have_text("The edited text, sent at its new time")
    expect(desk.locator("h1 .badge")).to_have_text("published")
    expect(desk.get_by_role("link", name="Edit post")).to_have_count(0)  # nothing to edit once it is out


def test_a_draft_is_sent_now_from_its_page(desk: Page, served: Served) -> None:
    post_id = make_post(served, "A draft that goes out now", None)
    desk.goto(f"/posts/{post_id}")
    expect(desk.locator(".page-head .muted")).to_contain_text("Draft — no time set")
    desk.get_by_role("link", name="Edit post").click()
    desk.get_by_label("Publish now").check()
    desk.get_by_role("button", name="Save changes").click()
    expect(desk.locator(".banner-success")).to_contain_text(re.compile("Publishing now|Published"))
    wait_published(desk, post_id)
    shot(desk, "post-draft-sent-now")


def test_a_draft_is_scheduled_from_its_page(desk: Page, served: Served) -> None:
    post_id = make_post(served, "A draft for next year", None)
    desk.goto(f"/posts/{post_id}/edit")
    desk.get_by_label("At a time").check()
    desk.get_by_label("Date and time").fill(f"{datetime.now().year + 1}-03-03T18:00")
    desk.get_by_role("button", name="Save changes").click()
    expect(desk.locator(".banner-success")).to_contain_text("Scheduled for ")
    expect(desk.locator(".banner-success")).to_contain_text(f"3 Mar {datetime.now().year + 1}, 18:00 ({ZONE}).")
    expect(desk.locator("h1 .badge")).to_have_text("scheduled")


def test_cancel_asks_and_undo_restores(desk: Page, served: Served) -> None:
    post_id = make_post(served, "Cancel me, then change your mind", later(5))
    desk.goto(f"/posts/{post_id}")
    desk.get_by_role("link", name="Cancel post").click()
    dialog = desk.locator("dialog#confirm-cancel")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Cancel this post?")
    shot(desk, "post-cancel-dialog")
    dialog.get_by_role("link", name="No, keep it").click()
    expect(dialog).to_be_hidden()
    expect(desk.locator("h1 .badge")).to_have_text("scheduled")
    desk.get_by_role("link", name="Cancel post").click()
    dialog.get_by_role("button", name="Yes, cancel the post").click()
    expect(desk.locator(".banner-success")).to_contain_text("The post is cancelled")
    expect(desk.locator("h1 .badge")).to_have_text("cancelled")
    desk.get_by_role("button", name="Undo cancel").click()
    expect(desk.locator(".banner-success")).to_contain_text("Cancel undone. Scheduled for")
    expect(desk.locator("h1 .badge")).to_have_text("scheduled")
    assert served.api.get(f"/api/v1/posts/{post_id}").json()["status"] == "scheduled"


def test_delete_asks_then_deletes(desk: Page, served: Served) -> None:
    post_id = make_post(served, "Delete me", None)
    desk.goto(f"/posts/{post_id}")
    desk.get_by_role("link", name="Delete post").click()
    dialog = desk.locator("dialog#confirm-delete")
    expect(dialog).to_contain_text("cannot be undone")
    dialog.get_by_role("button", name="Yes, delete the post").click()
    expect(desk.locator("h1")).to_have_text("Post deleted")
    assert served.api.get(f"/api/v1/posts/{post_id}").status_code == 404


def test_phone_without_javascript(phone: Page, served: Served) -> None:
    post_id = make_post(served, "On a phone, without JavaScript: " + "a long line of words " * 12, later(6))
    phone.goto(f"/posts/{post_id}")
    no_sideways_scroll(phone)
    phone.get_by_role("link", name="Cancel post").click()  # a confirmation step, not the action
    expect(phone).to_have_url(f"/posts/{post_id}/cancel")
    expect(phone.get_by_role("alertdialog")).to_contain_text("Cancel this post?")
    no_sideways_scroll(phone)
    shot(phone, "post-cancel-step-phone")
    phone.get_by_role("button", name="Yes, cancel the post").click()
    expect(phone.locator(".banner-success")).to_contain_text("The post is cancelled")
    no_sideways_scroll(phone)
    phone.get_by_role("button", name="Undo cancel").click()
    expect(phone.locator(".banner-success")).to_contain_text("Cancel undone. Scheduled for")
    phone.get_by_role("link", name="Edit post").click()
    expect(phone.locator("h1")).to_have_text("Edit post")  # the compose form's phone layout is its own page's
    phone.get_by_label("Rubric").fill("Tips")
    phone.get_by_role("button", name="Save changes").click()
    expect(phone.locator(".banner-success")).to_contain_text("Changes saved.")
    expect(phone.locator(".rubric-tag")).to_have_text("Tips")
    no_sideways_scroll(phone)
    shot(phone, "post-phone")
