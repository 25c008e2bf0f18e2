"""Wall-clock time done right: IANA zones via zoneinfo, refusing DST gaps and folds instead of guessing.

This module is the one parser of times and dates a client sends (HTTP API, web pages, CLI, CSV files): every entry
point calls :func:`parse_instant`, :func:`parse_unix`, :func:`parse_date` or :func:`parse_month` and turns a
:class:`TimeInputError` into a 422 (or a 400 page) naming its field. Any string gives either an aware UTC instant
within :data:`MIN_INSTANT` .. :data:`MAX_INSTANT` or a ``TimeInputError`` — never another exception (a property test
holds it to that), so year 1 or 9999 with an offset can no longer overflow into a 500.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MIN_YEAR, MAX_YEAR = 1970, 8999
"""Years a client may name. Wide enough for any history and any plan; narrow enough that a day, a week or a zone
offset added anywhere downstream stays inside what ``datetime`` can hold."""
MIN_INSTANT = datetime(MIN_YEAR, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC)
"""Exclusive upper bound: the first instant of year 9000 (UTC)."""
RANGE_TEXT = f"times must fall within the years {MIN_YEAR}–{MAX_YEAR}"
MAX_INPUT_CHARS = 100
"""Longer time strings are refused before parsing (and never echoed whole)."""


class TimeInputError(ValueError):
    """A time the user gave cannot be turned into one instant; the message says why."""


class OutOfRangeError(TimeInputError):
    """A well-formed time outside :data:`MIN_YEAR` .. :data:`MAX_YEAR`."""


class MissingOffsetError(TimeInputError):
    """A wall-clock time without a UTC offset where no zone says which wall clock it is."""


def _shown(value: str) -> str:
    """The user's text as quoted in a message: cut short, control characters escaped."""
    short = value if len(value) <= 40 else value[:40] + "…"
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape", "backslashreplace").decode() for ch in short)


def check_year(year: int, value: str) -> None:
    """``TimeInputError`` unless ``year`` lies within :data:`MIN_YEAR` .. :data:`MAX_YEAR`."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise OutOfRangeError(f"'{_shown(value)}' is out of range: {RANGE_TEXT}.")


def check_instant(at: datetime, value: str) -> datetime:
    """``at`` (aware) as UTC, or ``TimeInputError`` when it lies outside the supported years."""
    try:
        utc = at.astimezone(UTC)
    except (OverflowError, ValueError) as exc:  # year 1 at +01:00 is before year 1 in UTC
        raise OutOfRangeError(f"'{_shown(value)}' is out of range: {RANGE_TEXT}.") from exc
    if not MIN_INSTANT <= utc < MAX_INSTANT:
        raise OutOfRangeError(f"'{_shown(value)}' is out of range: {RANGE_TEXT}.")
    return utc


def get_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ``TimeInputError`` for an unknown one (e.g. ``Mars/Olympus``)."""
    if not name or "\x00" in name or name.startswith("/") or ".." in name:
        raise TimeInputError(f"'{name}' is not an IANA time zone (e.g. 'Europe/Moscow').")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise TimeInputError(f"'{name}' is not a known IANA time zone (e.g. 'Europe/Moscow').") from exc


def is_valid_zone(name: str) -> bool:
    try:
        get_zone(name)
    except TimeInputError:
        return False
    return True


def zone_names() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def localize(naive: datetime, zone_name: str) -> datetime:
    """Attach ``zone_name`` to a wall-clock time, refusing times that do not exist or exist twice."""
    zone = get_zone(zone_name)
    early = naive.replace(tzinfo=zone, fold=0)
    late = naive.replace(tzinfo=zone, fold=1)
    off_early, off_late = early.utcoffset(), late.utcoffset()
    if off_early != off_late:
        roundtrip = early.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if roundtrip != naive:
            raise TimeInputError(
                f"{naive:%Y-%m-%d %H:%M} does not exist in {zone_name}: the clocks jump forward over it "
                f"(daylight saving time starts). Pick a time outside the gap, e.g. "
                f"{early.astimezone(UTC).astimezone(zone):%H:%M}."
            )
        raise TimeInputError(
            f"{naive:%Y-%m-%d %H:%M} happens twice in {zone_name} (daylight saving time ends), so it is "
            f"ambiguous. Add the UTC offset to choose: {_fmt_offset(early)} for the first, "
            f"{_fmt_offset(late)} for the second."
        )
    return early


def _fmt_offset(dt: datetime) -> str:
    return dt.isoformat(timespec="minutes")


def parse_instant(value: str, zone_name: str | None) -> datetime:
    """An RFC 3339 time with an offset, or a local time plus ``zone_name``; the result is UTC.

    Raises ``TimeInputError`` (and nothing else) for anything that is not such a time within the supported years.
    """
    text = value.strip()
    if not text:
        raise TimeInputError("an empty time was given.")
    if len(text) > MAX_INPUT_CHARS:
        raise TimeInputError(f"'{_shown(text)}' is too long to be a date and time.")
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as exc:
        raise TimeInputError(
            f"'{_shown(value)}' is not a date and time; use RFC 3339, e.g. 2026-12-01T18:31:00+03:00."
        ) from exc
    check_year(parsed.year, text)
    if parsed.tzinfo is not None:
        if zone_name:
            get_zone(zone_name)  # still refuse an unknown zone
        return check_instant(parsed, text)
    if not zone_name:
        raise MissingOffsetError(
            f"'{_shown(value)}' has no UTC offset: add one (e.g. {_shown(text)}+03:00) or give \"timezone\" "
            "(an IANA zone such as Europe/Berlin) to say which wall clock it is."
        )
    return check_instant(localize(parsed, zone_name), text)


def parse_unix(value: str) -> datetime:
    """Unix seconds (digits, optionally a fraction: ``1714577400`` or ``1714577400.5``) as a UTC instant."""
    text = value.strip()
    if len(text) > MAX_INPUT_CHARS:
        raise TimeInputError(f"'{_shown(text)}' is too long to be a number of unix seconds.")
    whole, dot, fraction = text.partition(".")
    # str.isdigit() is true for '²' and other digits int() refuses: accept ASCII digits only
    if not (whole.isascii() and whole.isdigit()) or (dot and not (fraction.isascii() and fraction.isdigit())):
        raise TimeInputError(f"'{_shown(value)}' is not a number of unix seconds.")
    seconds = float(text)
    if seconds >= (MAX_INSTANT - MIN_INSTANT).total_seconds():
        raise OutOfRangeError(f"'{_shown(value)}' is out of range: {RANGE_TEXT}.")
    return check_instant(MIN_INSTANT + timedelta(seconds=seconds), text)


def looks_like_unix(value: str) -> bool:
    """Whether ``value`` is written as unix seconds (ASCII digits with at most one dot) rather than a date."""
    text = value.strip()
    return bool(text) and text.isascii() and text.replace(".", "", 1).isdigit()


def parse_date(value: str) -> date:
    """A calendar date (``YYYY-MM-DD``) within the supported years."""
    text = value.strip()
    if len(text) > MAX_INPUT_CHARS:
        raise TimeInputError(f"'{_shown(text)}' is too long to be a date.")
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise TimeInputError(f"'{_shown(value)}' is not a date; use YYYY-MM-DD, e.g. 2026-12-01.") from exc
    check_year(day.year, text)
    return day


def start_of_day(day: date, zone_name: str) -> datetime:
    """The first instant (UTC) of ``day`` on the wall clock of ``zone_name``.

    Usually local midnight; where midnight falls in a DST gap (America/Santiago, America/Havana: the clocks jump from
    00:00 to 01:00) the day starts at the gap's end, and where midnight happens twice, at the first one. zoneinfo's
    ``fold=0`` reading of 00:00 gives exactly that instant in every case (in a gap it uses the offset before it).
    """
    zone = get_zone(zone_name)
    return datetime(day.year, day.month, day.day, tzinfo=zone, fold=0).astimezone(UTC)


def parse_day_bound(value: str, zone_name: str) -> datetime:
    """A range bound a client gave: ``YYYY-MM-DD`` is the start of that day in ``zone_name`` (DST-proof), anything
    else an instant as :func:`parse_instant` reads it."""
    text = value.strip()
    if len(text) == 10 and text[4:5] == "-" and text[7:8] == "-":
        return check_instant(start_of_day(parse_date(text), zone_name), text)
    return parse_instant(text, zone_name)


def parse_month(value: str) -> date:
    """``YYYY-MM`` as the first day of that month, within the supported years."""
    text = value.strip()
    year, dash, month = text.partition("-")
    if not (dash and len(year) == 4 and len(month) == 2 and (year + month).isascii() and (year + month).isdigit()):
        raise TimeInputError(f"'{_shown(value)}' is not a month; use YYYY-MM, e.g. 2026-12.")
    check_year(int(year), text)
    if not 1 <= int(month) <= 12:
        raise TimeInputError(f"'{_shown(value)}' is not a month: the month must be 01–12.")
    return date(int(year), int(month), 1)


def utcnow() -> datetime:
    return datetime.now(UTC)


def how_long(seconds: float) -> str:
    """A duration as a person says it, to the largest whole unit: ``90`` → ``1 minute``, ``218239818`` →
    ``6 years``, ``3 * 86400`` → ``3 days`` (under a minute: ``N seconds``)."""
    s = max(0, int(seconds))
    for size, unit in ((365 * 86400, "year"), (30 * 86400, "month"), (7 * 86400, "week"), (86400, "day"),
                       (3600, "hour"), (60, "minute")):
        if s >= size:
            n = s // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return f"{s} second{'' if s == 1 else 's'}"
