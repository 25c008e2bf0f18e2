"""The slot board: which candidate hours are free on which channels, and the best of them, in numpy.

Placing N drafts used to test every candidate hour against every busy time of every channel in Python, per
draft: O(N × hours × busy). 600 drafts over a 14-day window held the event loop for 15-17 s. The board keeps each
channel's busy instants as a sorted array and answers "free on all these channels" for every candidate at once
with ``searchsorted`` (the nearest busy instant on either side must be at least the spacing away), so a draft
costs a few vector operations. Pure and free of ORM objects, so :func:`app.plan.service.fill` runs it in a worker
thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from app.analytics.model import Fit, Slot

DAY_START, DAY_END = 9, 21
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class ChannelRank:
    """What placement needs of a channel: its zone and, when the analyzer knows anything, a key per cell."""

    id: str
    name: str
    timezone: str
    fit: Fit
    key: npt.NDArray[np.float64] | None
    _heatmap: list[Slot] | None = field(default=None, repr=False)

    def cell(self, c: int) -> Slot:
        if self._heatmap is None:
            self._heatmap = self.fit.heatmap()
        return self._heatmap[c]


@dataclass
class Placement:
    at: datetime
    slot: dict[str, Any]
    reason: str


def candidates(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Hour starts of ``zone``'s wall clock within [start, end), as UTC instants, DST-correct."""
    out: list[datetime] = []
    day: date = start.astimezone(zone).date()
    while True:
        for hour in range(24):
            naive = datetime.combine(day, time(hour))
            local = naive.replace(tzinfo=zone)
            at = local.astimezone(UTC)
            if at.astimezone(zone).replace(tzinfo=None) != naive:
                continue  # in the spring-forward gap: this wall-clock hour does not exist
            if at >= end:
                return out
            if at >= start:
                out.append(at)
        day += timedelta(days=1)


@dataclass
class _Hours:
    """The candidate hours on one zone's wall clock, with their cell in any zone (cached)."""

    times: list[datetime]
    epoch: npt.NDArray[np.float64]
    daytime: npt.NDArray[np.bool_]
    cells: dict[str, npt.NDArray[np.int64]] = field(default_factory=dict)

    def cells_in(self, tz: str) -> npt.NDArray[np.int64]:
        if tz not in self.cells:
            zone = ZoneInfo(tz)
            self.cells[tz] = np.array([(local := t.astimezone(zone)).weekday() * 24 + local.hour
                                       for t in self.times], dtype=np.int64)
        return self.cells[tz]


class SlotBoard:
    """Free candidate hours within [start, end) that keep ``spacing`` from every busy instant of a channel."""

    def __init__(self, busy: Mapping[str, Sequence[datetime]], start: datetime, end: datetime,
                 spacing: timedelta) -> None:
        self.start, self.end, self.spacing = start, end, spacing
        self._gap = spacing.total_seconds()
        self._busy = {cid: np.sort(np.array([t.timestamp() for t in ts], dtype=np.float64))
                      for cid, ts in busy.items()}
        self._hours: dict[str, _Hours] = {}

    def hours(self, tz: str) -> _Hours:
        if tz not in self._hours:
            zone = ZoneInfo(tz)
            times = candidates(zone, self.start, self.end)
            self._hours[tz] = _Hours(
                times, np.array([t.timestamp() for t in times], dtype=np.float64),
                np.array([DAY_START <= t.astimezone(zone).hour <= DAY_END for t in times], dtype=np.bool_))
        return self._hours[tz]

    def free(self, tz: str, channel_ids: Sequence[str]) -> npt.NDArray[np.bool_]:
        """Which of ``tz``'s candidate hours keep the spacing on every one of ``channel_ids``."""
        epoch = self.hours(tz).epoch
        ok = np.ones(len(epoch), dtype=np.bool_)
        for cid in channel_ids:
            busy = self._busy.get(cid)
            if busy is None or not len(busy):
                continue
            idx = np.searchsorted(busy, epoch)
            before = np.where(idx > 0, epoch - busy[np.maximum(idx - 1, 0)], np.inf)
            after = np.where(idx < len(busy), busy[np.minimum(idx, len(busy) - 1)] - epoch, np.inf)
            ok &= (before >= self._gap) & (after >= self._gap)
        return ok

    def book(self, channel_ids: Sequence[str], at: datetime) -> None:
        """Mark ``at`` busy on ``channel_ids`` (a placed post)."""
        stamp = at.timestamp()
        for cid in channel_ids:
            busy = self._busy.get(cid, np.array([], dtype=np.float64))
            self._busy[cid] = np.insert(busy, np.searchsorted(busy, stamp), stamp)

    def choose(self, ranks: Sequence[ChannelRank]) -> Placement | None:
        """The best free candidate for a post on these channels, or None when the window is full.

        Hour starts on the first channel's wall clock; the best has the highest summed key over the channels
        that have one, ties to the earliest; without any key, the first free daytime hour (else the first)."""
        ref = ranks[0]
        hours = self.hours(ref.timezone)
        free = self.free(ref.timezone, [r.id for r in ranks])
        informed = [r for r in ranks if r.key is not None]
        spacing_h = f"{self.spacing.total_seconds() / 3600:g}"
        if not informed:
            pool = np.flatnonzero(free & hours.daytime)
            if not len(pool):
                pool = np.flatnonzero(free)
            if not len(pool):
                return None
            pick = hours.times[int(pool[0])]
            local = pick.astimezone(ZoneInfo(ref.timezone))
            why = ("no engagement history with a reliable difference between hours yet, so the next free hour "
                   f"between {DAY_START}:00 and {DAY_END}:00 ({ref.timezone}) that keeps "
                   f"{spacing_h} h between posts of a channel was taken")
            return Placement(pick, {"weekday": local.weekday(), "hour": local.hour, "score": None, "low": None,
                                    "high": None, "posts": 0, "timezone": ref.timezone}, why)
        pool = np.flatnonzero(free)
        if not len(pool):
            return None
        totals = np.zeros(len(pool), dtype=np.float64)
        for r in informed:
            assert r.key is not None
            totals = totals + r.key[hours.cells_in(r.timezone)[pool]]
        best = int(pool[int(np.argmax(totals))])  # the first maximum: ties go to the earliest time
        at = hours.times[best]
        main = informed[0]
        cell = main.cell(int(hours.cells_in(main.timezone)[best]))
        slot: dict[str, Any] = {**cell.to_dict(), "timezone": main.timezone}
        names = ", ".join(f"'{r.name}'" for r in informed)
        why = (f"best free slot {DAYS[cell.weekday]} {cell.hour:02d}:00 ({main.timezone}): expected lift "
               f"{cell.score:+.3f} [{cell.low:+.3f}, {cell.high:+.3f}] from {cell.posts} past posts "
               f"(ranked on {names}); keeps {spacing_h} h between posts of a channel")
        return Placement(at, slot, why)
