"""Telegram Bot API connector: publishes to channels and groups, checks the bot's rights.

Calls ``{base_url}/bot{token}/{method}``: JSON bodies, or multipart when a file from the media store is
uploaded. Errors are translated in :mod:`connectors.telegram.errors`. Sends are paced by a class-level
:class:`Pacer` (one message per second per chat, at most 20 per minute per chat, 30 per second per bot
token, all smoothed), so every instance in a process shares one budget. Telegram has no idempotency key and
no history for bots, so ``find_published`` cannot tell (the ``BaseConnector`` default raises
``OutcomeUnknownError``) and ``fetch_engagement`` returns ``[]``; the subscriber count comes from
``verify``.

``Published.external_id`` is the ``message_id``; for an album it is every message id, comma-joined, first
first (``"812,813,814"``), and the URL points at the first message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from connectors.base import (
    AccountInfo,
    BaseConnector,
    Credentials,
    PlatformLimits,
    PostContent,
    Prepared,
    Problem,
    Published,
)
from connectors.errors import AuthError, ConnectorError, PermanentError
from connectors.pacing import Pacer, Rule, token_key
from connectors.prefetch import fetch_photos
from connectors.telegram.errors import error_from_response, error_from_transport
from connectors.telegram.payloads import (
    PARSE_MODES,
    Request,
    build_request,
    chat_id_param,
    compose_text,
    extra_problems,
    form_fields,
    message_url,
    read_upload,
    visible_text,
)

PER_CHAT_PER_MINUTE = 20
PHOTO_UPLOAD_MAX = 10 * 1024 * 1024  # Telegram's limit for a photo sent as a file


class TelegramConnector(BaseConnector):
    """Publishes posts through a Telegram bot.

    Credentials: ``bot_token`` and ``chat_id`` (a number or ``@username``).
    """

    platform: ClassVar[str] = "telegram"
    platform_label: ClassVar[str] = "Telegram"
    credential_fields: ClassVar[tuple[str, ...]] = ("bot_token", "chat_id")
    limits: ClassVar[PlatformLimits] = PlatformLimits(
        text_max=4096,
        caption_max=1024,
        media_max=10,
        album_min=2,
        media_kinds=frozenset({"photo", "video", "document", "audio", "animation"}),
        length_unit="utf16",
        per_chat_per_second=1.0,
        per_token_per_second=30.0,
    )
    pacer: ClassVar[Pacer] = Pacer()

    def __init__(
        self, client: httpx.AsyncClient, base_url: str, *, pacer: Pacer | None = None, **settings: str
    ) -> None:
        super().__init__(client, base_url, **settings)
        self._pacer = pacer or type(self).pacer

    # -- checks -----------------------------------------------------------------------------------

    def validate(self, post: PostContent) -> list[Problem]:
        """Length in UTF-16 units after entity parsing (4096 text, 1024 caption: tags and escapes do not count,
        as Telegram counts), albums of 2–10, album kinds, HTML sanity."""
        shown = replace(post, text=visible_text(post.text, post.text_format))
        return super().validate(shown) + extra_problems(post)

    async def verify(self, creds: Credentials) -> AccountInfo:
        """getMe + getChat + getChatMember(bot): the bot must be able to post.

        ``followers`` comes from getChatMemberCount.
        """
        token, chat_id = creds["bot_token"], chat_id_param(creds["chat_id"])
        me = await self._call(token, "getMe", {})
        try:
            chat = await self._call(token, "getChat", {"chat_id": chat_id})
            member = await self._call(token, "getChatMember", {"chat_id": chat_id, "user_id": me["id"]})
        except AuthError:
            raise
        except PermanentError as exc:
            raise PermanentError(
                f"{exc.message}: the bot @{me.get('username')} cannot see the chat {creds['chat_id']}. Check the "
                "chat id and add the bot to the channel (as an administrator) or to the group.",
                code=exc.code,
                response=exc.response,
            ) from exc
        problem = _missing_right(chat, member, me)
        if problem:
            raise PermanentError(problem, code="bot_rights")
        count = await self._call(token, "getChatMemberCount", {"chat_id": chat_id})
        username = chat.get("username")
        return AccountInfo(
            name=str(chat.get("title") or chat.get("first_name") or username or chat.get("id")),
            username=username,
            url=f"https://t.me/{username}" if username else None,
            followers=int(count) if isinstance(count, int) else None,
            details={
                "chat_id": str(chat.get("id")),
                "type": str(chat.get("type")),
                "bot": f"@{me.get('username')}",
                "bot_status": str(member.get("status")),
            },
        )

    # -- publishing -------------------------------------------------------------------------------

    async def prepare(self, post: PostContent, creds: Credentials, key: str) -> Prepared:
        """Fetch and check the photos given by URL ahead (guarded fetcher, recognised by content): a dead link
        shows before the time, and the bytes kept are uploaded at the time (``sendPhoto`` with a file), so
        Telegram has nothing left to fetch. Nothing is sent to the chat."""
        files = await fetch_photos(self.client, post, policy=self.fetch_policy, max_bytes=PHOTO_UPLOAD_MAX,
                                   label="Telegram")
        return Prepared(files=files)

    async def publish(
        self,
        post: PostContent,
        creds: Credentials,
        key: str,
        checkpoint: Mapping[str, str] | None = None,
    ) -> Published:
        """Send ``post``; ``key`` is unused (Telegram has no idempotency key)."""
        token, chat_id = creds["bot_token"], creds["chat_id"]
        request = build_request(post, chat_id)
        await self._pace(token, chat_id)
        result = await self._call(token, request.method, request.params, request)
        messages: list[dict[str, Any]] = result if isinstance(result, list) else [result]
        if not messages or not isinstance(messages[0], dict):
            raise PermanentError(f"Telegram answered {request.method} without a message.")
        first = messages[0]
        ids = [str(m["message_id"]) for m in messages]
        date = first.get("date")
        return Published(
            external_id=",".join(ids),
            url=message_url(first.get("chat") or {}, int(first["message_id"])),
            published_at=datetime.fromtimestamp(date, UTC) if isinstance(date, int | float) else None,
        )

    async def edit_text(self, creds: Credentials, message_id: str, post: PostContent) -> None:
        """Replace the text of a published text message (``editMessageText``).

        Telegram's "message is not modified" counts as done.
        """
        token = creds["bot_token"]
        params: dict[str, Any] = {
            "chat_id": chat_id_param(creds["chat_id"]),
            "message_id": int(message_id.split(",")[0]),
            "text": compose_text(post),
        }
        if PARSE_MODES[post.text_format]:
            params["parse_mode"] = PARSE_MODES[post.text_format]
        if not post.link_preview:
            params["link_preview_options"] = {"is_disabled": True}
        await self._pace(token, creds["chat_id"])
        await self._call(token, "editMessageText", params)

    # -- plumbing ---------------------------------------------------------------------------------

    async def _pace(self, token: str, chat_id: str) -> None:
        tk = token_key(token)
        chat = (tk, chat_id.strip().lower())
        await self._pacer.wait(
            Rule.budget(("tg-token", tk), 1, 1.0 / self.limits.per_token_per_second),
            Rule.every(("tg-chat", chat), 1.0 / self.limits.per_chat_per_second),
            Rule.budget(("tg-chat-min", chat), PER_CHAT_PER_MINUTE, 60.0),
        )

    async def _call(self, token: str, method: str, params: dict[str, Any], request: Request | None = None) -> Any:
        """One Bot API call; returns ``result`` or raises the mapped ``ConnectorError``."""
        url = f"{self.base_url}/bot{token}/{method}"
        try:
            if request is not None and request.files:
                files = {name: await read_upload(item) for name, item in request.files.items()}
                response = await self.client.post(url, data=form_fields(params), files=files)
            else:
                response = await self.client.post(url, json=params)
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, token) from exc
        except OSError as exc:  # the media-store file could not be read
            raise PermanentError(f"The media file could not be read: {exc.strerror or exc}") from exc
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        error: ConnectorError | None = error_from_response(response.status_code, body, response.text[:500])
        if error is not None:
            raise error
        return body.get("result") if isinstance(body, dict) else None


def _missing_right(chat: dict[str, Any], member: dict[str, Any], me: dict[str, Any]) -> str | None:
    """What keeps the bot from posting in ``chat``, as a sentence; ``None`` if nothing does."""
    status = member.get("status")
    bot = f"@{me.get('username')}"
    title = chat.get("title") or chat.get("username") or chat.get("id")
    if chat.get("type") == "channel":
        if status == "creator":
            return None
        if status != "administrator":
            return (
                f"The bot {bot} is not an administrator of the channel “{title}”: add it as an administrator "
                "with the “Post messages” right."
            )
        if not member.get("can_post_messages"):
            return (
                f"The bot {bot} is an administrator of the channel “{title}” but lacks the “Post messages” "
                "right: enable it in the channel's administrator settings."
            )
        return None
    if status in ("creator", "administrator", "member"):
        return None
    if status == "restricted" and member.get("can_send_messages"):
        return None
    if status == "restricted":
        return f"The bot {bot} is restricted in “{title}” and may not send messages: lift the restriction."
    return f"The bot {bot} is not a member of “{title}”: add it to the group."
