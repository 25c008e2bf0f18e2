"""Post requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.models.statuses import AttemptOutcome, PostStatus, TargetStatus

MediaKindIn = Literal["photo", "video", "document", "audio", "animation"]


class MediaIn(BaseModel):
    """One attachment: a public ``url``, or the ``media_id`` of a file uploaded to ``/api/v1/media``."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=2048)
    media_id: str | None = Field(default=None, max_length=64)
    kind: MediaKindIn = "photo"
    alt_text: str | None = Field(default=None, max_length=1000)
    mime_type: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _one_source(self) -> MediaIn:
        if (self.url is None) == (self.media_id is None):
            raise ValueError("give exactly one of url or media_id")
        if self.url is not None and not self.url.lower().startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) address")
        return self


class OverrideIn(BaseModel):
    """What differs on one channel."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, max_length=100_000)
    media: list[MediaIn] | None = Field(default=None, max_length=20)


class PostOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text_format: Literal["plain", "html", "markdownv2"] = "plain"
    link: str | None = Field(default=None, max_length=2048)
    link_preview: bool = True
    silent: bool = False
    kind: Literal["feed", "reel", "story"] = "feed"


def _utm(value: str | None) -> str | None:
    """A post's UTM template, checked and written in its canonical form (``None`` when empty)."""
    from app.errors import ApiError
    from app.links.utm import format_template, parse_template

    try:
        return format_template(parse_template(value, "utm")) or None
    except ApiError as exc:
        raise ValueError(exc.errors[0]["message"] if exc.errors else exc.detail) from None


class PostCreate(PostOptions):
    text: str = Field(default="", max_length=100_000)
    media: list[MediaIn] = Field(default_factory=list, max_length=20)
    channel_ids: list[str] = Field(min_length=1, max_length=100)
    scheduled_at: str | None = Field(
        default=None,
        description='RFC 3339 with offset; a local time plus "timezone"; "now"; "auto" (best free slot); '
        "or null for a draft",
    )
    timezone: str | None = Field(default=None, max_length=64)
    overrides: dict[str, OverrideIn] = Field(default_factory=dict)
    priority: int = Field(default=3, ge=1, le=5)
    not_before: str | None = None
    rubric: str | None = Field(default=None, max_length=100, description="a rubric's name (any case); a new name "
                               "creates the rubric; null or empty: none")
    utm: str | None = Field(default=None, max_length=1000, description="UTM tags of this post's links over the "
                            "channel's, e.g. utm_campaign=spring&utm_content={channel}; applied when sent")

    _check_utm = field_validator("utm")(lambda v: _utm(v))

    @field_validator("channel_ids")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class PostUpdate(BaseModel):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, max_length=100_000)
    media: list[MediaIn] | None = Field(default=None, max_length=20)
    scheduled_at: str | None = None
    timezone: str | None = Field(default=None, max_length=64)
    overrides: dict[str, OverrideIn] | None = None
    text_format: Literal["plain", "html", "markdownv2"] | None = None
    link: str | None = None
    link_preview: bool | None = None
    silent: bool | None = None
    kind: Literal["feed", "reel", "story"] | None = None
    priority: int | None = Field(default=None, ge=1, le=5)
    rubric: str | None = Field(default=None, max_length=100)
    channel_ids: list[str] | None = Field(
        default=None, min_length=1, max_length=100,
        description="the post's channels from now on: targets of channels left out are removed, new ones added "
        "(all while nothing is being published)",
    )

    @field_validator("channel_ids")
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        return list(dict.fromkeys(value)) if value is not None else None

    utm: str | None = Field(default=None, max_length=1000, description="null or '': the channel's tags only")

    _check_utm = field_validator("utm")(lambda v: _utm(v))


class PostRestore(BaseModel):
    """Undo a cancel: absent ``scheduled_at`` keeps the post's own time (refused once it has passed); a time,
    ``"now"``, or ``null`` (a draft) sets a new one."""

    model_config = ConfigDict(extra="forbid")

    scheduled_at: str | None = None
    timezone: str | None = Field(default=None, max_length=64)


class TargetOut(BaseModel):
    channel_id: str
    platform: str | None = None
    status: TargetStatus
    external_id: str | None
    url: str | None
    attempts: int
    last_error: str | None
    published_at: datetime | None
    next_attempt_at: datetime | None = None
    late_by_s: float | None
    late: bool
    # preparation ahead of the time (media fetched and checked, uploads done): when it last ran, and why it
    # failed (also in last_error while the target is scheduled); the send at the time still tries
    prepared_at: datetime | None = None
    prepare_error: str | None = None


class PostWarning(BaseModel):
    """A cadence or conflict check's finding (app.cadence): informs, never refuses."""

    code: str = Field(description="too_close, duplicate_text, plan_gap, too_many_per_day, holiday, significant_date")
    message: str
    channel_id: str | None = Field(default=None, description="the channel it is about (null: the post's day)")


class PostOut(BaseModel):
    id: str
    status: PostStatus
    scheduled_at: datetime | None
    timezone: str | None
    text: str
    media: list[dict[str, Any]]
    options: dict[str, Any]
    overrides: dict[str, Any]
    priority: int
    rubric: str | None
    series_id: str | None
    created_at: datetime
    updated_at: datetime
    targets: list[TargetOut]
    warnings: list[PostWarning] = Field(
        default_factory=list, description="cadence and conflict checks (create, update and GET of one post)")


class PostList(BaseModel):
    items: list[PostOut]
    next_cursor: str | None = None


class AttemptOut(BaseModel):
    channel_id: str
    started_at: datetime
    finished_at: datetime | None
    outcome: AttemptOutcome
    error_class: str | None
    message: str | None
    worker: str | None = None  # the process that made the try: "<host>-<pid>-<random>"
