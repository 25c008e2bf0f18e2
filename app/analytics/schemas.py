"""Analyzer requests and responses (the best-slots shape follows docs/api-contract.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RowError(BaseModel):
    row: int = Field(description="line in the file as a person counts it; the header is row 1")
    error: str


class ImportOut(BaseModel):
    """``imported`` new posts, ``skipped`` rows with an error; ``updated``/``unchanged`` rows matched stored posts."""

    imported: int
    skipped: int
    errors: list[RowError]
    updated: int = 0
    unchanged: int = 0
    rows: int = 0
    ignored_columns: list[str] = Field(default_factory=list)
    errors_truncated: bool = False


class SyncOut(BaseModel):
    imported: int
    updated: int
    unchanged: int
    followers: int | None
    since: str
    linked: int = Field(description="stored posts linked to a post this service published")
    audience_online: bool = Field(description="an Instagram audience-online curve was saved as the channel's prior")


class SlotOut(BaseModel):
    weekday: int = Field(description="0 = Monday, in the channel's time zone")
    hour: int
    score: float = Field(description="expected log lift over the channel average")
    low: float
    high: float
    posts: int


class BestSlotsOut(BaseModel):
    timezone: str
    effect_detected: bool
    posts_used: int
    slots: list[SlotOut]
    explanation: str
    exploration: list[SlotOut] | None = None
    prior: str | None = Field(default=None, description="what the cells were shrunk toward, if anything")
    has_history: bool = True


class HeatmapOut(BaseModel):
    timezone: str
    cells: list[SlotOut]
    slots: list[SlotOut] = Field(default_factory=list, description="the top 5, best first")
    effect_detected: bool
    posts_used: int
    explanation: str
    prior: str | None = None
    has_history: bool = True


class CommunityIn(BaseModel):
    """A competitor's audience: a VK community or an Instagram business/creator account."""

    model_config = ConfigDict(extra="forbid")

    platform: Literal["vk", "instagram"]
    community: str | None = Field(default=None, max_length=300, description="VK: URL, screen name, club123")
    username: str | None = Field(default=None, max_length=100, description="Instagram username")
    channel_id: str | None = Field(default=None, description="the channel whose token reads the public data")
    timezone: str | None = Field(default=None, max_length=64, description="default: the reading channel's zone")
    count: int = Field(default=5, ge=1, le=168)
    save_as_prior: bool = False
    apply_to_channel_id: str | None = None

    @model_validator(mode="after")
    def _target(self) -> CommunityIn:
        if self.platform == "vk" and not (self.community or "").strip():
            raise ValueError("community is required for VK (a URL like https://vk.com/club123 or a screen name)")
        if self.platform == "instagram" and not (self.username or "").strip():
            raise ValueError("username is required for Instagram")
        return self


class CommunityOut(BestSlotsOut):
    source: str
    posts_read: int
    prior_id: str | None = None
