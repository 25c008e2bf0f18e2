"""HTTP routes of goals: CRUD at /api/v1/goals; every read shows the progress from the collected numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app.deps import CurrentWorkspace, SessionDep
from app.goals import service
from app.openapi import errors

router = APIRouter(prefix="/goals", tags=["goals"])


class GoalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str = Field(max_length=40, description="followers, posts_per_week, engagement_rate, published_on_time, "
                                                   "clicks_per_day")
    target: float = Field(description="the value to reach (a share from 0 to 1 for engagement_rate and "
                                      "published_on_time)")
    deadline: str = Field(max_length=40, description="YYYY-MM-DD, after today")
    channel_id: str | None = Field(default=None, max_length=64, description="null: all channels")
    name: str | None = Field(default=None, max_length=400)


class GoalUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: float | None = None
    deadline: str | None = Field(default=None, max_length=40)
    name: str | None = Field(default=None, max_length=400)


class GoalOut(BaseModel):
    id: str
    metric: str
    target: float
    deadline: str
    channel_id: str | None
    name: str | None
    baseline: float | None = Field(description="the metric's value when the goal was set")
    created_at: datetime
    current: float | None = Field(description="the metric now (null: nothing collected yet)")
    projected: float | None = Field(description="where the current pace leads by the deadline")
    progress: float | None = Field(description="0..1 of the way from the baseline to the target")
    on_track: bool = Field(description="reached, or the current pace reaches the target by the deadline")
    status: str = Field(description="reached, on_track, behind, missed or no_data")
    days_left: int


class GoalList(BaseModel):
    items: list[GoalOut]
    next_cursor: str | None = None


@router.get("", response_model=GoalList)
async def list_goals(session: SessionDep, workspace: CurrentWorkspace) -> dict[str, Any]:
    """Every goal with its progress, by deadline."""
    return {"items": [await service.out(session, workspace, g) for g in await service.list_all(session, workspace)],
            "next_cursor": None}


@router.post("", status_code=201, response_model=GoalOut, responses=errors(422))
async def create_goal(data: GoalIn, session: SessionDep, workspace: CurrentWorkspace) -> dict[str, Any]:
    goal = await service.create(session, workspace, data.model_dump())
    body = await service.out(session, workspace, goal)
    await session.commit()
    return body


@router.get("/{goal_id}", response_model=GoalOut, responses=errors(404))
async def get_goal(goal_id: str, session: SessionDep, workspace: CurrentWorkspace) -> dict[str, Any]:
    return await service.out(session, workspace, await service.get(session, workspace, goal_id))


@router.patch("/{goal_id}", response_model=GoalOut, responses=errors(404, 422))
async def update_goal(goal_id: str, data: GoalUpdate, session: SessionDep, workspace: CurrentWorkspace
                      ) -> dict[str, Any]:
    fields = {k: getattr(data, k) for k in data.model_fields_set if getattr(data, k) is not None or k == "name"}
    goal = await service.update(session, workspace, goal_id, fields)
    body = await service.out(session, workspace, goal)
    await session.commit()
    return body


@router.delete("/{goal_id}", status_code=204, responses=errors(404))
async def delete_goal(goal_id: str, session: SessionDep, workspace: CurrentWorkspace) -> None:
    await service.delete(session, workspace, goal_id)
    await session.commit()
