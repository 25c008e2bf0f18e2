"""Workspaces, their API keys, and remembered idempotent responses."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, utcnow


def new_ical_token() -> str:
    """The secret of a workspace's iCalendar feed URL (32 random bytes, URL-safe)."""
    return secrets.token_urlsafe(32)


class Workspace(IdMixin, Base):
    __tablename__ = "workspaces"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # minutes a channel's posts should stay apart (the cadence checks' default; null: no rule)
    default_spacing_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    # the path secret of the iCalendar feed: stored as is, because the feed URL is shown to the workspace. Nullable
    # in the schema only: making it NOT NULL would need SQLite's table copy, whose DROP cascades to every child row
    ical_token: Mapped[str | None] = mapped_column(String(64), unique=True, index=True, default=new_ical_token)
    # cadence checks (app.cadence; null: the default there): the longest gap in a channel's plan, the most posts
    # of a channel on one day, how far back and ahead a nearly identical text counts as a repeat
    max_gap_days: Mapped[int | None] = mapped_column(Integer, default=None)
    max_posts_per_day: Mapped[int | None] = mapped_column(Integer, default=None)
    duplicate_window_days: Mapped[int | None] = mapped_column(Integer, default=None)
    # UTM tagging at publish time (app.links): the default template, the domains whose links get tagged
    utm_template: Mapped[str | None] = mapped_column(String(1000), default=None)
    utm_domains: Mapped[list[Any] | None] = mapped_column(default=None)
    short_links: Mapped[bool | None] = mapped_column(Boolean, default=None)  # links sent as /l/<code> (clicks)


class Rubric(IdMixin, Base):
    """A content rubric of a workspace (news, entertainment, advertising, ...). Posts name it in ``posts.rubric``
    (the canonical spelling of ``name``); renaming a rubric renames it on its posts, deleting it clears them."""

    __tablename__ = "rubrics"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    colour: Mapped[str] = mapped_column(String(7))  # "#rrggbb"
    target_share: Mapped[float | None] = mapped_column(Float, default=None)  # 0..1 of a week's posts
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignificantDate(IdMixin, Base):
    """A date of the workspace's own (a launch, an anniversary, a contest), shown beside the public holidays."""

    __tablename__ = "significant_dates"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(200))
    yearly: Mapped[bool] = mapped_column(Boolean, default=False)  # an anniversary: every year on that day
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(IdMixin, Base):
    __tablename__ = "api_keys"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class IdempotencyRecord(IdMixin, Base):
    """The first response to a request that carried an ``Idempotency-Key``."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class WebSession(IdMixin, Base):
    """A signed-in browser: the cookie carries a random token, the row its hash. Logout deletes the row; a
    revoked key ends its sessions through the join on ``api_keys``."""

    __tablename__ = "web_sessions"

    api_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginFailure(IdMixin, Base):
    """One refused sign-in, counted in a bucket (a hash of the client address or of the key's prefix)."""

    __tablename__ = "login_failures"

    bucket: Mapped[str] = mapped_column(String(64), index=True)
    failed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
