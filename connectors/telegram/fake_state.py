"""State of the fake Telegram Bot API: bots, chats, messages, its own rate limit and markup parsing.

The parsers reproduce Telegram's refusals closely enough for a client to be tested against them
(``can't parse entities: ...``); they are not a full implementation of Telegram's entity parser.
"""

from __future__ import annotations

import hashlib
import html
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TOKEN_RE = re.compile(r"^(\d{3,}):[\w-]{10,}$")
HTML_TAGS = frozenset(
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
MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")


class ApiError(Exception):
    """An answer ``{"ok": false, ...}`` with HTTP status = ``code``."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            out["parameters"] = self.parameters
        return out


@dataclass
class Bot:
    id: int
    username: str
    first_name: str = "Fake bot"


@dataclass
class Member:
    status: str = "administrator"  # creator | administrator | member | restricted | left | kicked
    can_post_messages: bool = True
    can_send_messages: bool = True


@dataclass
class Chat:
    id: int
    type: str = "channel"  # channel | supergroup | group | private
    title: str = "Fake chat"
    username: str | None = None
    member_count: int = 0
    upgraded_to: int | None = None
    members: dict[int, Member] = field(default_factory=dict)  # bot id -> membership
    next_message_id: int = 1
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    sends: deque[float] = field(default_factory=lambda: deque(maxlen=1000))

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            out["first_name"] = self.title
        else:
            out["title"] = self.title
        if self.username:
            out["username"] = self.username
        return out


@dataclass
class RateLimit:
    """The fake's own flood control (off unless configured): per chat, a minimum gap and a per-minute cap."""

    min_interval: float = 1.0
    per_minute: int = 20


@dataclass
class TelegramState:
    sandbox: bool = False
    clock: Callable[[], float] = time.time
    bots: dict[str, Bot] = field(default_factory=dict)
    chats: dict[int, Chat] = field(default_factory=dict)
    bad_urls: set[str] = field(default_factory=set)
    files: dict[str, int] = field(default_factory=dict)  # file_id -> size
    rate_limit: RateLimit | None = None
    published: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        self.bots.clear()
        self.chats.clear()
        self.bad_urls.clear()
        self.files.clear()
        self.published.clear()
        self.rate_limit = None

    # -- seeding ----------------------------------------------------------------------------------

    def add_bot(self, token: str, username: str | None = None) -> Bot:
        match = TOKEN_RE.match(token)
        if not match:
            raise ValueError("a bot token looks like 123456:ABC-DEF_ghi...")
        bot = Bot(id=int(match.group(1)), username=username or f"fake{match.group(1)}_bot")
        self.bots[token] = bot
        return bot

    def add_chat(self, chat_id: int, *, bots: dict[int, Member] | None = None, **fields: Any) -> Chat:
        chat = Chat(id=chat_id, members=dict(bots or {}), **fields)
        self.chats[chat_id] = chat
        return chat

    def seed(self, data: dict[str, Any]) -> None:
        """``{"bots": [{"token", "username"}], "chats": [{"id", "type", "title", "username", "member_count",
        "upgraded_to", "bots": {"<bot id>": {"status", "can_post_messages", "can_send_messages"}}}],
        "bad_urls": [...]}``."""
        for bot in data.get("bots", []):
            self.add_bot(bot["token"], bot.get("username"))
        for raw in data.get("chats", []):
            raw = dict(raw)
            members = {int(k): Member(**v) for k, v in (raw.pop("bots", None) or {}).items()}
            self.add_chat(int(raw.pop("id")), bots=members, **raw)
        self.bad_urls.update(data.get("bad_urls", []))

    # -- lookups ----------------------------------------------------------------------------------

    def bot_for(self, token: str) -> Bot:
        if not TOKEN_RE.match(token):
            raise ApiError(404, "Not Found")
        bot = self.bots.get(token)
        if bot is None and self.sandbox:
            bot = self.add_bot(token)
        if bot is None:
            raise ApiError(401, "Unauthorized")
        return bot

    def chat_for(self, raw: Any, bot: Bot) -> Chat:
        text = str(raw if raw is not None else "").strip()
        if not text:
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat: Chat | None = None
        if text.startswith("@"):
            name = text[1:].lower()
            chat = next((c for c in self.chats.values() if (c.username or "").lower() == name), None)
            if chat is None and self.sandbox:
                chat = self.add_chat(_sandbox_id(name), username=text[1:], title=text[1:])
        else:
            try:
                chat_id = int(text)
            except ValueError:
                raise ApiError(400, "Bad Request: chat not found") from None
            chat = self.chats.get(chat_id)
            if chat is None and self.sandbox:
                kind = "channel" if text.startswith("-100") else "group" if chat_id < 0 else "private"
                chat = self.add_chat(chat_id, type=kind, title=f"Sandbox {kind}")
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if self.sandbox and bot.id not in chat.members:
            chat.members[bot.id] = Member()
        return chat

    def check_can_send(self, chat: Chat, bot: Bot) -> None:
        if chat.upgraded_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.upgraded_to},
            )
        kind = "channel" if chat.type == "channel" else "supergroup" if chat.type == "supergroup" else "group"
        member = chat.members.get(bot.id)
        if member is None or member.status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {kind} chat")
        if member.status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
        if chat.type == "channel" and not (
            member.status == "creator" or (member.status == "administrator" and member.can_post_messages)
        ):
            raise ApiError(400, "Bad Request: need administrator rights in the channel chat")
        if member.status == "restricted" and not member.can_send_messages:
            raise ApiError(400, "Bad Request: not enough rights to send text messages to the chat")

    def check_rate(self, chat: Chat) -> None:
        """The fake's flood control; records nothing (``record_send`` does, after the checks pass)."""
        limit = self.rate_limit
        if limit is None:
            return
        now = self.clock()
        if chat.sends and now - chat.sends[-1] < limit.min_interval:
            wait = max(1, round(limit.min_interval - (now - chat.sends[-1]) + 0.499))
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        recent = [t for t in chat.sends if now - t < 60.0]
        if len(recent) >= limit.per_minute:
            wait = max(1, round(recent[-limit.per_minute] + 60.0 - now + 0.499))
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})

    def new_file_id(self, data: bytes) -> str:
        file_id = "AgAC" + hashlib.sha256(data + str(len(self.files)).encode()).hexdigest()[:28]
        self.files[file_id] = len(data)
        return file_id


def _sandbox_id(name: str) -> int:
    return -(10**12) - int(hashlib.sha256(name.encode()).hexdigest()[:9], 16)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> str:
    """The visible text of Telegram HTML, or ``ApiError`` with Telegram's wording."""
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        offset = len(text[:i].encode())
        if ch == "<":
            end = text.find(">", i)
            tag = re.fullmatch(r"<(/?)([a-zA-Z][\w-]*)(\s[^<>]*)?>", text[i : end + 1]) if end > 0 else None
            if tag is None:
                raise _parse_error(f"Unexpected end of name token at byte offset {offset}")
            name = tag.group(2).lower()
            if tag.group(1):
                if not stack or stack[-1] != name:
                    raise _parse_error(f"Unexpected end tag at byte offset {offset}")
                stack.pop()
            elif name not in HTML_TAGS:
                raise _parse_error(f'Unsupported start tag "{name}" at byte offset {offset}')
            else:
                stack.append(name)
            i = end + 1
        elif ch == "&":
            entity = re.match(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);", text[i:])
            if entity is None or html.unescape(entity.group(0)) == entity.group(0):
                raise _parse_error(f"Unexpected end of name token at byte offset {offset}")
            out.append(html.unescape(entity.group(0)))
            i += len(entity.group(0))
        else:
            out.append(ch)
            i += 1
    if stack:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def parse_markdown_v2(text: str) -> str:
    """The visible text of MarkdownV2, or ``ApiError`` for an unescaped reserved character / open entity."""
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    i = 0
    while i < len(text):
        ch, offset = text[i], len(text[:i].encode())
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if ch == "\\":
            if not nxt:
                raise _parse_error("Character '\\' is reserved and must be escaped with the preceding '\\'")
            out.append(nxt)
            i += 2
            continue
        if ch == "`":
            fence = "```" if text.startswith("```", i) else "`"
            close = text.find(fence, i + len(fence))
            if close < 0:
                raise _parse_error(f"Can't find end of Code entity at byte offset {offset}")
            out.append(text[i + len(fence) : close].replace("\\`", "`").replace("\\\\", "\\"))
            i = close + len(fence)
            continue
        marker = {"*": "*", "~": "~", "_": "__" if nxt == "_" else "_", "|": "||" if nxt == "|" else ""}.get(ch)
        if marker:
            if stack and stack[-1][0] == marker:
                stack.pop()
            else:
                stack.append((marker, offset))
            i += len(marker)
            continue
        if ch == "[":
            stack.append(("[", offset))
            i += 1
            continue
        if ch == "]" and stack and stack[-1][0] == "[":
            close = text.find(")", i)
            if nxt != "(" or close < 0:
                raise _parse_error(f"Can't find end of TextUrl entity at byte offset {stack[-1][1]}")
            stack.pop()
            i = close + 1
            continue
        if ch == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1  # a blockquote line
            continue
        if ch in MDV2_RESERVED:
            raise _parse_error(f"Character '{ch}' is reserved and must be escaped with the preceding '\\'")
        out.append(ch)
        i += 1
    if stack:
        raise _parse_error(f"Can't find end of the entity starting at byte offset {stack[-1][1]}")
    return "".join(out)


def _parse_error(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse entities: {detail}")
