"""Rubric requests and responses, and the plan mix."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RubricIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)
    colour: str | None = Field(default=None, max_length=20, description="#rrggbb; default: the next palette colour")
    target_share: float | None = Field(default=None, description="0..1 of the plan; all together at most 1")


class RubricUpdate(BaseModel):
    """Fields to change; ``target_share: null`` removes the target."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    colour: str | None = Field(default=None, max_length=20)
    target_share: float | None = None


class RubricOut(BaseModel):
    id: str
    name: str
    colour: str
    target_share: float | None
    posts: int = Field(description="posts (not cancelled) that name this rubric")


class RubricList(BaseModel):
    items: list[RubricOut]
    next_cursor: str | None = None


class MixShare(BaseModel):
    rubric: str | None = Field(description="null: posts without a rubric")
    posts: int
    share: float = Field(description="posts / all posts of the week (per channel: of that channel's week)")
    target_share: float | None
    gap: float | None = Field(description="share - target_share (negative: fewer than planned)")


class MixWeek(BaseModel):
    week: str = Field(description="the Monday that starts the week, in the workspace's zone (YYYY-MM-DD)")
    posts: int
    rubrics: list[MixShare]


class MixChannel(BaseModel):
    channel_id: str
    name: str
    weeks: list[MixWeek]


class MixOut(BaseModel):
    timezone: str
    start: str
    end: str
    targets: dict[str, float]
    weeks: list[MixWeek]
    channels: list[MixChannel]
