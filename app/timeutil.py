"""Wall-clock time done right: IANA zones via zoneinfo, refusing DST gaps and folds instead of guessing."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MIN_YEAR, MAX_YEAR = 2, 9998


class TimeInputError(ValueError):
    """A time the user gave cannot be turned into one instant; the message says why."""


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
    """An RFC 3339 time with an offset, or a local time plus ``zone_name``; the result is UTC."""
    text = value.strip()
    if not text:
        raise TimeInputError("an empty time was given.")
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as exc:
        raise TimeInputError(
            f"'{value}' is not a date and time; use RFC 3339, e.g. 2026-12-01T18:31:00+03:00."
        ) from exc
    out_of_range = TimeInputError(f"'{value}' is out of range: give a date between the years 2 and 9998.")
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:  # a year of margin: callers add windows and horizons to it
        raise out_of_range
    if parsed.tzinfo is not None:
        if zone_name:
            get_zone(zone_name)  # still refuse an unknown zone
        return parsed.astimezone(UTC)
    if not zone_name:
        raise TimeInputError(
            f"'{value}' has no UTC offset: add one (e.g. {text}+03:00) or give \"timezone\" "
            "(an IANA zone such as Europe/Berlin) to say which wall clock it is."
        )
    return localize(parsed, zone_name).astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
