"""The content plan's part of a post's page: cadence warnings, the text each platform receives, clicks.

:func:`post_plan_context` is merged into the post page's context; ``_post_plan.html`` shows it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.cadence.service import check_stored
from app.config import Settings
from app.links import service as links
from app.models import Channel, Post, Workspace
from app.posts.schemas import PostOut


async def post_plan_context(session: AsyncSession, workspace: Workspace, post: Post, out: PostOut,
                            channels: Mapping[str, Channel], settings: Settings) -> dict[str, Any]:
    """``plan_warnings`` (for a post still to come), ``outgoing`` (per channel) and ``clicks``."""
    warnings: list[dict[str, Any]] = []
    if out.status in ("draft", "scheduled"):
        warnings = await check_stored(session, workspace, post)
    names = {cid: ch.name for cid, ch in channels.items()}
    # the short links the page shows work at once, as the API's preview makes them (insert-or-ignore of the code
    # derived from post, channel and destination: the send stores the same rows, so nothing is counted twice)
    outgoing = await links.preview(session, workspace, post, settings.effective_public_base_url, settings.media_dir)
    counted = await links.clicks(session, workspace, post_id=post.id)
    return {"plan_warnings": [{**w, "channel": names.get(w["channel_id"] or "", "")} for w in warnings],
            "outgoing": [o for o in outgoing if o["tagged"]],
            "clicks": {**counted, "by_channel": [{**c, "name": names.get(c["channel_id"], c["channel_id"])}
                                                 for c in counted["by_channel"]]}}
