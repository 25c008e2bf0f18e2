"""Engagement from the platforms (the VK and Instagram fakes over httpx): channel sync and competitor audiences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select

from app.db import session_scope
from app.models import AnalyzerPrior, EngagementPost, EngagementSnapshot, Target
from tests.analytics.conftest import Fakes, planted_rows
from tests.conftest import make_channel

VK_TOKEN = "vk1.a.abcdefghijklmnopqrstuvwxyz"
IG_TOKEN = "EAAabcdefghijklmnopqrstuvwxyz"
IG_USER = "17841400000000001"


def _vk_posts(owner: int, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"owner_id": owner, "text": f"post {i}", "date": int(datetime.fromisoformat(r["posted_at"]).timestamp()),
             "likes": r["likes"], "reposts": r["shares"], "comments": r["comments"], "views": r["views"]}
            for i, r in enumerate(rows)]


def _seed_vk(fakes: Fakes, *, own_posts: int = 12, rival: list[dict[str, Any]] | None = None) -> None:
    own = planted_rows(own_posts, "Europe/Moscow", peak=None, seed=3, weeks=2)
    fakes.vk.state.fake.seed({
        "tokens": [{"token": VK_TOKEN, "user_id": 1}],
        "groups": [{"id": 123456, "name": "Ours", "screen_name": "ours", "members_count": 5000, "admins": {"1": 3}},
                   {"id": 777, "name": "Rivals", "screen_name": "rivals", "members_count": 90000}],
        "posts": _vk_posts(-123456, own) + _vk_posts(-777, rival or []),
    })


async def _rows(fakes: Fakes, channel_id: str) -> list[EngagementPost]:
    async with fakes.app.state.sessionmaker() as s:
        stmt = select(EngagementPost).where(EngagementPost.channel_id == channel_id)
        return list((await s.execute(stmt.order_by(EngagementPost.posted_at))).scalars())


async def test_vk_sync_stores_history_links_our_posts_and_never_doubles(fakes: Fakes) -> None:
    client = fakes.client
    _seed_vk(fakes)
    ch = await make_channel(client, "vk")
    draft = (await client.post("/api/v1/posts", json={"text": "ours", "channel_ids": [ch["id"]]})).json()
    async with session_scope(fakes.app.state.sessionmaker) as s:  # as if the publisher had sent it as post 3
        target = (await s.execute(select(Target).where(Target.post_id == draft["id"]))).scalar_one()
        target.status, target.external_id = "published", "-123456_3"
        target.published_at = datetime.now(UTC) - timedelta(days=1)
        target_id = target.id

    r = await client.post(f"/api/v1/channels/{ch['id']}/engagement/sync")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["imported"], body["updated"], body["followers"], body["linked"]) == (12, 0, 5000, 1)
    rows = await _rows(fakes, ch["id"])
    assert len(rows) == 12 and {r.source for r in rows} == {"sync", "published"}
    linked = [r for r in rows if r.target_id]
    assert len(linked) == 1 and linked[0].target_id == target_id and linked[0].external_id == "-123456_3"
    assert all(r.followers == 5000 and r.likes is not None and r.views is not None for r in rows)

    again = (await client.post(f"/api/v1/channels/{ch['id']}/engagement/sync")).json()
    assert (again["imported"], again["updated"]) == (0, 0) and 0 < again["unchanged"] <= 12  # the last week again
    assert datetime.fromisoformat(again["since"]) > datetime.fromisoformat(body["since"])
    fakes.vk.state.fake.walls[-123456][-1].likes += 50  # the numbers of a recent post grow on the platform
    grown = (await client.post(f"/api/v1/channels/{ch['id']}/engagement/sync")).json()
    assert (grown["imported"], grown["updated"]) == (0, 1)
    assert len(await _rows(fakes, ch["id"])) == 12
    async with fakes.app.state.sessionmaker() as s:
        assert (await s.execute(select(func.count()).select_from(EngagementSnapshot))).scalar_one() == 13
    slots = (await client.get(f"/api/v1/channels/{ch['id']}/best-slots")).json()
    assert slots["has_history"] is True


async def test_vk_rejected_token_marks_the_channel(fakes: Fakes) -> None:
    _seed_vk(fakes)
    ch = await make_channel(fakes.client, "vk", credentials={"access_token": "vk1.a.unknown-token-xyz",
                                                             "owner_id": -123456})
    r = await fakes.client.post(f"/api/v1/channels/{ch['id']}/engagement/sync")
    assert r.status_code == 422 and "VK rejected the token" in r.json()["detail"]
    assert "authorization failed" in r.json()["detail"].lower()
    assert (await fakes.client.get(f"/api/v1/channels/{ch['id']}")).json()["status"] == "needs_reauth"


async def test_vk_competitor_wall_and_saved_prior(fakes: Fakes) -> None:
    client = fakes.client
    _seed_vk(fakes, rival=planted_rows(500, "Europe/Moscow", peak=(3, 20), seed=1, lift=1.2))
    reader = await make_channel(client, "vk", name="reader")
    r = await client.post("/api/v1/analyze/community", json={"platform": "vk", "community": "https://vk.com/rivals"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "vk:https://vk.com/rivals" and body["posts_read"] == 500
    assert body["timezone"] == "Europe/Moscow" and body["effect_detected"] is True and len(body["slots"]) == 5
    assert (body["slots"][0]["weekday"], abs(body["slots"][0]["hour"] - 20) <= 1) == (3, True)
    assert set(body["slots"][0]) == {"weekday", "hour", "score", "low", "high", "posts"}

    fresh = await make_channel(client, "vk", name="fresh")
    before = (await client.get(f"/api/v1/channels/{fresh['id']}/best-slots")).json()
    assert before["slots"] == [] and "prior" not in before
    saved = (await client.post("/api/v1/analyze/community", json={
        "platform": "vk", "community": "club777", "channel_id": reader["id"], "save_as_prior": True})).json()
    assert saved["prior_id"]
    after = (await client.get(f"/api/v1/channels/{fresh['id']}/best-slots")).json()
    assert after["posts_used"] == 0 and "vk:club777" in after["prior"]
    assert after["slots"][0]["weekday"] == 3 and abs(after["slots"][0]["hour"] - 20) <= 1
    async with fakes.app.state.sessionmaker() as s:
        prior = await s.get(AnalyzerPrior, saved["prior_id"])
        assert prior is not None and prior.platform == "vk" and len(prior.cells["mean"]) == 168


async def test_community_needs_a_channel_to_read_with(fakes: Fakes) -> None:
    _seed_vk(fakes)
    r = await fakes.client.post("/api/v1/analyze/community", json={"platform": "vk", "community": "rivals"})
    assert r.status_code == 422 and "no active vk channel" in r.json()["detail"]
    r = await fakes.client.post("/api/v1/analyze/community", json={"platform": "instagram"})
    assert r.status_code == 422 and "username" in r.json()["detail"]
    await make_channel(fakes.client, "vk")
    r = await fakes.client.post("/api/v1/analyze/community", json={"platform": "vk", "community": "nosuchgroup"})
    assert r.status_code == 422 and r.json()["detail"].startswith("VK refused")


def _ig_media(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"caption": "x", "timestamp": datetime.fromisoformat(r["posted_at"]).timestamp(),
             "like_count": r["likes"], "comments_count": r["comments"]} for r in rows]


async def test_instagram_business_discovery_and_audience_online(fakes: Fakes) -> None:
    client = fakes.client
    rival = planted_rows(100, "Europe/Moscow", peak=(5, 12), seed=4, weeks=8)
    fakes.instagram.state.fake.seed({
        "users": [{"id": IG_USER, "username": "our_shop", "followers_count": 1200,
                   "media": _ig_media(planted_rows(5, "Europe/Moscow", peak=None, weeks=2))},
                  {"id": "17841400000000099", "username": "rival_shop", "followers_count": 48000,
                   "media": _ig_media(rival)}],
        "tokens": [{"token": IG_TOKEN, "ig_user_ids": [IG_USER]}],
    })
    ig = await make_channel(client, "instagram")
    r = await client.post("/api/v1/analyze/community", json={"platform": "instagram", "username": "@rival_shop",
                                                             "save_as_prior": True, "apply_to_channel_id": ig["id"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "instagram:rival_shop" and body["posts_read"] == 100 and body["slots"]
    missing = await client.post("/api/v1/analyze/community", json={"platform": "instagram", "username": "no_such"})
    assert missing.status_code == 422 and missing.json()["detail"].startswith("Instagram refused")

    synced = (await client.post(f"/api/v1/channels/{ig['id']}/engagement/sync")).json()
    assert synced["imported"] == 5 and synced["followers"] == 1200 and synced["audience_online"] is True
    async with fakes.app.state.sessionmaker() as s:
        priors = list((await s.execute(select(AnalyzerPrior).where(AnalyzerPrior.channel_id == ig["id"]))).scalars())
    assert sorted(p.source for p in priors) == ["instagram:rival_shop", "online_followers"]
    assert len(priors[0].cells.get("by_hour_utc") or priors[1].cells["by_hour_utc"]) == 24
    # a prior a person applied outranks the measured curve the sync keeps refreshing
    best = (await client.get(f"/api/v1/channels/{ig['id']}/best-slots")).json()
    assert "instagram:rival_shop" in best["prior"]


async def test_periodic_job_syncs_every_active_channel(fakes: Fakes) -> None:
    from app.analytics.sync import sync_all
    from app.jobs import PERIODIC_JOBS

    assert "engagement-sync" in [job.job_id for job in PERIODIC_JOBS]
    _seed_vk(fakes)
    ch = await make_channel(fakes.client, "vk")
    off = await make_channel(fakes.client, "vk", name="off")
    assert (await fakes.client.patch(f"/api/v1/channels/{off['id']}", json={"status": "disabled"})).status_code == 200
    await make_channel(fakes.client)  # telegram: the Bot API lists no history, skipped
    state = fakes.app.state
    runner = SimpleNamespace(maker=state.sessionmaker, hub=state.hub, box=state.box, clock=lambda: datetime.now(UTC))
    assert await sync_all(runner) == 1  # type: ignore[arg-type]
    assert len(await _rows(fakes, ch["id"])) == 12 and await _rows(fakes, off["id"]) == []
