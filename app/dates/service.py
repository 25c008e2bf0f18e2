"""Holidays and significant dates. :func:`markers_between` is the one place that answers "what is special about
these days" — for the API, the calendar and the plan import's warnings."""

from __future__ import annotations

import asyncio
import calendar
import logging
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.dates import repository as repo
from app.errors import Invalid, NotFound
from app.models import SignificantDate, Workspace
from app.timeutil import TimeInputError, get_zone, parse_date, utcnow

log = logging.getLogger(__name__)

MAX_SPAN = timedelta(days=3 * 366)
DEFAULT_SPAN = timedelta(days=90)
MAX_NAME = 200


def public_holidays(country: str | None, first: date, last: date) -> dict[date, str]:
    """Public holidays of ``country`` (ISO code) in [first, last]; none when unset or unknown."""
    if not country:
        return {}
    import holidays  # here, not at import: ~50 ms that a workspace without a country (and `smm`) never needs

    try:
        table = holidays.country_holidays(country.upper(), years=range(first.year, last.year + 1))
    except (NotImplementedError, KeyError, AttributeError):
        log.info("dates.holidays_unknown_country", extra={"country": country})
        return {}
    return {d: str(name) for d, name in sorted(table.items()) if first <= d <= last}


def _yearly_in(day: date, first: date, last: date) -> list[date]:
    """The anniversaries of ``day`` in [first, last] (29 February falls on the 28th in other years)."""
    out = []
    for year in range(first.year, last.year + 1):
        d = min(day.day, calendar.monthrange(year, day.month)[1])
        at = date(year, day.month, d)
        if first <= at <= last and at >= day:
            out.append(at)
    return out


async def markers_between(session: AsyncSession, workspace: Workspace, first: date, last: date
                          ) -> list[dict[str, object]]:
    """Public holidays and the workspace's dates in [first, last], by date (holidays first on a day)."""
    # in a thread: some countries' calendars (lunar, Islamic) take a noticeable time to compute a year
    public = await asyncio.to_thread(public_holidays, workspace.country, first, last)
    items: list[tuple[date, int, str, str, str | None]] = [
        (d, 0, name, "public", None) for d, name in public.items()]
    for row in await repo.in_range_or_yearly(session, workspace.id, first, last):
        days = _yearly_in(row.day, first, last) if row.yearly else [row.day]
        items += [(d, 1, row.name, "workspace", row.id) for d in days]
    items.sort(key=lambda x: (x[0], x[1], x[2]))
    return [{"date": d.isoformat(), "name": name, "kind": kind, "id": ident} for d, _, name, kind, ident in items]


def _parse(value: str, name: str) -> date:
    try:
        return parse_date(value)
    except TimeInputError as exc:
        raise Invalid(name, str(exc)) from exc


def window(workspace: Workspace, start: str | None, end: str | None) -> tuple[date, date]:
    """[first, last] from ``start`` (inclusive) and ``end`` (exclusive) dates; default: today and 90 days on."""
    try:
        zone = get_zone(workspace.timezone or "UTC")
    except TimeInputError:
        zone = get_zone("UTC")
    today = utcnow().astimezone(zone).date()
    first = _parse(start, "start") if start else today
    stop = _parse(end, "end") if end else first + DEFAULT_SPAN
    if stop <= first:
        raise Invalid("end", "end must be after start")
    if stop - first > MAX_SPAN:
        raise Invalid("end", "the range spans more than three years; ask for less at a time")
    return first, stop - timedelta(days=1)


def _out(row: SignificantDate) -> dict[str, object]:
    return {"id": row.id, "date": row.day.isoformat(), "name": row.name, "yearly": row.yearly}


async def list_dates(session: AsyncSession, workspace: Workspace) -> list[dict[str, object]]:
    return [_out(r) for r in await repo.list_all(session, workspace.id)]


async def add_date(session: AsyncSession, workspace: Workspace, day: str, name: str, yearly: bool
                   ) -> dict[str, object]:
    try:
        parsed = parse_date(day)
    except TimeInputError as exc:
        raise Invalid("date", str(exc)) from exc
    clean = " ".join(name.split())
    if not clean:
        raise Invalid("name", "a date needs a name, e.g. 'Product launch'")
    if len(clean) > MAX_NAME or any(not ch.isprintable() for ch in clean):
        raise Invalid("name", f"a name has at most {MAX_NAME} printable characters")
    row = SignificantDate(workspace_id=workspace.id, day=parsed, name=clean, yearly=yearly)
    session.add(row)
    await session.flush()
    return _out(row)


async def delete_date(session: AsyncSession, workspace: Workspace, date_id: str) -> None:
    row = await repo.get(session, workspace.id, date_id)
    if row is None:
        raise NotFound("Date")
    await session.delete(row)
    await session.flush()
