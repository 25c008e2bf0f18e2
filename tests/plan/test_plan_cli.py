"""`smm goals list|add|remove`, `smm clicks` and `smm spend add|list|remove`, run as real processes against the
test database, agreeing with the API (the same services answer both)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.config import Settings
from tests.conftest import make_channel
from tests.test_cli import smm

pytestmark = pytest.mark.slow


async def _clicked_post(client: httpx.AsyncClient, anon: httpx.AsyncClient, clicks: int) -> tuple[dict, str]:
    await client.patch("/api/v1/workspace", json={"short_links": True})
    ch = await make_channel(client, name="Main news")
    r = await client.post("/api/v1/posts", json={"text": "Sale https://shop.example/s", "channel_ids": [ch["id"]],
                                                 "scheduled_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()})
    assert r.status_code == 201, r.text
    code = (await client.get(f"/api/v1/posts/{r.json()['id']}/preview")).json()["channels"][0]["short_links"][0]
    for _ in range(clicks):
        assert (await anon.get(f"/l/{code['code']}")).status_code == 302
    return ch, r.json()["id"]


async def test_clicks_and_spend(settings: Settings, client: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    ch, post_id = await _clicked_post(client, anon, clicks=2)
    today = datetime.now(UTC).date()
    body = json.loads(smm(settings, "clicks", "--json").stdout)
    api = (await client.get("/api/v1/clicks")).json()
    assert body == api and body["total"] == 2
    assert body["by_post"] == [{"post_id": post_id, "clicks": 2}]
    assert body["by_day"] == [{"date": today.isoformat(), "clicks": 2}]
    text = smm(settings, "clicks").stdout
    assert text.startswith(f"clicks 2 from {(today - timedelta(days=29)).isoformat()} to {today.isoformat()}")
    assert re.search(rf"^\s+2\s+{ch['id']}\s+Main news$", text, re.M) and re.search(rf"^\s+2\s+{post_id}$", text, re.M)
    assert json.loads(smm(settings, "clicks", "--json", "--channel", "other").stdout)["total"] == 0
    bad = smm(settings, "clicks", "--start", "2030-01-02", "--end", "2030-01-01", check=False)
    assert bad.returncode == 2 and "end is before start" in bad.stderr and not bad.stdout

    start = (today - timedelta(days=9)).isoformat()
    added = smm(settings, "spend", "add", "--channel", ch["id"], "--amount", "60", "--currency", "eur", "--start",
                start, "--end", today.isoformat(), "--note", "boosted post").stdout
    assert re.search(rf"{ch['id']}\s+60\.00 EUR\s+{start} \.\. {today.isoformat()}\s+boosted post", added), added
    for args, words in ((["--currency", "euro"], "not a currency code"), (["--currency", "EUR", "--end", "2000-01-01"],
                        "the period ends before it starts")):
        refused = smm(settings, "spend", "add", "--channel", ch["id"], "--amount", "5", "--start", start,
                      *(args if "--end" in args else [*args, "--end", today.isoformat()]), check=False)
        assert refused.returncode == 2 and words in refused.stderr, refused.stderr
    missing = smm(settings, "spend", "add", "--channel", "nope", "--amount", "5", "--currency", "EUR", "--start",
                  start, "--end", start, check=False)
    assert missing.returncode == 2 and "Channel not found." in missing.stderr
    listed = json.loads(smm(settings, "spend", "list", "--json").stdout)
    api_items = (await client.get(f"/api/v1/channels/{ch['id']}/spend")).json()["items"]
    assert listed["items"] == api_items and len(api_items) == 1
    assert listed["report"]["items"][0]["spend"][0]["per_click"] == 30.0  # 60 EUR over 2 clicks
    shown = smm(settings, "spend", "list", "--channel", ch["id"]).stdout
    assert "spent 60.00 EUR: 30.00 EUR a click, no cost a follower yet" in shown and "2 clicks" in shown
    smm(settings, "spend", "remove", "--channel", ch["id"], api_items[0]["id"])
    assert (await client.get(f"/api/v1/channels/{ch['id']}/spend")).json()["items"] == []
    gone = smm(settings, "spend", "remove", "--channel", ch["id"], api_items[0]["id"], check=False)
    assert gone.returncode == 2 and "Spend entry not found." in gone.stderr


async def test_goals(settings: Settings, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    deadline = (datetime.now(UTC).date() + timedelta(days=60)).isoformat()
    out = json.loads(smm(settings, "goals", "add", "--metric", "engagement_rate", "--target", "5%", "--deadline",
                         deadline, "--channel", ch["id"], "--name", "Spring", "--json").stdout)
    assert (out["metric"], out["target"], out["channel_id"], out["name"]) == ("engagement_rate", 0.05, ch["id"],
                                                                               "Spring")
    line = smm(settings, "goals", "add", "--metric", "posts_per_week", "--target", "3", "--deadline", deadline).stdout
    assert re.match(r"\S+\s+posts_per_week\s+target 3\s+by " + deadline, line) and "all channels" in line
    for args, words in ((["--metric", "likes", "--target", "3"], "'likes' is not a metric"),
                        (["--metric", "engagement_rate", "--target", "150%"], "is a share: give it from 0 to 1"),
                        (["--metric", "followers", "--target", "lots"], "'lots' is not a number")):
        refused = smm(settings, "goals", "add", *args, "--deadline", deadline, check=False)
        assert refused.returncode == 2 and words in refused.stderr and not refused.stdout, refused.stderr
    past = smm(settings, "goals", "add", "--metric", "followers", "--target", "9", "--deadline", "2020-01-01",
               check=False)
    assert past.returncode == 2 and "after today" in past.stderr
    listed = json.loads(smm(settings, "goals", "list", "--json").stdout)
    api = (await client.get("/api/v1/goals")).json()["items"]
    assert [(g["id"], g["status"], g["target"]) for g in listed] == [(g["id"], g["status"], g["target"]) for g in api]
    assert len(listed) == 2
    text = smm(settings, "goals", "list").stdout
    assert "target 5%" in text and "Spring" in text
    smm(settings, "goals", "remove", out["id"])
    assert [g["id"] for g in (await client.get("/api/v1/goals")).json()["items"]] == [listed[1]["id"]]
    again = smm(settings, "goals", "remove", out["id"], check=False)
    assert again.returncode == 2 and "Goal not found." in again.stderr


def test_the_new_commands_load_their_services_lazily() -> None:
    code = ("import sys, app.goals.cli, app.links.cli; "
            "print(sorted(m for m in ('app.goals.service', 'app.links.service', 'app.links.costs', "
            "'sqlalchemy', 'fastapi') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
