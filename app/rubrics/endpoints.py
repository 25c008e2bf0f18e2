"""HTTP routes of rubrics and of the plan's rubric mix."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from app.deps import CurrentWorkspace, SessionDep
from app.models import Rubric, Workspace
from app.openapi import errors
from app.rubrics import repository as repo
from app.rubrics import service
from app.rubrics.mix import plan_mix
from app.rubrics.schemas import MixOut, RubricIn, RubricList, RubricOut, RubricUpdate

router = APIRouter(prefix="/rubrics", tags=["rubrics"])
mix_router = APIRouter(prefix="/plan", tags=["plan"])


async def _out(session: AsyncSession, workspace: Workspace, rubrics: list[Rubric]) -> list[RubricOut]:
    counts = await repo.post_counts(session, workspace.id)
    return [RubricOut(id=r.id, name=r.name, colour=r.colour, target_share=r.target_share, posts=counts.get(r.name, 0))
            for r in rubrics]


@router.get("", response_model=RubricList)
async def list_rubrics(session: SessionDep, workspace: CurrentWorkspace) -> RubricList:
    """Every rubric of the workspace (one page: a workspace has few)."""
    return RubricList(items=await _out(session, workspace, await repo.list_all(session, workspace.id)))


@router.post("", status_code=201, response_model=RubricOut, responses=errors(409, 422))
async def create_rubric(data: RubricIn, session: SessionDep, workspace: CurrentWorkspace) -> RubricOut:
    rubric = await service.create(session, workspace, data.name, data.colour, data.target_share)
    out = (await _out(session, workspace, [rubric]))[0]
    await session.commit()
    return out


@router.get("/{rubric_id}", response_model=RubricOut, responses=errors(404))
async def get_rubric(rubric_id: str, session: SessionDep, workspace: CurrentWorkspace) -> RubricOut:
    return (await _out(session, workspace, [await service.get(session, workspace, rubric_id)]))[0]


@router.patch("/{rubric_id}", response_model=RubricOut, responses=errors(404, 409, 422))
async def update_rubric(rubric_id: str, data: RubricUpdate, session: SessionDep,
                        workspace: CurrentWorkspace) -> RubricOut:
    """Rename (the posts follow), recolour, or change the target share (``null`` removes it)."""
    fields = {name: getattr(data, name) for name in data.model_fields_set}
    rubric = await service.update(session, workspace, rubric_id, fields)
    out = (await _out(session, workspace, [rubric]))[0]
    await session.commit()
    return out


@router.delete("/{rubric_id}", status_code=204, responses=errors(404))
async def delete_rubric(rubric_id: str, session: SessionDep, workspace: CurrentWorkspace) -> None:
    """Delete the rubric; its posts keep no rubric."""
    await service.delete(session, workspace, rubric_id)
    await session.commit()


@mix_router.get("/mix", response_model=MixOut, responses=errors(422))
async def rubric_mix(
    session: SessionDep, workspace: CurrentWorkspace,
    start: Annotated[str | None, Query(description="RFC 3339 or YYYY-MM-DD (workspace zone); default: this week")]
    = None,
    end: Annotated[str | None, Query(description="exclusive; default: four weeks after this week's Monday")] = None,
    channel_id: str | None = None,
) -> dict[str, Any]:
    """The share of each rubric per week (overall and per channel) beside the targets."""
    return await plan_mix(session, workspace, start, end, channel_id)
