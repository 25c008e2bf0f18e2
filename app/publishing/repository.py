"""Every SQL statement of the publisher: claims, leases, settlement, recovery and counts.

All state changes are conditional (``WHERE status = ... AND lease_owner = ...``) so that competing workers,
the sweeper and a person editing a post can never both win.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Integer, Table, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.models import Attempt, Channel, Post, Target, Worker, Workspace
from app.models.statuses import ChannelStatus, TargetStatus

ACTIVE = ChannelStatus.ACTIVE
_targets: Table = Target.__table__  # type: ignore[assignment]
_attempts: Table = Attempt.__table__  # type: ignore[assignment]
_channels: Table = Channel.__table__  # type: ignore[assignment]


def _param(table: Any, column: str) -> Any:
    return bindparam(f"p_{column}", type_=table.c[column].type)


# A send the platform confirmed. The platform's word wins over whatever recovery concluded meanwhile (our
# lease may have run out while we waited), so this does not depend on the lease. Shared by all the sends of
# a group commit (one executemany): parameters are those of :func:`published_row`.
PUBLISHED = (
    update(_targets)
    .where(
        _targets.c.id == _param(_targets, "id"),
        # spelled out: an IN list would be an "expanding" parameter, which executemany cannot take
        or_(*(_targets.c.status == s for s in (TargetStatus.PUBLISHING, TargetStatus.NEEDS_CHECK,
                                                TargetStatus.SCHEDULED))),
    )
    .values(
        status=TargetStatus.PUBLISHED,
        attempts=_targets.c.attempts + 1,
        lease_owner=None,
        lease_expires_at=None,
        last_error=None,
        error_code=None,
        **{c: _param(_targets, c) for c in ("external_id", "url", "published_at", "late_by_s", "late", "updated_at")},
    )
)
ATTEMPT = insert(_attempts).values(
    **{c: _param(_attempts, c) for c in ("target_id", "worker", "started_at", "finished_at", "outcome", "error_class",
                                          "message", "response")}
)


def attempt_row(
    target_id: str,
    owner: str,
    started: datetime,
    finished: datetime,
    outcome: str,
    error_class: str | None = None,
    message: str | None = None,
    response: str | None = None,
) -> tuple[Any, dict[str, Any]]:
    """An attempt row for :data:`ATTEMPT`: queued with others (``GroupCommit.execute``) or written at once
    (``await session.execute(*attempt_row(...))``)."""
    values = dict(target_id=target_id, worker=owner, started_at=started, finished_at=finished, outcome=outcome,
                  error_class=error_class, message=message, response=response)
    return ATTEMPT, {f"p_{k}": v for k, v in values.items()}


# The channel's next allowed send (per-chat pacing across workers), written in the transaction that settles a
# send: until it commits the channel has a target in flight, so no worker can claim it in between.
PACED = update(_channels).where(_channels.c.id == _param(_channels, "id")).values(
    next_send_at=_param(_channels, "next_send_at")
)


def pace_channel(channel_id: str, until: datetime) -> tuple[Any, dict[str, Any]]:
    """No claim of the channel before ``until`` (:data:`PACED`), by any worker: queued with the send's outcome
    (``GroupCommit.execute``) or written at once (``await session.execute(*pace_channel(...))``)."""
    return PACED, {"p_id": channel_id, "p_next_send_at": until}


def mark_published(target_id: str, **values: Any) -> tuple[Any, dict[str, Any]]:
    """Transition ``publishing``/``needs_check``/``scheduled`` → ``published``, as a statement for the group
    commit (:data:`PUBLISHED`): ``external_id, url, published_at, late_by_s, late, updated_at``."""
    return PUBLISHED, {"p_id": target_id, **{f"p_{k}": v for k, v in values.items()}}


@dataclass(frozen=True)
class Job:
    """Everything one send needs, read in one query after the claim."""

    target_id: str
    post_id: str
    channel_id: str
    platform: str
    sandbox: bool
    credentials_sealed: str
    text: str
    media: list[Any]
    options: dict[str, Any]
    overrides: dict[str, Any]
    checkpoint: dict[str, Any]
    attempts: int
    failures: int
    scheduled_at: datetime | None
    next_attempt_at: datetime | None
    send_started_at: datetime | None
    prepared: dict[str, Any] | None = None  # what was prepared ahead (app.publishing.prepare)
    # what the links of the text get at send time (app.links): the facts the UTM placeholders name, the templates
    # of the channel and the workspace, the domains to tag and whether links go out as short links
    rubric: str | None = None
    post_timezone: str | None = None
    channel_name: str = ""
    channel_timezone: str | None = None
    channel_utm: str | None = None
    workspace_id: str = ""
    workspace_utm: str | None = None
    utm_domains: list[Any] | None = None
    short_links: bool | None = None


async def claim_due(
    session: AsyncSession,
    *,
    now: datetime,
    owner: str,
    lease: float,
    limit: int,
    exclude: Sequence[str] = (),
) -> list[str]:
    """Claim up to ``limit`` due targets, at most one per channel, most overdue channel first, atomically;
    returns their ids. Channels in ``exclude`` are passed over (the caller knows the platform would make them
    wait: a claim should go to a channel that can send now).

    The claim also records the send as started (``send_started_at``): the caller sends right away, so from
    the commit on, a crash leaves the outcome for recovery to establish (``find_published``) — never a resend.

    Candidate channels are active, have a due target, nothing in flight and their ``next_send_at`` (the
    platform's per-chat interval after the previous send, whichever worker made it) behind them; each one's
    due time is an index seek on ``ix_targets_channel_due``, so the cost follows the number of channels, not
    the backlog.
    PostgreSQL locks the candidate channels with ``FOR UPDATE SKIP LOCKED`` (two workers never pick the same
    channel), then moves each one's earliest due target to ``publishing``. SQLite does it all in one
    ``UPDATE ... RETURNING``: SQLite runs one writer at a time, so the statement is atomic.
    """
    stmts = _claim_statements(session.bind.dialect.name)  # type: ignore[union-attr]
    params = {"now": now, "owner": owner, "lease_until": now + timedelta(seconds=lease), "limit": limit,
              "exclude": list(exclude)}
    if stmts.lock is not None:  # PostgreSQL: lock the channels first, then take each one's earliest due target
        channel_ids = list((await session.execute(stmts.lock, params)).scalars())
        if not channel_ids:
            return []
        params["channel_ids"] = channel_ids
    claimed = (await session.execute(stmts.claim, params)).all()
    if claimed:
        await session.execute(stmts.served, {"now": now, "channel_ids": [c for _, c in claimed]})
    return [t for t, _ in claimed]


@dataclass(frozen=True)
class _Claim:
    lock: Any  # PostgreSQL only
    claim: Any
    served: Any


@cache
def _claim_statements(dialect: str) -> _Claim:
    """The claim's statements, built once per dialect (building them cost more than running them); every
    value is a parameter: ``now, owner, lease_until, limit, exclude`` (and ``channel_ids`` on PostgreSQL)."""
    now = bindparam("now", type_=_targets.c.next_attempt_at.type)
    values = {"status": TargetStatus.PUBLISHING, "lease_owner": bindparam("owner", type_=_targets.c.lease_owner.type),
              "lease_expires_at": bindparam("lease_until", type_=_targets.c.lease_expires_at.type),
              "updated_at": now, "send_started_at": now}
    limit = bindparam("limit", type_=Integer)
    queued, inflight, first = aliased(Target), aliased(Target), aliased(Target)
    due_at = (
        select(func.min(queued.next_attempt_at))
        .where(queued.channel_id == Channel.id, queued.status == TargetStatus.SCHEDULED)
        .correlate(Channel)
        .scalar_subquery()
    )
    busy = (
        select(inflight.id)
        .where(inflight.channel_id == Channel.id, inflight.status == TargetStatus.PUBLISHING)
        .exists()
    )
    paced = or_(Channel.next_send_at.is_(None), Channel.next_send_at <= now)
    ready = (Channel.status == ACTIVE, due_at <= now, ~busy, paced,
             Channel.id.not_in(bindparam("exclude", expanding=True)))
    order = (due_at, Channel.last_claimed_at.nulls_first())
    channel_ids: Any = bindparam("channel_ids", expanding=True)
    served = (
        update(Channel).where(Channel.id.in_(channel_ids)).values(last_claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    lock = None
    if dialect == "postgresql":
        lock = select(Channel.id).where(*ready).order_by(*order).limit(limit).with_for_update(skip_locked=True)
        earliest = (
            select(Target.id)
            .where(Target.channel_id.in_(channel_ids), Target.status == TargetStatus.SCHEDULED,
                   Target.next_attempt_at <= now)
            .order_by(Target.channel_id, Target.next_attempt_at, Target.id)
            .ext(distinct_on(Target.channel_id))
        )
        stmt = update(Target).where(Target.id.in_(earliest), Target.status == TargetStatus.SCHEDULED)
    else:
        earliest_of_channel = (
            select(first.id)
            .where(first.channel_id == Channel.id, first.status == TargetStatus.SCHEDULED, first.next_attempt_at <= now)
            .order_by(first.next_attempt_at, first.id)
            .limit(1)
            .correlate(Channel)
            .scalar_subquery()
        )
        pick = select(earliest_of_channel).where(*ready).order_by(*order).limit(limit)
        stmt = update(Target).where(Target.id.in_(pick))  # one statement under SQLite's write lock
    claim = stmt.values(**values).returning(Target.id, Target.channel_id).execution_options(
        synchronize_session=False
    )
    return _Claim(lock, claim, served)


async def load_jobs(session: AsyncSession, target_ids: Sequence[str]) -> list[Job]:
    """The jobs of claimed targets, read as plain rows (no ORM objects: this runs for every send)."""
    if not target_ids:
        return []
    stmt = (
        select(
            Target.id.label("target_id"), Target.post_id, Target.channel_id, Channel.platform, Channel.sandbox,
            Channel.credentials_sealed, Post.text, Post.media, Post.options, Target.overrides, Target.checkpoint,
            Target.attempts, Target.failures, Post.scheduled_at, Target.next_attempt_at, Target.send_started_at,
            Target.prepared_payload.label("prepared"),
            Post.rubric, Post.timezone.label("post_timezone"), Channel.name.label("channel_name"),
            Channel.timezone.label("channel_timezone"), Channel.utm_template.label("channel_utm"),
            Channel.workspace_id, Workspace.utm_template.label("workspace_utm"), Workspace.utm_domains,
            Workspace.short_links,
        )
        .join(Post, Post.id == Target.post_id)
        .join(Channel, Channel.id == Target.channel_id)
        .join(Workspace, Workspace.id == Channel.workspace_id)
        .where(Target.id.in_(target_ids))
    )
    rows = (await session.execute(stmt)).mappings()
    return [Job(**{**row, "checkpoint": row["checkpoint"] or {}}) for row in rows]


async def _settle(
    session: AsyncSession, target_id: str, owner: str, *, count_attempt: bool, **values: Any
) -> bool:
    """Write an outcome, only while ``owner`` still holds the lease of the ``publishing`` target (a late
    writer whose lease was taken over finds nothing to update); ``count_attempt`` adds one to the attempts."""
    if count_attempt:
        values["attempts"] = Target.attempts + 1
    values.setdefault("lease_owner", None)
    values.setdefault("lease_expires_at", None)
    result = await session.execute(
        update(Target)
        .where(Target.id == target_id, Target.lease_owner == owner, Target.status == TargetStatus.PUBLISHING)
        .values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def requeue(
    session: AsyncSession, target_id: str, owner: str, *, at: datetime, count_attempt: bool = True, **values: Any
) -> bool:
    """``publishing`` → ``scheduled`` at ``at``: a retry after a transient error or a rate limit, the next
    step of a multi-step publish, a resend the platform proved safe, or a claim whose request never left.
    ``values`` may set ``failures``, ``last_error``, ``error_code``, ``checkpoint``, ``send_started_at``."""
    return await _settle(session, target_id, owner, count_attempt=count_attempt, status=TargetStatus.SCHEDULED,
                         next_attempt_at=at, updated_at=values.pop("updated_at", at), **values)


async def fail(
    session: AsyncSession, target_id: str, owner: str, *, reason: str, code: str, at: datetime
) -> bool:
    """``publishing`` → ``failed`` with the reason a person reads (the platform's words where it refused)."""
    return await _settle(session, target_id, owner, count_attempt=True, status=TargetStatus.FAILED,
                         last_error=reason, error_code=code, updated_at=at)


async def mark_needs_check(session: AsyncSession, target_id: str, owner: str, *, note: str, at: datetime) -> bool:
    """``publishing`` → ``needs_check``: the platform cannot tell whether the post exists; a person decides."""
    return await _settle(session, target_id, owner, count_attempt=False, status=TargetStatus.NEEDS_CHECK,
                         last_error=note, error_code="needs_check", updated_at=at)


async def await_outcome(
    session: AsyncSession,
    target_id: str,
    owner: str,
    *,
    lease_owner: str | None,
    lease_until: datetime,
    reason: str,
    at: datetime | None = None,
    count_attempt: bool = False,
) -> bool:
    """Stay ``publishing`` with an unknown outcome until ``lease_until``: kept by ``lease_owner`` (reconciling
    now), or with no owner (``None``: the sweeper asks the platform again once the lease ends)."""
    values: dict[str, Any] = {"lease_owner": lease_owner, "lease_expires_at": lease_until, "last_error": reason}
    if at is not None:
        values["updated_at"] = at
    return await _settle(session, target_id, owner, count_attempt=count_attempt, status=TargetStatus.PUBLISHING,
                         **values)


async def hold_channel(session: AsyncSession, channel_id: str, until: datetime) -> None:
    """Push the channel's other scheduled targets to ``until`` (a platform rate limit covers them all)."""
    await session.execute(
        update(Target)
        .where(Target.channel_id == channel_id, Target.status == TargetStatus.SCHEDULED,
               Target.next_attempt_at < until)
        .values(next_attempt_at=until)
    )


async def set_channel_status(session: AsyncSession, channel_id: str, status: str, reason: str | None) -> None:
    await session.execute(update(Channel).where(Channel.id == channel_id).values(status=status, status_reason=reason))


async def move_channel(session: AsyncSession, channel_id: str, sealed: str) -> None:
    await session.execute(update(Channel).where(Channel.id == channel_id).values(credentials_sealed=sealed))


async def mark_missed(session: AsyncSession, now: datetime, grace: float) -> int:
    """Targets that fell due more than ``grace`` seconds ago without ever being tried: failed as ``missed``."""
    cutoff = now - timedelta(seconds=grace)
    result = await session.execute(
        update(Target)
        .where(Target.status == TargetStatus.SCHEDULED, Target.attempts == 0, Target.next_attempt_at < cutoff)
        .values(
            status=TargetStatus.FAILED,
            error_code="missed",
            updated_at=now,
            last_error=f"missed: the service was not running at the scheduled time and it is more than "
            f"{int(grace)} s late (SMM_MISSED_GRACE), so it was not published late.",
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def next_due(session: AsyncSession, now: datetime) -> datetime | None:
    """The earliest future instant something may be claimed: a due time, or the end of a channel's pacing
    interval when it has a due post waiting (so every worker, not only the one that sent last, looks then)."""
    stmt = select(func.min(Target.next_attempt_at)).where(
        Target.status == TargetStatus.SCHEDULED, Target.next_attempt_at > now
    )
    due = (await session.execute(stmt)).scalar_one_or_none()
    waiting = exists().where(Target.channel_id == Channel.id, Target.status == TargetStatus.SCHEDULED,
                             Target.next_attempt_at <= Channel.next_send_at)
    paced_stmt = select(func.min(Channel.next_send_at)).where(Channel.next_send_at > now, waiting)
    paced = (await session.execute(paced_stmt)).scalar_one_or_none()
    return min((t for t in (due, paced) if t is not None), default=None)


ORPHAN_AFTER_S = 5.0  # a target leased to a live worker that is not working on it (a lost claim answer)


def _recoverable(now: datetime, me: str, dead_after: float) -> Any:
    """A ``publishing`` target whose claim nobody is working on: its lease ran out, or its owner's heartbeat
    is older than ``dead_after`` (SIGKILL, power loss: no release), or it is leased to ``me`` and has not
    changed for :data:`ORPHAN_AFTER_S` (the caller passes over the ones it is working on)."""
    dead = select(Worker.id).where(
        or_(Worker.heartbeat_at < now - timedelta(seconds=dead_after), Worker.stopped_at.is_not(None))
    )
    return or_(
        Target.lease_expires_at.is_(None),
        Target.lease_expires_at < now,
        Target.lease_owner.in_(dead.scalar_subquery()),
        (Target.lease_owner == me) & (Target.updated_at < now - timedelta(seconds=ORPHAN_AFTER_S)),
    )


async def expired_leases(
    session: AsyncSession, now: datetime, *, me: str = "", dead_after: float = float("inf"), limit: int = 100
) -> list[tuple[str, str | None]]:
    """Targets to recover (see :func:`_recoverable`), oldest lease first, with their current owner."""
    stmt = (
        select(Target.id, Target.lease_owner)
        .where(Target.status == TargetStatus.PUBLISHING, _recoverable(now, me, _finite(dead_after)))
        .order_by(Target.lease_expires_at)
        .limit(limit)
    )
    return [(tid, owner) for tid, owner in (await session.execute(stmt)).all()]


def _finite(seconds: float) -> float:
    return min(seconds, 10 * 365 * 86400.0)


async def take_over(
    session: AsyncSession,
    target_id: str,
    old_owner: str | None,
    owner: str,
    now: datetime,
    lease: float,
    *,
    dead_after: float = float("inf"),
) -> bool:
    """Take a claim nobody works on (for recovery), still held by ``old_owner``; its late settle will then
    find nothing to update. Conditional on the same test as :func:`expired_leases`, so two sweepers never
    both win and a worker that heart-beat again in between keeps its claim."""
    cond = [
        Target.id == target_id,
        Target.status == TargetStatus.PUBLISHING,
        _recoverable(now, owner, _finite(dead_after)),
    ]
    cond.append(Target.lease_owner == old_owner if old_owner is not None else Target.lease_owner.is_(None))
    result = await session.execute(
        update(Target).where(*cond).values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease),
                                           updated_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def renew_leases(
    session: AsyncSession, owner: str, target_ids: Sequence[str], now: datetime, lease: float
) -> None:
    if not target_ids:
        return
    await session.execute(
        update(Target)
        .where(Target.id.in_(target_ids), Target.lease_owner == owner, Target.status == TargetStatus.PUBLISHING)
        .values(lease_expires_at=now + timedelta(seconds=lease))
    )


async def release(session: AsyncSession, owner: str, now: datetime) -> int:
    """On shutdown, for every target this process still holds (sends that outlived ``SMM_SHUTDOWN_GRACE``):
    the claim recorded them as sent, so they are left for recovery to check with the platform (their lease
    ends now); a target without a recorded send goes straight back to the queue. Returns how many were held."""
    mine = [Target.lease_owner == owner, Target.status == TargetStatus.PUBLISHING]
    requeued = await session.execute(
        update(Target).where(*mine, Target.send_started_at.is_(None))
        .values(status=TargetStatus.SCHEDULED, lease_owner=None, lease_expires_at=None)
    )
    expired = await session.execute(update(Target).where(*mine).values(lease_expires_at=now))
    return int(requeued.rowcount or 0) + int(expired.rowcount or 0)  # type: ignore[attr-defined]


async def heartbeat(session: AsyncSession, worker: Worker, now: datetime) -> None:
    existing = await session.get(Worker, worker.id)
    if existing is None:
        session.add(
            Worker(
                id=worker.id,
                hostname=worker.hostname,
                pid=worker.pid,
                kind=worker.kind,
                started_at=worker.started_at,
                heartbeat_at=now,
            )
        )
    else:
        existing.heartbeat_at = now
        existing.stopped_at = None


async def worker_stopped(session: AsyncSession, worker_id: str, now: datetime) -> None:
    await session.execute(update(Worker).where(Worker.id == worker_id).values(stopped_at=now, heartbeat_at=now))


async def live_workers(session: AsyncSession, now: datetime, dead_after: float) -> int:
    """How many publisher processes are alive (heart-beat within ``dead_after``, not stopped)."""
    stmt = select(func.count()).select_from(Worker).where(
        Worker.heartbeat_at >= now - timedelta(seconds=dead_after), Worker.stopped_at.is_(None)
    )
    return int((await session.execute(stmt)).scalar_one())


async def heartbeat_of(session: AsyncSession, worker_id: str) -> datetime | None:
    """When the worker last heart-beat (``None``: never, or its row is gone)."""
    return (await session.execute(select(Worker.heartbeat_at).where(Worker.id == worker_id))).scalar_one_or_none()


async def status_counts(session: AsyncSession, workspace_id: str, now: datetime) -> dict[str, int]:
    base = (
        select(func.count())
        .select_from(Target)
        .join(Post, Post.id == Target.post_id)
        .where(Post.workspace_id == workspace_id)
    )
    queries = {
        "due": base.where(Target.status == TargetStatus.SCHEDULED, Target.next_attempt_at <= now),
        "scheduled": base.where(Target.status == TargetStatus.SCHEDULED, Target.next_attempt_at > now),
        "in_flight": base.where(Target.status == TargetStatus.PUBLISHING),
        "late": base.where(Target.status == TargetStatus.PUBLISHED, Target.late.is_(True)),
        "published": base.where(Target.status == TargetStatus.PUBLISHED),
        "failed": base.where(Target.status == TargetStatus.FAILED),
        "missed": base.where(Target.status == TargetStatus.FAILED, Target.error_code == "missed"),
        "needs_check": base.where(Target.status == TargetStatus.NEEDS_CHECK),
        "held": base.where(
            Target.status == TargetStatus.SCHEDULED,
            exists().where(Channel.id == Target.channel_id, Channel.status != ACTIVE),
        ),
    }
    return {k: int((await session.execute(q)).scalar_one()) for k, q in queries.items()}


async def due_by_platform(session: AsyncSession, now: datetime) -> dict[str, tuple[int, datetime | None]]:
    """Per platform: how many scheduled targets are due and unclaimed, and the oldest due time (``/metrics``)."""
    stmt = (
        select(Channel.platform, func.count(), func.min(Target.next_attempt_at))
        .select_from(Target)
        .join(Channel, Channel.id == Target.channel_id)
        .where(Target.status == TargetStatus.SCHEDULED, Target.next_attempt_at <= now)
        .group_by(Channel.platform)
    )
    return {platform: (int(n), oldest) for platform, n, oldest in (await session.execute(stmt)).all()}


async def workers(session: AsyncSession, since: datetime) -> list[Worker]:
    stmt = select(Worker).where(Worker.heartbeat_at >= since, Worker.stopped_at.is_(None)).order_by(Worker.started_at)
    return list((await session.execute(stmt)).scalars())
