"""HTTP routes of links and what they bring: the outgoing text per channel, short-link redirects, clicks, spend."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from app.db import SessionDep
from app.deps import CurrentWorkspace
from app.errors import Invalid
from app.links import costs
from app.links import service as links
from app.openapi import errors
from app.posts import service as post_service
from app.timeutil import TimeInputError, get_zone, parse_date, utcnow

router = APIRouter(tags=["links"])
public_router = APIRouter(include_in_schema=False)  # /l/<code>: no key, the reader of a post clicks it

NOT_FOUND_PAGE = ("<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Link not found</title>"
                  "<body><h1>Link not found</h1><p>This short link does not exist (or its post was deleted).</p>"
                  "</body></html>")


class SpendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: float = Field(ge=0, le=1e12, description="in the currency's units, e.g. 120.50")
    currency: str = Field(min_length=1, max_length=10, description="ISO 4217, e.g. EUR")
    start: str = Field(max_length=40, description="first day of the period, YYYY-MM-DD")
    end: str = Field(max_length=40, description="last day of the period (inclusive), YYYY-MM-DD")
    note: str | None = Field(default=None, max_length=2000)


def _range(workspace: Any, start: str | None, end: str | None, default_days: int = 30) -> tuple[date, date]:
    """[first, last] (inclusive) from ``start`` and ``end`` (inclusive) dates; default: the last 30 days."""
    try:
        today = utcnow().astimezone(get_zone(workspace.timezone or "UTC")).date()
    except TimeInputError:
        today = utcnow().date()
    def day(value: str, field: str) -> date:
        try:
            return parse_date(value)
        except TimeInputError as exc:
            raise Invalid(field, str(exc)) from exc

    last = day(end, "end") if end else today
    first = day(start, "start") if start else last - timedelta(days=default_days - 1)
    if last < first:
        raise Invalid("end", "end is before start")
    if (last - first).days > 3 * 366:
        raise Invalid("end", "the range spans more than three years; ask for less at a time")
    return first, last


@router.get("/posts/{post_id}/preview", responses=errors(404))
async def preview(post_id: str, request: Request, session: SessionDep, workspace: CurrentWorkspace
                  ) -> dict[str, Any]:
    """What each channel of the post receives when it is sent: text and link with the UTM tags (and short links)
    applied. The stored text stays as written."""
    settings = request.app.state.settings
    post = await post_service.get(session, workspace, post_id)
    channels = await links.preview(session, workspace, post, settings.effective_public_base_url, settings.media_dir)
    await session.commit()
    return {"post_id": post.id, "channels": channels}


@router.get("/clicks", responses=errors(422))
async def clicks(
    session: SessionDep, workspace: CurrentWorkspace,
    start: Annotated[str | None, Query(description="YYYY-MM-DD (inclusive); default 30 days before end")] = None,
    end: Annotated[str | None, Query(description="YYYY-MM-DD (inclusive); default today")] = None,
    post_id: str | None = None, channel_id: str | None = None,
) -> dict[str, Any]:
    """Clicks of the short links by day (UTC), post, channel and rubric."""
    first, last = _range(workspace, start, end)
    body = await links.clicks(session, workspace, start=first, end=last, post_id=post_id, channel_id=channel_id)
    return {"start": first.isoformat(), "end": last.isoformat(), **body}


@router.get("/channels/{channel_id}/spend", responses=errors(404))
async def list_spend(channel_id: str, session: SessionDep, workspace: CurrentWorkspace) -> dict[str, Any]:
    return {"items": await costs.list_for(session, workspace, channel_id), "next_cursor": None}


@router.post("/channels/{channel_id}/spend", status_code=201, responses=errors(404, 422))
async def add_spend(channel_id: str, data: SpendIn, session: SessionDep, workspace: CurrentWorkspace
                    ) -> dict[str, Any]:
    """Money spent on the channel over a period (ads, paid placements)."""
    out = await costs.add(session, workspace, channel_id, amount=data.amount, currency=data.currency,
                          start=data.start, end=data.end, note=data.note)
    await session.commit()
    return out


@router.delete("/channels/{channel_id}/spend/{spend_id}", status_code=204, responses=errors(404))
async def delete_spend(channel_id: str, spend_id: str, session: SessionDep, workspace: CurrentWorkspace) -> None:
    await costs.delete(session, workspace, channel_id, spend_id)
    await session.commit()


@router.get("/costs", responses=errors(422))
async def cost_report(
    session: SessionDep, workspace: CurrentWorkspace,
    start: Annotated[str | None, Query(description="YYYY-MM-DD (inclusive); default 30 days before end")] = None,
    end: Annotated[str | None, Query(description="YYYY-MM-DD (inclusive); default today")] = None,
) -> dict[str, Any]:
    """Per channel: spend in the range (by currency), clicks, followers gained, cost per click and per follower."""
    first, last = _range(workspace, start, end)
    return await costs.report(session, workspace, first, last)


@public_router.get("/l/{code:path}")
async def follow(code: str, session: SessionDep) -> Response:
    """A short link: count the click for today (UTC) and redirect. Nothing about the visitor is read or kept."""
    url = await links.count_click(session, code, utcnow().date())
    if url is None:
        return HTMLResponse(NOT_FOUND_PAGE, status_code=404, headers={"Cache-Control": "no-store"})
    await session.commit()
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store",
                                                           "Referrer-Policy": "no-referrer"})


