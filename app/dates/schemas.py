"""Significant dates and holidays as the API reads and writes them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: str = Field(description="YYYY-MM-DD", max_length=100)
    name: str = Field(max_length=400, description="e.g. 'Product launch', 'Shop anniversary'")
    yearly: bool = Field(default=False, description="every year on that day (an anniversary)")


class DateOut(BaseModel):
    id: str
    date: str
    name: str
    yearly: bool


class DateList(BaseModel):
    items: list[DateOut]
    next_cursor: str | None = None


class Marker(BaseModel):
    date: str
    name: str
    kind: Literal["public", "workspace"] = Field(description="a public holiday of the country, or the workspace's own")
    id: str | None = Field(description="the significant date's id (null for public holidays)")


class HolidayList(BaseModel):
    country: str | None
    start: str
    end: str
    items: list[Marker]
    next_cursor: str | None = None
