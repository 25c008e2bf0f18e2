"""Posts, their per-channel targets, and the log of every publishing attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, TimestampMixin, utcnow
from app.models.statuses import TargetStatus


class Post(IdMixin, TimestampMixin, Base):
    __tablename__ = "posts"
    __table_args__ = (
        Index("ix_posts_workspace_order", "workspace_id", "order_at", "id"),
        UniqueConstraint("series_id", "occurrence_at"),
    )

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[list[Any]] = mapped_column(default=list)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  # text_format, link, link_preview, silent, kind
    scheduled_at: Mapped[datetime | None] = mapped_column(default=None)
    timezone: Mapped[str | None] = mapped_column(String(64), default=None)
    # the calendar's sort key: scheduled_at, or created_at for drafts (keyset pagination needs a non-null key)
    order_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    priority: Mapped[int] = mapped_column(Integer, default=3)
    rubric: Mapped[str | None] = mapped_column(String(100), default=None)
    series_id: Mapped[str | None] = mapped_column(ForeignKey("series.id", ondelete="SET NULL"), default=None)
    occurrence_at: Mapped[datetime | None] = mapped_column(default=None)


class Target(IdMixin, TimestampMixin, Base):
    """One post on one channel: the unit the publisher claims, sends and settles."""

    __tablename__ = "targets"
    __table_args__ = (
        UniqueConstraint("post_id", "channel_id"),
        Index("ix_targets_due", "status", "next_attempt_at"),
        Index("ix_targets_channel_due", "channel_id", "status", "next_attempt_at"),
        Index("ix_targets_lease", "status", "lease_expires_at"),
        # the calendar of one channel: range + keyset + order from the index alone, then posts by primary key
        Index("ix_targets_channel_order", "channel_id", "order_at", "post_id"),
        # the few targets holding a preparation (app.publishing.prepared.leftovers looks for finished ones)
        Index("ix_targets_prepared", "status", sqlite_where=text("prepared_at IS NOT NULL"),
              postgresql_where=text("prepared_at IS NOT NULL")),
    )

    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    # always equal to its post's posts.order_at (denormalised for ix_targets_channel_order; app.posts.service keeps it)
    order_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default=TargetStatus.DRAFT)  # a TargetStatus
    overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # sends made (every try, including status polls)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # transient failures in a row: back-off and budget
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    send_started_at: Mapped[datetime | None] = mapped_column(default=None)
    checkpoint: Mapped[dict[str, Any]] = mapped_column(default=dict)
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    url: Mapped[str | None] = mapped_column(Text, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    error_code: Mapped[str | None] = mapped_column(String(40), default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    late_by_s: Mapped[float | None] = mapped_column(Float, default=None)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    # what was prepared ahead of the due time (app.publishing.prepare): when, what (JSON, no secrets: the content
    # fingerprint, the connector's checkpoint, files kept in the media store, expiry) and why it could not be
    prepared_at: Mapped[datetime | None] = mapped_column(default=None)
    prepared_payload: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    prepare_error: Mapped[str | None] = mapped_column(Text, default=None)


class Attempt(IdMixin, Base):
    """One try at publishing a target, kept forever for the post's history."""

    __tablename__ = "attempts"

    target_id: Mapped[str] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    worker: Mapped[str | None] = mapped_column(String(64), default=None)
    outcome: Mapped[str] = mapped_column(String(20))  # an AttemptOutcome
    error_class: Mapped[str | None] = mapped_column(String(40), default=None)
    message: Mapped[str | None] = mapped_column(Text, default=None)
    response: Mapped[str | None] = mapped_column(Text, default=None)
