"""Recurring series requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.posts.schemas import MediaIn, PostOptions


class Template(PostOptions):
    """What every occurrence publishes (each one can still be edited on its own once materialised)."""

    text: str = Field(default="", max_length=100_000)
    media: list[MediaIn] = Field(default_factory=list, max_length=20)


class SeriesCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    cron: str = Field(min_length=9, max_length=100, description="5-field crontab, e.g. '31 18 * * mon'")
    timezone: str = Field(max_length=64)
    template: Template
    channel_ids: list[str] = Field(min_length=1, max_length=100)
    starts_at: str | None = Field(default=None, description="RFC 3339; default now")
    ends_at: str | None = Field(default=None, description="RFC 3339; no occurrence after it")


class SeriesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    status: Literal["active", "paused"] | None = None
    ends_at: str | None = None


class SeriesOut(BaseModel):
    id: str
    name: str
    cron: str
    timezone: str
    template: dict[str, Any]
    channel_ids: list[str]
    starts_at: datetime | None
    ends_at: datetime | None
    status: str
    materialized_until: datetime | None
    next_occurrences: list[datetime]
    created_at: datetime


class SeriesList(BaseModel):
    items: list[SeriesOut]
    next_cursor: str | None = None
