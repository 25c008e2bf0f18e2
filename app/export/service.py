"""Export the plan as CSV or XLSX with the columns of the plan import (``date``, ``time``, ``channels``, ``text``,
``rubric``, ``media``, ``timezone``), plus ``status`` and ``links``, so that an exported file imports again.

Each row's wall clock is the post's own zone (else its first channel's, else the workspace's), written in the
``timezone`` column. A local time that happens twice in that zone (the hour the clocks go back) could not be read
back unambiguously, so such a row is written in UTC instead. Channels are named by name, or by id where the name
is not unique in the workspace or contains ``;``. Cancelled posts and drafts (no time) are not exported; per-channel
overrides are not part of the format.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import repository as channel_repo
from app.errors import Invalid
from app.export import repository as repo
from app.models import Channel, Workspace
from app.posts import service as post_service
from app.posts.schemas import PostOut
from app.timeutil import TimeInputError, get_zone, localize, parse_day_bound

COLUMNS = ("date", "time", "channels", "text", "rubric", "media", "timezone", "status", "links")
MAX_ROWS = 20_000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def bounds(workspace: Workspace, start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    zone = workspace.timezone or "UTC"
    out: list[datetime | None] = []
    for name, value in (("start", start), ("end", end)):
        try:
            out.append(parse_day_bound(value, zone) if value else None)
        except TimeInputError as exc:
            raise Invalid(name, str(exc)) from exc
    lo, hi = out
    if lo and hi and hi <= lo:
        raise Invalid("end", "end must be after start")
    return lo, hi


def channel_labels(channels: Sequence[Channel]) -> dict[str, str]:
    """How each channel is named in a file: its name, or its id when the name would not find it again."""
    counts = Counter(c.name.strip().casefold() for c in channels)
    return {c.id: c.name.strip() if counts[c.name.strip().casefold()] == 1 and ";" not in c.name
            and c.name.strip() else c.id for c in channels}


def _wall_clock(at: datetime, zone: str) -> tuple[str, str, str]:
    """(date, time, zone) of an instant as a row writes it; UTC where the local time would be ambiguous."""
    local = at.astimezone(get_zone(zone))
    try:
        localize(local.replace(tzinfo=None, second=0, microsecond=0), zone)
    except TimeInputError:
        zone, local = "UTC", at.astimezone(UTC)
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M"), zone


def row_of(post: PostOut, labels: dict[str, str], zones: dict[str, str], workspace_zone: str) -> list[str]:
    assert post.scheduled_at is not None
    ids = [t.channel_id for t in post.targets]
    zone = post.timezone or next((zones[c] for c in ids if c in zones), workspace_zone)
    day, clock, zone = _wall_clock(post.scheduled_at, zone)
    return [day, clock, ";".join(labels.get(c, c) for c in ids), post.text, post.rubric or "",
            ";".join(str(m.get("url", "")) for m in post.media if m.get("url")), zone, post.status,
            ";".join(t.url for t in post.targets if t.url)]


async def export_rows(session: AsyncSession, workspace: Workspace, start: str | None, end: str | None
                      ) -> list[list[str]]:
    lo, hi = bounds(workspace, start, end)
    posts = await repo.timed_posts(session, workspace.id, lo, hi, MAX_ROWS + 1)
    if len(posts) > MAX_ROWS:
        raise Invalid("end", f"more than {MAX_ROWS} posts in the range; export a shorter range at a time")
    channels = await channel_repo.list_all(session, workspace.id)
    labels = channel_labels(channels)
    zones = {c.id: c.timezone for c in channels}
    out = await post_service.to_out_many(session, workspace, posts)
    return [row_of(p, labels, zones, workspace.timezone or "UTC") for p in out if p.status != "cancelled"]


def to_csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def to_xlsx(rows: list[list[str]]) -> bytes:
    """One sheet, header row first, every cell a string (a text starting with ``=`` stays text, not a formula)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet: Any = book.create_sheet("plan")

    def cells(values: Sequence[str]) -> list[Any]:
        out = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            out.append(cell)
        return out

    sheet.append(cells(COLUMNS))
    for row in rows:
        sheet.append(cells(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def render(rows: list[list[str]], fmt: str) -> tuple[bytes, str]:
    """The file and its media type; built in a thread (a large XLSX takes a while)."""
    if fmt == "xlsx":
        return await asyncio.to_thread(to_xlsx, rows), XLSX_TYPE
    return await asyncio.to_thread(to_csv, rows), "text/csv; charset=utf-8"
