"""How a post will look on each platform: the text cut where the platform cuts it, the first media and the link.

Used by ``templates/_preview.html`` (server-rendered, so it works without JavaScript) and, through the data
attributes the partial writes, by ``static/preview.js`` (the same rules, re-applied as the user types).

Where each number comes from (marks as in docs/platform-apis.md: ✅ official document, 🟡 official schema or
maintained client, ⚠️ third-party/observed, ❓ not confirmed — a design assumption):

- Telegram: message text ≤ 4096, caption with media ≤ 1024 ✅ (platform-apis.md §1 Limits); counted in UTF-16 code
  units ❓ (§1: "Length is assumed to count UTF-16 code units"). A channel shows the whole message: no fold.
- Instagram: caption ≤ 2200 ✅ (§4 Limits); every post needs media ✅; links in a caption are not clickable ⚠️.
  The feed shows the first lines and then "… more": platform-apis.md does not document where, so the fold at
  125 characters is ❓ a design assumption (the figure commonly observed), kept in :data:`INSTAGRAM_FEED_FOLD`.
- VK: 16384 characters ❓ — not in platform-apis.md; it is the VK connector's limit (connectors/vk).
  VK's "Show more" fold is not documented anywhere we rely on: no fold is drawn.
- Facebook: 63206 characters ❓ — not in platform-apis.md; the Facebook connector's limit (connectors/facebook).
  Its "See more" fold is not documented: no fold is drawn.

The numbers must agree with the connectors' ``PlatformLimits`` (what the service refuses); tests check that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Unit = Literal["chars", "utf16"]
INSTAGRAM_FEED_FOLD = 125  # ❓ not documented (see the module docstring); a display hint, never a refusal
URL_RE = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True)
class PreviewRule:
    """One platform's display rules."""

    label: str
    text_max: int  # a text-only post
    caption_max: int  # text that goes with media
    unit: Unit
    fold: int | None  # where the feed cuts the text with "… more" (None: shows it all)
    needs_media: bool
    link_note: str  # what the platform does with a link in the text


RULES: dict[str, PreviewRule] = {
    # ✅ 4096 / 1024 (platform-apis.md §1); ❓ UTF-16 units
    "telegram": PreviewRule("Telegram", 4096, 1024, "utf16", None, False,
                            "Telegram shows a preview of the first link under the message."),
    # ✅ 2200 (§4); ❓ fold at 125
    "instagram": PreviewRule("Instagram", 2200, 2200, "chars", INSTAGRAM_FEED_FOLD, True,
                             "Links in an Instagram caption are not clickable."),
    # ❓ 16384 (the VK connector's limit; not in platform-apis.md)
    "vk": PreviewRule("VK", 16384, 16384, "chars", None, False, "VK attaches a preview of the link."),
    # ❓ 63206 (the Facebook connector's limit; not in platform-apis.md)
    "facebook": PreviewRule("Facebook", 63206, 63206, "chars", None, False,
                            "Facebook shows a preview card of the link."),
}


def length(text: str, unit: Unit) -> int:
    """The length as the platform counts it (the same count as ``connectors.base.text_length``)."""
    return len(text.encode("utf-16-le")) // 2 if unit == "utf16" else len(text)


def cut(text: str, limit: int, unit: Unit) -> str:
    """The longest start of ``text`` within ``limit`` units, never splitting a character."""
    if length(text, unit) <= limit:
        return text
    if unit == "chars":
        return text[:limit]
    used, out = 0, []
    for ch in text:
        size = 2 if ord(ch) > 0xFFFF else 1
        if used + size > limit:
            break
        used += size
        out.append(ch)
    return "".join(out)


def first_link(text: str, link: str | None = None) -> str:
    """The post's link if it has one, else the first URL in its text."""
    if link:
        return link
    match = URL_RE.search(text or "")
    return match.group(0).rstrip(".,;:!?)") if match else ""


def card(platform: str, name: str, channel_id: str, text: str, media: Mapping[str, Any] | None,
         link: str | None = None, *, shown: bool = True) -> dict[str, Any]:
    """One platform's preview: what is visible before the fold, what is cut, and the notes that explain it."""
    rule = RULES.get(platform) or PreviewRule(platform.title(), 0, 0, "chars", None, False, "")
    has_media = bool(media)
    limit = rule.caption_max if has_media else rule.text_max
    used = length(text, rule.unit)
    kept = cut(text, limit, rule.unit) if limit else text
    visible, folded = kept, False
    if rule.fold and length(kept, rule.unit) > rule.fold:
        visible, folded = cut(kept, rule.fold, rule.unit).rstrip(), True
    notes: list[tuple[str, bool]] = []  # (sentence, is a problem)
    over = used - limit if limit else 0
    if over > 0:
        what = "caption with media" if has_media and rule.caption_max != rule.text_max else "text"
        notes.append((f"{over} character{'' if over == 1 else 's'} over {rule.label}'s {limit}-character "
                      f"limit for a {what}: it refuses the post, so shorten the text (the preview stops at the "
                      "limit).", True))
    if folded:
        notes.append((f"The feed shows about the first {rule.fold} characters, then “… more”.", False))
    if rule.needs_media and not has_media:
        notes.append((f"{rule.label} needs a photo or a video: a text-only post is refused.", True))
    found = first_link(text, link)
    return {
        "platform": platform, "label": rule.label, "name": name, "channel_id": channel_id, "shown": shown,
        "text_max": rule.text_max, "caption_max": rule.caption_max, "unit": rule.unit, "fold": rule.fold or 0,
        "needs_media": rule.needs_media, "link_note": rule.link_note,
        "visible": visible, "folded": folded, "used": used, "limit": limit, "over": max(over, 0),
        "media": dict(media) if media else None, "link": found, "notes": notes,
    }


def media_view(item: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The first attachment as the preview shows it: an image only when it is served by this service (the pages
    load nothing from other hosts), else its kind and address."""
    if not item:
        return None
    kind = str(item.get("kind") or "photo")
    url = str(item.get("url") or "")
    local = url if url.startswith("/media/") else ""
    if item.get("media_id") and not local and url:
        local = "/media/" + str(item["media_id"]) + "/" + url.rsplit("/", 1)[-1]
    return {"kind": kind, "url": url, "image": local if kind in ("photo", "animation") else "",
            "label": str(item.get("name") or url.rsplit("/", 1)[-1] or kind)}


def for_compose(state: Any, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A card per channel the form offers (the unchosen ones hidden), from the compose form's state."""
    item: dict[str, Any] | None = None
    if getattr(state, "media_id", "") and getattr(state, "media_name", ""):
        item = {"kind": state.media_kind, "url": state.media_preview, "media_id": state.media_id,
                "name": state.media_name}
    elif getattr(state, "media_url", ""):
        item = {"kind": state.media_kind, "url": state.media_url}
    media = media_view(item)
    chosen = set(getattr(state, "channel_ids", []) or [])
    overrides = getattr(state, "overrides", {}) or {}
    link = getattr(state, "link", None) or None
    out = []
    for row in rows:
        ch = row["channel"]
        text = overrides.get(ch.id) or getattr(state, "text", "") or ""
        out.append(card(ch.platform, ch.name, ch.id, text, media, link, shown=ch.id in chosen))
    return out


def for_post(post: Any, channels: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A card per target of a stored post (``PostOut``), with each channel's text override."""
    media = media_view(post.media[0] if post.media else None)
    link = (post.options or {}).get("link")
    out = []
    for target in post.targets:
        ch = channels.get(target.channel_id)
        if ch is None:
            continue
        override = (post.overrides or {}).get(ch.id) or {}
        text = override.get("text") or post.text or ""
        out.append(card(ch.platform, ch.name, ch.id, text, media, override.get("link") or link))
    return out


def previews(context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The cards for whichever page includes the partial: the compose form (``state`` and ``rows``) or a post's
    page (``post`` and ``channels``)."""
    if context.get("state") is not None and context.get("rows") is not None:
        return for_compose(context["state"], context["rows"])
    if context.get("post") is not None:
        return for_post(context["post"], context.get("channels") or {})
    return []
