"""Every SQL query of the analyzer: engagement posts and snapshots, saved priors, channels to sync."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Float, Table, bindparam, cast, delete, func, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.models import AnalyzerPrior, Channel, EngagementPost, EngagementSnapshot, Target
from app.models.base import new_id

METRICS = ("likes", "comments", "shares", "views", "reach", "followers")
CHUNK = 500
HISTORY_PARTITION = 2_000
"""Rows per statement: keeps IN lists and multi-row VALUES under every backend's parameter limits."""

posts_table: Table = EngagementPost.__table__  # type: ignore[assignment]
snapshots_table: Table = EngagementSnapshot.__table__  # type: ignore[assignment]


@dataclass
class UpsertCounts:
    """What an upsert did: new posts, posts whose numbers changed, rows that changed nothing."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """New known values win; an unknown (empty) value never erases a known one."""
    return {m: new[m] if new.get(m) is not None else old.get(m) for m in METRICS}


async def _existing(session: AsyncSession, channel_id: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    cols = [posts_table.c.id, posts_table.c.dedupe_key, posts_table.c.target_id, posts_table.c.source,
            *(posts_table.c[m] for m in METRICS)]
    stmt = select(*cols).where(posts_table.c.channel_id == channel_id, posts_table.c.dedupe_key.in_(keys))
    return {r.dedupe_key: dict(r._mapping) for r in await session.execute(stmt)}


def _insert_stmt(dialect: str) -> Any:
    ins = postgresql.insert(posts_table) if dialect == "postgresql" else sqlite.insert(posts_table)
    return ins.on_conflict_do_nothing(index_elements=["channel_id", "dedupe_key"]).returning(
        posts_table.c.id, posts_table.c.dedupe_key
    )


async def upsert_posts(
    session: AsyncSession,
    channel_id: str,
    rows: Sequence[dict[str, Any]],
    *,
    source: str,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> UpsertCounts:
    """Store engagement rows (``dedupe_key``, ``posted_at``, metrics, optional ``external_id``, ``kind``,
    ``target_id``, ``source``) for one channel, in chunks.

    A new post gets its first snapshot; a known post whose numbers changed gets its latest values updated and a
    snapshot; an identical row changes nothing. Rows repeating a key within ``rows``: the last one wins.
    """
    counts = UpsertCounts()
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["dedupe_key"] in latest:
            counts.unchanged += 1
        latest[row["dedupe_key"]] = row
    unique = list(latest.values())
    dialect = _dialect(session)
    conn = await session.connection()
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        existing = await _existing(session, channel_id, [r["dedupe_key"] for r in chunk])
        fresh, changed, snapshots = [], [], []
        for row in chunk:
            old = existing.get(row["dedupe_key"])
            if old is None:
                fresh.append({
                    "id": new_id(), "channel_id": channel_id, "dedupe_key": row["dedupe_key"],
                    "external_id": row.get("external_id"), "posted_at": row["posted_at"], "kind": row.get("kind"),
                    "source": row.get("source", source), "target_id": row.get("target_id"), "updated_at": now,
                    **{m: row.get(m) for m in METRICS},
                })
                continue
            values = _merged(old, row)
            link = row.get("target_id") if row.get("target_id") and not old["target_id"] else None
            if values == {m: old[m] for m in METRICS} and link is None:
                counts.unchanged += 1
                continue
            counts.updated += 1
            changed.append({"b_id": old["id"], "b_target": link or old["target_id"],
                            "b_source": row.get("source", source) if link else old["source"], **values})
            if values != {m: old[m] for m in METRICS}:
                snapshots.append({"id": new_id(), "post_id": old["id"], "taken_at": now, **values})
        if fresh:
            inserted = (await conn.execute(_insert_stmt(dialect), fresh)).all()
            ids = {r.id for r in inserted}
            counts.inserted += len(ids)
            counts.unchanged += len(fresh) - len(ids)  # a concurrent import stored them first
            snapshots.extend({"id": new_id(), "post_id": r["id"], "taken_at": now, **{m: r[m] for m in METRICS}}
                             for r in fresh if r["id"] in ids)
        if changed:
            stmt = (update(posts_table).where(posts_table.c.id == bindparam("b_id"))
                    .values(target_id=bindparam("b_target"), source=bindparam("b_source"), updated_at=now,
                            **{m: bindparam(m) for m in METRICS}))
            await conn.execute(stmt, changed)
        if snapshots:
            await conn.execute(snapshots_table.insert(), snapshots)
        if progress is not None:
            progress(len(chunk))
    return counts


def _epoch_seconds(dialect: str) -> ColumnElement[Any]:
    col = posts_table.c.posted_at
    if dialect == "postgresql":
        return cast(func.extract("epoch", col), Float)
    return (func.julianday(col) - literal_column("2440587.5")) * literal_column("86400.0")


async def history_columns(session: AsyncSession, channel_id: str) -> dict[str, npt.NDArray[Any]]:
    """The channel's stored history as numpy columns (unix seconds, metrics with NaN = unknown, kind).

    Streamed in partitions of :data:`HISTORY_PARTITION` rows: converting 100,000 rows at once held the event loop
    for a second; between partitions the loop serves other requests."""
    dialect = _dialect(session)
    stmt = select(_epoch_seconds(dialect), *(posts_table.c[m] for m in METRICS), posts_table.c.kind).where(
        posts_table.c.channel_id == channel_id
    )
    parts: list[list[npt.NDArray[Any]]] = [[] for _ in range(len(METRICS) + 2)]
    result = await session.stream(stmt)
    async for rows in result.partitions(HISTORY_PARTITION):
        columns = list(zip(*rows, strict=True))
        parts[0].append(np.array(columns[0], dtype=np.float64))
        for i in range(1, len(METRICS) + 1):
            parts[i].append(np.array(columns[i], dtype=np.float64))  # None -> NaN
        parts[-1].append(np.array(columns[-1], dtype=object))

    def joined(i: int, dtype: Any) -> npt.NDArray[Any]:
        return np.concatenate(parts[i]) if parts[i] else np.array([], dtype=dtype)

    # whole seconds: SQLite's julianday arithmetic lands a hair *below* exact times (18:00:00 -> 17:59:59.99997),
    # which would put every post made on the hour into the previous hour's cell
    out: dict[str, npt.NDArray[Any]] = {"posted_at": np.rint(joined(0, np.float64))}
    for i, m in enumerate(METRICS, start=1):
        out[m] = joined(i, np.float64)
    out["kind"] = joined(len(METRICS) + 1, object)
    return out


async def history_stamp(session: AsyncSession, channel_id: str) -> tuple[int, datetime | None]:
    """(count, latest update) of the channel's history: a cheap key for cached fits."""
    stmt = select(func.count(), func.max(EngagementPost.updated_at)).where(EngagementPost.channel_id == channel_id)
    count, latest = (await session.execute(stmt)).one()
    return int(count), latest


async def latest_posted(session: AsyncSession, channel_id: str, sources: Sequence[str]) -> datetime | None:
    """When the newest stored post of these sources went out (None without any)."""
    stmt = (select(EngagementPost.posted_at)
            .where(EngagementPost.channel_id == channel_id, EngagementPost.source.in_(sources))
            .order_by(EngagementPost.posted_at.desc()).limit(1))
    return (await session.execute(stmt)).scalar_one_or_none()


async def published_targets(session: AsyncSession, channel_id: str
                            ) -> list[tuple[str, str | None, datetime | None]]:
    """(target id, external id, published at) of the channel's published targets."""
    stmt = select(Target.id, Target.external_id, Target.published_at).where(
        Target.channel_id == channel_id, Target.status == "published", Target.external_id.is_not(None)
    )
    return [(r[0], r[1], r[2]) for r in await session.execute(stmt)]


async def sibling_channels(session: AsyncSession, workspace_id: str, platform: str, exclude: str) -> list[Channel]:
    """The workspace's other live channels of one platform."""
    stmt = select(Channel).where(
        Channel.workspace_id == workspace_id, Channel.platform == platform, Channel.id != exclude,
        Channel.deleted_at.is_(None),
    ).order_by(Channel.created_at, Channel.id)
    return list((await session.execute(stmt)).scalars())


async def first_active_channel(session: AsyncSession, workspace_id: str, platform: str) -> Channel | None:
    stmt = select(Channel).where(
        Channel.workspace_id == workspace_id, Channel.platform == platform, Channel.status == "active",
        Channel.deleted_at.is_(None),
    ).order_by(Channel.created_at, Channel.id).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


async def active_channel_ids(session: AsyncSession) -> list[str]:
    """Every active channel of every workspace (the periodic sync)."""
    stmt = select(Channel.id).where(Channel.status == "active", Channel.deleted_at.is_(None)).order_by(Channel.id)
    return list((await session.execute(stmt)).scalars())


async def find_prior(session: AsyncSession, workspace_id: str, platform: str, channel_id: str,
                     measured_source: str) -> AnalyzerPrior | None:
    """The newest prior saved for this channel by a person, else for the workspace and platform, else the
    channel's measured one (``measured_source``, e.g. an audience-online curve the sync refreshes)."""
    base = select(AnalyzerPrior).where(AnalyzerPrior.workspace_id == workspace_id)
    order = (AnalyzerPrior.created_at.desc(), AnalyzerPrior.id.desc())
    for stmt in (
        base.where(AnalyzerPrior.channel_id == channel_id, AnalyzerPrior.source != measured_source),
        base.where(AnalyzerPrior.channel_id.is_(None), AnalyzerPrior.platform == platform),
        base.where(AnalyzerPrior.channel_id == channel_id, AnalyzerPrior.source == measured_source),
    ):
        found = (await session.execute(stmt.order_by(*order).limit(1))).scalar_one_or_none()
        if found is not None:
            return found
    return None


async def replace_prior(session: AsyncSession, prior: AnalyzerPrior) -> AnalyzerPrior:
    """Save ``prior``, replacing an earlier one of the same source for the same scope."""
    await session.execute(delete(AnalyzerPrior).where(
        AnalyzerPrior.workspace_id == prior.workspace_id, AnalyzerPrior.source == prior.source,
        AnalyzerPrior.platform == prior.platform,
        AnalyzerPrior.channel_id.is_(None) if prior.channel_id is None
        else AnalyzerPrior.channel_id == prior.channel_id,
    ))
    session.add(prior)
    await session.flush()
    return prior
