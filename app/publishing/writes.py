"""Group commit: the outcomes of many concurrent sends written in one transaction.

Every finished send has a few statements to write (its target's new state, an attempt row). One transaction
each would make the database, not the platform, the limit on how fast one process publishes (SQLite takes its
write lock per transaction, PostgreSQL flushes its log per commit). Here the sends queue their writes; one
flusher runs everything queued in a single transaction, and while it commits the next batch gathers. A send
waits until its own write is committed, so nothing it reports is ever lost. Batching adds no timer: a lone
send is written at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import Executable

from app.db import session_scope

log = logging.getLogger("smm.publish")

T = TypeVar("T")
Op = Callable[[AsyncSession], Awaitable[Any]]
Rows = tuple[tuple[Executable, dict[str, Any]], ...]  # (shared statement, its parameters) pairs

MAX_BATCH = 200
# a write the database could not take because it was unreachable (restarting, failing over) is tried again
# for this long: the sends it records happened, so their outcome must not be dropped
UNREACHABLE_RETRY_S = 60.0


def database_unreachable(exc: BaseException) -> bool:
    """The error says the connection, not the statement, failed (worth the same write again)."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, InterfaceError):
            return True
        if isinstance(exc, OperationalError) and "locked" in str(exc.orig):  # SQLite's busy writer
            return True
        exc = exc.orig if exc.orig is not None else exc
    if isinstance(exc, (OSError, ConnectionError, asyncio.TimeoutError)):
        return True
    # asyncpg's, without importing the driver: CannotConnectNowError, ConnectionDoesNotExistError, ...
    name = type(exc).__name__
    return "Connect" in name or "Connection" in name or name in {"AdminShutdownError", "CrashShutdownError"}


class GroupCommit:
    """Runs write operations from many tasks in shared transactions; each caller gets its own result."""

    def __init__(self, maker: async_sessionmaker[AsyncSession], max_batch: int = MAX_BATCH) -> None:
        self.maker = maker
        self.max_batch = max_batch
        self._queue: list[tuple[Op | Rows, asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.batches = 0  # transactions tried, ops written, batches that had to be split (one op failed)
        self.ops = 0
        self.splits = 0

    async def run(self, op: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``op`` in a transaction shared with other callers; returns once that transaction committed."""
        result: T = await self._submit(op)
        return result

    async def execute(self, *rows: tuple[Executable, dict[str, Any]]) -> None:
        """Execute statements that many callers share, each with this caller's parameters; the parameter sets
        of one statement in a batch go to the database as one ``executemany``. Returns once committed."""
        await self._submit(rows)

    async def _submit(self, item: Op | Rows) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flusher(), name="smm-group-commit")
        return await future

    async def close(self) -> None:
        """Write what is queued (a batch being written is finished, never cut off), then stop the flusher."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _take(self) -> list[tuple[Op | Rows, asyncio.Future[Any]]]:
        batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
        return batch

    async def _flusher(self) -> None:
        while True:
            while self._queue:
                await self._flush(self._take())
            if self._closing:
                return
            self._wake.clear()  # no await since the queue was seen empty: a new write sets it again
            await self._wake.wait()

    async def _flush(self, batch: list[tuple[Op | Rows, asyncio.Future[Any]]]) -> None:
        self.batches += 1
        self.ops += len(batch)
        try:
            results = await self._apply_retrying([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc=exc)
                return
            # one failing write must not take the others down: run each in its own transaction
            self.splits += 1
            log.warning("publish.group_commit.split", extra={"ops": len(batch)}, exc_info=True)
            for item, future in batch:
                try:
                    (result,) = await self._apply_retrying([item])
                except Exception as exc:
                    _settle(future, exc=exc)
                else:
                    _settle(future, result=result)
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result=result)

    async def _apply_retrying(self, items: list[Op | Rows]) -> list[Any]:
        """One transaction for ``items``; while the database is unreachable, the same transaction again (every
        write of the publisher is conditional, so one that did commit before its answer was lost finds nothing
        left to change the second time)."""
        loop = asyncio.get_running_loop()
        give_up, delay = loop.time() + UNREACHABLE_RETRY_S, 0.2
        while True:
            try:
                async with session_scope(self.maker) as s:
                    return await _apply(s, items)
            except Exception as exc:
                if not database_unreachable(exc) or loop.time() + delay > give_up:
                    raise
                log.warning("publish.group_commit.unreachable", extra={"ops": len(items), "retry_in": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)


async def _apply(session: AsyncSession, items: list[Op | Rows]) -> list[Any]:
    results: list[Any] = []
    shared: dict[int, tuple[Executable, list[dict[str, Any]]]] = {}
    for item in items:
        if isinstance(item, tuple):
            for stmt, params in item:
                shared.setdefault(id(stmt), (stmt, []))[1].append(params)
            results.append(None)
        else:
            results.append(await item(session))
    for stmt, param_sets in shared.values():
        await session.execute(stmt, param_sets)
    return results


def _settle(future: asyncio.Future[Any], *, result: Any = None, exc: BaseException | None = None) -> None:
    if future.done():  # the caller was cancelled (shutdown); the write itself stands
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
