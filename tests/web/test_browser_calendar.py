"""The calendar as a planner and every page on a phone, in a real browser (Debian's Chromium through Playwright)
against the real service, with every request to another host aborted (and recorded: there must be none).

One ``smm serve`` (sandbox on), one browser, contexts at 1280 px (desktop) and 390 px (phone), and one with
JavaScript off. State is made through the API: sandbox Telegram and VK channels, posts, a draft, a rubric, a
long text and a failed post. Then: dragging in the month and the week reschedules (checked through the API), a
refused drag says why, the Move link works from the keyboard and without JavaScript, a draft dragged from the tray
is scheduled, the filters, the platform icons' accessible names; at 390 px no page scrolls sideways and the
calendar is an agenda; ``/docs`` and ``/redoc`` render from the service alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.served import Served, wait_for
from tests.web.browser_kit import chromium, sandbox_service, skip_without_chromium

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
KEY = "smm_browser_calendar_key_0123456789abcdefghijklmn"
ZONE = "Europe/Berlin"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

skip_without_chromium()

from playwright.sync_api import Browser, BrowserContext, Page, Route, expect  # noqa: E402

OFF_HOST: list[str] = []
"""Every request a page tried to send to another host (aborted)."""
STATE: dict[str, Any] = {}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The real service with the sandbox on and a known API key; ``api`` is a client with that key."""
    with sandbox_service(tmp_path_factory.mktemp("browser-data"), KEY) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def _context(browser: Browser, base: str, viewport: dict[str, int], **extra: Any) -> BrowserContext:
    """A context whose every request to a host other than the service is aborted and recorded."""
    context = browser.new_context(base_url=base, viewport=viewport, **extra)  # type: ignore[arg-type]
    own = urlsplit(base).netloc

    def gate(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).netloc != own:
            OFF_HOST.append(url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", gate)
    context.set_default_timeout(15_000)
    return context


def _sign_in(page: Page) -> None:
    page.goto("/login")
    page.fill("#api_key", KEY)
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/calendar")


@pytest.fixture(scope="module")
def desktop(browser: Browser, served: Served) -> Iterator[Page]:
    context = _context(browser, served.base, DESKTOP)
    page = context.new_page()
    _sign_in(page)
    yield page
    context.close()


@pytest.fixture(scope="module")
def phone(browser: Browser, served: Served) -> Iterator[Page]:
    # not is_mobile: a mobile viewport widens itself to overflowing content, which would hide the overflow
    context = _context(browser, served.base, PHONE)
    page = context.new_page()
    yield page
    context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _post(api: httpx.Client, channel_ids: list[str], text: str, at: str | None, **extra: Any) -> str:
    r = api.post("/api/v1/posts", json={"text": text, "channel_ids": channel_ids, "scheduled_at": at, **extra})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _local(day: date, hh: int, mm: int) -> str:
    """A wall-clock time in the workspace's zone as RFC 3339."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZoneInfo(ZONE)).isoformat()


def _stored_local(api: httpx.Client, post_id: str) -> tuple[str, str]:
    """(status, scheduled time on the workspace's wall clock ``YYYY-MM-DD HH:MM``) of a post, from the API."""
    body = api.get(f"/api/v1/posts/{post_id}").json()
    at = body["scheduled_at"]
    local = datetime.fromisoformat(at).astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M") if at else ""
    return body["status"], local


@pytest.fixture(scope="module", autouse=True)
def state(served: Served) -> dict[str, Any]:
    """Channels, posts, a draft, a rubric, a long text and a failed post, made through the API."""
    api = served.api
    assert api.patch("/api/v1/workspace", json={"timezone": ZONE, "country": "DE"}).status_code == 200
    channels = {}
    for platform, name in (("telegram", "Sandbox news"), ("vk", "Sandbox VK")):
        r = api.post("/api/v1/channels", json={"platform": platform, "name": name, "timezone": ZONE,
                                               "sandbox": True})
        assert r.status_code == 201, r.text
        channels[platform] = r.json()["id"]
    assert api.post("/api/v1/rubrics", json={"name": "news", "colour": "#2563eb"}).status_code == 201
    today = datetime.now(ZoneInfo(ZONE)).date()
    base = today + timedelta(days=14 + (7 - today.weekday()) % 7)  # a Monday two weeks or more ahead
    tg, vk = channels["telegram"], channels["vk"]
    STATE.update(
        base=base, tg=tg, vk=vk,
        month_post=_post(api, [tg, vk], "Month drag: moves by a day", _local(base, 10, 17)),
        week_post=_post(api, [tg], "Week drag: moves by an hour", _local(base + timedelta(days=1), 8, 40)),
        key_post=_post(api, [vk], "Moved from the keyboard", _local(base + timedelta(days=2), 12, 5)),
        nojs_post=_post(api, [tg], "Moved without JavaScript", _local(base + timedelta(days=2), 13, 0)),
        stale_post=_post(api, [tg], "Cancelled behind the page's back", _local(base + timedelta(days=3), 9, 0)),
        news_post=_post(api, [vk], "A news post", _local(base + timedelta(days=4), 18, 30), rubric="news"),
        draft=_post(api, [tg], "A draft waiting in the tray", None),
        long_post=_post(api, [tg], "Long " + "word" * 400 + " https://example.com/" + "x" * 300 + " "
                        + "lorem ipsum " * 150, _local(base + timedelta(days=5), 7, 0)),
    )
    fault = {"method": "sendMessage", "count": 1, "kind": "error", "status": 400,
             "body": {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}}
    assert api.post("/sandbox/telegram/_control/faults", json=fault).status_code < 300
    STATE["failed_post"] = _post(api, [tg], "This one is refused by the platform", "now")
    return STATE


def _month(base: date) -> str:
    return f"/calendar?month={base:%Y-%m}"


def _week(base: date) -> str:
    return f"/calendar?view=week&date={base.isoformat()}"


# --- desktop: the planner ---------------------------------------------------------------------------------------

def test_entries_show_platform_icons_and_status(desktop: Page, served: Served) -> None:
    base = STATE["base"]
    desktop.goto(_month(base))
    entry = desktop.locator(f".month a.entry-link[data-post-id='{STATE['month_post']}']")
    expect(entry).to_be_visible()
    expect(entry.get_by_role("img", name="Telegram")).to_be_visible()
    expect(entry.get_by_role("img", name="VK")).to_be_visible()
    expect(entry.locator(".entry-time")).to_have_text("10:17")
    name = entry.evaluate("el => el.textContent")
    assert "scheduled" in name
    # the accessible name of the link says the platforms too (role=img with aria-label inside a link)
    expect(desktop.get_by_role("link", name="Telegram").first).to_be_visible()
    # no entry's time is cut (the "08:1" of narrow cells)
    cut = desktop.eval_on_selector_all(".entry-time", "els => els.filter(e => e.scrollWidth > e.clientWidth + 1)"
                                       ".map(e => e.textContent)")
    assert cut == []
    desktop.set_viewport_size({"width": 700, "height": 900})
    try:
        cut = desktop.eval_on_selector_all(
            ".entry-time", "els => els.filter(e => e.offsetParent && e.scrollWidth > e.clientWidth + 1)"
                           ".map(e => e.textContent)")
        assert cut == []
        assert desktop.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        desktop.set_viewport_size(DESKTOP)
    shot(desktop, "calendar-month-desktop")


def test_dragging_in_the_month_moves_a_post_to_another_day_at_the_same_time(desktop: Page, served: Served) -> None:
    base, post = STATE["base"], STATE["month_post"]
    desktop.goto(_month(base))
    target = base + timedelta(days=2)
    desktop.drag_and_drop(f".month a.entry-link[data-post-id='{post}']", f"td[data-date='{target.isoformat()}']")
    desktop.wait_for_url(f"**moved={post}")
    expect(desktop.locator(".banner-success")).to_contain_text("Moved “Month drag")
    assert _stored_local(served.api, post) == ("scheduled", f"{target.isoformat()} 10:17")
    cell = desktop.locator(f"td[data-date='{target.isoformat()}']")
    expect(cell.locator(f"a[data-post-id='{post}']")).to_be_visible()


def test_dragging_in_the_week_moves_a_post_to_another_day_and_hour(desktop: Page, served: Served) -> None:
    base, post = STATE["base"], STATE["week_post"]
    desktop.goto(_week(base))
    expect(desktop.locator(".wg-slot")).to_have_count(24 * 7)
    day1 = (base + timedelta(days=1)).isoformat()
    source = desktop.locator(f".wg-slot[data-date='{day1}'][data-hour='8'] a[data-post-id='{post}']")
    expect(source).to_be_visible()
    target = base + timedelta(days=3)
    source.evaluate("e => e.scrollIntoView({block: 'start'})")  # the source and the target both on screen
    desktop.drag_and_drop(f"a[data-post-id='{post}']", f".wg-slot[data-date='{target.isoformat()}'][data-hour='15']")
    desktop.wait_for_url(f"**moved={post}")
    assert _stored_local(served.api, post) == ("scheduled", f"{target.isoformat()} 15:40")  # keeps its minute
    expect(desktop.locator(f".wg-slot[data-date='{target.isoformat()}'][data-hour='15'] a[data-post-id='{post}']")
           ).to_be_visible()
    shot(desktop, "calendar-week-desktop")


def test_a_refused_drag_says_why_in_words(desktop: Page, served: Served) -> None:
    base, post = STATE["base"], STATE["stale_post"]
    desktop.goto(_week(base))
    assert served.api.delete(f"/api/v1/posts/{post}").status_code == 200  # meanwhile, elsewhere
    desktop.drag_and_drop(f"a[data-post-id='{post}']",
                          f".wg-slot[data-date='{(base + timedelta(days=4)).isoformat()}'][data-hour='9']")
    alert = desktop.locator("#calendar-status")
    expect(alert).to_contain_text("Not moved: The post can no longer be edited: a target is cancelled.")
    expect(alert).to_have_attribute("role", "alert")
    assert _stored_local(served.api, post)[0] == "cancelled"


def test_a_draft_dragged_from_the_tray_is_scheduled(desktop: Page, served: Served) -> None:
    base, draft = STATE["base"], STATE["draft"]
    desktop.goto(_week(base))
    tray = desktop.locator("aside.tray")
    expect(tray.locator(f"a[data-post-id='{draft}']")).to_contain_text("A draft waiting in the tray")
    expect(desktop.locator(f".week-grid a[data-post-id='{draft}']")).to_have_count(0)  # not on its creation day
    target = (base + timedelta(days=5)).isoformat()
    slot = f".wg-slot[data-date='{target}'][data-hour='11']"
    desktop.locator(slot).evaluate("e => e.scrollIntoView({block: 'center'})")  # the tray is sticky: on screen
    desktop.drag_and_drop(f"aside.tray a[data-post-id='{draft}']", slot)
    desktop.wait_for_url(f"**moved={draft}")
    assert _stored_local(served.api, draft) == ("scheduled", f"{target} 11:00")
    expect(desktop.locator(f"aside.tray a[data-post-id='{draft}']")).to_have_count(0)


def test_the_move_link_works_from_the_keyboard(desktop: Page, served: Served) -> None:
    base, post = STATE["base"], STATE["key_post"]
    desktop.goto(_month(base))
    entry = desktop.locator(f".month a.entry-link[data-post-id='{post}']")
    entry.focus()
    assert desktop.evaluate("document.activeElement.dataset.postId") == post  # the entry itself is focusable
    desktop.keyboard.press("Tab")  # to its Move link
    assert "Move “Moved from the keyboard”" in desktop.evaluate("document.activeElement.textContent")
    desktop.keyboard.press("Enter")
    desktop.wait_for_url("**/calendar/move/**")
    target = (base + timedelta(days=6)).isoformat()
    desktop.focus("#move-date")
    desktop.fill("#move-date", target)
    desktop.fill("#move-time", "16:20")
    desktop.keyboard.press("Enter")
    desktop.wait_for_url(f"**moved={post}")
    assert f"month={base:%Y-%m}" in desktop.url  # back to the page it came from
    assert _stored_local(served.api, post) == ("scheduled", f"{target} 16:20")


def test_the_move_form_works_without_javascript(browser: Browser, served: Served) -> None:
    base, post = STATE["base"], STATE["nojs_post"]
    context = _context(browser, served.base, DESKTOP, java_script_enabled=False)
    try:
        page = context.new_page()
        _sign_in(page)
        page.goto(_week(base))
        page.click(f"a.entry-move[href^='/calendar/move/{post}']")
        page.fill("#move-date", (base + timedelta(days=1)).isoformat())
        page.fill("#move-time", "07:45")
        page.click("button:has-text('Move')")
        page.wait_for_url(f"**moved={post}")
        expect(page.locator(".banner-success")).to_contain_text("07:45")
        assert _stored_local(served.api, post) == ("scheduled", f"{(base + timedelta(days=1)).isoformat()} 07:45")
        # a refusal comes back on the form, in words
        page.goto(f"/calendar/move/{post}")
        page.fill("#move-date", "2020-01-01")
        page.click("button:has-text('Move')")
        expect(page.locator(".banner-error")).to_contain_text("in the past")
    finally:
        context.close()


def test_filters_narrow_the_calendar_and_links_keep_them(desktop: Page) -> None:
    base = STATE["base"]
    desktop.goto(_week(base))
    expect(desktop.locator(f".week-grid a[data-post-id='{STATE['news_post']}']")).to_be_visible()
    desktop.select_option("#rubric-filter", "news")  # submits itself
    desktop.wait_for_url("**rubric=news**")
    expect(desktop.locator(f".week-grid a[data-post-id='{STATE['news_post']}']")).to_be_visible()
    expect(desktop.locator(f".week-grid a[data-post-id='{STATE['month_post']}']")).to_have_count(0)
    desktop.click("a[aria-label='Next week']")
    desktop.wait_for_url(f"**date={(base + timedelta(days=7)).isoformat()}&rubric=news")
    desktop.click("a[aria-label='Previous week']")
    desktop.wait_for_url(f"**date={base.isoformat()}&rubric=news")
    desktop.select_option("#status-filter", "scheduled")
    desktop.wait_for_url("**status=scheduled**")
    assert "rubric=news" in desktop.url
    desktop.select_option("#rubric-filter", "")
    desktop.wait_for_url(lambda url: "rubric=" not in url and url.endswith("&status=scheduled"))
    desktop.select_option("#channel-filter", STATE["vk"])
    desktop.wait_for_url(f"**channel={STATE['vk']}**")
    grid = desktop.locator(".week-grid")
    expect(grid.locator(f"a[data-post-id='{STATE['news_post']}']")).to_be_visible()  # on VK
    expect(grid.locator(f"a[data-post-id='{STATE['week_post']}']")).to_have_count(0)  # Telegram only
    desktop.click("a:has-text('Clear filters')")
    expect(grid.locator(f"a[data-post-id='{STATE['week_post']}']")).to_be_visible()


def test_hidden_wins_over_display_rules(desktop: Page) -> None:
    """With JavaScript the compose form uploads on pick and hides its Upload button (a ``.button`` is inline-flex,
    which used to beat ``[hidden]``: the button showed anyway)."""
    desktop.goto("/posts/new")
    upload = desktop.locator("button[data-upload]")
    expect(upload).to_have_attribute("hidden", "")
    expect(upload).to_be_hidden()


def test_docs_render_on_a_phone_with_no_other_host(phone: Page) -> None:
    phone.goto("/docs")
    expect(phone.locator(".opblock").first).to_be_visible(timeout=20_000)
    expect(phone.locator(".opblock-summary-path").first).to_contain_text("/api/v1/")


def test_docs_render_with_no_other_host(desktop: Page) -> None:
    desktop.goto("/docs")
    expect(desktop.locator(".opblock").first).to_be_visible(timeout=20_000)
    assert desktop.locator(".opblock").count() > 20
    expect(desktop.locator(".opblock-summary-path").first).to_contain_text("/api/v1/")
    desktop.goto("/redoc")
    expect(desktop.locator("redoc-wrap, .redoc-wrap").first).to_be_visible(timeout=20_000)
    expect(desktop.get_by_text("A content calendar that publishes itself.").first).to_be_visible()
    expect(desktop.locator("[data-role='redoc-summary'], li[data-item-id]").first).to_be_attached()


# --- phone: every page at 390 px --------------------------------------------------------------------------------

def _overflow(page: Page) -> str:
    """'' when the page does not scroll sideways, else the widest elements that stick out."""
    assert page.evaluate("window.innerWidth") == PHONE["width"]
    if page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"):
        return ""
    wide = page.evaluate("""() => Array.from(document.querySelectorAll('body *'))
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(0, 4)
        .map(e => e.tagName.toLowerCase() + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
    return f"scrollWidth {page.evaluate('document.documentElement.scrollWidth')} > 390: {wide}"


def test_login_fits_a_phone(phone: Page) -> None:
    phone.goto("/login")
    assert _overflow(phone) == ""
    _sign_in(phone)


UNNAMED_JS = """() => Array.from(document.querySelectorAll(
        'button, input:not([type=hidden]), select, textarea, a[href], [role=button]'))
    .filter(e => e.offsetParent !== null || e.getClientRects().length)
    .filter(e => {
        const own = (e.getAttribute('aria-label') || e.getAttribute('title') || '').trim();
        const byId = (e.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
            .map(id => (document.getElementById(id) || {}).textContent || '').join('').trim();
        const labels = e.labels ? Array.from(e.labels).map(l => l.textContent).join('').trim() : '';
        const text = ['BUTTON', 'A'].includes(e.tagName) || e.getAttribute('role') === 'button'
            ? (e.innerText || e.textContent || '').trim() || Array.from(e.querySelectorAll('img[alt], svg[aria-label]'))
                .map(i => i.getAttribute('alt') || i.getAttribute('aria-label')).join('').trim()
            : '';
        const value = e.tagName === 'INPUT' && ['submit', 'button'].includes(e.type) ? (e.value || '').trim() : '';
        return !(own || byId || labels || text || value);
    })
    .slice(0, 6)
    .map(e => e.outerHTML.slice(0, 160))"""


def _unnamed(page: Page) -> list[str]:
    """The visible controls of the page that have no accessible name (label, aria-label, title or text)."""
    return cast(list[str], page.evaluate(UNNAMED_JS))


def test_no_page_scrolls_sideways_on_a_phone(phone: Page, served: Served) -> None:
    base = STATE["base"]
    wait_for(lambda: _stored_local(served.api, STATE["failed_post"])[0] == "failed", timeout=40)
    pages = {
        "calendar": "/calendar", "month": _month(base), "week": _week(base), "this-week": "/calendar?view=week",
        "week-filtered": f"{_week(base)}&rubric=news", "move": f"/calendar/move/{STATE['month_post']}",
        "new-post": "/posts/new", "post-long-text": f"/posts/{STATE['long_post']}",
        "post-failed": f"/posts/{STATE['failed_post']}", "post-rubric": f"/posts/{STATE['news_post']}",
        "channels": "/channels", "channel-new": "/channels/new",
        "channel-new-telegram": "/channels/new?platform=telegram",
        "channel-new-vk": "/channels/new?platform=vk", "channel-new-facebook": "/channels/new?platform=facebook",
        "channel-new-instagram": "/channels/new?platform=instagram", "channel-telegram": f"/channels/{STATE['tg']}",
        "channel-vk": f"/channels/{STATE['vk']}", "settings": "/settings", "plan-import": "/plan/import",
        "sandbox": "/sandbox", "connect-vk": "/connect/vk", "connect-facebook": "/connect/facebook",
        "connect-instagram": "/connect/instagram", "connect-instagram-page": "/connect/instagram?via=page",
        "not-found": "/posts/no-such-post",
        "post-edit": f"/posts/{STATE['long_post']}/edit", "post-cancel": f"/posts/{STATE['long_post']}/cancel",
        "post-delete": f"/posts/{STATE['long_post']}/delete", "channel-delete": f"/channels/{STATE['vk']}/delete",
        "goals": "/goals",
    }
    problems = {}
    for name, path in pages.items():
        phone.goto(path)
        phone.wait_for_load_state("load")
        found = _overflow(phone)
        shot(phone, f"phone-{name}")
        if found:
            problems[path] = found
        if unnamed := _unnamed(phone):
            problems[path] = f"controls without an accessible name: {unnamed}"
        title, dupes = phone.evaluate("""() => [document.title, Object.entries([...document.querySelectorAll('[id]')]
            .reduce((n, e) => (n[e.id] = (n[e.id] || 0) + 1, n), {})).filter(([, c]) => c > 1).map(([i]) => i)]""")
        if "<" in title or len(title) > 120 or dupes:
            problems[path] = f"title {title[:80]!r}, ids used twice: {dupes}"
    assert not problems, "pages that scroll sideways at 390 px or have unnamed controls:\n" + "\n".join(
        f"{k}: {v}" for k, v in problems.items())


def test_the_calendar_is_an_agenda_on_a_phone(phone: Page, served: Served) -> None:
    base = STATE["base"]
    phone.goto(_month(base))
    expect(phone.locator("table.month thead")).to_be_hidden()
    day = _stored_local(served.api, STATE["month_post"])[1][:10]  # wherever the desktop tests moved it
    cell = phone.locator(f"td[data-date='{day}']")
    expect(cell.locator(".agenda-date")).to_be_visible()
    expect(cell.locator(".agenda-date")).to_contain_text(date.fromisoformat(day).strftime("%A"))
    entry = cell.locator(f"a[data-post-id='{STATE['month_post']}']")
    expect(entry.locator(".entry-text")).to_be_visible()
    expect(entry.locator(".entry-time")).to_have_text("10:17")
    box = cell.bounding_box()
    assert box and box["width"] > 300  # a row of the list, not a seventh of the screen
    # days without posts are left out; the list reads top to bottom in date order
    assert phone.locator("td.day:visible").count() < 10
    tops = phone.eval_on_selector_all("td.day", "els => els.filter(e => e.offsetParent)"
                                      ".map(e => [e.dataset.date, e.getBoundingClientRect().top])")
    assert [d for d, _ in tops] == sorted(d for d, _ in tops) and [t for _, t in tops] == sorted(t for _, t in tops)
    shot(phone, "calendar-agenda-phone")
    phone.goto(_week(base))
    expect(phone.locator(".wg-hours")).to_be_hidden()
    first_day = phone.locator(f".wg-day[data-date='{base.isoformat()}']")
    expect(first_day.locator(".wg-day-head")).to_be_visible()
    boxes = [phone.locator(f".wg-day[data-date='{(base + timedelta(days=i)).isoformat()}']").bounding_box()
             for i in range(7)]
    assert all(b and b["width"] > 300 for b in boxes)
    assert all(boxes[i]["y"] < boxes[i + 1]["y"] for i in range(6))  # type: ignore[index]
    shot(phone, "calendar-week-agenda-phone")


def test_nothing_was_loaded_from_another_host() -> None:
    assert OFF_HOST == []
