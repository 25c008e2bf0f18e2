"""All tables; importing this module registers them on ``Base.metadata``."""

from app.models.base import Base
from app.models.channel import Channel
from app.models.connect import ConnectFlow, ConnectFlowStatus
from app.models.engagement import AnalyzerPrior, EngagementPost, EngagementSnapshot
from app.models.ops import MediaFile, Worker
from app.models.plan import ChannelSpend, Goal, LinkClick, ShortLink
from app.models.post import Attempt, Post, Target
from app.models.series import Series
from app.models.statuses import AttemptOutcome, ChannelStatus, PostStatus, SeriesStatus, TargetStatus
from app.models.workspace import (
    ApiKey,
    IdempotencyRecord,
    LoginFailure,
    Rubric,
    SignificantDate,
    WebSession,
    Workspace,
)

__all__ = [
    "AnalyzerPrior",
    "ApiKey",
    "Attempt",
    "AttemptOutcome",
    "Base",
    "Channel",
    "ChannelSpend",
    "ChannelStatus",
    "ConnectFlow",
    "ConnectFlowStatus",
    "EngagementPost",
    "EngagementSnapshot",
    "Goal",
    "IdempotencyRecord",
    "LinkClick",
    "LoginFailure",
    "MediaFile",
    "Post",
    "PostStatus",
    "Rubric",
    "Series",
    "SeriesStatus",
    "ShortLink",
    "SignificantDate",
    "Target",
    "TargetStatus",
    "WebSession",
    "Worker",
    "Workspace",
]
