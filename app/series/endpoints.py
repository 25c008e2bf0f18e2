"""HTTP routes for recurring series."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.deps import BoxDep, CurrentWorkspace, SessionDep
from app.openapi import errors
from app.pagination import Limit, decode_cursor, encode_cursor
from app.series import repository as repo
from app.series import service
from app.series.schemas import SeriesCreate, SeriesList, SeriesOut, SeriesUpdate

router = APIRouter(prefix="/series", tags=["series"])


@router.post("", status_code=201, response_model=SeriesOut)
async def create_series(
    data: SeriesCreate, request: Request, session: SessionDep, workspace: CurrentWorkspace
) -> SeriesOut:
    series = await service.create(session, workspace, data, request.app.state.hub, request.app.state.settings)
    out = await service.answer(series)
    await session.commit()
    return out


@router.get("", response_model=SeriesList, responses=errors(400, 422))
async def list_series(
    session: SessionDep, workspace: CurrentWorkspace, box: BoxDep, limit: Limit = 100, cursor: str | None = None
) -> SeriesList:
    after = decode_cursor(box, cursor) if cursor else None
    rows = await repo.list_page(session, workspace.id, after, limit + 1)
    more, rows = len(rows) > limit, rows[:limit]
    nxt = encode_cursor(box, rows[-1].created_at, rows[-1].id) if more and rows else None
    return SeriesList(items=await service.to_out_many(rows), next_cursor=nxt)


@router.get("/{series_id}", response_model=SeriesOut, responses=errors(404))
async def get_series(series_id: str, session: SessionDep, workspace: CurrentWorkspace) -> SeriesOut:
    return await service.answer(await service.get(session, workspace, series_id))


@router.patch("/{series_id}", response_model=SeriesOut, responses=errors(404, 422))
async def update_series(
    series_id: str, data: SeriesUpdate, request: Request, session: SessionDep, workspace: CurrentWorkspace
) -> SeriesOut:
    series = await service.update(session, workspace, series_id, data, request.app.state.settings)
    out = await service.answer(series)
    await session.commit()
    return out


@router.delete("/{series_id}", status_code=204, responses=errors(404))
async def delete_series(series_id: str, request: Request, session: SessionDep, workspace: CurrentWorkspace) -> None:
    await service.delete(session, workspace, series_id)
    await session.commit()
