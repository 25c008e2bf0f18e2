"""Telegram Bot API answers and transport failures -> ``connectors.errors``, in one place.

Most specific first::

    HTTP 429 / parameters.retry_after        -> RateLimitedError(retry_after)
    parameters.migrate_to_chat_id            -> ChannelMovedError(new_chat_id)
    "message is not modified"                -> success (None)
    401, 404                                 -> AuthError          (revoked or malformed token)
    5xx                                      -> TransientError(maybe_sent=True)
    403, 400, 413, other 4xx                 -> PermanentError     (Telegram's description verbatim)
    ConnectError, ConnectTimeout, PoolTimeout-> TransientError     (nothing was sent)
    other timeouts, RemoteProtocolError,
    ReadError, WriteError                    -> OutcomeUnknownError (the request may have arrived)

The request URL of the Bot API carries the token, so every text taken from an httpx exception is scrubbed.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from connectors.errors import (
    AuthError,
    ChannelMovedError,
    ConnectorError,
    OutcomeUnknownError,
    PermanentError,
    RateLimitedError,
    TransientError,
)

_RETRY_AFTER = re.compile(r"retry after (\d+)", re.IGNORECASE)
_TOKEN_SHAPE = re.compile(r"bot\d+:[\w-]+")


def scrub(text: str, token: str | None = None) -> str:
    """Remove a bot token (the given one, and anything shaped like one) from ``text``."""
    if token:
        text = text.replace(token, "<token>")
    return _TOKEN_SHAPE.sub("bot<token>", text)


def error_from_response(status: int, body: Any, raw: str = "") -> ConnectorError | None:
    """The error an answer stands for; ``None`` when the answer counts as success.

    ``body`` is the decoded JSON (or ``None`` when the answer was not JSON), ``raw`` its text for the log.
    """
    payload: dict[str, Any] = body if isinstance(body, dict) else {}
    if payload.get("ok") is True and status < 400:
        return None
    code = payload.get("error_code", status)
    code = code if isinstance(code, int) else status
    description = str(payload.get("description") or f"HTTP {status}")
    raw_params = payload.get("parameters")
    params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
    excerpt = scrub(raw or json.dumps(payload))[:500]

    if code == 429 or "retry_after" in params:
        retry_after = params.get("retry_after")
        if not isinstance(retry_after, int | float):
            match = _RETRY_AFTER.search(description)
            retry_after = float(match.group(1)) if match else 1.0
        return RateLimitedError(description, retry_after=float(retry_after), code=code, response=excerpt)
    if params.get("migrate_to_chat_id") is not None:
        return ChannelMovedError(description, new_chat_id=str(params["migrate_to_chat_id"]), code=code)
    if "message is not modified" in description:
        return None
    if code in (401, 404):
        return AuthError(
            f"{description}: the bot token was revoked or is wrong; paste a fresh token from @BotFather.",
            code=code,
            response=excerpt,
        )
    if code >= 500 or (status >= 500 and not payload):
        return TransientError(description, code=code, response=excerpt, maybe_sent=True)
    return PermanentError(description, code=code, response=excerpt)


def error_from_transport(exc: httpx.HTTPError, token: str | None = None) -> ConnectorError:
    """A transport failure: ``TransientError`` if nothing was sent, else ``OutcomeUnknownError``."""
    detail = scrub(str(exc) or type(exc).__name__, token)
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return TransientError(f"Telegram could not be reached ({type(exc).__name__}): {detail}")
    if isinstance(exc, httpx.TimeoutException | httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return OutcomeUnknownError(
            f"Telegram did not answer ({type(exc).__name__}): {detail}; the message may have been sent."
        )
    return OutcomeUnknownError(f"Telegram request failed ({type(exc).__name__}): {detail}")
