"""Recurring series: a cron rule in a time zone that materialises ordinary posts ahead of time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, TimestampMixin
from app.models.statuses import SeriesStatus


class Series(IdMixin, TimestampMixin, Base):
    __tablename__ = "series"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    cron: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64))
    template: Mapped[dict[str, Any]] = mapped_column(default=dict)  # text, media, options
    channel_ids: Mapped[list[Any]] = mapped_column(default=list)
    starts_at: Mapped[datetime | None] = mapped_column(default=None)
    ends_at: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(20), default=SeriesStatus.ACTIVE)  # a SeriesStatus
    materialized_until: Mapped[datetime | None] = mapped_column(default=None)
