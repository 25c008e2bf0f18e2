"""The plan's rubric mix: the share of each rubric per week (in the workspace's zone), overall and per channel,
beside the targets. Overall a post counts once; per channel each of its targets counts on its channel."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import repository as channel_repo
from app.errors import Invalid
from app.models import Rubric, Workspace
from app.rubrics import repository as repo
from app.timeutil import TimeInputError, get_zone, parse_day_bound, start_of_day, utcnow

DEFAULT_WEEKS = 4
MAX_DAYS = 366


def _zone(workspace: Workspace) -> str:
    try:
        get_zone(workspace.timezone or "UTC")
    except TimeInputError:
        return "UTC"
    return workspace.timezone or "UTC"


def window(workspace: Workspace, start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """[start, end) from the query (bare dates are days of the workspace's zone); by default this week and the
    next three."""
    zone = _zone(workspace)
    today = utcnow().astimezone(get_zone(zone)).date()
    monday = today - timedelta(days=today.weekday())
    lo = _bound(start, "start", zone) if start else start_of_day(monday, zone)
    hi = _bound(end, "end", zone) if end else start_of_day(monday + timedelta(weeks=DEFAULT_WEEKS), zone)
    if hi <= lo:
        raise Invalid("end", "end must be after start")
    if hi - lo > timedelta(days=MAX_DAYS):
        raise Invalid("end", f"the range spans more than {MAX_DAYS} days; ask for a year or less at a time")
    return lo, hi


def _bound(value: str, name: str, zone: str) -> datetime:
    try:
        return parse_day_bound(value, zone)
    except TimeInputError as exc:
        raise Invalid(name, str(exc)) from exc


def _weeks(lo: datetime, hi: datetime, zone: str) -> list[date]:
    z = get_zone(zone)
    first = lo.astimezone(z).date()
    last = (hi - timedelta(microseconds=1)).astimezone(z).date()
    monday = first - timedelta(days=first.weekday())
    out = []
    while monday <= last:
        out.append(monday)
        monday += timedelta(weeks=1)
    return out


def _week_rows(weeks: list[date], counts: dict[date, Counter[str | None]], rubrics: list[Rubric]) -> list[dict]:
    targets = {r.name: r.target_share for r in rubrics}
    order = [r.name for r in rubrics]
    rows = []
    for week in weeks:
        c = counts.get(week, Counter())
        total = sum(c.values())
        names: list[str | None] = [n for n in order if n in c or targets.get(n) is not None]
        names += sorted(n for n in c if n is not None and n not in targets)  # (a name no row has: not expected)
        if None in c:
            names.append(None)
        shares = []
        for name in names:
            share = c.get(name, 0) / total if total else 0.0
            target = targets.get(name) if name is not None else None
            shares.append({"rubric": name, "posts": c.get(name, 0), "share": round(share, 4), "target_share": target,
                           "gap": None if target is None else round(share - target, 4)})
        rows.append({"week": week.isoformat(), "posts": total, "rubrics": shares})
    return rows


async def plan_mix(
    session: AsyncSession, workspace: Workspace, start: str | None, end: str | None, channel_id: str | None
) -> dict[str, object]:
    zone = _zone(workspace)
    lo, hi = window(workspace, start, end)
    channels = await channel_repo.list_all(session, workspace.id)
    if channel_id is not None and channel_id not in {c.id for c in channels}:
        raise Invalid("channel_id", f"no channel {channel_id[:40]} in this workspace")
    rubrics = await repo.list_all(session, workspace.id)
    rows = await repo.planned_targets(session, workspace.id, lo, hi, channel_id)
    z = get_zone(zone)
    overall: dict[date, Counter[str | None]] = defaultdict(Counter)
    per_channel: dict[str, dict[date, Counter[str | None]]] = defaultdict(lambda: defaultdict(Counter))
    seen: set[str] = set()
    for post_id, ch_id, at, rubric in rows:
        day = at.astimezone(z).date()
        week = day - timedelta(days=day.weekday())
        per_channel[ch_id][week][rubric] += 1
        if post_id not in seen:
            seen.add(post_id)
            overall[week][rubric] += 1
    weeks = _weeks(lo, hi, zone)
    shown = [c for c in channels if channel_id is None or c.id == channel_id]
    return {
        "timezone": zone, "start": lo.isoformat(), "end": hi.isoformat(),
        "targets": {r.name: r.target_share for r in rubrics if r.target_share is not None},
        "weeks": _week_rows(weeks, overall, rubrics),
        "channels": [{"channel_id": c.id, "name": c.name, "weeks": _week_rows(weeks, per_channel.get(c.id, {}),
                                                                               rubrics)} for c in shown],
    }
