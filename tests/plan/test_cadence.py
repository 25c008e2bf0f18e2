"""Cadence and conflict checks (issue 13.9): warnings in the answers of create, update and import, on the post page,
and the workspace settings that drive them (API, CLI, settings page)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.conftest import make_channel
from tests.test_cli import smm
from tests.web.conftest import csrf_of, sign_in


@pytest.fixture
async def web(anon: httpx.AsyncClient) -> httpx.AsyncClient:
    """A signed-in browser (keeps the session cookie, does not follow redirects)."""
    assert (await sign_in(anon)).status_code == 303
    return anon


def _at(days: float, hour: int = 10, minute: int = 0) -> str:
    base = (datetime.now(UTC) + timedelta(days=days)).replace(hour=hour, minute=minute, second=0, microsecond=0)
    return base.isoformat()


async def _post(client: httpx.AsyncClient, channel_ids: list[str], at: str | None, text: str = "x",
                **extra: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/posts", json={"text": text, "channel_ids": channel_ids, "scheduled_at": at,
                                                 **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _codes(body: dict[str, Any]) -> list[str]:
    return [w["code"] for w in body["warnings"]]


async def test_closer_than_the_spacing_warns_and_the_channel_spacing_wins(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client, timezone="UTC")
    other = await make_channel(client, name="Other", timezone="UTC")
    assert (await client.patch("/api/v1/workspace", json={"default_spacing_minutes": 120})).status_code == 200
    first = await _post(client, [ch["id"]], _at(3, 10), "Morning news about the harbour")
    assert first["warnings"] == []
    second = await _post(client, [ch["id"], other["id"]], _at(3, 10, 40), "Afternoon story, a different one")
    assert second["warnings"] == [{"code": "too_close", "channel_id": ch["id"], "message": (
        f"'telegram channel' already has a post at {_at(3, 10)[:10]} 10:00, 40 min before this one; the channel's "
        "spacing is 2 h.")}]  # the other channel has nothing near: no warning for it
    # stored, not only answered: GET of a scheduled post shows its warnings too
    got = (await client.get(f"/api/v1/posts/{second['id']}")).json()
    assert _codes(got) == ["too_close"]
    r = await client.patch(f"/api/v1/channels/{ch['id']}", json={"spacing_minutes": 30})
    assert r.status_code == 200 and r.json()["spacing_minutes"] == 30, r.text
    third = await _post(client, [ch["id"]], _at(3, 11, 20), "Evening story, again different")
    assert third["warnings"] == []  # 40 min from the nearest: more than the channel's own 30 min
    assert (await client.get(f"/api/v1/posts/{second['id']}")).json()["warnings"] == []  # the rule changed


async def test_nearly_the_same_text_on_the_channel_warns(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client, timezone="UTC")
    await _post(client, [ch["id"]], _at(2), "Big SALE on winter boots: -30% until Sunday!")
    again = await _post(client, [ch["id"]], _at(4), "big sale on winter boots -30%  until sunday")
    assert _codes(again) == ["duplicate_text"] and again["warnings"][0]["channel_id"] == ch["id"]
    assert "same or nearly the same text planned" in again["warnings"][0]["message"]
    fresh = await _post(client, [ch["id"]], _at(5), "A recipe for a spring salad with radishes")
    assert fresh["warnings"] == []
    # an override is the text that channel gets: it is what is compared
    ov = await _post(client, [ch["id"]], _at(6), "Something else entirely",
                     overrides={ch["id"]: {"text": "A recipe for a spring salad with radishes!"}})
    assert _codes(ov) == ["duplicate_text"]
    # outside the window (30 days by default) the same text is no repeat
    far = await _post(client, [ch["id"]], _at(60), "Big SALE on winter boots: -30% until Sunday!")
    assert "duplicate_text" not in _codes(far)


async def test_too_many_a_day_and_gaps_follow_the_workspace_settings(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client, timezone="UTC")
    r = await client.patch("/api/v1/workspace", json={"max_posts_per_day": 2, "max_gap_days": 3})
    assert r.status_code == 200 and (r.json()["max_posts_per_day"], r.json()["max_gap_days"]) == (2, 3), r.text
    a = await _post(client, [ch["id"]], _at(1, 9), "one a")
    assert a["warnings"] == []  # the channel's first post: no gap before it
    await _post(client, [ch["id"]], _at(1, 13), "two b")
    third = await _post(client, [ch["id"]], _at(1, 18), "three c")
    assert _codes(third) == ["too_many_per_day"]
    assert f"would have 3 posts on {_at(1)[:10]}" in third["warnings"][0]["message"]
    late = await _post(client, [ch["id"]], _at(7, 9), "four d")
    assert _codes(late) == ["plan_gap"] and "nothing planned for 5 days" in late["warnings"][0]["message"]
    mid = await _post(client, [ch["id"]], _at(4, 9), "five e")  # fills the gap: 3 days either side at most
    assert mid["warnings"] == []
    # moving it away again leaves the gap behind, and the answer says so
    r = await client.patch(f"/api/v1/posts/{mid['id']}", json={"scheduled_at": _at(12, 9)})
    assert r.status_code == 200, r.text
    messages = [w["message"] for w in r.json()["warnings"]]
    assert _codes(r.json()) == ["plan_gap", "plan_gap"], messages
    assert "nothing planned for 5 days after the post of" in messages[0]
    assert messages[1].startswith(
        f"moving the post leaves 'telegram channel' with nothing planned between {_at(1)[:10]}")
    r = await client.patch(f"/api/v1/posts/{mid['id']}", json={"scheduled_at": _at(1, 20)})
    assert _codes(r.json()) == ["too_many_per_day", "plan_gap"]  # 4 on day 1, then nothing for over 5 days
    # the default comes back with null
    r = await client.patch("/api/v1/workspace", json={"max_posts_per_day": None})
    assert r.json()["max_posts_per_day"] == 3


async def test_a_public_holiday_informs(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client, timezone="Europe/Berlin")
    await client.patch("/api/v1/workspace", json={"country": "DE", "timezone": "Europe/Berlin"})
    body = await _post(client, [ch["id"]], "2030-12-25T10:00:00+01:00", "Merry Christmas")
    assert body["warnings"] == [{"code": "holiday", "channel_id": None,
                                 "message": "2030-12-25 is a public holiday: Christmas Day."}]
    assert body["status"] == "scheduled"  # informational: the post is stored as asked


async def test_refused_limits_say_why(client: httpx.AsyncClient) -> None:
    before = (await client.get("/api/v1/workspace")).json()
    assert (before["max_gap_days"], before["max_posts_per_day"], before["duplicate_window_days"]) == (7, 3, 30)
    for body, words in (({"max_gap_days": 0}, "greater than or equal to 1"),
                        ({"max_posts_per_day": 1000}, "less than or equal to 100"),
                        ({"duplicate_window_days": "soon"}, "valid integer")):
        r = await client.patch("/api/v1/workspace", json=body)
        assert r.status_code == 422 and words in r.json()["detail"], r.text
    assert (await client.get("/api/v1/workspace")).json() == before


async def test_import_report_carries_the_cadence_warnings(client: httpx.AsyncClient) -> None:
    await make_channel(client, name="News", timezone="UTC")
    csv = ("date,time,channels,text\n"
           "2035-03-05,10:00,News,Spring collection is here\n"
           "2035-03-05,10:30,News,Spring collection is here!\n")
    await client.patch("/api/v1/workspace", json={"default_spacing_minutes": 60})
    r = await client.post("/api/v1/plan/import", content=csv.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["problems"] == [] and body["valid"] == 2
    found = {(w["row"], w["column"], w["code"]) for w in body["warnings"]}
    assert found == {(3, "time", "too_close"), (3, "text", "duplicate_text")}, body["warnings"]
    assert all(w["channel_id"] for w in body["warnings"])


async def test_post_page_shows_the_warnings(client: httpx.AsyncClient, web: httpx.AsyncClient) -> None:
    ch = await make_channel(client, timezone="UTC")
    await client.patch("/api/v1/workspace", json={"default_spacing_minutes": 120})
    await _post(client, [ch["id"]], _at(3, 10), "first text here")
    second = await _post(client, [ch["id"]], _at(3, 11), "second text there")
    page = await web.get(f"/posts/{second['id']}")
    assert page.status_code == 200
    assert 'id="plan-warnings"' in page.text and "the channel&#39;s spacing is 2 h" in page.text


async def test_settings_page_and_cli_change_the_limits(web: httpx.AsyncClient, settings: Settings) -> None:
    page = await web.get("/settings")
    assert 'name="max_gap_days"' in page.text
    r = await web.post("/settings/plan", data={"csrf_token": csrf_of(page.text), "max_gap_days": "5",
                                               "max_posts_per_day": "abc", "duplicate_window_days": "",
                                               "utm_template": "", "utm_domains": ""})
    assert r.status_code == 422 and "whole number" in r.text
    r = await web.post("/settings/plan", data={"csrf_token": csrf_of(page.text), "max_gap_days": "5",
                                               "max_posts_per_day": "4", "duplicate_window_days": "",
                                               "utm_template": "utm_source={platform}", "utm_domains": "shop.example"})
    assert r.status_code == 303, r.text
    shown = (await web.get("/settings")).text
    assert 'value="5"' in shown and 'value="4"' in shown and "utm_source={platform}" in shown

    out = smm(settings, "workspace", "set", "--max-gap-days", "10", "--max-posts-per-day", "6", "--json")
    body = json.loads(out.stdout)
    assert (body["max_gap_days"], body["max_posts_per_day"], body["utm_domains"]) == (10, 6, ["shop.example"])
    bad = smm(settings, "workspace", "set", "--max-posts-per-day", "1000", check=False)
    assert bad.returncode == 2 and "from 1 to 100" in bad.stderr
