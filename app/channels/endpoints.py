"""HTTP routes for channels (thin: parse, call the service, shape the answer)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.channels import repository as repo
from app.channels import service
from app.channels.schemas import ChannelCreate, ChannelList, ChannelOut, ChannelUpdate
from app.deps import BoxDep, CurrentWorkspace, SessionDep
from app.openapi import errors
from app.pagination import Limit, decode_cursor, encode_cursor

router = APIRouter(prefix="/channels", tags=["channels"])


@router.post("", status_code=201, response_model=ChannelOut)
async def create_channel(
    data: ChannelCreate, request: Request, session: SessionDep, workspace: CurrentWorkspace, box: BoxDep
) -> ChannelOut:
    channel = await service.create(session, workspace, data, box, request.app.state.settings.sandbox)
    return service.to_out(channel)


@router.get("", response_model=ChannelList, responses=errors(400))
async def list_channels(
    session: SessionDep, workspace: CurrentWorkspace, box: BoxDep, limit: Limit = 100, cursor: str | None = None
) -> ChannelList:
    after = decode_cursor(box, cursor) if cursor else None
    rows = await repo.list_page(session, workspace.id, after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor(box, rows[-1].created_at, rows[-1].id) if more and rows else None
    return ChannelList(items=[service.to_out(c) for c in rows], next_cursor=nxt)


@router.get("/{channel_id}", response_model=ChannelOut, responses=errors(404))
async def get_channel(channel_id: str, session: SessionDep, workspace: CurrentWorkspace) -> ChannelOut:
    return service.to_out(await service.get(session, workspace, channel_id))


@router.patch("/{channel_id}", response_model=ChannelOut, responses=errors(404, 422))
async def update_channel(
    channel_id: str, data: ChannelUpdate, session: SessionDep, workspace: CurrentWorkspace, box: BoxDep
) -> ChannelOut:
    return service.to_out(await service.update(session, workspace, channel_id, data, box))


@router.delete("/{channel_id}", status_code=204, responses=errors(404))
async def delete_channel(channel_id: str, session: SessionDep, workspace: CurrentWorkspace) -> None:
    await service.delete(session, workspace, channel_id)


@router.post("/{channel_id}/verify", response_model=ChannelOut, responses=errors(404, 422))
async def verify_channel(
    channel_id: str, request: Request, session: SessionDep, workspace: CurrentWorkspace, box: BoxDep
) -> ChannelOut:
    channel = await service.verify(session, workspace, channel_id, box, request.app.state.hub)
    return service.to_out(channel)
