"""SQLite: a process's writers take turns in asyncio, not in SQLite's busy handler (``app.db``, one writer).

A session's first flush takes its engine's writer lock and holds it until its transaction ends; a second writer
of the same process must not send its INSERT before the first committed (without the lock it is sent at once
and then sleeps in SQLite's busy handler, up to 100 ms per poll). Every way a transaction ends (commit,
rollback, close, an exception) hands the lock on. PostgreSQL locks rows, not the database: no lock there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.models import Workspace
from tests.conftest import BACKEND


@pytest.fixture
async def maker(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(settings)
    yield make_sessionmaker(engine)
    await engine.dispose()


def _record_inserts(maker: async_sessionmaker[AsyncSession], log: list[str]) -> None:
    engine: Any = maker.kw["bind"]

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _seen(_conn: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if statement.startswith("INSERT INTO workspaces"):
            values = params.values() if isinstance(params, dict) else params
            log.extend(f"insert {v}" for v in values if isinstance(v, str) and v.startswith("writer-"))


async def test_second_writer_starts_after_the_first_commits(maker: async_sessionmaker[AsyncSession]) -> None:
    log: list[str] = []
    _record_inserts(maker, log)

    async def second() -> None:
        async with maker() as b:
            b.add(Workspace(name="writer-b"))
            await b.flush()
            await b.commit()

    async with maker() as a:
        a.add(Workspace(name="writer-a"))
        await a.flush()
        task = asyncio.create_task(second())
        await asyncio.sleep(0.3)  # the second writer has had every chance to send its INSERT
        log.append("a commits")
        await a.commit()
    await asyncio.wait_for(task, 30)
    if BACKEND == "sqlite":
        assert log == ["insert writer-a", "a commits", "insert writer-b"]
    else:  # rows, not the database: the second INSERT goes out at once
        assert log == ["insert writer-a", "insert writer-b", "a commits"]
    async with maker() as check:
        names = {w.name for w in (await check.execute(Workspace.__table__.select())).all()}
    assert {"writer-a", "writer-b"} <= names


@pytest.mark.parametrize("ending", ["rollback", "close", "exception"])
async def test_every_end_of_a_transaction_hands_the_lock_on(
    maker: async_sessionmaker[AsyncSession], ending: str
) -> None:
    try:
        async with maker() as a:
            a.add(Workspace(name=f"dropped-{ending}"))
            await a.flush()
            if ending == "rollback":
                await a.rollback()
            elif ending == "exception":
                raise RuntimeError("the route failed")
    except RuntimeError:
        pass

    async def writer() -> None:
        async with maker() as b:
            b.add(Workspace(name=f"kept-{ending}"))
            await b.flush()
            await b.commit()

    await asyncio.wait_for(writer(), 5)  # a lock left held would hang here (30 s wait, then SQLite's own lock)
    async with maker() as check:
        names = {w.name for w in (await check.execute(Workspace.__table__.select())).all()}
    assert f"kept-{ending}" in names and f"dropped-{ending}" not in names


async def test_a_session_flushing_twice_holds_the_lock_once(maker: async_sessionmaker[AsyncSession]) -> None:
    async with maker() as a:
        a.add(Workspace(name="twice-1"))
        await a.flush()
        a.add(Workspace(name="twice-2"))
        await asyncio.wait_for(a.flush(), 5)  # not waiting for itself
        await a.commit()
    async with maker() as b:  # and released once: the next writer goes straight through
        b.add(Workspace(name="twice-3"))
        await asyncio.wait_for(b.flush(), 5)
        await b.commit()


async def test_core_write_then_flush_beside_flush_then_core_write(maker: async_sessionmaker[AsyncSession]) -> None:
    """One session UPDATEs through ``session.execute`` and flushes later (as cancel and retry do), another flushes
    first and UPDATEs later (as a create with an idempotency record): if only flushes took the lock, each would
    wait for the other, one in SQLite's busy handler and one for the lock, for ``busy_timeout`` (30 s)."""
    from sqlalchemy import update

    async with maker() as setup:
        setup.add_all([Workspace(name="core-first"), Workspace(name="flush-first")])
        await setup.commit()

    async def core_first() -> None:
        async with maker() as a:
            await a.execute(update(Workspace).where(Workspace.name == "core-first").values(timezone="Europe/Paris"))
            await asyncio.sleep(0.2)
            a.add(Workspace(name="core-first-added"))
            await a.flush()
            await a.commit()

    async def flush_first() -> None:
        await asyncio.sleep(0.05)
        async with maker() as b:
            b.add(Workspace(name="flush-first-added"))
            await b.flush()
            await b.execute(update(Workspace).where(Workspace.name == "flush-first").values(timezone="Asia/Tokyo"))
            await b.commit()

    await asyncio.wait_for(asyncio.gather(core_first(), flush_first()), 10)
    async with maker() as check:
        rows = {w.name: w.timezone for w in (await check.execute(Workspace.__table__.select())).all()}
    assert rows["core-first"] == "Europe/Paris" and rows["flush-first"] == "Asia/Tokyo"
    assert "core-first-added" in rows and "flush-first-added" in rows
