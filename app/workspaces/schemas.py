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
    max_gap_days: int = Field(description="cadence check: the longest gap (days) in a channel's plan (default 7)")
    max_posts_per_day: int = Field(description="cadence check: the most posts of a channel on a day (default 3)")
    duplicate_window_days: int = Field(
        description="cadence check: days either side in which a nearly identical text counts as a repeat (default 30)")
    utm_template: str | None = Field(
        description="UTM tags of every channel without its own, e.g. utm_source={platform}&utm_medium=social")
    utm_domains: list[str] = Field(description="only links to these domains (and subdomains) are tagged; empty: all")
    short_links: bool = Field(description="links are sent as {SMM_PUBLIC_BASE_URL}/l/<code> and their clicks counted")


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
    max_gap_days: int | None = Field(default=None, ge=1, le=365, description="null: the default (7)")
    max_posts_per_day: int | None = Field(default=None, ge=1, le=100, description="null: the default (3)")
    duplicate_window_days: int | None = Field(default=None, ge=1, le=365, description="null: the default (30)")
    utm_template: str | None = Field(default=None, max_length=1000, description="null or '': no workspace template")
    utm_domains: list[str] | None = Field(default=None, max_length=100, description="null or []: every domain")
    short_links: bool | None = None
