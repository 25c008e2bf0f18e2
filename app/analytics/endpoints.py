"""HTTP routes of the analyzer: engagement history in (CSV, sync), best slots, heatmap, competitor audiences."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.analytics import service
from app.analytics import sync as sync_module  # also registers the periodic engagement sync
from app.analytics.schemas import BestSlotsOut, CommunityIn, CommunityOut, HeatmapOut, ImportOut, SyncOut
from app.channels import service as channel_service
from app.deps import BoxDep, CurrentWorkspace, SessionDep
from app.errors import ApiError
from app.openapi import errors

router = APIRouter(tags=["analytics"])

CSV_TYPES = ("text/csv", "application/csv", "text/comma-separated-values")
CSV_BODY = {"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}, "example": (
    "posted_at,likes,comments,shares,views,reach,followers,external_id,kind\n"
    "2024-05-01T18:30:00+03:00,120,8,5,4000,3100,15200,812,photo\n")}}}}


@router.post("/channels/{channel_id}/engagement", response_model=ImportOut, openapi_extra=CSV_BODY,
             responses=errors(404, 415, 422))
async def import_engagement(channel_id: str, request: Request, session: SessionDep,
                            workspace: CurrentWorkspace) -> dict[str, Any]:
    """Import past posts and their numbers from a CSV file (header row required); re-imports never double."""
    await channel_service.get(session, workspace, channel_id)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in CSV_TYPES:
        raise ApiError(415, f"Send the history as CSV with 'Content-Type: text/csv' (got {media_type or 'none'}).")
    return await service.import_csv(session, workspace, channel_id, await request.body())


@router.post("/channels/{channel_id}/engagement/sync", response_model=SyncOut, responses=errors(404, 422, 502))
async def sync_engagement(channel_id: str, request: Request, session: SessionDep, workspace: CurrentWorkspace,
                          box: BoxDep) -> dict[str, Any]:
    """Pull the channel's recent posts and their numbers from the platform."""
    channel = await channel_service.get(session, workspace, channel_id)
    try:
        return await sync_module.sync_channel(session, channel, request.app.state.hub, box)
    except ApiError:
        await session.commit()  # a rejected token leaves the channel marked needs_reauth
        raise


@router.get("/channels/{channel_id}/best-slots", response_model=BestSlotsOut, response_model_exclude_none=True,
            responses=errors(404, 422))
async def best_slots(channel_id: str, session: SessionDep, workspace: CurrentWorkspace,
                     count: Annotated[int, Query(ge=1, le=168)] = 5,
                     explore: bool = False) -> dict[str, Any]:
    """The channel's best weekday×hour slots, ranked best first, in its time zone."""
    return await service.best_slots(session, workspace, channel_id, count, explore=explore)


@router.get("/channels/{channel_id}/heatmap", response_model=HeatmapOut, responses=errors(404))
async def heatmap(channel_id: str, session: SessionDep, workspace: CurrentWorkspace) -> dict[str, Any]:
    """All 168 weekday×hour cells of the channel (Monday 0 h first) in the slot form."""
    return await service.heatmap(session, workspace, channel_id)


@router.post("/analyze/community", response_model=CommunityOut, response_model_exclude_none=True,
             responses=errors(404, 422, 502))
async def analyze_community(data: CommunityIn, request: Request, session: SessionDep, workspace: CurrentWorkspace,
                            box: BoxDep) -> dict[str, Any]:
    """Best slots of a competitor's audience (VK community wall, Instagram business discovery)."""
    try:
        return await service.analyze_community(session, workspace, data, request.app.state.hub, box)
    except ApiError:
        await session.commit()
        raise
