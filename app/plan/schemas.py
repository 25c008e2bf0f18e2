"""Planning requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FillIn(BaseModel):
    """Drafts to place: ``post_ids`` or ``drafts: "all"``, within [start, end) (default: now … 14 days)."""

    model_config = ConfigDict(extra="forbid")

    post_ids: list[str] | None = Field(default=None, max_length=500)
    drafts: Literal["all"] | None = None
    start: str | None = Field(default=None, description="RFC 3339 (or local time in the workspace's zone)")
    end: str | None = None
    channel_ids: list[str] | None = Field(default=None, description="only drafts that target one of these")
    confirm: bool = Field(default=False, description="false: a dry run; true: schedule the plan")

    @model_validator(mode="after")
    def _which(self) -> FillIn:
        if (self.post_ids is None) == (self.drafts is None):
            raise ValueError('give either post_ids or "drafts": "all"')
        return self


class PlannedPost(BaseModel):
    post_id: str
    scheduled_at: datetime
    slot: dict[str, Any]
    channel_ids: list[str]
    priority: int
    reason: str


class Unplaced(BaseModel):
    post_id: str
    reason: str


class FillOut(BaseModel):
    plan: list[PlannedPost]
    unplaced: list[Unplaced]
    committed: bool
    start: datetime
    end: datetime
    truncated: bool = Field(default=False, description='more than 500 drafts wait (drafts: "all"): fill again')


class PlanImportProblem(BaseModel):
    row: int = Field(description="the file's row (the header is row 1; 0: the file as a whole)")
    column: str | None = Field(description="the column the problem is in (null: the whole row or file)")
    error: str


class PlanImportWarning(BaseModel):
    row: int
    column: str
    code: str = Field(description="holiday, significant_date, or a cadence check's code: too_close, duplicate_text, "
                                  "plan_gap, too_many_per_day (informational: the row is still valid)")
    message: str
    channel_id: str | None = None


class PlanImportOut(BaseModel):
    rows: int = Field(description="rows read (blank rows skipped)")
    valid: int = Field(description="rows without a problem")
    problems: list[PlanImportProblem]
    warnings: list[PlanImportWarning]
    created: list[str] = Field(description="ids of the posts created (empty for a dry run or any problem)")
