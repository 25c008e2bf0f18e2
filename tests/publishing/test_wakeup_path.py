"""The wake-up path's transaction rules, in-process on the real database: a wake-up goes out at commit, only if
the change committed, once per transaction; a released savepoint is not a commit. On SQLite the datagram reaches
every registered runner and the entries of dead processes are removed."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.publishing.wakeup import Receiver, poke, schedule_changed, wake_dir
from tests.conftest import BACKEND


async def test_wakes_at_commit_only(settings: Settings) -> None:
    engine = make_engine(settings)
    maker = make_sessionmaker(engine)
    woken: list[int] = []
    receiver = Receiver(settings.effective_database_url, lambda: woken.append(1))
    receiver.start()
    try:
        async with maker() as session:
            await schedule_changed(session)
            await session.rollback()
        assert woken == []  # rolled back: nothing changed, nobody woken

        async with maker() as session:
            await schedule_changed(session)
            await schedule_changed(session)  # once per transaction
            async with session.begin_nested():
                await session.execute(text("SELECT 1"))
            assert woken == []  # a released savepoint is not a commit
            await session.commit()
        await asyncio.sleep(0.05)  # the SQLite datagram to our own socket, on top of the direct wake-up
        assert 1 <= len(woken) <= 2

        woken.clear()
        async with maker() as session:
            await session.execute(text("SELECT 1"))
            await session.commit()
        await asyncio.sleep(0.05)
        assert woken == []  # a commit that did not ask wakes nobody
    finally:
        receiver.close()
        await engine.dispose()


async def test_sqlite_neighbours_get_the_datagram_and_dead_ones_are_forgotten(settings: Settings) -> None:
    if BACKEND != "sqlite":
        return  # PostgreSQL wakes other processes with NOTIFY (tests/publishing/test_wake_entry_points.py)
    folder = wake_dir(settings.effective_database_url)
    assert folder is not None
    heard = asyncio.Event()
    other = Receiver(settings.effective_database_url, heard.set)
    other.start()
    try:
        assert other.bound
        (folder / "999999-deadbeef").touch()  # a runner that died without cleaning up
        assert poke(folder) == 1
        await asyncio.wait_for(heard.wait(), 2)
        assert sorted(p.name for p in folder.iterdir()) == [other.name]
    finally:
        other.close()
    assert list(folder.iterdir()) == []
