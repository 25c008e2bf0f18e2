"""Shared fixtures: a real database per backend (SMM_TEST_DB=sqlite|postgres), the app, an API client.

The suite runs once per backend: ``SMM_TEST_DB=sqlite pytest`` and ``SMM_TEST_DB=postgres pytest``. On
PostgreSQL a fresh database is created for the run (``SMM_TEST_PG_URL`` names the server) and every test
starts from empty tables; on SQLite every test gets its own migrated file.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.db import make_engine
from app.migrate import upgrade_to_head
from app.models import Base

BACKEND = os.environ.get("SMM_TEST_DB", "sqlite")
PG_SERVER = os.environ.get("SMM_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
API_KEY = "smm_test_key_0123456789abcdefghijklmnopqrstuvwxyz"
SECRET_KEY = "x2mXyq3pSlN9b1q2N6W3vN8cUu0kYV3Xy6tH5Lq9S0E="


def pytest_report_header() -> str:
    return f"smm database backend: {BACKEND}"


async def _pg_admin(sql: str) -> None:
    engine = create_async_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for the run: a SQLite file to copy, or a fresh PostgreSQL database."""
    if BACKEND == "postgres":
        name = f"smm_test_{uuid.uuid4().hex[:10]}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        url = f"{PG_SERVER}/{name}"
        asyncio.run(_migrate(url, tmp_path_factory.mktemp("pgdata")))
        yield url
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        folder = tmp_path_factory.mktemp("template")
        url = f"sqlite+aiosqlite:///{folder / 'template.db'}"
        asyncio.run(_migrate(url, folder))
        yield str(folder / "template.db")


async def _migrate(url: str, data_dir: Path) -> None:
    engine = make_engine(Settings(database_url=url, data_dir=data_dir))
    await upgrade_to_head(engine)
    await engine.dispose()


async def _truncate(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        await conn.execute(text(f"TRUNCATE {names} CASCADE"))
    await engine.dispose()


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> Iterator[str]:
    if BACKEND == "postgres":
        asyncio.run(_truncate(database_template))
        yield database_template
    else:
        target = tmp_path / "smm.db"
        shutil.copy(database_template, target)
        yield f"sqlite+aiosqlite:///{target}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


def make_settings(database_url: str, data_dir: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "secret_key": SECRET_KEY,
        "bootstrap_api_key": API_KEY,
        "host": "127.0.0.1",
        "port": 8000,
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    from app.main import create_app

    application = create_app(settings, run_scheduler=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                 headers={"Authorization": f"Bearer {API_KEY}"}) as c:
        yield c


@pytest.fixture
async def anon(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


TG_TOKEN = "123456789:AAEabcdefghijklmnopqrstuvwxyz012345"


async def make_channel(client: httpx.AsyncClient, platform: str = "telegram", **extra: Any) -> dict[str, Any]:
    creds = {
        "telegram": {"bot_token": TG_TOKEN, "chat_id": "@mychannel"},
        "vk": {"access_token": "vk1.a.abcdefghijklmnopqrstuvwxyz", "owner_id": -123456},
        "facebook": {"page_id": "1000001", "access_token": "EAAabcdefghijklmnopqrstuvwxyz"},
        "instagram": {"ig_user_id": 17841400000000001, "access_token": "EAAabcdefghijklmnopqrstuvwxyz"},
    }[platform]
    body: dict[str, Any] = {"platform": platform, "name": f"{platform} channel", "timezone": "Europe/Moscow",
                            "credentials": creds}
    body.update(extra)
    r = await client.post("/api/v1/channels", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def targets_out_of_step(app: Any) -> list[tuple[str, str]]:
    """(post id, channel id) of every target whose ``order_at`` differs from its post's; must be none."""
    from sqlalchemy import select

    from app.models import Post, Target

    async with app.state.sessionmaker() as session:
        stmt = (select(Target.post_id, Target.channel_id)
                .join(Post, Post.id == Target.post_id)
                .where(Target.order_at != Post.order_at))
        return [(pid, cid) for pid, cid in (await session.execute(stmt)).all()]
