"""Sign-in flows in progress: the ``state`` a platform's dialog must hand back, bound to one web session."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, utcnow


class ConnectFlowStatus(StrEnum):
    STARTED = "started"  # sent to the platform's dialog; its state may come back once
    RETURNED = "returned"  # the callback exchanged the code; the person now picks the accounts
    DONE = "done"  # channels created (or the flow was refused): nothing more may happen with it


class ConnectFlow(IdMixin, Base):
    """One ``GET /connect/{platform}``: only hashes of the state and of the session are stored; the PKCE verifier
    and, after the callback, the accounts with their tokens are sealed with the credentials key."""

    __tablename__ = "connect_flows"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    session_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default=ConnectFlowStatus.STARTED)  # a ConnectFlowStatus
    channel_id: Mapped[str | None] = mapped_column(String(32), default=None)  # re-connecting this channel
    verifier_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    result_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
