"""The fixed sets of states, shared by models, schemas, the publisher and the web pages (values are stored)."""

from __future__ import annotations

from enum import StrEnum


class TargetStatus(StrEnum):
    """Where one post stands on one channel."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"  # claimed: the send is under way (or its outcome is being established)
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NEEDS_CHECK = "needs_check"  # the platform may or may not have published it: a person decides


class PostStatus(StrEnum):
    """A post's summary of its targets: a target status, or ``partially_published``."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NEEDS_CHECK = "needs_check"
    PARTIALLY_PUBLISHED = "partially_published"


class AttemptOutcome(StrEnum):
    """What one try at a target came to (the attempts table keeps one row per try)."""

    PUBLISHED = "published"
    RETRY = "retry"  # a transient error: sent again after a back-off
    RATE_LIMITED = "rate_limited"  # the platform asked to wait: sent again at its retry_after
    PENDING = "pending"  # a step of a multi-step publish (Instagram container) is not ready yet
    FAILED = "failed"
    UNKNOWN = "unknown"  # the request left but no answer came: reconciled next
    MOVED = "moved"  # Telegram group became a supergroup: the channel was updated, sent again
    NEEDS_CHECK = "needs_check"
    RECONCILED = "reconciled"  # the platform proved it has nothing: sent again


class ChannelStatus(StrEnum):
    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"
    DISABLED = "disabled"


class SeriesStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


#: a person may send these again (``POST /posts/{id}/retry``)
RETRYABLE = (TargetStatus.FAILED, TargetStatus.NEEDS_CHECK)
#: a person may cancel these
CANCELLABLE = (TargetStatus.DRAFT, TargetStatus.SCHEDULED, TargetStatus.FAILED, TargetStatus.NEEDS_CHECK)
