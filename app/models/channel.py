"""Channels: one account/page/chat on one platform, with encrypted credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, TimestampMixin
from app.models.statuses import ChannelStatus


class Channel(IdMixin, TimestampMixin, Base):
    __tablename__ = "channels"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default=ChannelStatus.ACTIVE)  # a ChannelStatus
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    credentials_sealed: Mapped[str] = mapped_column(Text)
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    account: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what verify() learned (never secrets)
    verified_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    # when the publisher last claimed one of its posts: equally overdue channels are served longest-waiting
    # first, so a burst at 09:00 goes round the channels instead of draining one at its platform's pace
    last_claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    # the platform's per-chat pacing, shared by every worker: no claim of this channel before this instant
    # (written with the outcome of each send: the previous request's answer + the platform's interval)
    next_send_at: Mapped[datetime | None] = mapped_column(default=None)
    # what the platform says of the token (null: it does not expire / was not told); scopes as granted
    token_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    data_access_expires_at: Mapped[datetime | None] = mapped_column(default=None)  # Meta's 90-day data access
    scopes: Mapped[list[Any] | None] = mapped_column(default=None)
    token_refreshed_at: Mapped[datetime | None] = mapped_column(default=None)
    # the content plan: minutes this channel's posts should stay apart (null: the workspace's default), and the
    # UTM template of its links (null: the workspace's), e.g. "utm_source={platform}&utm_medium=social"
    spacing_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    utm_template: Mapped[str | None] = mapped_column(String(1000), default=None)
