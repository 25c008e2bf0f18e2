"""The text each platform receives (UTM tags, short links), the short links' rows and their click counts.

Short links are stored when a post is sent (:func:`store_links`, from the publisher) and when its preview is read
(the API's preview and the post page), all with insert-or-ignore: the code is derived from the post, the channel
and the destination (:func:`app.links.utm.short_code`), so every path agrees on it without a lookup. A click is one
upsert of a per-day counter (:func:`count_click`); nothing about the visitor is read or kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.links.utm import LinkRules, rules_for
from app.links.utm import outgoing as outgoing
from app.models import Channel, LinkClick, Post, ShortLink, Target, Workspace
from app.models.base import new_id
from app.posts.content import build_content
from app.timeutil import get_zone, utcnow
from connectors.base import PostContent

MAX_CODE = 16


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert  # type: ignore[union-attr]


def local_date(at: datetime | None, zone: str | None) -> str | None:
    """The ``{date}`` placeholder: the post's day in its zone (YYYY-MM-DD)."""
    if at is None:
        return None
    try:
        return at.astimezone(get_zone(zone or "UTC")).date().isoformat()
    except Exception:  # an unknown zone stored long ago: the UTC day
        return at.date().isoformat()


def rules_of(post: Post | Mapping[str, Any], channel: Channel | Mapping[str, Any], workspace: Workspace
             | Mapping[str, Any], public_base: str) -> LinkRules:
    """The link rules of one post on one channel (ORM rows or plain mappings of the same names)."""
    def get(obj: Any, name: str) -> Any:
        return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)

    options = get(post, "options") or {}
    return rules_for(
        post_id=get(post, "id"), channel_id=get(channel, "id"), platform=get(channel, "platform"),
        channel_name=get(channel, "name"), rubric=get(post, "rubric"),
        date=local_date(get(post, "scheduled_at"), get(post, "timezone") or get(channel, "timezone")),
        channel_template=get(channel, "utm_template"), workspace_template=get(workspace, "utm_template"),
        post_template=options.get("utm") if isinstance(options, Mapping) else None,
        domains=get(workspace, "utm_domains"), short_links=bool(get(workspace, "short_links")),
        public_base=public_base)


def for_channel(content: PostContent, rules: LinkRules) -> tuple[PostContent, dict[str, str]]:
    """:func:`app.links.utm.outgoing`: the content as sent, and its short links (code → destination)."""
    return outgoing(content, rules)


async def store_links(session: AsyncSession, workspace_id: str, post_id: str, channel_id: str,
                      shorts: Mapping[str, str]) -> None:
    """Make sure every short link of one post on one channel exists (insert or ignore)."""
    if not shorts:
        return
    insert = _insert(session)
    rows = [{"id": new_id(), "workspace_id": workspace_id, "post_id": post_id, "channel_id": channel_id,
             "code": code, "url": url, "created_at": utcnow()} for code, url in shorts.items()]
    await session.execute(insert(ShortLink).values(rows).on_conflict_do_nothing(index_elements=["code"]))


async def preview(session: AsyncSession, workspace: Workspace, post: Post, public_base: str, media_dir: Any, *,
                  store: bool = True) -> list[dict[str, Any]]:
    """What each channel of the post receives: text and link with the UTM tags (and short links) applied."""
    rows = (await session.execute(
        select(Target.channel_id, Target.overrides, Channel)
        .join(Channel, Channel.id == Target.channel_id)
        .where(Target.post_id == post.id).order_by(Target.id))).all()
    out: list[dict[str, Any]] = []
    for channel_id, overrides, channel in rows:
        base = build_content(post.text, post.media, post.options, overrides, media_dir)
        content, shorts = for_channel(base, rules_of(post, channel, workspace, public_base))
        if store:  # the short links shown (the API's preview, the post page) work at once
            await store_links(session, workspace.id, post.id, channel_id, shorts)
        out.append({"channel_id": channel_id, "platform": channel.platform, "name": channel.name,
                    "text": content.text, "link": content.link, "text_format": content.text_format,
                    "tagged": content.text != base.text or content.link != base.link,
                    "short_links": [{"code": c, "url": u} for c, u in shorts.items()]})
    return out


async def count_click(session: AsyncSession, code: str, day: date) -> str | None:
    """Count one click of ``code`` on ``day``; the destination, or ``None`` for a code that does not exist."""
    if not code or len(code) > MAX_CODE or not code.isascii() or not code.isalnum():
        return None
    found = (await session.execute(select(ShortLink.id, ShortLink.url).where(ShortLink.code == code))).first()
    if found is None:
        return None
    link_id, url = found
    insert = _insert(session)
    stmt = insert(LinkClick).values(id=new_id(), link_id=link_id, day=day, clicks=1)
    stmt = stmt.on_conflict_do_update(index_elements=["link_id", "day"],
                                      set_={"clicks": LinkClick.clicks + 1})
    await session.execute(stmt)
    return str(url)


async def clicks(session: AsyncSession, workspace: Workspace, *, start: date | None = None, end: date | None = None,
                 post_id: str | None = None, channel_id: str | None = None) -> dict[str, Any]:
    """Clicks in [start, end] by day, post, channel and rubric (only what the counters hold: no visitor data)."""
    stmt = (select(LinkClick.day, ShortLink.post_id, ShortLink.channel_id, Post.rubric,
                   func.sum(LinkClick.clicks))
            .join(ShortLink, ShortLink.id == LinkClick.link_id)
            .join(Post, Post.id == ShortLink.post_id)
            .where(ShortLink.workspace_id == workspace.id)
            .group_by(LinkClick.day, ShortLink.post_id, ShortLink.channel_id, Post.rubric))
    if start is not None:
        stmt = stmt.where(LinkClick.day >= start)
    if end is not None:
        stmt = stmt.where(LinkClick.day <= end)
    if post_id is not None:
        stmt = stmt.where(ShortLink.post_id == post_id)
    if channel_id is not None:
        stmt = stmt.where(ShortLink.channel_id == channel_id)
    rows = (await session.execute(stmt)).all()
    return summarise(rows)


def summarise(rows: Iterable[Sequence[Any]]) -> dict[str, Any]:
    by: dict[str, dict[str, int]] = {"day": {}, "post": {}, "channel": {}, "rubric": {}}
    total = 0
    for day, post_id, channel_id, rubric, n in rows:
        n = int(n or 0)
        total += n
        for key, value in (("day", str(day)), ("post", post_id), ("channel", channel_id),
                           ("rubric", rubric or "")):
            by[key][value] = by[key].get(value, 0) + n

    def listed(key: str, name: str) -> list[dict[str, Any]]:
        items = sorted(by[key].items(), key=lambda kv: kv[0] if key == "day" else (-kv[1], kv[0]))
        return [{name: (k if k != "" else None), "clicks": v} for k, v in items]

    return {"total": total, "by_day": listed("day", "date"), "by_post": listed("post", "post_id"),
            "by_channel": listed("channel", "channel_id"), "by_rubric": listed("rubric", "rubric")}


def job_rules(job: Any, public_base: str) -> LinkRules:
    """The link rules of a claimed send (an :class:`app.publishing.repository.Job`)."""
    options = job.options or {}
    return rules_for(
        post_id=job.post_id, channel_id=job.channel_id, platform=job.platform, channel_name=job.channel_name,
        rubric=job.rubric, date=local_date(job.scheduled_at, job.post_timezone or job.channel_timezone),
        channel_template=job.channel_utm, workspace_template=job.workspace_utm,
        post_template=options.get("utm") if isinstance(options, Mapping) else None, domains=job.utm_domains,
        short_links=bool(job.short_links), public_base=public_base)


def outgoing_checked(content: PostContent, post: Post, channel: Channel, workspace: Workspace, public_base: str,
                     rubric: str | None = None) -> PostContent:
    """The content a creation checks against the platform's limits: as it will be sent (tags, short links)."""
    facts: dict[str, Any] = {"id": post.id or "", "options": post.options, "rubric": post.rubric or rubric,
                             "scheduled_at": post.scheduled_at, "timezone": post.timezone}
    return outgoing(content, rules_of(facts, channel, workspace, public_base))[0]
