"""A fake of the Telegram Bot API for tests and the sandbox: ``create_app()`` returns a FastAPI app.

Routes are relative (``/bot<token>/<method>``), so it works mounted under a prefix such as
``/sandbox/telegram``. Requests may use the query string, urlencoded or multipart forms, or JSON; answers
use Telegram's envelope with HTTP status = ``error_code``. Seeding goes through ``POST /_control/seed`` (see
``TelegramState.seed``) or the state object on ``app.state.fake``; ``POST /_control/rate_limit`` switches on
the fake's flood control (``{"min_interval": 1.0, "per_minute": 20}``; ``{"enabled": false}`` switches it
off). A media group counts as one send for that flood control. ``sandbox=True`` accepts any well-formed
token and creates unknown chats as ones the bot may post to.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from connectors.fakekit import FaultInjector, control_router
from connectors.telegram.fake_state import (
    ApiError,
    Bot,
    Chat,
    RateLimit,
    TelegramState,
    parse_html,
    parse_markdown_v2,
    utf16_len,
)

Params = dict[str, Any]
Files = dict[str, UploadFile]
Handler = Callable[[TelegramState, Bot, Params, Files], Awaitable[Any]]
SINGLE_MEDIA = {
    "sendphoto": "photo",
    "sendvideo": "video",
    "senddocument": "document",
    "sendaudio": "audio",
    "sendanimation": "animation",
}
PHOTO_UPLOAD_MAX = 10 * 1024 * 1024


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def _json_field(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise ApiError(400, "Bad Request: can't parse JSON object") from None
    return value


def _render(text: str, parse_mode: Any, *, caption: bool) -> str:
    mode = str(parse_mode or "").lower()
    rendered = parse_html(text) if mode == "html" else parse_markdown_v2(text) if mode == "markdownv2" else text
    limit = 1024 if caption else 4096
    if utf16_len(rendered) > limit:
        raise ApiError(
            400, "Bad Request: message caption is too long" if caption else "Bad Request: message is too long"
        )
    return rendered


async def _media(state: TelegramState, kind: str, ref: Any, files: Files) -> dict[str, Any]:
    """Resolve a file reference (upload, ``attach://name``, URL or file_id) into what the fake stores."""
    upload = ref if isinstance(ref, UploadFile) else None
    if isinstance(ref, str) and ref.startswith("attach://"):
        upload = files.get(ref.removeprefix("attach://"))
        if upload is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
    if upload is not None:
        data = await upload.read()
        if kind == "photo" and len(data) > PHOTO_UPLOAD_MAX:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "kind": kind,
            "source": "upload",
            "filename": upload.filename,
            "size": len(data),
            "file_id": state.new_file_id(data),
        }
    text = str(ref or "")
    if text.startswith(("http://", "https://")):
        if text in state.bad_urls:
            raise ApiError(400, "Bad Request: failed to get HTTP URL content")
        return {"kind": kind, "source": "url", "url": text, "file_id": state.new_file_id(text.encode())}
    if text in state.files:
        return {"kind": kind, "source": "file_id", "file_id": text}
    raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")


def _file_object(item: dict[str, Any]) -> Any:
    obj = {
        "file_id": item["file_id"],
        "file_unique_id": item["file_id"][-12:],
        "file_size": item.get("size", 0),
    }
    return [obj] if item["kind"] == "photo" else obj


def _store(
    state: TelegramState,
    chat: Chat,
    bot: Bot,
    params: Params,
    text: str,
    media: list[dict[str, Any]],
    group_id: str | None = None,
) -> dict[str, Any]:
    message_id = chat.next_message_id
    chat.next_message_id += 1
    date = int(state.clock())
    message: dict[str, Any] = {"message_id": message_id, "chat": chat.public(), "date": date}
    if chat.type == "channel":
        message["sender_chat"] = chat.public()
    else:
        message["from"] = {
            "id": bot.id,
            "is_bot": True,
            "first_name": bot.first_name,
            "username": bot.username,
        }
    if media:
        message[media[0]["kind"]] = _file_object(media[0])
        if text:
            message["caption"] = text
    else:
        message["text"] = text
    if group_id:
        message["media_group_id"] = group_id
    chat.messages[message_id] = message
    preview = _json_field(params.get("link_preview_options") or {})
    state.published.append(
        {
            "id": message_id,
            "chat": chat.id,
            "chat_username": chat.username,
            "text": text,
            "raw_text": params.get("text", params.get("caption", "")),
            "parse_mode": params.get("parse_mode"),
            "media": media,
            "date": date,
            "at": state.clock(),
            "media_group_id": group_id,
            "silent": _bool(params.get("disable_notification")),
            "link_preview_disabled": bool(preview.get("is_disabled")),
            "link_preview_options": preview,
        }
    )
    return message


async def _send_checks(state: TelegramState, bot: Bot, params: Params) -> Chat:
    chat = state.chat_for(params.get("chat_id"), bot)
    state.check_can_send(chat, bot)
    state.check_rate(chat)
    return chat


async def send_message(state: TelegramState, bot: Bot, params: Params, files: Files) -> Any:
    text = str(params.get("text") or "")
    if not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    chat = await _send_checks(state, bot, params)
    rendered = _render(text, params.get("parse_mode"), caption=False)
    chat.sends.append(state.clock())
    return _store(state, chat, bot, params, rendered, [])


def single_media(kind: str) -> Handler:
    async def send(state: TelegramState, bot: Bot, params: Params, files: Files) -> Any:
        chat = await _send_checks(state, bot, params)
        caption = _render(str(params.get("caption") or ""), params.get("parse_mode"), caption=True)
        item = await _media(state, kind, files.get(kind, params.get(kind)), files)
        chat.sends.append(state.clock())
        return _store(state, chat, bot, params, caption, [item])

    return send


async def send_media_group(state: TelegramState, bot: Bot, params: Params, files: Files) -> Any:
    entries = _json_field(params.get("media"))
    if not isinstance(entries, list) or not 2 <= len(entries) <= 10:
        raise ApiError(400, "Bad Request: media group must contain 2-10 items")
    kinds = {str(e.get("type")) for e in entries}
    if unknown := kinds - {"photo", "video", "document", "audio"}:
        raise ApiError(400, f'Bad Request: unsupported media type "{sorted(unknown)[0]}" in the media group')
    for solo in ("document", "audio"):
        if solo in kinds and len(kinds) > 1:
            raise ApiError(400, f"Bad Request: {solo} can't be mixed with other media types")
    chat = await _send_checks(state, bot, params)
    captions = [_render(str(e.get("caption") or ""), e.get("parse_mode"), caption=True) for e in entries]
    items = [await _media(state, str(e["type"]), e.get("media"), files) for e in entries]
    chat.sends.append(state.clock())
    group_id = f"{chat.id}{chat.next_message_id}{len(state.published)}"
    return [
        _store(
            state,
            chat,
            bot,
            {**params, "caption": e.get("caption", ""), "parse_mode": e.get("parse_mode")},
            caption,
            [item],
            group_id,
        )
        for e, caption, item in zip(entries, captions, items, strict=True)
    ]


async def edit_message_text(state: TelegramState, bot: Bot, params: Params, files: Files) -> Any:
    chat = state.chat_for(params.get("chat_id"), bot)
    state.check_can_send(chat, bot)
    message = chat.messages.get(int(params.get("message_id") or 0))
    if message is None or "text" not in message:
        raise ApiError(400, "Bad Request: message to edit not found")
    rendered = _render(str(params.get("text") or ""), params.get("parse_mode"), caption=False)
    if rendered == message["text"]:
        raise ApiError(
            400,
            "Bad Request: message is not modified: specified new message content and reply "
            "markup are exactly the same as a current content and reply markup of the message",
        )
    message["text"] = rendered
    message["edit_date"] = int(state.clock())
    for entry in state.published:
        if entry["chat"] == chat.id and entry["id"] == message["message_id"]:
            entry["text"] = rendered
    return message


async def get_me(state: TelegramState, bot: Bot, params: Params, files: Files) -> Any:
    return {
        "id": bot.id,
        "is_bot": True,
        "first_name": bot.first_name,
        "username": bot.username,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
    }


async def get_chat(state: TelegramState, bot: Bot, params: Params, files: Files) -> Any:
    chat = state.chat_for(params.get("chat_id"), bot)
    if chat.upgraded_to is not None:
        state.check_can_send(chat, bot)
    return {**chat.public(), "accent_color_id": 0, "max_reaction_count": 11}


async def get_chat_member(state: TelegramState, bot: Bot, params: Params, files: Files) -> Any:
    chat = state.chat_for(params.get("chat_id"), bot)
    user_id = int(params.get("user_id") or 0)
    member = chat.members.get(user_id)
    user = {
        "id": user_id,
        "is_bot": user_id == bot.id,
        "first_name": bot.first_name if user_id == bot.id else "?",
    }
    if member is None:
        if chat.type == "channel" and user_id == bot.id:
            raise ApiError(400, "Bad Request: member list is inaccessible")
        return {"status": "left", "user": user}
    out: dict[str, Any] = {"status": member.status, "user": user}
    if member.status == "administrator":
        out.update(
            can_post_messages=member.can_post_messages,
            can_edit_messages=member.can_post_messages,
            can_delete_messages=True,
            can_manage_chat=True,
        )
    if member.status == "restricted":
        out.update(can_send_messages=member.can_send_messages, is_member=True)
    return out


async def get_chat_member_count(state: TelegramState, bot: Bot, params: Params, files: Files) -> Any:
    return state.chat_for(params.get("chat_id"), bot).member_count


HANDLERS: dict[str, tuple[str, Handler]] = {
    "getme": ("getMe", get_me),
    "getchat": ("getChat", get_chat),
    "getchatmember": ("getChatMember", get_chat_member),
    "getchatmembercount": ("getChatMemberCount", get_chat_member_count),
    "sendmessage": ("sendMessage", send_message),
    "sendmediagroup": ("sendMediaGroup", send_media_group),
    "editmessagetext": ("editMessageText", edit_message_text),
    **{low: ("send" + kind.title(), single_media(kind)) for low, kind in SINGLE_MEDIA.items()},
}


async def _read_params(request: Request) -> tuple[Params, Files]:
    params: Params = dict(request.query_params)
    files: Files = {}
    content_type = request.headers.get("content-type", "")
    if request.method == "POST" and content_type.startswith("application/json"):
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(400, "Bad Request: can't parse JSON object") from None
        if isinstance(body, dict):
            params.update(body)
    elif request.method == "POST" and content_type.startswith(("multipart/", "application/x-www-form")):
        form = await request.form()
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[key] = value
            else:
                params[key] = value
    return params, files


def create_app(*, sandbox: bool = False, lost_response_mode: Literal["raise", "hang"] = "raise") -> FastAPI:
    """The fake Bot API; its ``TelegramState`` is ``app.state.fake``, faults on ``app.state.faults``."""
    state = TelegramState(sandbox=sandbox)
    faults = FaultInjector(lost_response_mode=lost_response_mode)
    app = FastAPI(title="Fake Telegram Bot API", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.fake = state
    app.state.faults = faults
    app.include_router(control_router(faults, state.reset, lambda: list(state.published)))
    extra = APIRouter(prefix="/_control", include_in_schema=False)

    @extra.post("/seed")
    async def seed(data: dict[str, Any]) -> JSONResponse:
        try:
            state.seed(data)
        except (ValueError, TypeError, KeyError) as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, status_code=422)
        return JSONResponse({"ok": True, "bots": len(state.bots), "chats": len(state.chats)})

    @extra.post("/rate_limit")
    async def rate_limit(data: dict[str, Any]) -> dict[str, Any]:
        if data.get("enabled") is False:
            state.rate_limit = None
        else:
            state.rate_limit = RateLimit(float(data.get("min_interval", 1.0)), int(data.get("per_minute", 20)))
        return {"ok": True, "enabled": state.rate_limit is not None}

    app.include_router(extra)

    @app.api_route("/bot{token}/{method}", methods=["GET", "POST"])
    async def bot_api(token: str, method: str, request: Request) -> JSONResponse:
        entry = HANDLERS.get(method.lower())
        if entry is None:
            return JSONResponse(ApiError(404, "Not Found").body(), status_code=404)
        name, handler = entry
        fault = await faults.take(name)
        if fault is not None and (early := fault.early_response()) is not None:
            return early
        try:
            bot = state.bot_for(token)
            params, files = await _read_params(request)
            result = await handler(state, bot, params, files)
        except ApiError as err:
            return JSONResponse(err.body(), status_code=err.code)
        if fault is not None:
            await fault.after_side_effect()
        return JSONResponse({"ok": True, "result": result})

    return app
