"""Vectorised weekday×hour bucketing of UTC instants in an IANA time zone (DST-correct).

The zone's UTC offset is piecewise constant; we find its transition instants over the data range with
``zoneinfo`` (one probe per day plus a bisection per transition) and then bucket millions of timestamps with
``np.searchsorted``: no per-row ``datetime`` conversion.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

DAY = 86_400
HOUR = 3_600
N_CELLS = 168
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _offset(zone: ZoneInfo, t: int) -> int:
    off = datetime.fromtimestamp(t, UTC).astimezone(zone).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


@lru_cache(maxsize=256)
def _transitions_cached(tz: str, day0: int, day1: int) -> tuple[IntArray, IntArray]:
    zone = ZoneInfo(tz)
    days = np.arange(day0, day1 + 1, dtype=np.int64) * DAY
    offs = np.array([_offset(zone, int(d)) for d in days], dtype=np.int64)
    starts = [int(days[0])]
    values = [int(offs[0])]
    for i in np.nonzero(np.diff(offs))[0]:
        lo, hi = int(days[i]), int(days[i + 1])  # offset(lo) != offset(hi): bisect to the second
        off_lo = int(offs[i])
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _offset(zone, mid) == off_lo:
                lo = mid
            else:
                hi = mid
        starts.append(hi)
        values.append(int(offs[i + 1]))
    return np.array(starts, dtype=np.int64), np.array(values, dtype=np.int64)


def offset_table(tz: str, t_min: float, t_max: float) -> tuple[IntArray, IntArray]:
    """UTC instants where the zone's offset takes a new value within [t_min, t_max] and the offsets (s).

    The first entry starts before ``t_min``; offsets changing twice within one day are not resolved.
    """
    day0 = int(np.floor(t_min / DAY)) - 2
    day1 = int(np.floor(t_max / DAY)) + 2
    return _transitions_cached(tz, day0, day1)


def utc_offsets(t: FloatArray, tz: str) -> IntArray:
    """UTC offset in seconds of the zone at each unix instant ``t``."""
    if t.size == 0:
        return np.zeros(0, dtype=np.int64)
    starts, values = offset_table(tz, float(np.min(t)), float(np.max(t)))
    idx = np.searchsorted(starts, t, side="right") - 1
    return values[np.clip(idx, 0, len(values) - 1)]


def local_weekday_hour(t: FloatArray, tz: str) -> tuple[IntArray, IntArray]:
    """Weekday (0 = Monday) and hour (0–23) on the local wall clock of ``tz`` for unix seconds ``t``."""
    local = np.floor(t).astype(np.int64) + utc_offsets(t, tz)
    days = np.floor_divide(local, DAY)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    hour = (local - days * DAY) // HOUR
    return weekday, hour


def local_cells(t: FloatArray, tz: str) -> IntArray:
    """Cell index ``weekday * 24 + hour`` in the zone's wall clock for unix seconds ``t``."""
    weekday, hour = local_weekday_hour(t, tz)
    return weekday * 24 + hour


def local_to_utc(wall: FloatArray, tz: str) -> FloatArray:
    """Inverse of the wall clock: unix seconds whose local time in ``tz`` is ``wall`` (naive epoch seconds).

    Ambiguous times (autumn fold) resolve to the first occurrence; non-existent times (spring gap) shift by the gap.
    """
    if wall.size == 0:
        return wall.astype(np.float64)
    lo, hi = float(np.min(wall)) - 2 * DAY, float(np.max(wall)) + 2 * DAY
    starts, values = offset_table(tz, lo, hi)

    def off(u: FloatArray) -> IntArray:
        idx = np.searchsorted(starts, u, side="right") - 1
        return values[np.clip(idx, 0, len(values) - 1)]

    guess = wall - off(wall - float(np.max(np.abs(values))))
    return (wall - off(guess)).astype(np.float64)


def to_unix_seconds(values: object) -> FloatArray:
    """Unix seconds from a numpy array of numbers / ``datetime64``, or a sequence of aware datetimes or numbers.

    Naive datetimes are taken as UTC. Python datetime objects need one conversion each (unavoidable); pass a numpy
    array of seconds for large histories.
    """
    if isinstance(values, np.ndarray):
        if np.issubdtype(values.dtype, np.datetime64):
            return values.astype("datetime64[ms]").astype(np.int64).astype(np.float64) / 1000.0
        if values.dtype != object:
            return values.astype(np.float64)
    seq = list(values)  # type: ignore[call-overload]
    out = np.empty(len(seq), dtype=np.float64)
    for i, v in enumerate(seq):
        if v is None:
            out[i] = np.nan
        elif isinstance(v, datetime):
            out[i] = (v if v.tzinfo is not None else v.replace(tzinfo=UTC)).timestamp()
        else:
            out[i] = float(v)
    return out
