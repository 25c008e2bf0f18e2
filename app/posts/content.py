"""From stored rows to what a connector publishes, and the post's status summed up from its targets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from app.models.statuses import PostStatus, TargetStatus
from connectors.base import MediaItem, PostContent


def media_items(media: Iterable[Mapping[str, Any]], media_dir: Path) -> tuple[MediaItem, ...]:
    items = []
    for m in media:
        path = media_dir / m["media_id"] / m["filename"] if m.get("media_id") and m.get("filename") else None
        items.append(
            MediaItem(
                url=m["url"], kind=m.get("kind", "photo"), path=path,
                mime_type=m.get("mime_type"), alt_text=m.get("alt_text"),
            )
        )
    return tuple(items)


def build_content(
    text: str,
    media: Iterable[Mapping[str, Any]],
    options: Mapping[str, Any],
    override: Mapping[str, Any] | None,
    media_dir: Path,
) -> PostContent:
    """The content one channel gets: the post's, with that channel's override applied."""
    override = override or {}
    if override.get("text") is not None:
        text = override["text"]
    if override.get("media") is not None:
        media = override["media"]
    return PostContent(
        text=text,
        media=media_items(media, media_dir),
        text_format=options.get("text_format", "plain"),
        link=options.get("link"),
        link_preview=options.get("link_preview", True),
        silent=options.get("silent", False),
        kind=options.get("kind", "feed"),
    )


def summarise(statuses: Iterable[str]) -> PostStatus:
    """The post's status from its targets' (docs/api-contract.md)."""
    seen = {TargetStatus(s) for s in statuses}
    if not seen:
        return PostStatus.DRAFT
    if len(seen) == 1:
        return PostStatus(next(iter(seen)))
    for dominant in (TargetStatus.PUBLISHING, TargetStatus.NEEDS_CHECK, TargetStatus.SCHEDULED):
        if dominant in seen:
            return PostStatus(dominant)
    if TargetStatus.PUBLISHED in seen and TargetStatus.FAILED in seen:
        return PostStatus.PARTIALLY_PUBLISHED
    for dominant in (TargetStatus.PUBLISHED, TargetStatus.FAILED):
        if dominant in seen:
            return PostStatus(dominant)
    return PostStatus(sorted(seen)[0])
