"""Pure helpers of the VK connector: text as sent, wall items -> records, post matching, community references."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from connectors.base import EngagementRecord, PostContent, Published

_TAG = re.compile(r"<[^<>]+>")
_NUMERIC_REF = re.compile(r"^(?:club|public|event)(\d+)$|^-?(\d+)$")
CLOCK_SKEW = 60  # seconds of tolerance between our clock and VK's when matching by date


def plain_text(post: PostContent) -> str:
    """The text VK receives: VK has no markup, so HTML tags and MarkdownV2 escapes are removed."""
    if post.text_format == "html":
        return html.unescape(_TAG.sub("", post.text))
    if post.text_format == "markdownv2":
        return re.sub(r"\\(.)", r"\1", post.text)
    return post.text


def post_url(owner_id: int | str, post_id: int | str) -> str:
    return f"https://vk.com/wall{owner_id}_{post_id}"


def as_published(item: dict[str, Any]) -> Published:
    owner, post_id = item["owner_id"], item["id"]
    return Published(f"{owner}_{post_id}", post_url(owner, post_id), _when(item))


def _when(item: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(item.get("date") or 0), UTC)


def _count(item: dict[str, Any], key: str) -> int | None:
    value = item.get(key)
    if isinstance(value, dict) and isinstance(value.get("count"), int):
        return int(value["count"])
    return None


def post_kind(item: dict[str, Any]) -> str:
    """``repost`` for shares of other posts, else the first attachment's type, else ``text``."""
    if item.get("copy_history"):
        return "repost"
    for attachment in item.get("attachments") or []:
        if isinstance(attachment, dict) and attachment.get("type"):
            return str(attachment["type"])
    return "text"


def to_record(item: dict[str, Any], followers: int | None) -> EngagementRecord:
    """A ``wall.get`` item as an engagement record (missing counters stay ``None``)."""
    return EngagementRecord(
        posted_at=_when(item),
        external_id=f"{item.get('owner_id')}_{item.get('id')}",
        likes=_count(item, "likes"),
        comments=_count(item, "comments"),
        shares=_count(item, "reposts"),
        views=_count(item, "views"),
        followers=followers,
        kind=post_kind(item),
    )


def matches(item: dict[str, Any], post: PostContent, since: datetime) -> bool:
    """Whether a wall item is the publication of ``post`` made since ``since``.

    The rule (VK does not echo ``guid``): the exact text as sent, a date no earlier than ``since`` minus
    ``CLOCK_SKEW`` seconds, as many photo attachments as the post has media, and the same link attachment
    (or none, when the post has no link).
    """
    if int(item.get("date") or 0) < since.timestamp() - CLOCK_SKEW:
        return False
    if (item.get("text") or "") != plain_text(post):
        return False
    attachments = [a for a in item.get("attachments") or [] if isinstance(a, dict)]
    if sum(1 for a in attachments if a.get("type") == "photo") != len(post.media):
        return False
    links = [a.get("link", {}).get("url") for a in attachments if a.get("type") == "link"]
    return links == ([post.link] if post.link else [])


def community_ref(text: str) -> str:
    """``https://vk.com/durov`` -> ``durov``; ``club123`` / ``public123`` / ``-123`` -> ``123``."""
    ref = text.strip()
    if "://" in ref or ref.lower().startswith(("vk.com/", "m.vk.com/", "vk.ru/", "www.vk.com/")):
        parts = urlsplit(ref if "://" in ref else f"https://{ref}")
        ref = parts.path.strip("/").split("/")[0]
    ref = ref.lstrip("@")
    numeric = _NUMERIC_REF.match(ref)
    if numeric:
        return numeric.group(1) or numeric.group(2)
    return ref


def owner_numbers(owner_id: str) -> tuple[int, int | None]:
    """``(owner_id, group_id)``: the wall's id and, for a community wall, its positive group id."""
    owner = int(str(owner_id).strip())
    return owner, (-owner if owner < 0 else None)
