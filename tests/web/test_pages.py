"""The web UI in process: sign-in, CSRF, every page, the compose form's errors, escaping, the calendar."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from app.models import ApiKey
from app.timeutil import utcnow
from tests.conftest import API_KEY, make_channel
from tests.web.conftest import csrf_of, set_workspace, sign_in

PAGES = ["/calendar", "/calendar?view=week", "/calendar?month=2030-01", "/posts/new", "/channels",
         "/channels/new", "/channels/new?platform=vk", "/channels/new?platform=instagram", "/sandbox", "/settings"]


async def _compose(web: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    page = await web.get("/posts/new")
    data: dict[str, Any] = {"csrf_token": csrf_of(page.text), "when": "at", "timezone": ""}
    data.update(fields)
    return await web.post("/posts/new", data=data)


async def _queue(web: httpx.AsyncClient, channel_id: str, text: str, local_time: str = "2030-01-15T20:00",
                 timezone: str = "UTC") -> str:
    r = await _compose(web, text=text, channel_ids=channel_id, local_time=local_time, timezone=timezone)
    assert r.status_code == 303, r.text
    match = re.fullmatch(r"/posts/([^?]+)\?done=created", r.headers["location"])
    assert match
    return match.group(1)


# --- signing in and out -------------------------------------------------------------------------------------

async def test_login_with_a_good_key_sets_a_safe_session_cookie(browser: httpx.AsyncClient) -> None:
    r = await sign_in(browser)
    assert r.status_code == 303 and r.headers["location"] == "/calendar"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("smm_session="))
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "secure" not in cookie.lower()  # plain http here
    assert API_KEY not in cookie
    assert (await browser.get("/calendar")).status_code == 200


async def test_login_with_a_bad_key_says_so(browser: httpx.AsyncClient) -> None:
    r = await sign_in(browser, "smm_not_a_key_at_all")
    assert r.status_code == 401
    assert "not valid" in r.text
    assert "smm_session" not in r.headers.get("set-cookie", "")
    assert (await browser.get("/calendar")).status_code == 303


async def test_cookie_is_secure_behind_https(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/login")
    r = await browser.post("/login", data={"api_key": API_KEY, "csrf_token": csrf_of(page.text)},
                           headers={"X-Forwarded-Proto": "https"})
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("smm_session="))
    assert "secure" in cookie.lower()


async def test_logout_ends_the_session(web: httpx.AsyncClient) -> None:
    page = await web.get("/calendar")
    r = await web.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    r = await web.get("/calendar")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


async def test_a_revoked_key_ends_its_session(app: Any, web: httpx.AsyncClient) -> None:
    assert (await web.get("/channels")).status_code == 200
    async with app.state.sessionmaker() as session:
        await session.execute(update(ApiKey).values(revoked_at=utcnow()))
        await session.commit()
    r = await web.get("/channels")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fchannels"


async def test_a_forged_session_cookie_is_ignored(browser: httpx.AsyncClient) -> None:
    browser.cookies.set("smm_session", "0" * 64 + ".1900000000.deadbeef")
    assert (await browser.get("/calendar")).status_code == 303


async def test_login_form_needs_its_csrf_token(browser: httpx.AsyncClient) -> None:
    await browser.get("/login")
    r = await browser.post("/login", data={"api_key": API_KEY})
    assert r.status_code == 403 and "security token" in r.text


# --- CSRF and access ------------------------------------------------------------------------------------------

async def test_post_without_csrf_token_is_refused(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    r = await web.post("/posts/new", data={"text": "hi", "channel_ids": ch["id"], "when": "now"})
    assert r.status_code == 403
    assert "text/html" in r.headers["content-type"] and "Nothing was changed" in r.text
    assert (await client.get("/api/v1/posts")).json()["items"] == []


async def test_post_with_a_wrong_csrf_token_is_refused(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    for token in ("0" * 32, "", "x"):
        r = await web.post("/posts/new", data={"text": "hi", "channel_ids": ch["id"], "when": "now",
                                               "csrf_token": token})
        assert r.status_code == 403
    r = await web.post(f"/channels/{ch['id']}/verify", data={"csrf_token": "nope"})
    assert r.status_code == 403


async def test_a_login_page_token_is_not_a_session_token(app: Any, web: httpx.AsyncClient,
                                                         client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as other:
        foreign = csrf_of((await other.get("/login")).text)
    r = await web.post("/posts/new", data={"text": "hi", "channel_ids": ch["id"], "when": "now",
                                           "csrf_token": foreign})
    assert r.status_code == 403


async def test_every_page_renders_for_a_signed_in_user(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    post_id = await _queue(web, ch["id"], "hello")
    for path in [*PAGES, f"/posts/{post_id}", f"/channels/{ch['id']}"]:
        r = await web.get(path)
        assert r.status_code == 200, (path, r.text[:500])
        assert "<main" in r.text and 'lang="en"' in r.text
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "same-origin"
    assert (await web.get("/")).headers["location"] == "/calendar"
    assert (await web.get("/posts/nope")).status_code == 404
    assert (await web.get("/channels/nope")).status_code == 404


async def test_pages_redirect_to_login_when_signed_out(browser: httpx.AsyncClient) -> None:
    for path in [*PAGES, "/posts/x", "/channels/x"]:
        r = await browser.get(path)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login"), path
    assert (await browser.get("/")).headers["location"] == "/login"
    assert (await browser.get("/login")).status_code == 200
    # the API keeps its own auth and headers
    api = await browser.get("/api/v1/channels")
    assert api.status_code == 401 and "content-security-policy" not in api.headers


# --- the compose form -----------------------------------------------------------------------------------------

async def test_compose_shows_limits_and_zones(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    await make_channel(client)
    page = (await web.get("/posts/new")).text
    assert 'data-caption-max="1024"' in page and 'data-text-max="4096"' in page and 'data-unit="utf16"' in page
    assert 'data-timezone="Europe/Moscow"' in page
    assert "Europe/Moscow (UTC+03:00)" in page
    assert 'id="when-auto"' in page


async def test_telegram_caption_over_1024_is_shown_beside_the_text(web: httpx.AsyncClient,
                                                                   client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    text = "x" * 1100
    r = await _compose(web, text=text, channel_ids=ch["id"], media_url="https://example.org/a.jpg",
                       media_kind="photo", local_time="2030-01-15T20:00")
    assert r.status_code == 422
    errors = re.search(r'<ul class="field-error" id="err-text"[^>]*>(.*?)</ul>', r.text, re.S)
    assert errors and "1024" in errors.group(1) and "telegram channel" in errors.group(1)
    assert f">{text}</textarea>" in r.text  # what the user typed is kept
    assert 'value="https://example.org/a.jpg"' in r.text


async def test_dst_gap_time_is_explained_beside_the_time(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    r = await _compose(web, text="hello", channel_ids=ch["id"], local_time="2030-03-31T02:30",
                       timezone="Europe/Berlin")
    assert r.status_code == 422
    block = re.search(r'id="err-when"[^>]*>(.*?)</ul>', r.text, re.S)
    assert block and "does not exist in Europe/Berlin" in block.group(1)
    assert 'value="2030-03-31T02:30"' in r.text and '<option value="Europe/Berlin" selected>' in r.text


async def test_missing_channels_and_time_are_named(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    await make_channel(client)
    await make_channel(client, name="second")
    r = await _compose(web, text="hello", local_time="2030-01-15T20:00")
    assert r.status_code == 422 and 'id="err-channels"' in r.text and "at least one channel" in r.text
    ch = (await client.get("/api/v1/channels")).json()["items"][0]
    r = await _compose(web, text="hello", channel_ids=ch["id"], local_time="")
    assert r.status_code == 422 and 'id="err-when"' in r.text


async def test_override_error_goes_beside_its_channel(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    r = await _compose(web, text="short", channel_ids=ch["id"], local_time="2030-01-15T20:00",
                       **{f"override_{ch['id']}": "y" * 5000})
    assert r.status_code == 422
    assert f'id="err-override-{ch["id"]}"' in r.text and "4096" in r.text


async def test_queue_a_post_in_the_channel_zone(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)  # Europe/Moscow
    r = await _compose(web, text="hello", channel_ids=ch["id"], local_time="2030-01-15T20:00", rubric="News")
    assert r.status_code == 303
    post_id = r.headers["location"].split("/")[2].split("?")[0]
    post = (await client.get(f"/api/v1/posts/{post_id}")).json()
    assert post["scheduled_at"].startswith("2030-01-15T17:00") and post["timezone"] == "Europe/Moscow"
    page = await web.get(r.headers["location"])
    assert "Scheduled for Tue 15 Jan 2030, 20:00 (Europe/Moscow)." in page.text
    assert "UTC+03:00" in page.text and "News" in page.text


async def test_draft_now_and_overrides(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    r = await _compose(web, text="draft text", channel_ids=ch["id"], when="draft",
                       **{f"override_{ch['id']}": "special"})
    assert r.status_code == 303
    post = (await client.get("/api/v1/posts")).json()["items"][0]
    assert post["status"] == "draft" and post["overrides"][ch["id"]]["text"] == "special"
    r = await _compose(web, text="right away", channel_ids=ch["id"], when="now")
    assert r.status_code == 303


async def test_upload_without_javascript_keeps_the_form(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    page = await web.get("/posts/new")
    files = {"media_file": ("cat.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100, "image/png")}
    data = {"csrf_token": csrf_of(page.text), "text": "with a picture", "channel_ids": ch["id"]}
    r = await web.post("/ui/media/upload", data=data, files=files)
    assert r.status_code == 200 and "File uploaded" in r.text
    assert ">with a picture</textarea>" in r.text
    media_id = re.search(r'name="media_id" id="media_id" value="([^"]+)"', r.text)
    assert media_id and f'src="/media/{media_id.group(1)}/cat.png"' in r.text
    r2 = await web.post("/ui/media/upload", data=data, files=files, headers={"Accept": "application/json"})
    assert r2.status_code == 200 and r2.json()["preview"].endswith("/cat.png")
    r3 = await _compose(web, text="with a picture", channel_ids=ch["id"], local_time="2030-01-15T20:00",
                        media_id=media_id.group(1), media_name="cat.png")
    assert r3.status_code == 303
    post = (await client.get("/api/v1/posts")).json()["items"][0]
    assert post["media"][0]["media_id"] == media_id.group(1)


# --- escaping -------------------------------------------------------------------------------------------------

async def test_script_in_a_post_is_text_everywhere(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client, name="<b>bold</b> channel")
    evil = '<script>alert("x")</script>'
    post_id = await _queue(web, ch["id"], evil)
    for path in (f"/posts/{post_id}", "/calendar?month=2030-01", "/calendar?view=week&date=2030-01-15",
                 "/channels", f"/channels/{ch['id']}", "/posts/new"):
        page = (await web.get(path)).text
        assert "<script>alert" not in page, path
        assert "<b>bold</b>" not in page, path
    page = (await web.get(f"/posts/{post_id}")).text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    r = await _compose(web, text=evil + "x" * 5000, channel_ids=ch["id"], local_time="2030-01-15T20:00")
    assert r.status_code == 422 and "<script>alert" not in r.text


# --- post actions ---------------------------------------------------------------------------------------------

async def test_cancel_then_cancel_again_shows_the_conflict(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    post_id = await _queue(web, ch["id"], "to cancel")
    token = csrf_of((await web.get(f"/posts/{post_id}")).text)
    r = await web.post(f"/posts/{post_id}/cancel", data={"csrf_token": token})
    assert r.status_code == 303
    page = await web.get(r.headers["location"])
    assert "The post is cancelled" in page.text and "status-cancelled" in page.text
    r = await web.post(f"/posts/{post_id}/cancel", data={"csrf_token": token})
    assert r.status_code == 409 and "Nothing left to cancel" in r.text
    r = await web.post(f"/posts/{post_id}/retry", data={"csrf_token": token})
    assert r.status_code == 409 and "Nothing to retry" in r.text


async def test_reschedule_and_its_dst_errors(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    post_id = await _queue(web, ch["id"], "to move")
    token = csrf_of((await web.get(f"/posts/{post_id}")).text)
    r = await web.post(f"/posts/{post_id}/reschedule", data={"csrf_token": token, "local_time": "2030-10-27T02:30",
                                                              "timezone": "Europe/Berlin"})
    assert r.status_code == 422 and "happens twice in Europe/Berlin" in r.text
    r = await web.post(f"/posts/{post_id}/reschedule", data={"csrf_token": token, "local_time": "2030-02-01T09:15",
                                                              "timezone": "Europe/Berlin"})
    assert r.status_code == 303
    post = (await client.get(f"/api/v1/posts/{post_id}")).json()
    assert post["scheduled_at"].startswith("2030-02-01T08:15")


# --- calendar -------------------------------------------------------------------------------------------------

async def test_calendar_places_a_post_on_its_day_in_the_workspace_zone(
    app: Any, web: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await set_workspace(app, timezone="Asia/Tokyo")
    ch = await make_channel(client)
    post_id = await _queue(web, ch["id"], "late evening UTC", local_time="2030-01-15T20:00", timezone="UTC")
    page = (await web.get("/calendar?month=2030-01")).text
    cell = re.search(r'data-date="2030-01-16">(.*?)</td>', page, re.S)
    assert cell and f'href="/posts/{post_id}"' in cell.group(1) and "05:00" in cell.group(1)
    before = re.search(r'data-date="2030-01-15">(.*?)</td>', page, re.S)
    assert before and post_id not in before.group(1)
    week = (await web.get("/calendar?view=week&date=2030-01-16")).text
    assert f'href="/posts/{post_id}"' in week and "Times in Asia/Tokyo" in week
    # the channel filter
    other = await make_channel(client, name="other")
    filtered = (await web.get(f"/calendar?month=2030-01&channel={other['id']}")).text
    assert post_id not in filtered


async def test_calendar_marks_holidays_of_the_workspace_country(app: Any, web: httpx.AsyncClient) -> None:
    page = (await web.get("/calendar?month=2030-01")).text
    assert "holiday-name" not in page
    await set_workspace(app, country="DE")
    page = (await web.get("/calendar?month=2030-01")).text
    cell = re.search(r'data-date="2030-01-01">(.*?)</td>', page, re.S)
    assert cell and "New Year" in cell.group(1) and "is-holiday" in page
    nav = (await web.get("/calendar?month=2030-12")).text
    assert "month=2031-01" in nav and "month=2030-11" in nav


# --- channels -------------------------------------------------------------------------------------------------

async def test_connect_a_sandbox_channel_through_the_form(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    token = csrf_of((await web.get("/channels/new")).text)
    r = await web.post("/channels/new", data={"csrf_token": token, "platform": "telegram", "name": "Sandbox TG",
                                              "timezone": "Europe/Moscow", "sandbox": "on"})
    assert r.status_code == 303
    channels = (await client.get("/api/v1/channels")).json()["items"]
    assert channels[0]["sandbox"] is True and channels[0]["name"] == "Sandbox TG"
    page = await web.get(r.headers["location"])
    assert "Channel connected" in page.text and "No engagement history yet" in page.text


async def test_channel_form_errors_are_beside_fields(web: httpx.AsyncClient) -> None:
    token = csrf_of((await web.get("/channels/new")).text)
    r = await web.post("/channels/new", data={"csrf_token": token, "platform": "telegram", "name": "Real",
                                              "timezone": "Mars/Olympus", "cred_bot_token": "nope",
                                              "cred_chat_id": "@mychannel"})
    assert r.status_code == 422 and 'id="err-timezone"' in r.text
    r = await web.post("/channels/new", data={"csrf_token": token, "platform": "telegram", "name": "Real",
                                              "timezone": "UTC", "cred_bot_token": "nope",
                                              "cred_chat_id": "@mychannel"})
    assert r.status_code == 422 and 'id="err-cred-bot_token"' in r.text and "35 characters" in r.text
    assert 'value="@mychannel"' in r.text and 'value="Real"' in r.text
    assert "BotFather" in r.text


async def test_needs_reauth_banner(app: Any, web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    from app.models import Channel

    ch = await make_channel(client)
    async with app.state.sessionmaker() as session:
        await session.execute(update(Channel).values(status="needs_reauth",
                                                     status_reason="Unauthorized: <bot token> revoked"))
        await session.commit()
    page = (await web.get(f"/channels/{ch['id']}")).text
    assert "needs re-authorisation" in page and "Unauthorized: &lt;bot token&gt; revoked" in page
    assert "needs re-authorisation" in (await web.get("/channels")).text


async def test_channel_heatmap_from_the_analyzer(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    """A real history (imported as CSV) through the real analyzer onto the channel page."""
    ch = await make_channel(client)
    start = datetime.now(UTC) - timedelta(days=300)
    rows = ["posted_at,likes,comments,shares,reach"]
    for i in range(600):  # twice a day for 300 days: 19:00 Moscow does three times better than 10:00
        evening = i % 2 == 1
        at = (start + timedelta(days=i // 2)).replace(hour=16 if evening else 7, minute=0, second=0, microsecond=0)
        likes = 300 + (i * 37) % 50 if evening else 100 + (i * 37) % 50
        rows.append(f"{at.isoformat()},{likes},5,2,10000")
    r = await client.post(f"/api/v1/channels/{ch['id']}/engagement", content="\n".join(rows),
                          headers={"content-type": "text/csv"})
    assert r.status_code == 200 and r.json()["imported"] == 600, r.text
    page = (await web.get(f"/channels/{ch['id']}")).text
    assert page.count('class="cell') == 168 and "<svg" in page
    assert re.search(r"5[89]\d posts analysed", page)  # the last few days are still collecting engagement
    top = page[page.index('class="slots"'):][:400]
    assert "19:00–20:00" in top  # the planted evening (16:00 UTC is 19:00 in Europe/Moscow)
    assert " 1 posts" not in page

    # the post page's "Why this slot" counts the same posts as the analyzer's answer
    post = await client.post("/api/v1/posts", json={"text": "auto", "channel_ids": [ch["id"]], "scheduled_at": "auto"})
    assert post.status_code == 201, post.text
    used = (await client.get(f"/api/v1/channels/{ch['id']}/best-slots")).json()["posts_used"]
    why = (await web.get(f"/posts/{post.json()['id']}?done=auto")).text
    assert "Why this slot" in why, why[:2000]
    assert re.search(rf"(\d+ of the|none of the) {used} past posts analysed went out in this slot", why), why
    assert "from 0 past posts" not in why


# --- sandbox --------------------------------------------------------------------------------------------------

async def test_sandbox_page_lists_each_platform(web: httpx.AsyncClient) -> None:
    page = (await web.get("/sandbox")).text
    for name in ("Telegram", "VK", "Facebook", "Instagram"):
        assert name in page
