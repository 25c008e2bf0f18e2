"""Recurring series: materialisation, DST rules, no backlog — with explicit clocks, no sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from app.db import session_scope
from app.models import Post, Series, Target
from app.series import rules, service
from tests.conftest import make_channel, targets_out_of_step


def series(cron: str, zone: str, **extra: Any) -> rules.Rule:
    return service.rule_of(Series(workspace_id="w", name="s", cron=cron, timezone=zone, template={}, channel_ids=[],
                                  **extra))


def occurrences(rule: rules.Rule, after: datetime, until: datetime) -> list[datetime]:
    return rules.occurrences(rule, after, until, 500)


def test_spring_forward_gap_moves_forward_once() -> None:
    s = series("30 2 * * *", "Europe/Berlin")
    got = occurrences(s, datetime(2026, 3, 27, 12, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))
    # 02:30 does not exist on 29 March in Berlin: it runs at 03:30 CEST (01:30 UTC), once
    assert got == [
        datetime(2026, 3, 28, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 30, 0, 30, tzinfo=UTC),
    ]


def test_fall_back_fold_runs_once() -> None:
    s = series("30 2 * * *", "Europe/Berlin")
    got = occurrences(s, datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 27, tzinfo=UTC))
    assert got == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 26, 1, 30, tzinfo=UTC)]
    half_hourly = series("*/30 1-3 * * *", "Europe/Berlin")
    day = occurrences(
        half_hourly, datetime(2026, 10, 24, 22, tzinfo=UTC), datetime(2026, 10, 25, 4, tzinfo=UTC)
    )
    walls = [d.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin")).strftime("%H:%M") for d in day]
    assert walls == ["01:00", "01:30", "02:00", "02:30", "03:00", "03:30"]  # no wall time twice


def test_weekly_rule_in_zone_and_end() -> None:
    s = series("31 18 * * mon", "Europe/Moscow", ends_at=datetime(2026, 12, 15, tzinfo=UTC))
    got = occurrences(s, datetime(2026, 11, 26, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert got == [
        datetime(2026, 11, 30, 15, 31, tzinfo=UTC),
        datetime(2026, 12, 7, 15, 31, tzinfo=UTC),
        datetime(2026, 12, 14, 15, 31, tzinfo=UTC),
    ]


async def test_api_create_materialises_ordinary_posts(client: httpx.AsyncClient, app: Any) -> None:
    ch = await make_channel(client)
    r = await client.post(
        "/api/v1/series",
        json={
            "name": "Gadget story",
            "cron": "31 18 * * mon",
            "timezone": "Europe/Moscow",
            "template": {"text": "The gadget story"},
            "channel_ids": [ch["id"]],
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "active" and len(body["next_occurrences"]) == 5
    first = datetime.fromisoformat(body["next_occurrences"][0])
    assert first.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Moscow")).strftime("%a %H:%M") == "Mon 18:31"
    posts = (await client.get("/api/v1/posts")).json()["items"]
    assert len(posts) == 2 and all(p["series_id"] == body["id"] for p in posts)  # 14-day horizon
    assert posts[0]["text"] == "The gadget story" and posts[0]["status"] == "scheduled"
    # an occurrence is an ordinary post: it can be edited on its own
    r = await client.patch(f"/api/v1/posts/{posts[0]['id']}", json={"text": "This week: a special"})
    assert r.status_code == 200
    assert await targets_out_of_step(app) == []  # the calendar's copy of each occurrence's time
    # materialising again is idempotent
    async with session_scope(app.state.sessionmaker) as s:
        made, _ = await service.run_all(s, datetime.now(UTC), 14)
        assert made == 0
        count = (await s.execute(select(func.count()).select_from(Post))).scalar_one()
    assert count == 2


async def test_api_rejects_bad_rules(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    base = {"name": "x", "timezone": "Europe/Moscow", "template": {"text": "x"}, "channel_ids": [ch["id"]]}
    r = await client.post("/api/v1/series", json={**base, "cron": "61 25 * * *"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cron"
    r = await client.post("/api/v1/series", json={**base, "cron": "0 9 * * *", "timezone": "Mars/Olympus"})
    assert r.status_code == 422
    r = await client.post("/api/v1/series", json={**base, "cron": "0 9 * * *", "template": {"text": "a" * 5000}})
    assert r.status_code == 422 and "4096" in r.json()["detail"]


async def test_no_backlog_after_downtime_and_pause_resume(client: httpx.AsyncClient, app: Any) -> None:
    ch = await make_channel(client)
    r = await client.post(
        "/api/v1/series",
        json={
            "name": "hourly",
            "cron": "0 * * * *",
            "timezone": "UTC",
            "template": {"text": "tick"},
            "channel_ids": [ch["id"]],
        },
    )
    sid = r.json()["id"]
    later = datetime.now(UTC) + timedelta(days=3)  # three days of downtime
    async with session_scope(app.state.sessionmaker) as s:
        _, dropped = await service.run_all(s, later, 14)
    assert dropped >= 70
    async with app.state.sessionmaker() as s:
        overdue = (
            await s.execute(
                select(func.count())
                .select_from(Target)
                .where(Target.status == "scheduled", Target.next_attempt_at <= later)
            )
        ).scalar_one()
        note = (await s.execute(select(Target.last_error).where(Target.status == "cancelled").limit(1))).scalar_one()
    assert overdue == 1 and "backlog" in (note or "")  # only the latest missed occurrence may still go out
    r = await client.patch(f"/api/v1/series/{sid}", json={"status": "paused"})
    assert r.status_code == 200 and r.json()["status"] == "paused" and r.json()["next_occurrences"] == []
    scheduled = (await client.get("/api/v1/posts", params={"status": "scheduled"})).json()["items"]
    assert scheduled == []
    r = await client.patch(f"/api/v1/series/{sid}", json={"status": "active"})
    assert r.status_code == 200
    scheduled = (await client.get("/api/v1/posts", params={"status": "scheduled", "limit": 500})).json()["items"]
    # the coming 14 days of hours again (less the ones this test's fake downtime already cancelled)
    assert len(scheduled) >= 14 * 24 - 3 * 24 - 2
    assert all(datetime.fromisoformat(p["scheduled_at"]) > datetime.now(UTC) for p in scheduled)
    assert (await client.delete(f"/api/v1/series/{sid}")).status_code == 204
    assert (await client.get(f"/api/v1/series/{sid}")).status_code == 404
