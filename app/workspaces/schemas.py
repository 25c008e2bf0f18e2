"""Workspace settings as read and changed through the API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WorkspaceOut(BaseModel):
    id: str
    name: str
    timezone: str = Field(description="IANA zone: the web pages and the calendar ranges given as dates use it")
    country: str | None = Field(description="ISO 3166 alpha-2; drives the public holidays")
    ical_url: str = Field(description="the iCalendar feed (secret URL, readable without a key)")
    default_spacing_minutes: int | None = Field(description="minutes a channel's posts should stay apart")
    rubric_mix: dict[str, float] = Field(description="the target share (0..1) of each rubric that has one")


class WorkspaceUpdate(BaseModel):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    timezone: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, max_length=8, description="ISO 3166 alpha-2; null or '' clears it")
    default_spacing_minutes: int | None = Field(default=None, ge=0, le=7 * 24 * 60)
    rubric_mix: dict[str, float] | None = Field(
        default=None, max_length=100,
        description="the whole target mix: rubric name → share (0..1, at most 1 in total); unnamed rubrics lose "
                    "their target; a new name creates the rubric")
