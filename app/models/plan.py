"""The content plan's measuring side: short links and their daily clicks, channel spend, goals (KPIs)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, utcnow


class ShortLink(IdMixin, Base):
    """``{SMM_PUBLIC_BASE_URL}/l/<code>`` → ``url``: one link of one post on one channel (the code is derived from
    the post, the channel and the link as written, so the text sent and the row always agree)."""

    __tablename__ = "short_links"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    url: Mapped[str] = mapped_column(Text)  # the destination, UTM tags applied
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LinkClick(IdMixin, Base):
    """Clicks of one short link on one day (UTC): a count only — no address, agent or cookie is kept."""

    __tablename__ = "link_clicks"
    __table_args__ = (UniqueConstraint("link_id", "day"),)

    link_id: Mapped[str] = mapped_column(ForeignKey("short_links.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    clicks: Mapped[int] = mapped_column(Integer, default=0)


class ChannelSpend(IdMixin, Base):
    """Money spent on a channel (ads, paid placements) over a period: the cost side of cost per click/follower."""

    __tablename__ = "channel_spend"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    amount: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # inclusive
    note: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Goal(IdMixin, Base):
    """A KPI: ``metric`` to reach ``target`` by ``deadline`` on one channel (or all: ``channel_id`` null)."""

    __tablename__ = "goals"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    metric: Mapped[str] = mapped_column(String(30))  # a GoalMetric
    target: Mapped[float] = mapped_column(Float)
    deadline: Mapped[date] = mapped_column(Date)
    channel_id: Mapped[str | None] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), default=None)
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    baseline: Mapped[float | None] = mapped_column(Float, default=None)  # the metric's value when the goal was set
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
