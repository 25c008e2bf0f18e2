"""The calendar as a planner, in process: the week time grid, platform icons and status on entries, the drafts
tray, the channel / rubric / status filters, and moving a post (the drag's endpoint and the no-JS Move form)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from app.web import plan_view
from tests.conftest import make_channel
from tests.web.conftest import csrf_of, set_workspace


async def _post(client: httpx.AsyncClient, channel_ids: list[str], text: str, at: str | None,
                **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"text": text, "channel_ids": channel_ids, "scheduled_at": at, **extra}
    r = await client.post("/api/v1/posts", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _slot(page: str, day: str, hour: int) -> str:
    match = re.search(rf'<div class="wg-slot[^"]*" data-date="{day}" data-hour="{hour}"[^>]*>(.*?)</div>', page,
                      re.S)
    assert match, f"no slot {day} {hour}:00 on the page"
    return match.group(1)


def _cell(page: str, day: str) -> str:
    match = re.search(rf'data-drop="day" data-date="{day}">(.*?)</td>', page, re.S)
    assert match, f"no cell {day}"
    return match.group(1)


def _tray(page: str) -> str:
    match = re.search(r'<aside class="tray.*?</aside>', page, re.S)
    assert match
    return match.group(0)


async def _move(web: httpx.AsyncClient, post_id: str, day: str, time: str, *, json: bool = True,
                token: str | None = None) -> httpx.Response:
    if token is None:
        token = csrf_of((await web.get("/calendar")).text)
    headers = {"Accept": "application/json"} if json else {}
    return await web.post("/calendar/move", data={"csrf_token": token, "post_id": post_id, "date": day,
                                                  "time": time, "back": "/calendar?month=2030-01"},
                          headers=headers)


async def test_week_is_a_time_grid_in_the_workspace_zone_with_platforms_and_status(
    app: Any, web: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await set_workspace(app, timezone="Asia/Tokyo")
    tg, vk = await make_channel(client), await make_channel(client, "vk")
    post = await _post(client, [tg["id"], vk["id"]], "Evening UTC is morning in Tokyo", "2030-01-15T20:17:00Z")
    page = (await web.get("/calendar?view=week&date=2030-01-16")).text
    assert page.count('class="wg-slot') == 24 * 7  # hour rows × day columns
    slot = _slot(page, "2030-01-16", 5)
    assert f'href="/posts/{post["id"]}"' in slot and "05:17" in slot
    assert 'aria-label="Telegram"' in slot and 'aria-label="VK"' in slot
    assert "scheduled" in slot and 'draggable="true"' in slot
    assert f'href="/calendar/move/{post["id"]}?back=' in slot
    assert post["id"] not in _slot(page, "2030-01-15", 20)  # not on the UTC wall clock
    assert "Times in Asia/Tokyo" in page and '/static/calendar.js' in page
    month = (await web.get("/calendar?month=2030-01")).text
    cell = _cell(month, "2030-01-16")
    assert "05:17" in cell and 'aria-label="VK"' in cell


async def test_drafts_sit_in_the_tray_not_on_their_creation_day(web: httpx.AsyncClient,
                                                                client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    draft = await _post(client, [ch["id"]], "A draft with no time yet", None)
    timed = await _post(client, [ch["id"]], "A timed post", "2030-01-10T10:00:00Z")
    page = (await web.get("/calendar")).text  # this month: the draft's creation day
    tray = _tray(page)
    assert draft["id"] in tray and "A draft with no time yet" in tray and "Schedule" in tray
    grid = page.split('<aside class="tray')[0]
    assert draft["id"] not in grid
    jan = (await web.get("/calendar?month=2030-01")).text
    assert draft["id"] in _tray(jan) and timed["id"] not in _tray(jan)  # the tray is on every page
    assert timed["id"] in _cell(jan, "2030-01-10")
    # dropped on a day: scheduled at the tray's default time
    r = await _move(web, draft["id"], "2030-01-12", "09:00")
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True and r.json()["scheduled_at"].startswith("2030-01-12T09:00")
    stored = (await client.get(f"/api/v1/posts/{draft['id']}")).json()
    assert stored["status"] == "scheduled" and stored["scheduled_at"].startswith("2030-01-12T09:00")
    jan = (await web.get("/calendar?month=2030-01")).text
    assert draft["id"] in _cell(jan, "2030-01-12") and draft["id"] not in _tray(jan)


async def test_filters_by_channel_rubric_and_status_and_links_keep_them(
    web: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    a, b = await make_channel(client, name="Alpha"), await make_channel(client, name="Beta")
    r = await client.post("/api/v1/rubrics", json={"name": "news", "colour": "#2563eb"})
    assert r.status_code == 201, r.text
    news = await _post(client, [a["id"]], "news on alpha", "2030-01-05T10:00:00Z", rubric="news")
    plain = await _post(client, [b["id"]], "plain on beta", "2030-01-06T10:00:00Z")
    cancelled = await _post(client, [a["id"]], "cancelled on alpha", "2030-01-07T10:00:00Z")
    assert (await client.delete(f"/api/v1/posts/{cancelled['id']}")).status_code == 200
    draft = await _post(client, [b["id"]], "draft on beta", None)

    everything = (await web.get("/calendar?month=2030-01")).text
    assert all(p["id"] in everything for p in (news, plain, cancelled, draft))
    by_rubric = (await web.get("/calendar?month=2030-01&rubric=news")).text
    assert news["id"] in by_rubric and plain["id"] not in by_rubric and draft["id"] not in by_rubric
    assert '<option value="news" selected>' in by_rubric and "Clear filters" in by_rubric
    # navigation keeps the filters
    assert 'href="/calendar?month=2030-02&amp;rubric=news"' in by_rubric
    assert 'view=week&amp;date=2030-01-01&amp;rubric=news' in by_rubric
    by_channel = (await web.get(f"/calendar?month=2030-01&channel={b['id']}")).text
    assert plain["id"] in by_channel and draft["id"] in by_channel and news["id"] not in by_channel
    by_status = (await web.get("/calendar?month=2030-01&status=cancelled")).text
    assert cancelled["id"] in by_status and news["id"] not in by_status and draft["id"] not in by_status
    drafts_only = (await web.get("/calendar?month=2030-01&status=draft")).text
    assert draft["id"] in drafts_only and news["id"] not in drafts_only
    # an unknown value is no filter (not a 500, not an empty calendar)
    odd = await web.get("/calendar?month=2030-01&status=bogus&rubric=nope&channel=zzz")
    assert odd.status_code == 200 and all(p["id"] in odd.text for p in (news, plain))


async def test_moving_by_day_keeps_the_wall_clock_minute_and_answers_in_words(
    app: Any, web: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await set_workspace(app, timezone="Europe/Berlin")
    ch = await make_channel(client)
    post = await _post(client, [ch["id"]], "move me", "2030-01-15T08:17:00Z")  # 09:17 in Berlin
    page = (await web.get("/calendar?month=2030-01")).text
    assert f'data-post-id="{post["id"]}" data-time="09:17" data-date="2030-01-15"' in page
    r = await _move(web, post["id"], "2030-07-01", "09:17")  # summer: 09:17 Berlin is 07:17 UTC
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scheduled_at"].startswith("2030-07-01T07:17") and "09:17" in body["message"]
    assert body["redirect"] == f"/calendar?month=2030-01&moved={post['id']}"
    stored = (await client.get(f"/api/v1/posts/{post['id']}")).json()
    assert stored["scheduled_at"].startswith("2030-07-01T07:17") and stored["timezone"] == post["timezone"]
    shown = (await web.get(body["redirect"])).text
    assert "Moved “move me”: scheduled for Mon 01 Jul 2030, 09:17" in shown


async def test_refused_moves_say_why_and_change_nothing(
    app: Any, web: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await set_workspace(app, timezone="Europe/Berlin")
    ch = await make_channel(client)
    post = await _post(client, [ch["id"]], "stay", "2030-01-15T08:00:00Z")
    r = await _move(web, post["id"], "2020-01-15", "09:00")
    assert r.status_code == 422 and "in the past" in r.json()["detail"]
    r = await _move(web, post["id"], "2030-03-31", "02:30")  # the clocks jump over it in Berlin
    assert r.status_code == 422 and "does not exist in Europe/Berlin" in r.json()["detail"]
    r = await _move(web, post["id"], "2030-02-30", "09:00")
    assert r.status_code == 422 and "day cannot be used" in r.json()["detail"]
    r = await _move(web, post["id"], "2030-02-01", "25:99")
    assert r.status_code == 422 and "is not a time" in r.json()["detail"]
    r = await _move(web, "no-such-post", "2030-02-01", "09:00")
    assert r.status_code == 404 and "detail" in r.json()
    cancelled = await _post(client, [ch["id"]], "gone", "2030-01-16T08:00:00Z")
    assert (await client.delete(f"/api/v1/posts/{cancelled['id']}")).status_code == 200
    r = await _move(web, cancelled["id"], "2030-02-01", "09:00")
    assert r.status_code == 409 and "can no longer be edited" in r.json()["detail"]
    # the no-JS form comes back with the refusal in words, the typed values kept
    r = await _move(web, post["id"], "2020-01-15", "09:00", json=False)
    assert r.status_code == 422 and "in the past" in r.text and 'value="2020-01-15"' in r.text
    assert 'role="alert"' in r.text
    # without the CSRF token: refused, nothing moved
    r = await web.post("/calendar/move", data={"post_id": post["id"], "date": "2030-02-01", "time": "09:00"},
                       headers={"Accept": "application/json"})
    assert r.status_code == 403
    r = await _move(web, post["id"], "2030-02-01", "09:00", token="forged")
    assert r.status_code == 403
    stored = (await client.get(f"/api/v1/posts/{post['id']}")).json()
    assert stored["scheduled_at"].startswith("2030-01-15T08:00") and stored["status"] == "scheduled"


async def test_the_move_form_works_without_javascript(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    post = await _post(client, [ch["id"]], "by keyboard", "2030-01-15T08:05:00Z")
    page = (await web.get("/calendar?month=2030-01")).text
    link = re.search(rf'href="(/calendar/move/{post["id"]}\?back=[^"]+)"', page)
    assert link
    form = await web.get(link.group(1).replace("&amp;", "&"))
    assert form.status_code == 200
    assert 'value="2030-01-15"' in form.text and 'value="08:05"' in form.text and "Times in UTC" in form.text
    assert 'name="back" value="/calendar?month=2030-01"' in form.text
    r = await web.post("/calendar/move", data={"csrf_token": csrf_of(form.text), "post_id": post["id"],
                                               "date": "2030-01-20", "time": "18:45",
                                               "back": "/calendar?month=2030-01"})
    assert r.status_code == 303 and r.headers["location"] == f"/calendar?month=2030-01&moved={post['id']}"
    stored = (await client.get(f"/api/v1/posts/{post['id']}")).json()
    assert stored["scheduled_at"].startswith("2030-01-20T18:45")
    # a "back" to another site is not followed
    r = await web.post("/calendar/move", data={"csrf_token": csrf_of(form.text), "post_id": post["id"],
                                               "date": "2030-01-21", "time": "18:45", "back": "//evil.example/"})
    assert r.status_code == 303 and r.headers["location"].startswith("/calendar?moved=")
    missing = await web.get("/calendar/move/no-such-post")
    assert missing.status_code == 404 and "Post not found" in missing.text


async def test_the_tray_shows_the_newest_drafts_and_says_when_there_are_more(
    web: httpx.AsyncClient, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plan_view, "TRAY_MAX", 2)
    ch = await make_channel(client)
    drafts = [await _post(client, [ch["id"]], f"draft number {i}", None) for i in range(3)]
    await _post(client, [ch["id"]], "timed, not a draft", "2030-01-10T10:00:00Z")
    tray = _tray((await web.get("/calendar?month=2030-01")).text)
    assert drafts[2]["id"] in tray and drafts[1]["id"] in tray and drafts[0]["id"] not in tray
    assert "Only the newest 2 drafts are shown." in tray and "(2+)" in tray
    assert "timed, not a draft" not in tray
    none = _tray((await web.get("/calendar?month=2030-01&status=scheduled")).text)
    assert "No drafts with these filters" in none
