"""Publishing one target: send through its connector, classify the outcome by error type, write it down.

The outcome of every send is committed before the send reports back, in a transaction shared with the
other sends that finished meanwhile (:mod:`app.publishing.writes`). The claim itself records that the request
is about to leave (``send_started_at``), so a crash from then on means "outcome unknown", never "not sent".
Unknown outcomes are never guessed: the target stays ``publishing`` with a short lease and the recovery path
asks the platform (``find_published``); where the platform cannot tell, the target becomes ``needs_check``
for a person.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import metrics
from app.config import Settings
from app.db import session_scope
from app.links import service as links
from app.logs import job_context
from app.models.statuses import AttemptOutcome, ChannelStatus
from app.platforms import ConnectorHub
from app.posts.content import build_content
from app.publishing import prepare
from app.publishing import repository as repo
from app.publishing.repository import Job
from app.publishing.writes import GroupCommit
from app.security import CredentialBox, CredentialsUnreadable
from connectors.base import Credentials, PostContent, Published
from connectors.errors import (
    AuthError,
    ChannelMovedError,
    ConnectorError,
    OutcomeUnknownError,
    PermanentError,
    PublishPending,
    RateLimitedError,
    TransientError,
)

log = logging.getLogger("smm.publish")

LATE_THRESHOLD_S = 60.0  # a first send this long after its time counts as "late" (published after a downtime)
RECONCILE_SKEW = timedelta(minutes=2)
UNKNOWN_RECHECK_S = 5.0  # an unknown outcome is reconciled this soon
NEEDS_CHECK_NOTE = (
    "{platform} cannot tell whether this was published: the connection was lost after the request was sent. "
    "Check the channel; press Retry only if the post is missing there."
)


def idempotency_key(target_id: str) -> str:
    """The stable key a platform sees on every try of one target (VK ``guid``)."""
    return f"smm-{target_id}"


class Publisher:
    """Sends claimed targets and settles them. Shared by every dispatcher in one process."""

    def __init__(
        self,
        settings: Settings,
        maker: async_sessionmaker[AsyncSession],
        hub: ConnectorHub,
        box: CredentialBox,
        owner: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings, self.maker, self.hub, self.box, self.owner, self.clock = (
            settings,
            maker,
            hub,
            box,
            owner,
            clock,
        )
        self.writes = GroupCommit(maker)

    def _pace(self, job: Job) -> tuple[Any, dict[str, Any]]:
        """The channel's next allowed send: the platform's per-chat interval after this send's answer came
        (its request reached the platform before that), for every worker (``channels.next_send_at``)."""
        pace = self.hub.get(job.platform, job.sandbox).limits.per_chat_per_second
        return repo.pace_channel(job.channel_id, self.clock() + timedelta(seconds=1.0 / pace if pace else 0.0))

    def content(self, job: Job) -> PostContent:
        """What the platform receives: the stored content with the links tagged (UTM, short links) now."""
        return self.outgoing(job)[0]

    def outgoing(self, job: Job) -> tuple[PostContent, dict[str, str]]:
        base = build_content(job.text, job.media, job.options, job.overrides, self.settings.media_dir)
        return links.outgoing(base, links.job_rules(job, self.settings.effective_public_base_url))

    async def _store_links(self, job: Job) -> None:
        """The short links of this send exist before it goes out (a failure to store them does not stop it)."""
        shorts = self.outgoing(job)[1]
        if not shorts:
            return
        try:
            async with session_scope(self.maker) as s:
                await links.store_links(s, job.workspace_id, job.post_id, job.channel_id, shorts)
        except Exception:
            log.exception("publish.short_links.not_stored", extra=job_context(job))

    def inputs(self, job: Job) -> tuple[PostContent, dict[str, Any]]:
        """The content and checkpoint of a send or a reconciliation, with what was prepared ahead applied
        (:func:`app.publishing.prepare.apply`: only while it fits the content and has not expired)."""
        return prepare.apply(job, self.content(job), job.checkpoint, self.settings, self.clock())

    async def run(self, job: Job) -> str:
        """Send one claimed target and settle it; returns the outcome kind."""
        started = self.clock()
        connector = self.hub.get(job.platform, job.sandbox)
        try:
            creds = Credentials(self.box.open(job.credentials_sealed))
        except CredentialsUnreadable as exc:  # nothing was sent; a person must act (old key or reconnect)
            await self._fail(job, started, AuthError(exc.detail, code="credentials_unreadable"), auth=True)
            return "failed"
        content, checkpoint = self.inputs(job)
        if job.short_links:
            await self._store_links(job)
        try:
            with metrics.publish_attempt(job.platform):
                published = await connector.publish(content, creds, idempotency_key(job.target_id), checkpoint)
        except PublishPending as exc:
            await self._reschedule(
                job, started, exc.retry_after, AttemptOutcome.PENDING, exc, checkpoint=exc.checkpoint,
                count_failure=False,
            )
            return "pending"
        except ChannelMovedError as exc:
            await self._moved(job, started, creds, exc)
            return "moved"
        except RateLimitedError as exc:
            await self._rate_limited(job, started, exc)
            return "rate_limited"
        except OutcomeUnknownError as exc:
            return await self._unknown(job, started, exc)
        except TransientError as exc:
            if exc.maybe_sent:
                return await self._unknown(job, started, exc)
            return await self._transient(job, started, exc)
        except AuthError as exc:
            await self._fail(job, started, exc, auth=True)
            return "failed"
        except PermanentError as exc:
            await self._fail(job, started, exc)
            return "failed"
        except ConnectorError as exc:  # an error class we do not know: treat as transient, bounded by the budget
            return await self._transient(job, started, exc)
        except Exception as exc:  # a bug in a connector must not wedge the target
            log.exception("publish.target.crashed", extra=job_context(job))
            return await self._transient(job, started, ConnectorError(f"internal error: {type(exc).__name__}"))
        await self._published(job, started, published)
        return "published"

    # outcomes -----------------------------------------------------------------------------------------

    async def _published(self, job: Job, started: datetime, published: Published, note: str | None = None) -> None:
        now = self.clock()
        accepted = published.published_at or now
        late_by = None if job.scheduled_at is None else max(0.0, (accepted - job.scheduled_at).total_seconds())
        # "late" = the first send happened well after its time: published after a downtime, within the grace
        late = (
            job.attempts == 0
            and job.next_attempt_at is not None
            and (started - job.next_attempt_at).total_seconds() > LATE_THRESHOLD_S
        )
        values: dict[str, Any] = dict(
            external_id=published.external_id,
            url=published.url,
            published_at=accepted,
            late_by_s=late_by,
            late=late,
            updated_at=now,
        )
        await self.writes.execute(
            repo.mark_published(job.target_id, **values),
            repo.attempt_row(job.target_id, self.owner, started, now, AttemptOutcome.PUBLISHED, message=note),
            self._pace(job),
        )
        if log.isEnabledFor(logging.INFO):  # the extra is built per send: not when the line is not written
            log.info("publish.target.published", extra={**job_context(job), "late_by_s": late_by})
        metrics.published(job.platform, late_by)

    async def _fail(self, job: Job, started: datetime, exc: ConnectorError, auth: bool = False) -> None:
        now = self.clock()

        async def write(s: AsyncSession) -> None:
            code = str(exc.code) if exc.code is not None else type(exc).__name__
            await repo.fail(s, job.target_id, self.owner, reason=exc.message, code=code, at=now)
            await s.execute(*repo.attempt_row(
                job.target_id, self.owner, started, now, AttemptOutcome.FAILED, type(exc).__name__, exc.message,
                exc.response,
            ))
            if auth:
                await repo.set_channel_status(s, job.channel_id, ChannelStatus.NEEDS_REAUTH, exc.message)
            await s.execute(*self._pace(job))

        await self.writes.run(write)
        log.warning("publish.target.failed", extra={**job_context(job), "error": type(exc).__name__})
        metrics.failed(job.platform)

    async def _reschedule(
        self,
        job: Job,
        started: datetime,
        delay: float,
        outcome: str,
        exc: ConnectorError,
        *,
        checkpoint: dict[str, Any] | None = None,
        count_failure: bool = True,
        hold_channel: bool = False,
    ) -> None:
        now = self.clock()
        at = now + timedelta(seconds=delay)
        values: dict[str, Any] = dict(
            updated_at=now,
            last_error=None if outcome == AttemptOutcome.PENDING else exc.message,
            error_code=None if exc.code is None else str(exc.code),
        )
        if checkpoint is not None:
            values["checkpoint"] = checkpoint
        if count_failure:
            values["failures"] = job.failures + 1

        async def write(s: AsyncSession) -> None:
            await repo.requeue(s, job.target_id, self.owner, at=at, **values)
            await s.execute(*repo.attempt_row(
                job.target_id, self.owner, started, now, outcome, type(exc).__name__, exc.message, exc.response
            ))
            if hold_channel:  # the platform's limit covers the channel's other posts too
                await repo.hold_channel(s, job.channel_id, at)
            await s.execute(*self._pace(job))

        await self.writes.run(write)

    async def _rate_limited(self, job: Job, started: datetime, exc: RateLimitedError) -> None:
        delay = exc.retry_after + random.uniform(0, min(1.0, exc.retry_after * 0.1))  # never earlier
        if self._out_of_time(job, delay):
            await self._fail(
                job,
                started,
                PermanentError(f"gave up: the platform kept asking to wait ({exc.message})", code=exc.code),
            )
            return
        await self._reschedule(
            job, started, delay, AttemptOutcome.RATE_LIMITED, exc, count_failure=False, hold_channel=True
        )

    def _out_of_time(self, job: Job, delay: float) -> bool:
        first = job.scheduled_at or job.next_attempt_at or self.clock()
        return (self.clock() + timedelta(seconds=delay) - first).total_seconds() > self.settings.retry_max_age

    def backoff(self, failures: int) -> float:
        """Exponential back-off with full jitter, capped."""
        cap = min(self.settings.retry_max_delay, self.settings.retry_base_delay * (2 ** max(failures - 1, 0)))
        return random.uniform(cap / 2, cap)

    async def _transient(self, job: Job, started: datetime, exc: ConnectorError) -> str:
        failures = job.failures + 1
        delay = self.backoff(failures)
        if failures >= self.settings.max_attempts or self._out_of_time(job, delay):
            await self._fail(
                job,
                started,
                PermanentError(
                    f"gave up after {failures} failed attempts: {exc.message}", code=exc.code, response=exc.response
                ),
            )
            return "failed"
        await self._reschedule(job, started, delay, AttemptOutcome.RETRY, exc)
        return "retry"

    async def _moved(self, job: Job, started: datetime, creds: Credentials, exc: ChannelMovedError) -> None:
        now = self.clock()
        values = dict(creds.values)
        chat_key = "chat_id" if "chat_id" in values else next(iter(values))
        values[chat_key] = exc.new_chat_id
        sealed = self.box.seal(values)

        async def write(s: AsyncSession) -> None:
            await repo.move_channel(s, job.channel_id, sealed)
            await repo.requeue(s, job.target_id, self.owner, at=now)
            await s.execute(*repo.attempt_row(
                job.target_id,
                self.owner,
                started,
                now,
                AttemptOutcome.MOVED,
                type(exc).__name__,
                f"{exc.message} (chat moved to {exc.new_chat_id}; the channel was updated and the post is sent again)",
            ))
            await s.execute(*self._pace(job))

        await self.writes.run(write)

    async def _unknown(self, job: Job, started: datetime, exc: ConnectorError) -> str:
        """The request left but no answer came: keep it ``publishing`` and reconcile right away."""
        now = self.clock()

        async def write(s: AsyncSession) -> None:
            await s.execute(*repo.attempt_row(
                job.target_id, self.owner, started, now, AttemptOutcome.UNKNOWN, type(exc).__name__, exc.message,
                exc.response,
            ))
            await repo.await_outcome(
                s, job.target_id, self.owner, lease_owner=self.owner,
                lease_until=now + timedelta(seconds=self.settings.claim_lease), reason=exc.message, at=now,
                count_attempt=True,
            )
            await s.execute(*self._pace(job))

        await self.writes.run(write)
        return await self.reconcile(job.target_id, cause=exc)

    # recovery -----------------------------------------------------------------------------------------

    async def reconcile(self, target_id: str, cause: ConnectorError | None = None) -> str:
        """Settle a target whose send may have happened (we hold its lease): ask the platform, never guess.

        ``cause`` is the error of the send just made (it counts as a failure, with back-off, if the platform
        proves nothing was published); without it (a dead worker's lease) a proven absence resends at once.
        The steps: a request that never left is queued again; else the platform is asked (``find_published``);
        what it shows is published, a proven absence is sent again, and where it cannot tell a person decides.
        """
        async with session_scope(self.maker) as s:
            jobs = await repo.load_jobs(s, [target_id])
        if not jobs:
            return "gone"
        job = jobs[0]
        started = self.clock()
        if job.send_started_at is None:
            return await self._requeue_unsent(job, started)
        connector = self.hub.get(job.platform, job.sandbox)
        try:
            creds = Credentials(self.box.open(job.credentials_sealed))
        except CredentialsUnreadable as exc:  # the platform cannot be asked: say so rather than guess
            message = f"{exc.detail} Whether the post went out cannot be checked: look at the channel before Retry."
            await self._fail(job, started, AuthError(message, code="credentials_unreadable"), auth=True)
            return "failed"
        since = job.send_started_at - RECONCILE_SKEW
        content, checkpoint = self.inputs(job)
        try:
            found = await connector.find_published(creds, idempotency_key(job.target_id), since, content, checkpoint)
        except OutcomeUnknownError as exc:
            if isinstance(exc.__cause__, httpx.TransportError):
                # the check's own answer was lost on the way (a read: nothing happened): ask again, it can tell
                return await self._ask_again_later(job, exc)
            return await self._needs_check(job, started)  # the platform cannot tell
        except ConnectorError as exc:
            return await self._ask_again_later(job, exc)
        if found is not None:
            await self._published(job, started, found, note="reconciled: the platform shows the post")
            return "published"
        return await self._resend(job, started, cause)

    async def _requeue_unsent(self, job: Job, started: datetime) -> str:
        """The request never left: safe to queue again at once."""

        async def write(s: AsyncSession) -> None:
            await repo.requeue(s, job.target_id, self.owner, at=started, count_attempt=False)

        await self.writes.run(write)
        return "requeued"

    async def _needs_check(self, job: Job, started: datetime) -> str:
        """The platform cannot tell (Telegram): never a silent repost; a person decides."""
        note = NEEDS_CHECK_NOTE.format(platform=job.platform.title())

        async def write(s: AsyncSession) -> None:
            now = self.clock()
            await repo.mark_needs_check(s, job.target_id, self.owner, note=note, at=now)
            await s.execute(*repo.attempt_row(
                job.target_id, self.owner, started, now, AttemptOutcome.NEEDS_CHECK, None, note
            ))

        await self.writes.run(write)
        log.warning("publish.target.needs_check", extra=job_context(job))
        metrics.needs_check(job.platform)
        return "needs_check"

    async def _ask_again_later(self, job: Job, exc: ConnectorError) -> str:
        """The platform could not be asked now: ask again soon, still without resending."""

        async def write(s: AsyncSession) -> None:
            await repo.await_outcome(
                s, job.target_id, self.owner, lease_owner=None,
                lease_until=self.clock() + timedelta(seconds=UNKNOWN_RECHECK_S),
                reason=f"checking whether it was published: {exc.message}",
            )

        await self.writes.run(write)
        return "recheck"

    async def _resend(self, job: Job, started: datetime, cause: ConnectorError | None) -> str:
        """The platform proves it has nothing: send again (after a back-off if this send failed)."""
        failures, delay = job.failures, 0.0
        if cause is not None:
            failures += 1
            delay = self.backoff(failures)
            if failures >= self.settings.max_attempts or self._out_of_time(job, delay):
                await self._fail(
                    job,
                    started,
                    PermanentError(f"gave up after {failures} failed attempts: {cause.message}", code=cause.code),
                )
                return "failed"

        async def write(s: AsyncSession) -> None:
            now = self.clock()
            await repo.requeue(
                s, job.target_id, self.owner, at=now + timedelta(seconds=delay), count_attempt=False,
                send_started_at=None, failures=failures, updated_at=now,
            )
            await s.execute(*repo.attempt_row(
                job.target_id, self.owner, started, now, AttemptOutcome.RECONCILED, None,
                "the platform shows no such post: sending again",
            ))

        await self.writes.run(write)
        return "resend"
