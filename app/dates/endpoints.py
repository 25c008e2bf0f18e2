"""HTTP routes of the workspace's significant dates and of the holidays (public and the workspace's own)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.dates import service
from app.dates.schemas import DateIn, DateList, DateOut, HolidayList
from app.deps import CurrentWorkspace, SessionDep
from app.openapi import errors

router = APIRouter(tags=["dates"])


@router.get("/dates", response_model=DateList)
async def list_dates(session: SessionDep, workspace: CurrentWorkspace) -> dict[str, Any]:
    """The workspace's own dates (launches, anniversaries, contests), by date (one page)."""
    return {"items": await service.list_dates(session, workspace), "next_cursor": None}


@router.post("/dates", status_code=201, response_model=DateOut, responses=errors(422))
async def add_date(data: DateIn, session: SessionDep, workspace: CurrentWorkspace) -> dict[str, Any]:
    out = await service.add_date(session, workspace, data.date, data.name, data.yearly)
    await session.commit()
    return out


@router.delete("/dates/{date_id}", status_code=204, responses=errors(404))
async def delete_date(date_id: str, session: SessionDep, workspace: CurrentWorkspace) -> None:
    await service.delete_date(session, workspace, date_id)
    await session.commit()


@router.get("/holidays", response_model=HolidayList, responses=errors(422))
async def holidays(
    session: SessionDep, workspace: CurrentWorkspace,
    start: Annotated[str | None, Query(description="YYYY-MM-DD, inclusive; default today")] = None,
    end: Annotated[str | None, Query(description="YYYY-MM-DD, exclusive; default 90 days after start")] = None,
) -> dict[str, Any]:
    """The country's public holidays and the workspace's dates (yearly ones on each anniversary) in the range."""
    first, last = service.window(workspace, start, end)
    items = await service.markers_between(session, workspace, first, last)
    return {"country": workspace.country, "start": first.isoformat(), "end": (last + timedelta(days=1)).isoformat(),
            "items": items, "next_cursor": None}
