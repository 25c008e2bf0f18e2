"""Goals and KPIs (issue 13.8): CRUD at /api/v1/goals, progress from the collected numbers and the pace, the
/goals page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import make_channel
from tests.web.conftest import csrf_of, sign_in


def _day(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


async def _followers(client: httpx.AsyncClient, channel_id: str) -> None:
    """Follower readings of the last 40 days: 10 more every day, 1,990 yesterday."""
    now = datetime.now(UTC)
    rows = "".join(f"{(now - timedelta(days=d, hours=1)).isoformat()},4,1,0,{2000 - d * 10}\n" for d in range(1, 41))
    r = await client.post(f"/api/v1/channels/{channel_id}/engagement",
                          content="posted_at,likes,comments,shares,followers\n" + rows,
                          headers={"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json()["imported"] == 40, r.text


async def _goal(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/goals", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_followers_goal_follows_the_collected_numbers_and_the_pace(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client, name="News")
    await _followers(client, ch["id"])
    near = await _goal(client, metric="followers", target=2200, deadline=_day(30), channel_id=ch["id"],
                       name="  Grow   News ")
    assert (near["current"], near["baseline"], near["progress"], near["name"]) == (1990, 1990, 0.0, "Grow News")
    # 10 a day over the last 30 days, carried on for the 30 days left: about 2,290 by the deadline
    assert near["status"] == "on_track" and near["on_track"] is True and 2280 <= near["projected"] <= 2305, near
    far = await _goal(client, metric="followers", target=5000, deadline=_day(30))  # all channels
    assert far["status"] == "behind" and far["on_track"] is False and far["channel_id"] is None
    done = await _goal(client, metric="followers", target=1500, deadline=_day(10))
    assert done["status"] == "reached" and done["progress"] == 1.0
    listed = (await client.get("/api/v1/goals")).json()["items"]
    assert [g["id"] for g in listed] == [done["id"], near["id"], far["id"]]  # by deadline
    r = await client.patch(f"/api/v1/goals/{far['id']}", json={"target": 2100})
    assert r.status_code == 200 and r.json()["status"] == "on_track", r.text
    assert (await client.get(f"/api/v1/goals/{far['id']}")).json()["target"] == 2100
    assert (await client.delete(f"/api/v1/goals/{far['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/goals/{far['id']}")).status_code == 404


async def test_posts_per_week_uses_the_plan_and_engagement_rate_the_history(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client, timezone="UTC")
    for i in range(7):
        at = (datetime.now(UTC) + timedelta(days=1 + i * 2, hours=1)).isoformat()
        r = await client.post("/api/v1/posts", json={"text": f"post {i}", "channel_ids": [ch["id"]],
                                                     "scheduled_at": at})
        assert r.status_code == 201, r.text
    weekly = await _goal(client, metric="posts_per_week", target=3, deadline=_day(14))
    assert weekly["current"] == 0 and weekly["status"] == "on_track", weekly  # 7 planned in two weeks: 3.4 a week
    more = await _goal(client, metric="posts_per_week", target=5, deadline=_day(14))
    assert more["status"] == "behind"
    await _followers(client, ch["id"])
    rate = await _goal(client, metric="engagement_rate", target=0.01, deadline=_day(60))
    assert rate["current"] is not None and 0.0025 <= rate["current"] <= 0.0028, rate  # 5 of ~1,850 followers
    assert rate["status"] == "behind"
    empty = await _goal(client, metric="published_on_time", target=0.95, deadline=_day(60))
    assert empty["current"] is None and empty["status"] == "no_data"


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"metric": "likes", "target": 5, "deadline": "2099-01-01"}, "metric", "followers, posts_per_week"),
    ({"metric": "engagement_rate", "target": 5, "deadline": "2099-01-01"}, "target", "from 0 to 1"),
    ({"metric": "followers", "target": -5, "deadline": "2099-01-01"}, "target", "above 0"),
    ({"metric": "followers", "target": 5, "deadline": "2020-01-01"}, "deadline", "after today"),
    ({"metric": "followers", "target": 5, "deadline": "someday"}, "deadline", "not a date"),
    ({"metric": "followers", "target": 5, "deadline": "2099-01-01", "channel_id": "nope"}, "channel_id",
     "no channel"),
    ({"metric": "followers", "target": 5, "deadline": "2099-01-01", "colour": "x"}, "body.colour", "unknown field"),
])
async def test_refused_goals_say_why(client: httpx.AsyncClient, body: dict[str, Any], field: str, words: str) -> None:
    r = await client.post("/api/v1/goals", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field and words in r.json()["detail"], r.json()
    assert (await client.get("/api/v1/goals")).json()["items"] == []


async def test_goals_page(client: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    ch = await make_channel(client, name="News")
    await _followers(client, ch["id"])
    assert (await sign_in(anon)).status_code == 303
    page = await anon.get("/goals")
    assert page.status_code == 200 and 'href="/goals" aria-current="page"' in page.text
    bad = await anon.post("/goals", data={"csrf_token": csrf_of(page.text), "metric": "followers", "target": "lots",
                                          "deadline": _day(30), "channel_id": ch["id"], "name": ""})
    assert bad.status_code == 422 and "the target is a number" in bad.text and 'value="lots"' in bad.text
    r = await anon.post("/goals", data={"csrf_token": csrf_of(page.text), "metric": "followers", "target": "2200",
                                        "deadline": _day(30), "channel_id": ch["id"], "name": "Grow News"})
    assert r.status_code == 303 and r.headers["location"] == "/goals?done=added"
    shown = (await anon.get("/goals?done=added")).text
    assert "Grow News" in shown and "on track" in shown and "1990" in shown and "<progress" in shown
    goal = (await client.get("/api/v1/goals")).json()["items"][0]
    r = await anon.post(f"/goals/{goal['id']}/delete", data={"csrf_token": csrf_of(shown)})
    assert r.status_code == 303 and (await client.get("/api/v1/goals")).json()["items"] == []


async def test_goals_page_records_spend_and_shows_the_return(client: httpx.AsyncClient, anon: httpx.AsyncClient
                                                             ) -> None:
    ch = await make_channel(client, name="News")
    await _followers(client, ch["id"])
    assert (await sign_in(anon)).status_code == 303
    page = await anon.get("/goals")
    assert "No spend, clicks or follower numbers" not in page.text  # the follower readings already count
    form = {"csrf_token": csrf_of(page.text), "channel_id": ch["id"], "amount": "60", "currency": "euro",
            "start": _day(-29), "end": _day(0), "note": "boost"}
    bad = await anon.post("/goals/spend", data=form)
    assert bad.status_code == 422 and "ISO 4217" in bad.text
    r = await anon.post("/goals/spend", data={**form, "currency": "EUR"})
    assert r.status_code == 303, r.text
    shown = (await anon.get("/goals?done=spend_added")).text
    assert "The spend is recorded." in shown and "60.00 EUR" in shown
    # 280 followers gained over the 30 days (1,710 to 1,990 in the readings): 0.21 EUR each
    assert ">280<" in shown and ">0.21<" in shown
