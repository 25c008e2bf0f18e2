"""A series' cron rule as pure, bounded computations: occurrences in a window, the first fire, a count estimate.

Every search is bounded by an end instant (APScheduler 3 checks ``end_date`` on each step of its search), so a rule
that never fires (``0 0 30 2 *``) costs a year's worth of steps at most instead of walking to year 9999 (~0.1-0.3 s
each time). Nothing here touches the database or an ORM object: callers pass a :class:`Rule` (plain values) and run
the functions in a worker thread (``asyncio.to_thread``), so the event loop never waits on cron arithmetic.

Time rules (documented in the README):
* occurrences are computed by APScheduler's ``CronTrigger`` in the series' zone;
* a wall time that does not exist (spring forward, e.g. 02:30 in Europe/Berlin on the last Sunday of March)
  is moved forward by the length of the gap (02:30 -> 03:30 local) and runs once;
* a wall time that happens twice (fall back) runs once, at its first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from app.errors import Invalid
from app.timeutil import MAX_INSTANT, TimeInputError, get_zone

FIRE_WITHIN_YEARS = 5
"""A rule must fire within this many years of its start, or it is refused at creation."""
PREVIEW_DAYS = 366
"""``next_occurrences`` looks this far ahead."""


@dataclass(frozen=True)
class Rule:
    """What the computations need of a series (safe to hand to a worker thread)."""

    cron: str
    timezone: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None


def trigger(cron: str, zone: str, end: datetime | None = None) -> CronTrigger:
    """The rule's trigger, searching no further than ``end``; a 422 naming ``cron``/``timezone`` if invalid."""
    try:
        trig = CronTrigger.from_crontab(cron.strip(), timezone=get_zone(zone))
    except TimeInputError as exc:
        raise Invalid("timezone", str(exc)) from exc
    except (ValueError, KeyError) as exc:
        raise Invalid(
            "cron",
            f"'{cron}' is not a valid 5-field crontab expression ({exc}); "
            "e.g. '31 18 * * mon' for every Monday at 18:31",
        ) from exc
    if end is not None:
        trig.end_date = min(end, MAX_INSTANT).astimezone(trig.timezone)
    return trig


def _ambiguous_repeat(fire: datetime) -> bool:
    """The second run of a wall time that happens twice (fall back): skipped."""
    return fire.fold == 1 and fire.replace(fold=0).utcoffset() != fire.utcoffset()


def occurrences(rule: Rule, after: datetime, until: datetime, limit: int) -> list[datetime]:
    """At most ``limit`` instants of the rule's occurrences in (after, until], earliest first (UTC)."""
    start = max(after, rule.starts_at) if rule.starts_at else after
    end = min(until, rule.ends_at) if rule.ends_at else until
    if end <= start or limit <= 0:
        return []
    trig = trigger(rule.cron, rule.timezone, end)
    out: list[datetime] = []
    prev: datetime | None = None
    cursor = start.astimezone(trig.timezone)
    while len(out) < limit:
        fire = trig.get_next_fire_time(prev, cursor)
        if fire is None or fire > end:
            break
        prev, cursor = fire, fire
        if fire <= start or _ambiguous_repeat(fire):
            continue
        out.append(fire.astimezone(start.tzinfo))
    return out


def first_fire(rule: Rule, after: datetime, years: int = FIRE_WITHIN_YEARS) -> datetime | None:
    """The first occurrence after ``after`` (or the rule's start) within ``years``, or None."""
    start = max(after, rule.starts_at) if rule.starts_at else after
    found = occurrences(Rule(rule.cron, rule.timezone), start, start + timedelta(days=366 * years), 1)
    return found[0] if found else None


def estimate_count(rule: Rule, after: datetime, until: datetime) -> int:
    """About how many times the rule fires in (after, until]: matching local days × times of day.

    Exact except across DST changes (an hour more or less); used to tell a person how far over a limit a rule
    is, where walking every occurrence (up to 20,160 in 14 days) would take a second of CPU.
    """
    trig = trigger(rule.cron, rule.timezone)
    fields = {f.name: f for f in trig.fields}
    probe = datetime(2001, 1, 1)
    hours = [h for h in range(24) if fields["hour"].get_next_value(probe.replace(hour=h)) == h]
    minutes = [m for m in range(60) if fields["minute"].get_next_value(probe.replace(minute=m)) == m]
    seconds = [s for s in range(60) if fields["second"].get_next_value(probe.replace(second=s)) == s]
    times = [(h, m, s) for h in hours for m in minutes for s in seconds]
    zone = trig.timezone
    lo = max(after, rule.starts_at or after).astimezone(zone)
    hi = min(until, rule.ends_at or until).astimezone(zone)
    lo_t, hi_t = (lo.hour, lo.minute, lo.second), (hi.hour, hi.minute, hi.second)
    count = 0
    day: date = lo.date()
    while day <= hi.date():
        midnight = datetime(day.year, day.month, day.day)
        if all(fields[n].get_next_value(midnight) == fields[n].get_value(midnight)
               for n in ("year", "month", "day", "week", "day_of_week")):
            count += sum(1 for t in times
                         if (day > lo.date() or t > lo_t) and (day < hi.date() or t <= hi_t))
        day += timedelta(days=1)
    return count
