"""Import a content plan from CSV or XLSX: every row checked by the posts service itself, all rows or none.

Columns (the header is row 1, any order, case-insensitive; others such as the export's ``status`` and ``links``
are ignored): ``date`` (YYYY-MM-DD), ``time`` (HH:MM), ``channels`` (names or ids, ``;``-separated), ``text``, and
optional ``rubric``, ``media`` (URLs, ``;``-separated), ``timezone`` (IANA; else the first channel's).

Every row goes through :func:`app.posts.service.create` in the caller's transaction, so it meets exactly the rules
of ``POST /api/v1/posts``; a dry run rolls the transaction back, a commit keeps it only when no row has a problem.
Parsing is CPU work on a possibly large file: callers run :func:`parse` in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.cadence.service import check_post
from app.channels import repository as channel_repo
from app.config import Settings
from app.dates.service import markers_between
from app.errors import ApiError
from app.models import Channel, Workspace
from app.platforms import ConnectorHub
from app.posts import service as post_service
from app.posts.schemas import MediaIn, PostCreate
from app.timeutil import TimeInputError, get_zone

MAX_ROWS = 2_000  # rows after the header; beyond it the file is refused as a whole (import it in parts)
MAX_COLUMNS = 64  # cells read per row (the columns of the format and some spare ones)
REQUIRED = ("date", "time", "channels", "text")
OPTIONAL = ("rubric", "media", "timezone")
CSV_TYPES = ("text/csv", "application/csv", "text/plain")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{1,2}:\d{2}$")


@dataclass
class Report:
    """What an import found: ``problems`` stop it; ``warnings`` (holidays, significant dates) only inform."""

    rows: int = 0
    valid: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    def problem(self, row: int, column: str | None, error: str) -> None:
        self.problems.append({"row": row, "column": column, "error": error})

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "valid": self.valid, "problems": self.problems, "warnings": self.warnings,
                "created": self.created}


def kind_of(content_type: str | None, filename: str | None = None) -> str | None:
    """``"csv"``, ``"xlsx"`` or ``None`` (not a type the import reads) from a Content-Type or a file name."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media == XLSX_TYPE:
        return "xlsx"
    if media in CSV_TYPES:
        return "csv"
    name = (filename or "").lower()
    if media in ("", "application/octet-stream") and name:
        return "xlsx" if name.endswith(".xlsx") else "csv" if name.endswith(".csv") else None
    return None


def _cell(value: Any) -> str:
    """A spreadsheet cell as the text a CSV would hold (Excel turns typed dates and times into numbers/dates)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d") if value.time() == time(0) else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read(rows: Iterable[list[str]]) -> list[list[str]]:
    """The rows (a blank one kept as ``[]`` so that numbers stay the file's), stopping once more than
    :data:`MAX_ROWS` filled rows follow the header: enough to say the file is too long."""
    table: list[list[str]] = []
    filled = 0
    for values in rows:
        if any(v.strip() for v in values):
            table.append(values)
            filled += 1
            if filled > MAX_ROWS + 1:
                break
        else:
            table.append([])
    return table


def _table(data: bytes, kind: str) -> list[list[str]]:
    if kind == "xlsx":
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # zipfile, XML and openpyxl errors: the file is not a workbook
            raise ValueError(f"the file is not a readable XLSX workbook ({type(exc).__name__})") from None
        try:
            sheet = book.worksheets[0]
            return _read([_cell(v) for v in values]
                         for values in sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS))
        finally:
            book.close()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("the CSV file is not UTF-8 text; save it as \"CSV UTF-8\"") from None
    try:
        return _read(values[:MAX_COLUMNS] for values in csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ValueError(f"the CSV file cannot be read: {exc}") from None


def parse(data: bytes, kind: str, report: Report) -> list[tuple[int, dict[str, str]]]:
    """The file's rows as ``(row number, {column: text})`` (blank rows skipped); file and header problems go to
    ``report`` (row 0: the file as a whole; row 1: the header). Pure and CPU-bound: run it in a thread."""
    try:
        table = _table(data, kind)
    except ValueError as exc:
        report.problem(0, None, str(exc))
        return []
    if not table or not any(c.strip() for c in table[0]):
        report.problem(1, None, "the file is empty: the first row must name the columns "
                                f"({', '.join(REQUIRED + OPTIONAL)})")
        return []
    header = [c.strip().lower() for c in table[0]]
    for name in REQUIRED:
        if name not in header:
            report.problem(1, name, f"the column '{name}' is missing")
    if report.problems:
        return []
    if sum(1 for row in table[1:] if row) > MAX_ROWS:
        report.problem(0, None, f"more than {MAX_ROWS} rows; split the plan into files of at most {MAX_ROWS} rows")
        return []
    index = {name: header.index(name) for name in REQUIRED + OPTIONAL if name in header}
    rows: list[tuple[int, dict[str, str]]] = []
    for number, values in enumerate(table[1:], start=2):
        if not any((v or "").strip() for v in values):
            continue
        bad = [name for name, i in index.items() if i < len(values) and "\x00" in values[i]]
        for name in bad:
            report.problem(number, name, "contains the NUL character, which cannot be stored")
        if bad:
            values = [v.replace("\x00", "") for v in values]
        rows.append((number, {name: (values[i] if i < len(values) else "").strip() if name != "text"
                              else (values[i] if i < len(values) else "") for name, i in index.items()}))
    report.rows = len(rows)
    return rows


def _column(path: str) -> str:
    """The file's column for a field of ``PostCreate`` named in an error."""
    head = path.removeprefix("body.").split(".")[0].split("[")[0]
    return {"channel_ids": "channels", "scheduled_at": "time", "media": "media", "timezone": "timezone",
            "rubric": "rubric", "overrides": "text"}.get(head, "text")


class _Channels:
    def __init__(self, channels: list[Channel]) -> None:
        self.by_id = {c.id: c for c in channels}
        self.by_name: dict[str, list[Channel]] = {}
        for c in channels:
            self.by_name.setdefault(c.name.strip().casefold(), []).append(c)

    def find(self, label: str) -> tuple[Channel | None, str | None]:
        if label in self.by_id:
            return self.by_id[label], None
        named = self.by_name.get(label.casefold(), [])
        if len(named) == 1:
            return named[0], None
        if named:
            return None, f"several channels are named '{label}'; give the id instead"
        return None, f"no channel named or with the id '{label}'"


async def check_rows(
    session: AsyncSession, workspace: Workspace, rows: list[tuple[int, dict[str, str]]], report: Report,
    hub: ConnectorHub, settings: Settings, *, progress: Callable[[int], None] | None = None,
) -> None:
    """Create every row through the posts service in ``session`` (the caller commits or rolls back); each row's
    problems, named by row and column, go to ``report``. Rows on holidays or the workspace's dates are warned."""
    channels = _Channels(await channel_repo.list_all(session, workspace.id))
    days: dict[int, date] = {}
    refused = {p["row"] for p in report.problems}  # rows the parser already found a problem in
    for number, row in rows:
        before = len(report.problems)
        data = _post_of(number, row, channels, report)
        if data is not None and len(report.problems) == before and number not in refused:
            days[number] = date.fromisoformat(row["date"])
            try:
                post = await post_service.create(session, workspace, data, hub, settings)
            except ApiError as exc:
                for err in exc.errors or [{"field": "", "message": exc.detail}]:
                    message = str(err.get("message") or exc.detail)
                    if err.get("channel"):
                        message = f"{err.get('platform')} channel '{err['channel']}': {message}"
                    report.problem(number, _column(str(err.get("field") or "")), message)
            else:
                report.created.append(post.id)
                # the cadence checks, each row against the plan and the rows before it (holidays: below)
                chosen = [channels.by_id[cid] for cid in data.channel_ids if cid in channels.by_id]
                for w in await check_post(session, workspace, post, chosen, holidays=False):
                    column = "text" if w["code"] == "duplicate_text" else "time"
                    report.warnings.append({"row": number, "column": column, **w})
        if progress is not None:
            progress(1)
    report.warnings.sort(key=lambda w: w["row"])
    if days:
        markers = await markers_between(session, workspace, min(days.values()), max(days.values()))
        by_day: dict[str, list[dict[str, object]]] = {}
        for m in markers:
            by_day.setdefault(str(m["date"]), []).append(m)
        for number, day in sorted(days.items()):
            for m in by_day.get(day.isoformat(), []):
                public = m["kind"] == "public"
                what = "a public holiday" if public else "a date of the workspace"
                report.warnings.append({"row": number, "column": "date",
                                        "code": "holiday" if public else "significant_date",
                                        "message": f"{day.isoformat()} is {what}: {m['name']}"})


def _post_of(number: int, row: dict[str, str], channels: _Channels, report: Report) -> PostCreate | None:
    """The row as the body of ``POST /api/v1/posts`` (format problems of the file's own columns reported)."""
    day, clock = row.get("date", ""), row.get("time", "")
    if not _DATE.match(day):
        report.problem(number, "date", f"'{day}' is not a date as YYYY-MM-DD" if day else "the date is missing")
    else:
        try:
            date.fromisoformat(day)
        except ValueError:
            report.problem(number, "date", f"'{day}' is not a day of the calendar")
    if not _TIME.match(clock):
        report.problem(number, "time", f"'{clock}' is not a time as HH:MM" if clock else "the time is missing")
    elif not (int(clock.split(":")[0]) < 24 and int(clock.split(":")[1]) < 60):
        report.problem(number, "time", f"'{clock}' is not a time of day (00:00 to 23:59)")
    found: list[Channel] = []
    labels = [x.strip() for x in row.get("channels", "").split(";") if x.strip()]
    if not labels:
        report.problem(number, "channels", "no channel: name at least one (names or ids, separated by ';')")
    for label in labels:
        channel, error = channels.find(label)
        if error:
            report.problem(number, "channels", error)
        elif channel is not None:
            found.append(channel)
    zone = row.get("timezone", "") or (found[0].timezone if found else "")
    if row.get("timezone"):
        try:
            get_zone(zone)
        except TimeInputError as exc:
            report.problem(number, "timezone", str(exc))
    urls = [u.strip() for u in row.get("media", "").split(";") if u.strip()]
    try:
        return PostCreate(
            text=row.get("text", ""), channel_ids=[c.id for c in found] or ["-"],
            scheduled_at=f"{day}T{clock.zfill(5)}:00", timezone=zone or None, rubric=row.get("rubric") or None,
            media=[MediaIn(url=u) for u in urls])
    except ValidationError as exc:
        for err in exc.errors():
            loc = [str(x) for x in err["loc"]]
            report.problem(number, _column(".".join(loc)) if loc else "media", str(err["msg"]).removeprefix(
                "Value error, "))
        return None


async def run_import(
    session: AsyncSession, workspace: Workspace, data: bytes, kind: str, hub: ConnectorHub, settings: Settings, *,
    commit: bool, progress_total: Callable[[int], None] | None = None, progress: Callable[[int], None] | None = None,
) -> Report:
    """Parse (in a thread), check every row, then commit (``commit`` and no problem) or roll everything back."""
    import asyncio

    report = Report()
    rows = await asyncio.to_thread(parse, data, kind, report)
    if progress_total is not None:
        progress_total(len(rows))
    if not any(p["row"] < 2 for p in report.problems):  # the file and its header are readable
        await check_rows(session, workspace, rows, report, hub, settings, progress=progress)
    report.valid = report.rows - len({p["row"] for p in report.problems if p["row"] >= 2})
    if commit and not report.problems:
        await session.commit()
    else:
        await session.rollback()
        report.created = []
    return report
