"""CSV engagement history → clean rows, with row errors a person can act on. Pure: no database, no I/O.

The file needs a header row; ``posted_at`` is required, ``likes, comments, shares, views, reach, followers,
external_id, kind`` are optional columns (any order, case-insensitive). Unknown columns are ignored and reported.
Row numbers count lines as a person does in the file: the header is row 1.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.errors import ApiError
from app.timeutil import (
    MissingOffsetError,
    OutOfRangeError,
    TimeInputError,
    looks_like_unix,
    parse_instant,
    parse_unix,
)

COUNT_COLUMNS = ("likes", "comments", "shares", "views", "reach", "followers")
TEXT_COLUMNS = ("external_id", "kind")
KNOWN_COLUMNS = ("posted_at", *COUNT_COLUMNS, *TEXT_COLUMNS)
MAX_ERRORS = 1000
"""Row errors reported in full; past this only the count grows (``errors_truncated``)."""
MAX_ROWS = 100_000
"""Data rows one import may hold (blank lines not counted); a bigger file is refused whole: split it."""
MAX_COUNT = 10**15
UNIX_MIN, UNIX_MAX = 946_684_800, 4_102_444_800  # 2000-01-01 .. 2100-01-01: seconds, not milliseconds
FUTURE_SLACK = timedelta(minutes=5)


@dataclass
class ParsedCsv:
    """The good rows (one dict per post, ready for storage) and what was wrong with the others."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0
    ignored_columns: list[str] = field(default_factory=list)

    def add_error(self, row: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"row": row, "error": message})


class RowError(ValueError):
    """One problem with one row; the message is shown to the user as is."""


def dedupe_key(external_id: str | None, posted_at: datetime, kind: str | None) -> str:
    """The post's identity within its channel: the platform id if known, else the UTC instant plus kind."""
    if external_id:
        return f"id:{external_id}"[:200]
    stamp = posted_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"at:{stamp}|{kind or ''}"


def parse_posted_at(raw: str, now: datetime) -> datetime:
    """RFC 3339 with an offset, or unix seconds; naive times and the future are refused (via ``app.timeutil``)."""
    text = raw.strip()
    if not text:
        raise RowError("posted_at is empty; give the time the post went out (RFC 3339 with offset or unix seconds)")
    if looks_like_unix(text):
        seconds = float(text)
        if seconds > UNIX_MAX * 100:
            raise RowError(f"posted_at {text!r} looks like milliseconds; give unix seconds")
        if not UNIX_MIN <= seconds < UNIX_MAX:
            raise RowError(f"posted_at {text!r} is not a plausible unix time in seconds (years 2000–2099)")
        try:
            at = parse_unix(text)
        except TimeInputError as exc:
            raise RowError(f"posted_at: {exc}") from None
    else:
        try:
            at = parse_instant(text, None)
        except MissingOffsetError:
            raise RowError(f"posted_at {text[:40]!r} has no UTC offset; add one (e.g. +03:00 or Z) so the hour "
                           "is certain") from None
        except OutOfRangeError as exc:
            raise RowError(f"posted_at: {exc}") from None
        except TimeInputError:
            raise RowError(
                f"posted_at {text[:40]!r} is not a time: use RFC 3339 with an offset (2024-05-01T18:30:00+03:00) "
                "or unix seconds"
            ) from None
    if at > now + FUTURE_SLACK:
        raise RowError(f"posted_at {text!r} is in the future")
    return at


def parse_count(name: str, raw: str) -> int | None:
    """A non-negative whole number; an empty cell is unknown (``None``), not zero."""
    text = raw.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise RowError(f"{name} {text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise RowError(f"{name} {text!r} is not a number")
    if value < 0:
        raise RowError(f"{name} is negative ({text}); counts start at 0")
    if value != int(value):
        raise RowError(f"{name} {text!r} is not a whole number")
    if value > MAX_COUNT:
        raise RowError(f"{name} {text!r} is implausibly large")
    return int(value)


def _header(cells: list[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, cell in enumerate(cells):
        name = cell.strip().lower().lstrip("\ufeff")
        if name and name not in index:
            index[name] = i
    return index


def _row(cells: list[str], columns: dict[str, int], width: int, now: datetime) -> dict[str, Any]:
    if len(cells) > width:
        raise RowError(f"the row has {len(cells)} cells but the header names only {width} columns")

    def cell(name: str) -> str:
        i = columns.get(name)
        return cells[i] if i is not None and i < len(cells) else ""

    posted_at = parse_posted_at(cell("posted_at"), now)
    out: dict[str, Any] = {"posted_at": posted_at}
    problems: list[str] = []
    for name in COUNT_COLUMNS:
        try:
            out[name] = parse_count(name, cell(name))
        except RowError as exc:
            problems.append(str(exc))
    if problems:
        raise RowError("; ".join(problems))
    external_id = cell("external_id").strip() or None
    if external_id is not None and len(external_id) > 190:
        raise RowError("external_id is longer than 190 characters")
    kind = cell("kind").strip().lower() or None
    if kind is not None and len(kind) > 20:
        raise RowError(f"kind {kind[:30]!r} is longer than 20 characters")
    out["external_id"], out["kind"] = external_id, kind
    out["dedupe_key"] = dedupe_key(external_id, posted_at, kind)
    return out


def parse_csv(data: bytes, now: datetime, max_rows: int | None = None) -> ParsedCsv:
    """Parse an engagement CSV. A file without a usable header, or with more than ``max_rows`` data rows, is a
    422 for the whole file. CPU-bound (about 1 s per 100,000 rows): callers run it in a worker thread."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(422, f"The file is not UTF-8 text (byte {exc.start} cannot be decoded); save it as UTF-8."
                       ) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    result = ParsedCsv()
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ApiError(422, f"The header row cannot be read as CSV: {exc}") from exc
    if not header or not any(c.strip() for c in header):
        raise ApiError(422, "The file is empty: a header row is required (posted_at, likes, comments, ...).")
    columns = _header(header)
    if "posted_at" not in columns:
        raise ApiError(
            422,
            "The header row has no posted_at column; it is required. "
            f"Known columns: {', '.join(KNOWN_COLUMNS)}. Found: {', '.join(c.strip() for c in header)[:300]}.",
            [{"field": "posted_at", "message": "missing required column"}],
        )
    result.ignored_columns = [name for name in columns if name not in KNOWN_COLUMNS]
    line = reader.line_num
    seen, max_rows = 0, MAX_ROWS if max_rows is None else max_rows
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            result.add_error(start, f"not valid CSV: {exc}")
            line = reader.line_num
            continue
        line = reader.line_num
        if not cells or not any(c.strip() for c in cells):
            continue  # a blank line is not a post
        seen += 1
        if seen > max_rows:
            raise ApiError(422, f"The file has more than {max_rows:,} rows; one import takes at most {max_rows:,}: "
                                "split it and import the parts one after another (re-imports never double).")
        try:
            result.rows.append(_row(cells, columns, len(header), now))
        except RowError as exc:
            result.add_error(start, str(exc))
    return result
