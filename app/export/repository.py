"""The queries of the export and the feed: posts with a time in a range, paged through the posts repository."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Post
from app.posts import repository as post_repo

PAGE = 500


async def timed_posts(session: AsyncSession, workspace_id: str, start: datetime | None, end: datetime | None,
                      limit: int) -> list[Post]:
    """Posts with a ``scheduled_at`` in [start, end), in calendar order, at most ``limit`` (drafts skipped)."""
    rows: list[Post] = []
    after: tuple[datetime, str] | None = None
    while len(rows) < limit:
        page = await post_repo.list_page(session, workspace_id, start=start, end=end, channel_id=None, status=None,
                                         after=after, limit=PAGE)
        rows.extend(p for p in page if p.scheduled_at is not None)
        if len(page) < PAGE:
            break
        after = (page[-1].order_at, page[-1].id)
    return rows[:limit]
