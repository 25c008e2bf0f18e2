"""APScheduler wiring: the clock of the publisher. The database is the truth; the scheduler only decides when
to look.

Jobs: a date job armed for the next due time (re-armed whenever posts change: ``notify()``), a safety tick,
the lease sweeper, the heartbeat (which also renews the leases of in-flight sends), and the periodic jobs of
other capabilities (recurring series, engagement sync). One dispatch loop claims due targets and runs each send
as a task, at most ``SMM_DISPATCH_CONCURRENCY`` at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import metrics
from app.config import Settings
from app.db import session_scope
from app.models import Worker
from app.platforms import ConnectorHub
from app.publishing import repository as repo
from app.publishing.engine import Publisher
from app.publishing.repository import Job
from app.publishing.wakeup import NOTIFY_CHANNEL, Receiver
from app.security import CredentialBox
from app.timeutil import utcnow
from connectors.pacing import Pacer

log = logging.getLogger("smm.scheduler")

SWEEP_INTERVAL_S = 5.0
COALESCE_S = 0.01  # finished sends within this window share one claim
MISSED_CHECK_S = 5.0  # how often the dispatcher looks for posts past the missed grace

PeriodicJob = Callable[[], Awaitable[object]]


def heartbeat_interval(settings: Settings) -> float:
    """Three heartbeats per ``SMM_WORKER_DEAD_AFTER`` (and per lease): one late beat is no death."""
    return max(0.2, min(10.0, settings.claim_lease / 3, settings.worker_dead_after / 3))


def sweep_interval(settings: Settings) -> float:
    """The sweeper looks four times per ``SMM_WORKER_DEAD_AFTER``: a dead worker's claims are taken over
    within about 1.25 × that after its last heartbeat."""
    return max(0.2, min(SWEEP_INTERVAL_S, settings.worker_dead_after / 4))


@dataclass(frozen=True)
class Periodic:
    """A periodic job of another capability (series materialisation, engagement sync), declared in the domain's
    ``jobs.py`` and listed in :data:`app.jobs.PERIODIC_JOBS`, which the composition root hands to every runner.

    ``factory`` builds the job for one runner; ``run_at_start`` jobs also run once before the first dispatch
    (e.g. to drop a series backlog); ``exclusive`` jobs run in one process at a time across all workers (a
    PostgreSQL advisory lock)."""

    job_id: str
    interval: Callable[[Settings], float]
    factory: Callable[[PublisherRunner], PeriodicJob]
    run_at_start: bool = False
    exclusive: bool = False


class PublisherRunner:
    """The scheduler + dispatcher of one process (``smm serve`` or ``smm worker``)."""

    def __init__(
        self,
        settings: Settings,
        maker: async_sessionmaker[AsyncSession],
        hub: ConnectorHub,
        box: CredentialBox,
        kind: str,
        clock: Callable[[], datetime] = utcnow,
        periodic: Sequence[Periodic] = (),
    ) -> None:
        self.settings, self.maker, self.hub, self.box, self.kind, self.clock = settings, maker, hub, box, kind, clock
        self.periodic = tuple(periodic)
        self.owner = f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}"
        self.worker = Worker(
            id=self.owner, hostname=socket.gethostname()[:200], pid=os.getpid(), kind=kind, started_at=clock()
        )
        self.publisher = Publisher(settings, maker, hub, box, self.owner, clock)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.inflight: dict[str, asyncio.Task[object]] = {}
        self.stopping = False
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._listener: object | None = None
        self._receiver = Receiver(settings.effective_database_url, self.notify)  # see app/publishing/wakeup.py
        self._wants_listen = False  # PostgreSQL: keep a LISTEN connection (heartbeats re-open a lost one)
        self._armed_for: datetime | None = None
        self._missed_checked: datetime | None = None
        # channel id -> loop time before which its connector would make a new send wait (per-chat pacing):
        # claims pass these channels over rather than tie up a dispatch slot in the pacer's sleep
        self.cooling: dict[str, float] = {}
        self._cooling_wake: tuple[float, asyncio.Handle] | None = None
        self._jobs: set[asyncio.Task[Any]] = set()  # scheduled jobs running now (stop() lets them finish)

    # life cycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.heartbeat()
        s = self.settings
        common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        self.scheduler.add_job(self._tracked(self._tick), "interval", seconds=s.safety_tick, id="safety-tick",
                               **common)
        self.scheduler.add_job(self._tracked(self.sweep), "interval", seconds=sweep_interval(s), id="sweeper",
                               **common)
        self.scheduler.add_job(self._tracked(self.heartbeat), "interval", seconds=heartbeat_interval(s),
                               id="heartbeat", **common)
        for p in self.periodic:
            job = self._exclusive(p.job_id, p.factory(self)) if p.exclusive else p.factory(self)
            if p.run_at_start:
                try:
                    await job()
                except Exception:
                    log.exception("scheduler.job.failed", extra={"job": p.job_id})
            first = datetime.now(UTC) + timedelta(seconds=p.interval(s))
            self.scheduler.add_job(self._tracked(job), "interval", seconds=p.interval(s), id=p.job_id,
                                   next_run_time=first, **common)
        self.scheduler.start()
        self._loop_task = asyncio.create_task(self._dispatch_loop(), name="smm-dispatch")
        await self._listen()
        self._receiver.start()
        await self.sweep()
        self.notify()
        log.info("scheduler.started", extra={"owner": self.owner})

    async def stop(self) -> None:
        """Stop claiming; let in-flight sends finish for ``SMM_SHUTDOWN_GRACE`` s; release the rest."""
        self.stopping = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._jobs:  # a periodic job half-way through its transaction: let it finish, then cancel what is left
            await asyncio.wait(list(self._jobs), timeout=self.settings.shutdown_grace)
            for task in list(self._jobs):
                task.cancel()
            await asyncio.gather(*self._jobs, return_exceptions=True)
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        await self._unlisten()
        self._receiver.close()
        if self._cooling_wake is not None:
            self._cooling_wake[1].cancel()
        pending = list(self.inflight.values())
        if pending:
            await asyncio.wait(pending, timeout=self.settings.shutdown_grace)
        leftover = [tid for tid, task in self.inflight.items() if not task.done()]
        for tid in leftover:
            self.inflight[tid].cancel()
        if leftover:
            await asyncio.gather(*(self.inflight[t] for t in leftover), return_exceptions=True)
        await self.publisher.writes.close()
        async with session_scope(self.maker) as s:
            released = await repo.release(s, self.owner, self.clock())
            await repo.worker_stopped(s, self.owner, self.clock())
        Pacer.set_senders(1)
        log.info("scheduler.stopped", extra={"owner": self.owner, "released": released})

    # waking -------------------------------------------------------------------------------------------

    def notify(self) -> None:
        """Due times changed (a post was created, moved or cancelled): look again now."""
        self._wake.set()

    async def _tick(self) -> None:
        self._missed_checked = None  # the safety tick always re-checks for missed posts
        self.notify()

    async def _dispatch_loop(self) -> None:
        while not self.stopping:
            await self._wake.wait()
            # let a few more sends finish, then claim for all of them in one statement
            await asyncio.sleep(COALESCE_S)
            self._wake.clear()
            try:
                await self.dispatch_once()
            except Exception:  # the database may be briefly unavailable (a restart): look again in a second
                log.exception("scheduler.dispatch.error")
                await asyncio.sleep(1.0)
                self.notify()

    async def dispatch_once(self) -> int:
        """Claim what is due (as many as there are free slots), start the sends, arm the timer."""
        started = 0
        now = self.clock()
        if self._missed_checked is None or (now - self._missed_checked).total_seconds() >= MISSED_CHECK_S:
            async with session_scope(self.maker) as s:
                metrics.missed(await repo.mark_missed(s, now, self.settings.missed_grace))
            self._missed_checked = now
        exhausted = False
        loop = asyncio.get_running_loop()
        while not self.stopping:
            free = self.settings.dispatch_concurrency - len(self.inflight)
            if free <= 0:
                break
            limit = min(free, self.settings.dispatch_batch)
            t = loop.time()
            self.cooling = {c: until for c, until in self.cooling.items() if until > t}
            async with session_scope(self.maker) as s:
                ids = await repo.claim_due(s, now=self.clock(), owner=self.owner, lease=self.settings.claim_lease,
                                           limit=limit, exclude=list(self.cooling))
                jobs = await repo.load_jobs(s, ids)
            metrics.claimed(len(ids))
            for job in jobs:
                self._spawn(job.target_id, self.publisher.run(job), job)
            started += len(jobs)
            if len(ids) < limit:
                exhausted = True
                break
        if exhausted:  # while slots are full, finishing sends wake us instead of the timer
            await self._arm()
            self._wake_after_cooling()
        return started

    def _wake_after_cooling(self) -> None:
        """Look again when the first passed-over channel may send (its due posts are not in the timer)."""
        if not self.cooling or self.stopping:
            return
        at = min(self.cooling.values())
        if self._cooling_wake is not None:
            pending_at, handle = self._cooling_wake
            if pending_at <= at:
                return  # an earlier wake-up is still to come
            handle.cancel()

        def wake() -> None:
            self._cooling_wake = None
            self.notify()

        # the time is kept beside the handle: uvloop returns a plain Handle, without when(), for a past time
        self._cooling_wake = (at, asyncio.get_running_loop().call_at(at, wake))

    def _spawn(self, target_id: str, coro: Awaitable[object], job: Job | None = None) -> None:
        async def runner() -> object:
            try:
                return await coro
            except Exception:
                log.exception("scheduler.send.error", extra={"target": target_id})
                return None
            finally:
                self.inflight.pop(target_id, None)
                if job is not None:
                    pace = self.hub.get(job.platform, job.sandbox).limits.per_chat_per_second
                    if pace:
                        self.cooling[job.channel_id] = asyncio.get_running_loop().time() + 1.0 / pace
                self.notify()  # a slot and perhaps a channel freed up

        self.inflight[target_id] = asyncio.create_task(runner(), name=f"smm-send-{target_id}")

    async def _arm(self) -> None:
        async with session_scope(self.maker) as s:
            due = await repo.next_due(s, self.clock())
        if due is None or due == self._armed_for or self.stopping:
            return
        self._armed_for = due
        # the wall clock decides "due"; a millisecond of slack keeps the timer from firing a hair early
        self.scheduler.add_job(
            self._tick,
            "date",
            run_date=due + timedelta(milliseconds=1),
            id="next-due",
            replace_existing=True,
            misfire_grace_time=None,
        )

    def _tracked(self, job: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
        """A scheduled job that :meth:`stop` waits for, and that ends quietly if stopping cancels it (it runs
        again at the next start; the scheduler would otherwise log the cancellation as a crash)."""

        async def run() -> Any:
            task = asyncio.current_task()
            assert task is not None
            self._jobs.add(task)
            try:
                return await job()
            except asyncio.CancelledError:
                if self.stopping:
                    log.debug("scheduler.job.cancelled_at_stop")
                    return None
                raise
            finally:
                self._jobs.discard(task)

        return run

    def _exclusive(self, job_id: str, job: PeriodicJob) -> PeriodicJob:
        """Skip the run when another process holds the job's advisory lock (PostgreSQL; SQLite is one process)."""

        async def run() -> object:
            engine = self.maker.kw["bind"]
            if engine is None or engine.dialect.name != "postgresql":
                return await job()
            key = zlib.crc32(f"smm:{job_id}".encode())
            async with engine.connect() as conn:
                if not (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar():
                    return None
                try:
                    return await job()
                finally:
                    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})

        return run

    # recovery and liveness ----------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Settle targets whose lease expired (a dead worker's, or an unknown outcome to check again)."""
        if self.stopping:
            return 0
        now = self.clock()
        async with session_scope(self.maker) as s:
            expired = await repo.expired_leases(s, now, me=self.owner, dead_after=self.settings.worker_dead_after)
        taken = 0
        for target_id, old_owner in expired:
            if target_id in self.inflight or len(self.inflight) >= self.settings.dispatch_concurrency:
                continue
            async with session_scope(self.maker) as s:
                ok = await repo.take_over(s, target_id, old_owner, self.owner, now, self.settings.claim_lease,
                                          dead_after=self.settings.worker_dead_after)
            if ok:
                taken += 1
                log.info("scheduler.lease.recovered", extra={"target": target_id, "from": old_owner})
                self._spawn(target_id, self.publisher.reconcile(target_id))
        return taken

    async def heartbeat(self) -> None:
        now = self.clock()
        async with session_scope(self.maker) as s:  # liveness first, in its own transaction: other workers
            await repo.heartbeat(s, self.worker, now)  # take over the claims of a worker whose heartbeat is stale
            alive = await repo.live_workers(s, now, self.settings.worker_dead_after)
        try:
            async with session_scope(self.maker) as s:
                # rows in id order: the group commit writes the same rows, and a different order can deadlock
                await repo.renew_leases(s, self.owner, sorted(self.inflight), now, self.settings.claim_lease)
        except DBAPIError as exc:  # e.g. a deadlock with an outcome write: leases last far longer than a heartbeat
            log.warning("scheduler.lease_renewal.deferred", extra={"error": type(exc.orig).__name__})
        # a token's budget (per-token and per-minute rates) is split between the workers sending with it
        Pacer.set_senders(alive)
        listener = self._listener
        if self._wants_listen and not self.stopping and (listener is None or listener.is_closed()):  # type: ignore[attr-defined]
            # the database restarted under the LISTEN connection: listen again, and look for what we missed
            self._listener = None
            await self._listen()
            self.notify()

    # cross-process wake-ups (PostgreSQL LISTEN/NOTIFY) ------------------------------------------------

    async def _listen(self) -> None:
        url = make_url(self.settings.effective_database_url)
        if not url.drivername.startswith("postgresql"):
            return
        self._wants_listen = True
        try:
            import asyncpg

            conn = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
            await conn.add_listener(NOTIFY_CHANNEL, lambda *_: self.notify())
            self._listener = conn
        except Exception:  # without it the safety tick still finds everything, a little later
            log.warning("scheduler.listen.unavailable", exc_info=True)

    async def _unlisten(self) -> None:
        conn, self._listener = self._listener, None
        if conn is not None:
            try:
                await conn.close()  # type: ignore[attr-defined]
            except Exception:
                log.debug("scheduler.listen.close_failed", exc_info=True)

