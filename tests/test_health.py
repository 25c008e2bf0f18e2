"""``/healthz`` and ``/readyz``: ready means the database answers, the schema is at head and the publisher's
heartbeat is fresh; otherwise 503 with the reason."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.config import Settings
from app.db import make_engine, session_scope
from app.migrate import head_revision
from app.publishing import repository as publishing_repo


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The service with its publisher running (as ``smm serve``), and a client without a key."""
    from app.main import create_app

    settings.safety_tick = 3600
    app = create_app(settings, run_scheduler=True)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
            yield app, c


async def test_ready_when_database_schema_and_heartbeat_are_fine(served: tuple[Any, httpx.AsyncClient]) -> None:
    _, anon = served
    assert (await anon.get("/healthz")).json() == {"status": "ok"}
    ready = await anon.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


async def test_not_ready_when_the_publisher_heartbeat_is_stale(served: tuple[Any, httpx.AsyncClient]) -> None:
    app, anon = served
    runner = app.state.runner
    runner.scheduler.pause()  # a stuck runner: its heartbeat job no longer runs
    async with session_scope(app.state.sessionmaker) as s:
        await publishing_repo.heartbeat(s, runner.worker, runner.clock() - timedelta(minutes=2))
    ready = await anon.get("/readyz")
    assert ready.status_code == 503
    detail = ready.json()["detail"]
    age = re.search(r"heartbeat is (\d+) s old", detail)
    assert age is not None and 120 <= int(age.group(1)) < 180, detail  # two minutes, plus however slow the machine is


async def test_not_ready_when_the_schema_is_behind(served: tuple[Any, httpx.AsyncClient]) -> None:
    app, anon = served
    # an old process after an upgrade, or a database not migrated yet: only the version row can say so
    async with app.state.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '0000_older'"))
    try:
        ready = await anon.get("/readyz")
    finally:  # PostgreSQL runs share one migrated database
        async with app.state.engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head_revision()})
    assert ready.status_code == 503
    assert "schema is at 0000_older" in ready.json()["detail"] and "smm migrate" in ready.json()["detail"]


async def test_not_ready_when_the_database_does_not_answer(served: tuple[Any, httpx.AsyncClient]) -> None:
    app, anon = served
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    real = app.state.engine
    app.state.engine = make_engine(app.state.settings.model_copy(
        update={"database_url": f"postgresql+asyncpg://nobody@127.0.0.1:{port}/none"}))
    try:
        ready = await anon.get("/readyz")
    finally:
        await app.state.engine.dispose()
        app.state.engine = real
    assert ready.status_code == 503
    assert ready.json()["detail"].startswith("the database does not answer")
    assert (await anon.get("/healthz")).status_code == 200  # alive, just not ready
