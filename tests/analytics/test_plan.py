"""Scheduling with the analyzer: ``scheduled_at: "auto"`` and ``POST /api/v1/plan/fill``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np

from app.analytics.model import History, fit
from app.analytics.service import ChannelFit
from app.models import Channel
from app.plan.service import Scores, choose
from app.plan.slots import candidates
from tests.analytics.conftest import planted_rows, to_csv, upload
from tests.conftest import make_channel, targets_out_of_step

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")


def _at(post: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(post["scheduled_at"])


async def _planted_channel(client: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    ch = await make_channel(client, **extra)
    assert (await upload(client, ch["id"], to_csv(planted_rows(600, "Europe/Moscow", peak=(1, 18),
                                                               seed=1)))).status_code == 200
    return ch


async def _auto(client: httpx.AsyncClient, channel_ids: list[str], **extra: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/posts", json={"text": "auto", "channel_ids": channel_ids,
                                                 "scheduled_at": "auto", **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_auto_takes_the_best_slot_and_keeps_spacing(client: httpx.AsyncClient) -> None:
    ch = await _planted_channel(client)
    top = (await client.get(f"/api/v1/channels/{ch['id']}/best-slots?count=1")).json()["slots"][0]
    first = await _auto(client, [ch["id"]])
    assert first["status"] == "scheduled" and first["targets"][0]["status"] == "scheduled"
    local = _at(first).astimezone(MOSCOW)
    assert (local.weekday(), local.hour, local.minute, local.second) == (top["weekday"], top["hour"], 0, 0)
    assert _at(first) > datetime.now(UTC)
    second = await _auto(client, [ch["id"]])
    assert abs(_at(second) - _at(first)) >= timedelta(hours=2)
    assert _at(second) - _at(first) == timedelta(days=7)  # the same best cell, a week later
    # a post scheduled by hand occupies its time too
    third_slot = _at(second) + timedelta(days=7)
    manual = await client.post("/api/v1/posts", json={"text": "by hand", "channel_ids": [ch["id"]],
                                                      "scheduled_at": (third_slot + timedelta(minutes=30)).isoformat()})
    assert manual.status_code == 201
    third = await _auto(client, [ch["id"]])
    assert all(abs(_at(third) - _at(p)) >= timedelta(hours=2) for p in (first, second, manual.json()))


async def test_auto_respects_not_before(client: httpx.AsyncClient) -> None:
    ch = await _planted_channel(client)
    later = (datetime.now(UTC) + timedelta(days=20)).replace(microsecond=0)
    post = await _auto(client, [ch["id"]], not_before=later.isoformat())
    assert later <= _at(post) < later + timedelta(days=8)
    assert (_at(post).astimezone(MOSCOW).weekday(), _at(post).astimezone(MOSCOW).hour) == (1, 18)


async def test_auto_without_history_takes_the_next_free_daytime_hour(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client, timezone="Asia/Kolkata")  # a half-hour offset: local hour starts still
    post = await _auto(client, [ch["id"]])
    local = _at(post).astimezone(ZoneInfo("Asia/Kolkata"))
    assert local.minute == 0 and 9 <= local.hour <= 21
    now = datetime.now(UTC)
    assert now < _at(post) <= now + timedelta(hours=25)
    again = await _auto(client, [ch["id"]])
    assert _at(again) - _at(post) >= timedelta(hours=2)


def test_candidates_skip_the_spring_gap_and_offer_the_autumn_hour_once() -> None:
    spring = candidates(BERLIN, datetime(2026, 3, 29, tzinfo=BERLIN), datetime(2026, 3, 30, tzinfo=BERLIN))
    assert len(spring) == 23 and 2 not in [t.astimezone(BERLIN).hour for t in spring]
    autumn = candidates(BERLIN, datetime(2026, 10, 25, tzinfo=BERLIN), datetime(2026, 10, 26, tzinfo=BERLIN))
    hours = [t.astimezone(BERLIN).hour for t in autumn]
    assert len(autumn) == 24 and hours.count(2) == 1 and hours == sorted(hours)


def test_choice_is_dst_correct() -> None:
    channel = Channel(id="c1", name="berlin", timezone="Europe/Berlin", platform="vk", workspace_id="w")
    empty = fit(History(posted_at=np.array([], dtype=np.float64)), "Europe/Berlin", now=datetime.now(UTC))
    key = np.full(168, -1.0)
    key[6 * 24 + 2], key[6 * 24 + 3], key[6 * 24 + 4] = 1.0, 0.5, 0.4  # Sunday 02:00 best, then 03:00, 04:00
    scores = [Scores(channel, ChannelFit(empty, "test", 0), key)]
    gap = timedelta(hours=2)
    spring = choose(scores, {}, datetime(2026, 3, 28, 12, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC), gap)
    assert spring is not None and spring.at == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST: 02:00 is gone
    autumn = choose(scores, {}, datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC), gap)
    assert autumn is not None and autumn.at == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)  # 02:00 CEST, first pass
    busy = {"c1": [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]}
    moved = choose(scores, busy, datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC), gap)
    assert moved is not None and moved.at == datetime(2026, 10, 25, 3, 0, tzinfo=UTC)  # 04:00 CET


async def _draft(client: httpx.AsyncClient, channel_id: str, text: str, priority: int) -> str:
    r = await client.post("/api/v1/posts", json={"text": text, "channel_ids": [channel_id], "priority": priority})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_plan_fill_dry_run_then_confirm(client: httpx.AsyncClient, app: Any) -> None:
    ch = await _planted_channel(client)
    low = await _draft(client, ch["id"], "low", 5)
    high = await _draft(client, ch["id"], "high", 1)
    mid = await _draft(client, ch["id"], "mid", 3)
    scheduled = await _auto(client, [ch["id"]])
    top = (await client.get(f"/api/v1/channels/{ch['id']}/best-slots?count=1")).json()["slots"][0]

    r = await client.post("/api/v1/plan/fill", json={"drafts": "all"})
    assert r.status_code == 200, r.text
    dry = r.json()
    assert dry["committed"] is False and dry["unplaced"] == []
    assert [p["post_id"] for p in dry["plan"]] == [high, mid, low]
    times = [datetime.fromisoformat(p["scheduled_at"]) for p in dry["plan"]]
    assert all(abs(a - b) >= timedelta(hours=2) for i, a in enumerate(times) for b in [*times[i + 1:],
                                                                                      _at(scheduled)])
    best = dry["plan"][0]
    assert (best["slot"]["weekday"], best["slot"]["hour"]) == (top["weekday"], top["hour"])
    assert best["channel_ids"] == [ch["id"]] and "best free slot" in best["reason"]
    assert dry["plan"][0]["slot"]["score"] >= dry["plan"][2]["slot"]["score"]
    for pid in (low, high, mid):  # nothing changed
        post = (await client.get(f"/api/v1/posts/{pid}")).json()
        assert post["status"] == "draft" and post["scheduled_at"] is None

    done = (await client.post("/api/v1/plan/fill", json={"drafts": "all", "confirm": True})).json()
    assert done["committed"] is True
    assert [(p["post_id"], p["scheduled_at"]) for p in done["plan"]] == [(p["post_id"], p["scheduled_at"])
                                                                         for p in dry["plan"]]
    for item in done["plan"]:
        post = (await client.get(f"/api/v1/posts/{item['post_id']}")).json()
        assert post["status"] == "scheduled" and _at(post) == datetime.fromisoformat(item["scheduled_at"])
    assert await targets_out_of_step(app) == []  # the channel calendar sees the placed drafts at their times
    again = (await client.post("/api/v1/plan/fill", json={"drafts": "all"})).json()
    assert again["plan"] == []


async def test_plan_fill_requests(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    other = await make_channel(client, name="other")
    draft = await _draft(client, ch["id"], "d", 2)
    elsewhere = await _draft(client, other["id"], "e", 2)
    scheduled = await _auto(client, [ch["id"]])
    r = await client.post("/api/v1/plan/fill", json={"post_ids": [draft, scheduled["id"]]})
    body = r.json()
    assert [p["post_id"] for p in body["plan"]] == [draft]
    assert "no engagement history" in body["plan"][0]["reason"]
    assert body["unplaced"] == [{"post_id": scheduled["id"],
                                 "reason": "not a draft: it is already scheduled or further along"}]
    only = (await client.post("/api/v1/plan/fill", json={"drafts": "all", "channel_ids": [other["id"]]})).json()
    assert [p["post_id"] for p in only["plan"]] == [elsewhere]
    assert (await client.post("/api/v1/plan/fill", json={"post_ids": ["nope"]})).status_code == 422
    assert (await client.post("/api/v1/plan/fill", json={})).status_code == 422
    assert (await client.post("/api/v1/plan/fill", json={"drafts": "all", "end": "2001-01-01T00:00:00Z"})
            ).status_code == 422
    tight = (await client.post("/api/v1/plan/fill", json={
        "post_ids": [draft], "start": (_at(scheduled) + timedelta(minutes=10)).isoformat(),
        "end": (_at(scheduled) + timedelta(minutes=70)).isoformat()})).json()
    assert tight["plan"] == [] and tight["unplaced"][0]["post_id"] == draft
