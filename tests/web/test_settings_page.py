"""The settings page: linked from the nav, CSRF-checked, the same rules as the API, and the calendar follows it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import make_channel
from tests.web.conftest import csrf_of


async def _settings_form(web: httpx.AsyncClient, **values: str) -> httpx.Response:
    page = await web.get("/settings")
    return await web.post("/settings", data={"csrf_token": csrf_of(page.text), **values})


async def test_the_settings_page_is_in_the_nav_and_saves(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    assert 'href="/settings"' in (await web.get("/calendar")).text
    page = await web.get("/settings")
    assert page.status_code == 200 and "Time zone" in page.text and "/ical/" in page.text
    r = await _settings_form(web, timezone="Asia/Tokyo", country="jp", spacing="45")
    assert r.status_code == 303 and r.headers["location"] == "/settings?done=saved"
    body = (await client.get("/api/v1/workspace")).json()
    assert (body["timezone"], body["country"], body["default_spacing_minutes"]) == ("Asia/Tokyo", "JP", 45)
    shown = (await web.get("/settings?done=saved")).text
    assert "The settings are saved." in shown and 'value="JP"' in shown and 'value="45"' in shown


async def test_a_refused_value_is_shown_beside_its_field_and_nothing_changes(
    web: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    r = await _settings_form(web, timezone="Europe/Berlin", country="ZZ", spacing="10")
    assert r.status_code == 422 and "ISO 3166" in r.text and 'value="ZZ"' in r.text
    r = await _settings_form(web, timezone="Europe/Berlin", country="", spacing="soon")
    assert r.status_code == 422 and "whole number of minutes" in r.text
    assert (await client.get("/api/v1/workspace")).json()["timezone"] == "UTC"


async def test_without_the_csrf_token_nothing_changes(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    r = await web.post("/settings", data={"timezone": "Asia/Tokyo", "country": "", "spacing": ""})
    assert r.status_code == 403 and "expired" in r.text
    for path in ("/settings/rubrics", "/settings/ical/rotate"):
        assert (await web.post(path, data={"name": "X"})).status_code == 403
    assert (await client.get("/api/v1/workspace")).json()["timezone"] == "UTC"


async def test_the_calendar_uses_the_workspace_zone(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch: dict[str, Any] = await make_channel(client)
    r = await client.post("/api/v1/posts", json={"text": "late night", "channel_ids": [ch["id"]],
                                                 "scheduled_at": "2030-01-15T16:30:00Z"})
    assert r.status_code == 201
    utc = (await web.get("/calendar?view=week&date=2030-01-15")).text
    assert "Times in UTC" in utc and "16:30" in utc
    await _settings_form(web, timezone="Asia/Tokyo", country="", spacing="")
    tokyo = (await web.get("/calendar?view=week&date=2030-01-16")).text
    assert "Times in Asia/Tokyo" in tokyo and "01:30" in tokyo  # the next day in Tokyo
    day = tokyo.split('data-date="2030-01-16"', 1)[1].split("</li>", 1)[0]
    assert "late night" in day


async def test_rubrics_on_the_settings_page_colour_the_calendar(
    web: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    page = await web.get("/settings")
    r = await web.post("/settings/rubrics", data={"csrf_token": csrf_of(page.text), "name": "Contests",
                                                  "colour": "#123abc", "target_share": "25"})
    assert r.status_code == 303, r.text
    rubric = (await client.get("/api/v1/rubrics")).json()["items"][0]
    assert (rubric["name"], rubric["colour"], rubric["target_share"]) == ("Contests", "#123abc", 0.25)
    bad = await web.post(f"/settings/rubrics/{rubric['id']}", data={"csrf_token": csrf_of(page.text),
                                                                    "name": "Contests", "target_share": "lots"})
    assert bad.status_code == 422 and "percentage" in bad.text
    ch = await make_channel(client)
    await client.post("/api/v1/posts", json={"text": "win a mug", "channel_ids": [ch["id"]], "rubric": "contests",
                                             "scheduled_at": "2030-01-15T10:00:00Z"})
    cal = (await web.get("/calendar?month=2030-01")).text
    cls = f"rb-{rubric['id']}"
    assert 'href="/ui/rubrics.css"' in cal and 'aria-label="Rubric colours"' in cal and "(target 25%)" in cal
    entry = cal.split("win a mug", 1)[0].rsplit("<a ", 1)[1]
    assert cls in entry
    css = await web.get("/ui/rubrics.css")
    assert css.headers["content-type"].startswith("text/css") and f".{cls} {{ --r: #123abc; }}" in css.text
    r = await web.post(f"/settings/rubrics/{rubric['id']}/delete", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and (await client.get("/api/v1/rubrics")).json()["items"] == []


async def test_the_feed_address_is_shown_and_replaced_from_the_page(
    web: httpx.AsyncClient, client: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    url = (await client.get("/api/v1/workspace")).json()["ical_url"]
    page = await web.get("/settings")
    assert url in page.text
    r = await web.post("/settings/ical/rotate", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"].startswith("/settings?done=rotated")
    new = (await client.get("/api/v1/workspace")).json()["ical_url"]
    assert new != url and new in (await web.get("/settings")).text
    assert (await anon.get(url.removeprefix("http://127.0.0.1:8000"))).status_code == 404
