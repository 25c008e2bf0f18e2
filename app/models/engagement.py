"""Engagement history: past posts of a channel and snapshots of what they earned; analyzer priors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, utcnow


class EngagementPost(IdMixin, Base):
    __tablename__ = "engagement_posts"
    __table_args__ = (
        UniqueConstraint("channel_id", "dedupe_key"),
        Index("ix_engagement_posts_channel_posted", "channel_id", "posted_at"),
    )

    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(String(200))  # external id, or the posting instant
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    posted_at: Mapped[datetime]
    kind: Mapped[str | None] = mapped_column(String(20), default=None)
    source: Mapped[str] = mapped_column(String(20), default="import")  # import | sync | published
    target_id: Mapped[str | None] = mapped_column(ForeignKey("targets.id", ondelete="SET NULL"), default=None)
    # the latest snapshot's values, denormalised so the analyzer reads one table
    likes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    comments: Mapped[int | None] = mapped_column(BigInteger, default=None)
    shares: Mapped[int | None] = mapped_column(BigInteger, default=None)
    views: Mapped[int | None] = mapped_column(BigInteger, default=None)
    reach: Mapped[int | None] = mapped_column(BigInteger, default=None)
    followers: Mapped[int | None] = mapped_column(BigInteger, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EngagementSnapshot(IdMixin, Base):
    __tablename__ = "engagement_snapshots"

    post_id: Mapped[str] = mapped_column(ForeignKey("engagement_posts.id", ondelete="CASCADE"), index=True)
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)
    likes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    comments: Mapped[int | None] = mapped_column(BigInteger, default=None)
    shares: Mapped[int | None] = mapped_column(BigInteger, default=None)
    views: Mapped[int | None] = mapped_column(BigInteger, default=None)
    reach: Mapped[int | None] = mapped_column(BigInteger, default=None)
    followers: Mapped[int | None] = mapped_column(BigInteger, default=None)


class AnalyzerPrior(IdMixin, Base):
    """A saved prior for the analyzer (e.g. a competitor's audience), per workspace and platform."""

    __tablename__ = "analyzer_priors"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str | None] = mapped_column(String(20), default=None)
    channel_id: Mapped[str | None] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), default=None)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(200))
    cells: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"mean": [168], "var": [168]}
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
