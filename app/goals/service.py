"""Goals: what a metric is now, where its current pace takes it by the deadline, and whether that reaches the target.

Metrics (all "higher is better"), over one channel or all of the workspace's:

* ``followers`` — the latest follower count from the collected engagement history (summed over channels); pace:
  the change over the last 30 days, carried on to the deadline;
* ``posts_per_week`` — posts published in the last 7 days; pace: the plan's rate (posts scheduled from now to the
  deadline, per week);
* ``engagement_rate`` — (likes + comments + shares) / followers per post, averaged over the last 30 days' posts
  (a share: 0.05 is 5 %);
* ``published_on_time`` — the share of the last 30 days' sends published within a minute of their time;
* ``clicks_per_day`` — short-link clicks a day over the last 7 days.

For the last three the pace is the change from the 30 days before to the last 30 days (7 for clicks), carried on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import repository as channel_repo
from app.errors import Invalid, NotFound
from app.models import EngagementPost, Goal, LinkClick, ShortLink, Target, Workspace
from app.models.statuses import TargetStatus
from app.timeutil import TimeInputError, parse_date, utcnow


class GoalMetric(StrEnum):
    FOLLOWERS = "followers"
    POSTS_PER_WEEK = "posts_per_week"
    ENGAGEMENT_RATE = "engagement_rate"
    PUBLISHED_ON_TIME = "published_on_time"
    CLICKS_PER_DAY = "clicks_per_day"


SHARES = {GoalMetric.ENGAGEMENT_RATE, GoalMetric.PUBLISHED_ON_TIME}  # targets from 0 to 1
ON_TIME_S = 60.0
LABELS = {
    GoalMetric.FOLLOWERS: "followers", GoalMetric.POSTS_PER_WEEK: "posts a week",
    GoalMetric.ENGAGEMENT_RATE: "engagement rate", GoalMetric.PUBLISHED_ON_TIME: "published on time",
    GoalMetric.CLICKS_PER_DAY: "clicks a day",
}


def _metric(value: str) -> GoalMetric:
    try:
        return GoalMetric(str(value).strip().lower())
    except ValueError:
        raise Invalid("metric", f"'{str(value)[:40]}' is not a metric; use one of "
                                f"{', '.join(m.value for m in GoalMetric)}") from None


def _target(metric: GoalMetric, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise Invalid("target", "the target is a number")
    if metric in SHARES and not 0 < value <= 1:
        raise Invalid("target", f"{LABELS[metric]} is a share: give it from 0 to 1 (0.05 is 5%)")
    if metric not in SHARES and not 0 < value <= 1e12:
        raise Invalid("target", "the target is a number above 0")
    return float(value)


def _deadline(value: Any, today: date) -> date:
    try:
        day = parse_date(str(value))
    except TimeInputError as exc:
        raise Invalid("deadline", str(exc)) from exc
    if day <= today:
        raise Invalid("deadline", "the deadline must be after today")
    return day


async def _channel(session: AsyncSession, workspace: Workspace, channel_id: str | None) -> str | None:
    if not channel_id:
        return None
    if not await channel_repo.get_many(session, workspace.id, [channel_id]):
        raise Invalid("channel_id", f"no channel with the id '{channel_id[:40]}'; leave it out for all channels")
    return channel_id


def _name(value: Any) -> str | None:
    clean = " ".join(str(value or "").split())
    if len(clean) > 200 or not clean.isprintable():
        raise Invalid("name", "a name has at most 200 printable characters")
    return clean or None


async def _channel_ids(session: AsyncSession, workspace: Workspace, channel_id: str | None) -> list[str]:
    if channel_id:
        return [channel_id]
    return [c.id for c in await channel_repo.list_all(session, workspace.id)]


def _at_day(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


async def followers_at(session: AsyncSession, channel_ids: list[str], at: datetime) -> float | None:
    """The sum over channels of each one's latest follower reading up to ``at`` (None when none has any)."""
    total, seen = 0.0, False
    for cid in channel_ids:
        found = (await session.execute(
            select(EngagementPost.followers).where(EngagementPost.channel_id == cid,
                                                   EngagementPost.followers.is_not(None),
                                                   EngagementPost.posted_at <= at)
            .order_by(EngagementPost.posted_at.desc()).limit(1))).scalar_one_or_none()
        if found is not None:
            total, seen = total + float(found), True
    return total if seen else None


async def _published(session: AsyncSession, channel_ids: list[str], lo: datetime, hi: datetime) -> int:
    return int((await session.execute(
        select(func.count()).select_from(Target).where(
            Target.channel_id.in_(channel_ids), Target.status == TargetStatus.PUBLISHED,
            Target.published_at >= lo, Target.published_at < hi))).scalar_one())


async def _scheduled(session: AsyncSession, channel_ids: list[str], lo: datetime, hi: datetime) -> int:
    return int((await session.execute(
        select(func.count()).select_from(Target).where(
            Target.channel_id.in_(channel_ids), Target.status == TargetStatus.SCHEDULED,
            Target.next_attempt_at >= lo, Target.next_attempt_at < hi))).scalar_one())


async def _engagement(session: AsyncSession, channel_ids: list[str], lo: datetime, hi: datetime) -> float | None:
    rows = (await session.execute(
        select(EngagementPost.likes, EngagementPost.comments, EngagementPost.shares, EngagementPost.followers)
        .where(EngagementPost.channel_id.in_(channel_ids), EngagementPost.posted_at >= lo,
               EngagementPost.posted_at < hi, EngagementPost.followers > 0))).all()
    rates = [((likes or 0) + (comments or 0) + (shares or 0)) / followers
             for likes, comments, shares, followers in rows if followers]
    return sum(rates) / len(rates) if rates else None


async def _on_time(session: AsyncSession, channel_ids: list[str], lo: datetime, hi: datetime) -> float | None:
    rows = (await session.execute(
        select(Target.status, Target.late_by_s).where(
            Target.channel_id.in_(channel_ids), Target.order_at >= lo, Target.order_at < hi,
            Target.status.in_((TargetStatus.PUBLISHED, TargetStatus.FAILED, TargetStatus.NEEDS_CHECK))))).all()
    if not rows:
        return None
    good = sum(1 for status, late in rows if status == TargetStatus.PUBLISHED and (late or 0.0) <= ON_TIME_S)
    return good / len(rows)


async def _clicks(session: AsyncSession, workspace: Workspace, channel_ids: list[str], first: date, last: date
                  ) -> float:
    total = (await session.execute(
        select(func.coalesce(func.sum(LinkClick.clicks), 0)).join(ShortLink, ShortLink.id == LinkClick.link_id)
        .where(ShortLink.workspace_id == workspace.id, ShortLink.channel_id.in_(channel_ids),
               LinkClick.day >= first, LinkClick.day <= last))).scalar_one()
    return float(total or 0) / ((last - first).days + 1)


async def value_at(session: AsyncSession, workspace: Workspace, metric: GoalMetric, channel_ids: list[str],
                   at: datetime) -> float | None:
    """The metric as it stood at ``at`` (its window ends there)."""
    if not channel_ids:
        return None
    if metric == GoalMetric.FOLLOWERS:
        return await followers_at(session, channel_ids, at)
    if metric == GoalMetric.POSTS_PER_WEEK:
        return float(await _published(session, channel_ids, at - timedelta(days=7), at))
    if metric == GoalMetric.ENGAGEMENT_RATE:
        return await _engagement(session, channel_ids, at - timedelta(days=30), at)
    if metric == GoalMetric.PUBLISHED_ON_TIME:
        return await _on_time(session, channel_ids, at - timedelta(days=30), at)
    last = at.date() - timedelta(days=1)
    return await _clicks(session, workspace, channel_ids, last - timedelta(days=6), last)


async def progress(session: AsyncSession, workspace: Workspace, goal: Goal, now: datetime | None = None
                   ) -> dict[str, Any]:
    """``current``, ``projected`` (where the pace leads by the deadline), ``progress`` (0..1 of the way from the
    baseline), ``on_track`` and ``status``: reached, on_track, behind, missed or no_data."""
    now = now or utcnow()
    metric = GoalMetric(goal.metric)
    ids = await _channel_ids(session, workspace, goal.channel_id)
    current = await value_at(session, workspace, metric, ids, now)
    end = _at_day(goal.deadline + timedelta(days=1))
    days_left = max(0.0, (end - now).total_seconds() / 86400)
    projected: float | None = None
    if metric == GoalMetric.POSTS_PER_WEEK and ids:
        planned = await _scheduled(session, ids, now, end)
        projected = planned / max(1.0, days_left / 7) if days_left > 0 else current
    elif current is not None:
        span = 7 if metric == GoalMetric.CLICKS_PER_DAY else 30
        before = await value_at(session, workspace, metric, ids, now - timedelta(days=span))
        slope = (current - before) / span if before is not None else 0.0
        projected = current + slope * days_left
        if metric in SHARES:
            projected = min(1.0, max(0.0, projected))
    base = goal.baseline if goal.baseline is not None else 0.0
    share = None
    if current is not None:
        share = 1.0 if goal.target <= base else max(0.0, min(1.0, (current - base) / (goal.target - base)))
    reached = current is not None and current >= goal.target
    on_track = reached or (projected is not None and projected >= goal.target)
    past = now.date() > goal.deadline
    status = ("no_data" if current is None else "reached" if reached else "missed" if past
              else "on_track" if on_track else "behind")
    return {"current": None if current is None else round(current, 4),
            "projected": None if projected is None else round(projected, 4),
            "progress": None if share is None else round(share, 4), "on_track": on_track, "status": status,
            "days_left": int(days_left)}


async def out(session: AsyncSession, workspace: Workspace, goal: Goal) -> dict[str, Any]:
    return {"id": goal.id, "metric": goal.metric, "target": goal.target, "deadline": goal.deadline.isoformat(),
            "channel_id": goal.channel_id, "name": goal.name, "baseline": goal.baseline,
            "created_at": goal.created_at, **await progress(session, workspace, goal)}


async def create(session: AsyncSession, workspace: Workspace, fields: dict[str, Any]) -> Goal:
    """A new goal; its ``baseline`` is the metric's value now (progress is measured from there)."""
    metric = _metric(fields.get("metric", ""))
    goal = Goal(workspace_id=workspace.id, metric=metric.value, target=_target(metric, fields.get("target")),
                deadline=_deadline(fields.get("deadline"), utcnow().date()),
                channel_id=await _channel(session, workspace, fields.get("channel_id")),
                name=_name(fields.get("name")))
    ids = await _channel_ids(session, workspace, goal.channel_id)
    goal.baseline = await value_at(session, workspace, metric, ids, utcnow())
    session.add(goal)
    await session.flush()
    return goal


async def get(session: AsyncSession, workspace: Workspace, goal_id: str) -> Goal:
    goal = await session.get(Goal, goal_id)
    if goal is None or goal.workspace_id != workspace.id:
        raise NotFound("Goal")
    return goal


async def list_all(session: AsyncSession, workspace: Workspace) -> list[Goal]:
    return list((await session.execute(select(Goal).where(Goal.workspace_id == workspace.id)
                                       .order_by(Goal.deadline, Goal.created_at, Goal.id))).scalars())


async def update(session: AsyncSession, workspace: Workspace, goal_id: str, fields: dict[str, Any]) -> Goal:
    goal = await get(session, workspace, goal_id)
    metric = GoalMetric(goal.metric)
    if "target" in fields:
        goal.target = _target(metric, fields["target"])
    if "deadline" in fields:
        goal.deadline = _deadline(fields["deadline"], utcnow().date())
    if "name" in fields:
        goal.name = _name(fields["name"])
    await session.flush()
    return goal


async def delete(session: AsyncSession, workspace: Workspace, goal_id: str) -> None:
    await session.delete(await get(session, workspace, goal_id))
    await session.flush()
