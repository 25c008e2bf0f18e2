"""The web UI in a real browser (Debian's Chromium through Playwright) against the real service.

Starts ``smm serve`` with the sandbox on, then: sign in, connect a sandbox Telegram channel, queue a post for
~10 s ahead, find it in the calendar, see it published with its link, see a refused post's error in the
platform's words, check that ``<script>`` stays text and that a form without its CSRF token is refused.
Screenshots go to ``test-artifacts/screenshots/`` and one of each page to ``docs/screenshots/``.
"""

from __future__ import annotations

import random
import re
import shutil
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.web.browser_kit import chromium, sandbox_service, skip_without_chromium

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
DOCS = ROOT / "docs" / "screenshots"
KEY = "smm_browser_test_key_0123456789abcdefghijklmnop"
ZONE = "Europe/Moscow"
PUBLISH_WAIT = 40.0

skip_without_chromium()

from playwright.sync_api import Browser, Page, expect  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real service (``smm serve``) on a free port, with the sandbox on and a known API key."""
    with sandbox_service(tmp_path_factory.mktemp("browser-data"), KEY) as running:
        yield running.base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium; Playwright never downloads a browser here."""
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def page(browser: Browser, server: str) -> Iterator[Page]:
    """One signed-in-able page for the whole scenario (tests run in file order)."""
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 860})
    p = context.new_page()
    p.set_default_timeout(15_000)
    yield p
    context.close()


STATE: dict[str, Any] = {}


def shot(page: Page, name: str, *, docs: bool = True) -> None:
    """Save a full-page screenshot as a test artifact (and for the README)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if docs:
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS / f"{name}.png")


def queue_post(page: Page, text: str, *, when: str = "at", seconds_ahead: int = 10) -> str:
    """Queue a post through the compose form; returns the post's id."""
    page.goto("/posts/new")
    page.fill("#text", text)
    page.check(f"#ch-{STATE['channel_id']}")
    if when == "at":
        local = datetime.now(ZoneInfo(ZONE)) + timedelta(seconds=seconds_ahead)
        page.check("#when-at")
        page.fill("#local_time", local.strftime("%Y-%m-%dT%H:%M:%S"))
    else:
        page.check(f"#when-{when}")
    page.click("button:has-text('Queue post')")
    page.wait_for_url("**/posts/*?done=*")
    return page.url.split("/posts/")[1].split("?")[0]


def import_history(page: Page, channel_id: str) -> bool:
    """Post a synthetic engagement CSV (evenings do better) through the API; False when there is no endpoint."""
    rng = random.Random(7)
    now = datetime.now(ZoneInfo(ZONE))
    rows = ["posted_at,likes,comments,shares,views,reach,followers"]
    for _ in range(320):
        at = (now - timedelta(days=rng.randint(1, 180))).replace(hour=rng.randint(7, 23), minute=0, second=0,
                                                                  microsecond=0)
        lift = 1.8 if 18 <= at.hour <= 21 else (1.3 if at.weekday() >= 5 else 1.0)
        views = int(rng.lognormvariate(7, 0.4) * lift)
        rows.append(f"{at.isoformat()},{int(views * 0.05)},{int(views * 0.01)},{int(views * 0.005)},{views},"
                    f"{int(views * 0.8)},5000")
    r = page.request.post(f"/api/v1/channels/{channel_id}/engagement", data="\n".join(rows) + "\n",
                          headers={"Authorization": f"Bearer {KEY}", "Content-Type": "text/csv"})
    return r.status < 300


def heatmap_preview(page: Page) -> None:
    """The server-side renderer's output on synthetic cells, styled like the channel page."""
    from app.web.heatmap import render_heatmap_svg

    rng = random.Random(3)
    cells = []
    for d in range(7):
        for h in range(24):
            base = 0.25 if 18 <= h <= 21 else -0.12 if h < 8 else 0.02
            score = base + (0.06 if d >= 5 else 0) + rng.uniform(-.05, .05)
            posts = 0 if h < 6 else rng.randint(1, 16)
            cells.append({"weekday": d, "hour": h, "score": score, "low": score - .1, "high": score + .1,
                          "posts": posts})
    css = (ROOT / "app" / "static" / "app.css").read_text()
    svg = render_heatmap_svg(cells)
    page.goto("about:blank")  # away from the service's CSP, which (rightly) refuses inline styles
    page.set_content(f"<!doctype html><html><head><style>{css}</style></head><body><main class='page'>"
                     f"<section class='card'><h2>Best time to post</h2><p class='muted'>Renderer preview on "
                     f"synthetic data</p><div class='heatmap-wrap'>{svg}</div></section></main></body></html>")
    shot(page, "heatmap-preview")


def wait_for_text(page: Page, url: str, text: str, timeout: float = PUBLISH_WAIT) -> bool:
    """Reload ``url`` until ``text`` appears (the publisher works in the background)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.goto(url)
        if text in page.content():
            return True
        time.sleep(1.0)
    return False


def test_sign_in(page: Page) -> None:
    page.goto("/calendar")
    expect(page).to_have_url("/login?next=%2Fcalendar")
    shot(page, "login")
    page.fill("#api_key", "smm_wrong")
    page.click("button:has-text('Sign in')")
    expect(page.locator(".banner-error")).to_contain_text("not valid")
    page.fill("#api_key", KEY)
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url("/calendar")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["smm_session"]["httpOnly"] and cookies["smm_session"]["sameSite"] == "Lax"
    assert KEY not in cookies["smm_session"]["value"]


def test_connect_a_sandbox_telegram_channel(page: Page) -> None:
    page.goto("/channels/new?platform=telegram")
    page.fill("#name", "Sandbox news")
    page.select_option("#timezone", ZONE)
    page.check("#sandbox")
    page.click("button:has-text('Connect Telegram')")
    page.wait_for_url("**/channels/*?done=created")
    STATE["channel_id"] = page.url.split("/channels/")[1].split("?")[0]
    page.click("button:has-text('Verify')")
    expect(page.locator("h1 .badge")).to_have_text("active")
    imported = import_history(page, STATE["channel_id"])
    page.goto(f"/channels/{STATE['channel_id']}")
    shot(page, "channel-heatmap")
    if imported and page.locator("svg.heatmap").count():
        assert page.locator("svg.heatmap rect.cell").count() == 168
    else:  # no analyzer in this build yet: the empty state, plus a picture of the renderer for the README
        expect(page.locator(".empty-state")).to_contain_text("No engagement history yet")
        heatmap_preview(page)
    page.goto("/channels")
    expect(page.locator(".channel-row")).to_contain_text("Sandbox news")
    shot(page, "channels")


def test_queue_a_post_and_find_it_in_the_calendar(page: Page) -> None:
    page.goto("/posts/new")
    page.fill("#text", "Hello from the browser test 👋 — the first post of the day.")
    page.check(f"#ch-{STATE['channel_id']}")
    expect(page.locator("#counter")).to_contain_text("/ 4096 · Telegram text")
    page.fill("#media_url", "https://example.org/cover.jpg")
    page.locator("#text").press("End")
    expect(page.locator("#counter")).to_contain_text("/ 1024 · Telegram caption")
    page.fill("#media_url", "")
    page.select_option("#timezone", "")
    page.fill("#local_time", (datetime.now(ZoneInfo(ZONE)) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S"))
    shot(page, "new-post")
    STATE["post_id"] = queue_post(page, "Hello from the browser test 👋 — the first post of the day.")
    expect(page.locator(".banner-success")).to_contain_text("Scheduled for")
    page.goto("/calendar")
    expect(page.locator(f"a.entry-link[href='/posts/{STATE['post_id']}']")).to_be_visible()
    shot(page, "calendar")


def test_the_post_gets_published_with_its_link(page: Page) -> None:
    url = f"/posts/{STATE['post_id']}"
    published = wait_for_text(page, url, "https://t.me/")
    shot(page, "post")
    assert published, "the post was not published within 40 s (is the publisher in this build?)"
    expect(page.locator("a.target-link")).to_have_attribute("href", re.compile(r"^https://t\.me/"))
    expect(page.locator("h1 .badge")).to_have_text("published")


def test_a_refused_post_shows_the_platform_error(page: Page, server: str) -> None:
    fault = {"method": "sendMessage", "count": 1, "kind": "error", "status": 400,
             "body": {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}}
    r = httpx.post(f"{server}/sandbox/telegram/_control/faults", json=fault, timeout=10,
                   headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code < 300, r.text
    post_id = queue_post(page, "This one will be refused", when="now")
    found = wait_for_text(page, f"/posts/{post_id}", "chat not found")
    shot(page, "post-failed", docs=False)
    assert found, "the refusal did not show within 40 s (is the publisher in this build?)"


def test_script_text_is_inert(page: Page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    evil = '<script>alert("xss")</script><img src=x onerror=alert(2)>'
    post_id = queue_post(page, evil, seconds_ahead=3600)
    expect(page.locator(".post-text").first).to_have_text(evil)
    page.goto("/calendar")
    page.goto(f"/posts/{post_id}")
    page.wait_for_timeout(500)
    assert dialogs == []


def test_a_form_without_csrf_token_is_refused(page: Page) -> None:
    r = page.request.post("/posts/new", form={"text": "sneaky", "channel_ids": STATE["channel_id"], "when": "now"},
                          max_redirects=0)
    assert r.status == 403
    assert "security token" in r.text()
    page.goto("/posts/new")
    page.evaluate("document.querySelector('#compose input[name=csrf_token]').value = 'forged'")
    page.fill("#text", "sneaky")
    page.check(f"#ch-{STATE['channel_id']}")
    page.check("#when-now")
    page.click("button:has-text('Queue post')")
    expect(page.locator("h1")).to_have_text("This form has expired")


def test_sandbox_page(page: Page) -> None:
    page.goto("/sandbox")
    expect(page.locator("h1")).to_have_text("Sandbox")
    shot(page, "sandbox")
