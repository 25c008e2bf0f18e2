"""Upgrades keep data: a database made by the first released schema (0001), with channels, posts, targets,
attempts, series, media and engagement in it, migrates to head and reads back through the API unchanged.

The old schema cannot be filled through today's service (its models are the new schema), so the rows are
written with SQLAlchemy Core into the tables as 0001 reflected them — the shapes the released code wrote
(UTC instants as the released ``UTCDateTime`` stored them, credentials sealed with the key) — and everything
is then checked through the HTTP API and ``smm migrate --check``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import DateTime, MetaData, insert
from sqlalchemy.engine import Connection

from app.config import Settings
from app.db import make_engine
from app.migrate import alembic_config, head_revision, schema_at_head, upgrade_to_head
from app.models.base import UTCDateTime
from app.security import CredentialBox, hash_api_key
from tests.conftest import API_KEY, BACKEND, PG_SERVER, SECRET_KEY, _pg_admin, make_settings
from tests.test_cli import smm

FIRST_RELEASED = "0001"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all (not the suite's migrated template)."""
    if BACKEND == "postgres":
        name = f"smm_upgrade_{uuid.uuid4().hex[:10]}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        yield f"{PG_SERVER}/{name}"
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"


def _upgrade_to(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def _seed_rows(box: CredentialBox) -> dict[str, list[dict[str, Any]]]:
    ws, ch_tg, ch_vk, series_id = "w" * 32, "c" * 32, "d" * 32, "s" * 32
    post_done, post_next, post_draft = "p" * 32, "q" * 32, "r" * 32
    t_done, t_vk, t_next, t_draft = "t" * 32, "u" * 32, "v" * 32, "x" * 32
    stamp = {"created_at": T0, "updated_at": T0}
    target = {"overrides": {}, "attempts": 0, "failures": 0, "checkpoint": {}, "late": False, **stamp}
    post = {"workspace_id": ws, "media": [], "options": {"text_format": "plain"}, "priority": 3, **stamp}
    return {
        "workspaces": [{"id": ws, "name": "default", "timezone": "Europe/Berlin", "country": "DE",
                        "created_at": T0}],
        "api_keys": [{"id": "k" * 32, "workspace_id": ws, "key_hash": hash_api_key(API_KEY), "prefix": API_KEY[:8],
                      "name": "bootstrap", "created_at": T0}],
        "channels": [
            {"id": ch_tg, "workspace_id": ws, "platform": "telegram", "name": "News", "timezone": "Europe/Berlin",
             "status": "active", "credentials_sealed": box.seal({"bot_token": "1:AAA", "chat_id": "@news"}),
             "sandbox": False, "account": {"username": "news"}, **stamp},
            {"id": ch_vk, "workspace_id": ws, "platform": "vk", "name": "Wall", "timezone": "Europe/Moscow",
             "status": "needs_reauth", "status_reason": "User authorization failed",
             "credentials_sealed": box.seal({"access_token": "vk1.a.x", "owner_id": "-5"}), "sandbox": False,
             "account": {}, **stamp},
        ],
        "series": [{"id": series_id, "workspace_id": ws, "name": "Monday digest", "cron": "0 9 * * mon",
                    "timezone": "Europe/Berlin", "template": {"text": "Digest"}, "channel_ids": [ch_tg],
                    "status": "paused", "materialized_until": T0, **stamp}],
        "media_files": [{"id": "m" * 32, "workspace_id": ws, "filename": "a.png", "mime_type": "image/png",
                         "size": 68, "kind": "photo", "created_at": T0}],
        "posts": [
            {"id": post_done, "text": "Published hello", "scheduled_at": T0, "timezone": "Europe/Berlin",
             "order_at": T0, "rubric": "news", **post},
            {"id": post_next, "text": "Next week", "scheduled_at": T0 + timedelta(days=400), "order_at":
             T0 + timedelta(days=400), "series_id": series_id, "occurrence_at": T0 + timedelta(days=400), **post},
            {"id": post_draft, "text": "A draft", "order_at": T0, **post},
        ],
        "targets": [
            {**target, "id": t_done, "post_id": post_done, "channel_id": ch_tg, "order_at": T0,
             "status": "published", "attempts": 1, "external_id": "42", "url": "https://t.me/news/42",
             "published_at": T0 + timedelta(seconds=1), "late_by_s": 1.0},
            {**target, "id": t_vk, "post_id": post_done, "channel_id": ch_vk, "order_at": T0, "status": "failed",
             "attempts": 1, "last_error": "User authorization failed", "error_code": "5"},
            {**target, "id": t_next, "post_id": post_next, "channel_id": ch_tg, "order_at": T0 + timedelta(days=400),
             "status": "scheduled", "next_attempt_at": T0 + timedelta(days=400)},
            {**target, "id": t_draft, "post_id": post_draft, "channel_id": ch_tg, "order_at": T0, "status": "draft"},
        ],
        "attempts": [
            {"id": "a" * 32, "target_id": t_done, "started_at": T0, "finished_at": T0 + timedelta(seconds=1),
             "worker": "old-host-1", "outcome": "published"},
            {"id": "b" * 32, "target_id": t_vk, "started_at": T0, "finished_at": T0, "worker": "old-host-1",
             "outcome": "failed", "error_class": "AuthError", "message": "User authorization failed"},
        ],
        "engagement_posts": [
            {"id": f"e{i:031d}", "channel_id": ch_tg, "dedupe_key": f"ext{i}", "external_id": f"ext{i}",
             "posted_at": T0 - timedelta(hours=7 * i), "kind": "text", "source": "import", "likes": 10 + i,
             "views": 1000 + 10 * i, "reach": 900, "followers": 5000, "updated_at": T0} for i in range(30)
        ],
    }


def _seed(connection: Connection) -> None:
    meta = MetaData()
    meta.reflect(connection)
    for table in meta.tables.values():  # write instants the way the released UTCDateTime did
        for column in table.columns:
            if isinstance(column.type, DateTime):
                column.type = UTCDateTime()
    for name, rows in _seed_rows(CredentialBox(SECRET_KEY)).items():
        for row in rows:  # one by one: the rows leave different columns to their defaults
            connection.execute(insert(meta.tables[name]).values(**row))


async def _prepare_old_database(settings: Settings) -> None:
    engine = make_engine(settings)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_to, FIRST_RELEASED)
        async with engine.begin() as conn:
            await conn.run_sync(_seed)
        assert not await schema_at_head(engine) or head_revision() == FIRST_RELEASED
    finally:
        await engine.dispose()


async def test_first_released_schema_upgrades_to_head_with_its_data(empty_database: str, tmp_path: Path) -> None:
    from app.main import create_app

    settings = make_settings(empty_database, tmp_path)
    await _prepare_old_database(settings)
    if head_revision() != FIRST_RELEASED:
        check = await asyncio.to_thread(smm, settings, "migrate", "--check", check=False)
        assert check.returncode == 1 and f"schema is at {FIRST_RELEASED}" in check.stderr
    engine = make_engine(settings)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()
    check = await asyncio.to_thread(smm, settings, "migrate", "--check", check=False)
    assert check.returncode == 0 and "latest schema" in check.stderr

    app = create_app(settings, run_scheduler=False, migrate=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                     headers={"Authorization": f"Bearer {API_KEY}"}) as client:
            channels = {c["name"]: c for c in (await client.get("/api/v1/channels")).json()["items"]}
            assert channels["News"]["status"] == "active" and channels["News"]["account"] == {"username": "news"}
            assert channels["Wall"]["status"] == "needs_reauth"
            assert "credentials" not in channels["News"]

            done = (await client.get(f"/api/v1/posts/{'p' * 32}")).json()
            assert done["status"] == "partially_published" and done["rubric"] == "news"
            by_channel = {t["channel_id"]: t for t in done["targets"]}
            assert by_channel["c" * 32]["url"] == "https://t.me/news/42"
            assert by_channel["c" * 32]["late_by_s"] == 1.0
            assert by_channel["d" * 32]["last_error"] == "User authorization failed"
            attempts = (await client.get(f"/api/v1/posts/{'p' * 32}/attempts")).json()
            assert sorted(a["outcome"] for a in attempts) == ["failed", "published"]

            upcoming = (await client.get(f"/api/v1/posts/{'q' * 32}")).json()
            assert upcoming["status"] == "scheduled"
            assert upcoming["scheduled_at"].startswith((T0 + timedelta(days=400)).date().isoformat())
            assert (await client.get(f"/api/v1/posts/{'r' * 32}")).json()["status"] == "draft"

            series = (await client.get(f"/api/v1/series/{'s' * 32}")).json()
            assert series["name"] == "Monday digest" and series["status"] == "paused"

            heatmap = (await client.get(f"/api/v1/channels/{'c' * 32}/heatmap")).json()
            assert sum(cell["posts"] for cell in heatmap["cells"]) == 30

            # the upgraded database keeps working: the old channel takes a new post
            new = await client.post("/api/v1/posts", json={"text": "After the upgrade", "channel_ids": ["c" * 32],
                                                           "scheduled_at": None})
            assert new.status_code == 201, new.text
