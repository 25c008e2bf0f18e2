"""Engine and session factory. Commit or roll back only at the edge (request dependency, job context)."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.util.concurrency import await_, in_greenlet

from app.config import Settings

if TYPE_CHECKING:
    from app.session_dep import SessionDep as SessionDep
    from app.session_dep import get_session as get_session

log = logging.getLogger("smm.db")


def __getattr__(name: str) -> Any:
    """``SessionDep`` and ``get_session`` (the request's unit of work) live in app/session_dep.py, which needs
    FastAPI; they are still importable from here, loaded on first use, so that the jobs and the ``smm`` command
    that use only the engine and :func:`session_scope` never import FastAPI."""
    if name in ("SessionDep", "get_session"):
        from app import session_dep

        return getattr(session_dep, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_engine(settings: Settings) -> AsyncEngine:
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        db_path = url.split(":///", 1)[1] if ":///" in url else ""
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        _writers[engine.sync_engine] = _Writer()
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


# ----------------------------------------------------------------------------- SQLite: one writer, handed over

WRITER_WAIT_S = 30.0  # as busy_timeout: past it, the flush goes ahead and SQLite's own lock decides
_HOLDS = "smm.sqlite_writer"  # session.info key: this session's transaction holds its engine's writer lock
_writers: weakref.WeakKeyDictionary[Engine, _Writer] = weakref.WeakKeyDictionary()


class _Writer:
    """The writer lock of one SQLite engine, bound to the event loop that first uses it."""

    def __init__(self) -> None:
        self.lock: asyncio.Lock | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def for_loop(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self.lock is None or self.loop is not loop:  # a new loop (tests, CLI): a new lock
            self.lock, self.loop = asyncio.Lock(), loop
        return self.lock


async def _acquire(lock: asyncio.Lock) -> bool:
    try:
        await asyncio.wait_for(lock.acquire(), WRITER_WAIT_S)
    except TimeoutError:
        log.warning("db.sqlite_writer_wait", extra={"waited_s": WRITER_WAIT_S})
        return False
    return True


@event.listens_for(Session, "before_flush")
def _take_writer(session: Session, _ctx: Any, _instances: Any) -> None:
    """SQLite lets one connection write at a time and makes the others poll with sleeps of up to 100 ms
    (``busy_timeout``): eight concurrent creates had a p99 of ~0.9 s for ~5 ms of work each. A session's first
    write (a flush, or an INSERT/UPDATE/DELETE through ``session.execute``) takes its engine's asyncio lock
    instead, held until its transaction ends (commit, rollback or close), so the next writer of this process
    starts the moment the previous one committed. Both kinds of write must take it: a session holding SQLite's
    lock through a Core UPDATE and then waiting here for one that holds this lock and waits for SQLite's would
    stall both for ``busy_timeout``. Writes on a bare connection and other processes still meet SQLite's own
    lock, as before."""
    _take(session)


@event.listens_for(Session, "do_orm_execute")
def _take_writer_for_dml(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _take(state.session)


def _take(session: Session) -> None:
    if _HOLDS in session.info or not in_greenlet():
        return
    bind = session.get_bind()
    writer = _writers.get(bind) if isinstance(bind, Engine) else None
    if writer is None:
        return
    lock = writer.for_loop()
    if await_(_acquire(lock)):
        session.info[_HOLDS] = lock


@event.listens_for(Session, "after_transaction_end")
def _release_writer(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None and (lock := session.info.pop(_HOLDS, None)) is not None:
        lock.release()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A unit of work for jobs and commands: commit on success, roll back on error."""
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
