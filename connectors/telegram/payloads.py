"""Pure helpers of the Telegram connector: the request a post becomes, extra checks and the public link.

Nothing here does I/O except :func:`read_upload` (which reads a file from the media store off the loop).
"""

from __future__ import annotations

import asyncio
import html
import json
import mimetypes
import re
from dataclasses import dataclass, field
from typing import Any

from connectors.base import MediaItem, PostContent, Problem, text_length

PARSE_MODES = {"plain": None, "html": "HTML", "markdownv2": "MarkdownV2"}
SEND_METHODS = {
    "photo": "sendPhoto",
    "video": "sendVideo",
    "document": "sendDocument",
    "audio": "sendAudio",
    "animation": "sendAnimation",
}
ALBUM_KINDS = frozenset({"photo", "video", "document", "audio"})
MARKDOWN_V2_SPECIAL = "_*[]()~`>#+-=|{}.!\\"
_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    }
)
# Every pattern below is linear in the text's length. The tokenizer's alternatives are single greedy runs that
# cannot fail once started; the tag pattern is possessive (``*+``): a name run and an attribute run that can both
# take letters used to trade them back and forth on a tag without '>' ("<a" + "b" * 99990 took 29 s).
_TOKEN = re.compile(r"<[^>]*>?|&[^;\s]*;?")
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*+)([^<>]*+)>")
_NAMED_ENTITIES = frozenset({"&lt;", "&gt;", "&amp;", "&quot;"})
"""The only named entities Telegram's HTML accepts (numeric ones all are)."""
_NUMERIC_ENTITY = re.compile(r"&#(?:[0-9]++|[xX][0-9a-fA-F]++);")


@dataclass
class Request:
    """One Bot API call: JSON ``params`` or, when ``files`` is set, a multipart form."""

    method: str
    params: dict[str, Any]
    files: dict[str, MediaItem] = field(default_factory=dict)


def escape_markdown_v2(text: str) -> str:
    """Escape every character MarkdownV2 reserves."""
    return "".join("\\" + ch if ch in MARKDOWN_V2_SPECIAL else ch for ch in text)


def compose_text(post: PostContent) -> str:
    """The text as sent: ``post.link`` is appended (escaped for the format) when the text does not hold it."""
    text = post.text
    if post.link and post.link not in text:
        link = post.link
        if post.text_format == "html":
            link = html.escape(link, quote=False)
        elif post.text_format == "markdownv2":
            link = escape_markdown_v2(link)
        text = f"{text}\n\n{link}" if text.strip() else link
    return text


def visible_text(text: str, text_format: str) -> str:
    """Roughly the text Telegram counts after entity parsing (tags and escapes removed)."""
    if text_format == "html":
        return html.unescape(_TAG.sub("", text))
    if text_format == "markdownv2":
        return re.sub(r"\\(.)", r"\1", text)
    return text


def _is_entity(token: str) -> bool:
    return token in _NAMED_ENTITIES or _NUMERIC_ENTITY.fullmatch(token) is not None


def check_html(text: str) -> str | None:
    """A sentence describing the first HTML problem Telegram would refuse, or ``None``. Linear time."""
    stack: list[str] = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token.startswith("&"):
            if not _is_entity(token):
                return f"'&' at position {match.start()} must be written as &amp;"
            continue
        tag = _TAG.fullmatch(token)
        if tag is None:
            return f"'<' at position {match.start()} must be written as &lt;"
        closing, name = tag.group(1) == "/", tag.group(2).lower()
        if name not in _HTML_TAGS:
            return f"unsupported tag <{name}>"
        if closing:
            if not stack or stack[-1] != name:
                return f"unexpected end tag </{name}>"
            stack.pop()
        else:
            stack.append(name)
    if stack:
        return f"tag <{stack[-1]}> is not closed"
    return None


def extra_problems(post: PostContent) -> list[Problem]:
    """Checks beyond ``check_common_limits``: album kinds, HTML sanity, the appended link."""
    problems: list[Problem] = []
    text = compose_text(post)
    if text != post.text:  # the link made the text longer than what the common check counted
        limit, rule = (1024, "caption_too_long") if post.media else (4096, "text_too_long")
        shown = visible_text(text, post.text_format)
        if text_length(shown, "utf16") > limit:
            problems.append(
                Problem(
                    rule,
                    f"Telegram allows at most {limit} characters; with the link "
                    f"appended this text has {text_length(shown, 'utf16')}.",
                )
            )
    if len(post.media) > 1:
        kinds = {m.kind for m in post.media}
        for i, item in enumerate(post.media):
            if item.kind not in ALBUM_KINDS:
                problems.append(
                    Problem(
                        "album_kind",
                        f"Telegram albums cannot hold media of kind '{item.kind}'.",
                        f"media[{i}].kind",
                    )
                )
        for solo in ("document", "audio"):
            if solo in kinds and len(kinds) > 1:
                problems.append(
                    Problem(
                        "album_mixed",
                        f"Telegram albums with {solo}s can hold only {solo}s; "
                        f"this one mixes {', '.join(sorted(kinds))}.",
                        "media",
                    )
                )
    if post.text_format == "html" and (issue := check_html(text)):
        problems.append(Problem("html_invalid", f"The HTML cannot be parsed by Telegram: {issue}."))
    return problems


def chat_id_param(chat_id: str) -> int | str:
    """Numeric ids go as integers, ``@username`` as is."""
    stripped = chat_id.strip()
    try:
        return int(stripped)
    except ValueError:
        return stripped if stripped.startswith("@") else f"@{stripped}"


def _media_ref(item: MediaItem, field_name: str, files: dict[str, MediaItem], attach: bool) -> str:
    if item.path is None:
        return item.url
    files[field_name] = item
    return f"attach://{field_name}" if attach else ""


def build_request(post: PostContent, chat_id: str) -> Request:
    """The Bot API call that publishes ``post`` to ``chat_id``."""
    text = compose_text(post)
    parse_mode = PARSE_MODES[post.text_format]
    common: dict[str, Any] = {"chat_id": chat_id_param(chat_id)}
    if post.silent:
        common["disable_notification"] = True
    if not post.media:
        params = {**common, "text": text}
        if parse_mode:
            params["parse_mode"] = parse_mode
        if not post.link_preview:
            params["link_preview_options"] = {"is_disabled": True}
        elif post.link:
            params["link_preview_options"] = {"url": post.link}
        return Request("sendMessage", params)
    files: dict[str, MediaItem] = {}
    if len(post.media) == 1:
        item = post.media[0]
        params = {**common}
        ref = _media_ref(item, item.kind, files, attach=False)
        if ref:
            params[item.kind] = ref
        if text:
            params["caption"] = text
            if parse_mode:
                params["parse_mode"] = parse_mode
        return Request(SEND_METHODS[item.kind], params, files)
    media: list[dict[str, Any]] = []
    for i, item in enumerate(post.media):
        entry: dict[str, Any] = {"type": item.kind, "media": _media_ref(item, f"file{i}", files, attach=True)}
        if i == 0 and text:
            entry["caption"] = text
            if parse_mode:
                entry["parse_mode"] = parse_mode
        media.append(entry)
    return Request("sendMediaGroup", {**common, "media": media}, files)


def form_fields(params: dict[str, Any]) -> dict[str, str]:
    """Multipart form values: nested objects as JSON, booleans as ``true``/``false``."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, dict | list):
            out[key] = json.dumps(value, ensure_ascii=False)
        else:
            out[key] = str(value)
    return out


async def read_upload(item: MediaItem) -> tuple[str, bytes, str]:
    """``(filename, bytes, mime type)`` of a media-store file, read in a worker thread."""
    assert item.path is not None
    data = await asyncio.to_thread(item.path.read_bytes)
    mime = item.mime_type or mimetypes.guess_type(item.path.name)[0] or "application/octet-stream"
    return item.path.name, data, mime


def message_url(chat: dict[str, Any], message_id: int) -> str | None:
    """``t.me/<username>/<id>`` for public chats, ``t.me/c/<id>/<id>`` for private supergroups/channels."""
    username = chat.get("username")
    if username:
        return f"https://t.me/{username}/{message_id}"
    chat_id = str(chat.get("id", ""))
    if chat_id.startswith("-100"):
        return f"https://t.me/c/{chat_id[4:]}/{message_id}"
    return None  # basic groups and private chats have no message links
