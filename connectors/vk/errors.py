"""VK API errors and transport failures -> ``connectors.errors``, in one place.

VK answers HTTP 200 with ``{"error": {"error_code", "error_msg", "request_params"}}``. Most specific first::

    6                      -> RateLimitedError(1 s)              too many requests per second
    9                      -> RateLimitedError(1 h)              flood control (VK does not say how long)
    29                     -> RateLimitedError(next VK day)      per-method daily quota
    219                    -> RateLimitedError(1 h)              an ad post was added recently
    224                    -> RateLimitedError(next VK day)      too many ad posts
    214 + "limit" / "day"  -> RateLimitedError(next VK day, needs_attention)   the 50 posts/day cap
    5, 27, 28, 17          -> AuthError                          token revoked / wrong kind / needs validation
    14                     -> PermanentError                     captcha: a person must act
    1, 10                  -> TransientError(maybe_sent=True)
    anything else          -> PermanentError                     (15, 18, 100, 203, 214, 222, ...)
    HTTP 5xx / not JSON    -> TransientError(maybe_sent=True)
    ConnectError, ConnectTimeout, PoolTimeout -> TransientError (nothing was sent)
    other timeouts, dropped connections       -> OutcomeUnknownError

VK's ``error_msg`` is always kept verbatim in the message. "VK day" means midnight in Moscow (UTC+3), when VK's
daily counters are assumed to reset (❓ not documented).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from connectors.errors import (
    AuthError,
    ConnectorError,
    OutcomeUnknownError,
    PermanentError,
    RateLimitedError,
    TransientError,
)

VK_TIMEZONE = timezone(timedelta(hours=3))
AUTH_CODES = frozenset({5, 17, 27, 28})
TRANSIENT_CODES = frozenset({1, 10})
FLOOD_WAIT = 3600.0
CAPTCHA_HINT = (
    "VK asks for a captcha: the token has been flagged for automated activity. Publish one post by hand in VK "
    "(solving the captcha there) and check the account for security notices, then try again."
)
AUTH_HINT = "Authorise the VK channel again."


def seconds_until_next_vk_day(now: datetime | None = None) -> float:
    """Seconds until the next midnight in Moscow time (at least one minute)."""
    current = (now or datetime.now(UTC)).astimezone(VK_TIMEZONE)
    midnight = (current + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(60.0, (midnight - current).total_seconds())


def _excerpt(error: dict[str, Any]) -> str:
    params = [p for p in error.get("request_params") or [] if isinstance(p, dict) and p.get("key") != "access_token"]
    return json.dumps({**error, "request_params": params}, ensure_ascii=False)


def error_from_vk(error: Any, *, now: datetime | None = None) -> ConnectorError:
    """The error for a VK ``error`` object."""
    payload: dict[str, Any] = error if isinstance(error, dict) else {"error_msg": str(error)}
    code = payload.get("error_code")
    code = code if isinstance(code, int) else -1
    msg = str(payload.get("error_msg") or "Unknown error")
    text = f"VK error {code}: {msg}"
    excerpt = _excerpt(payload)

    if code == 6:
        return RateLimitedError(text, retry_after=1.0, code=code, response=excerpt)
    if code in (9, 219):
        return RateLimitedError(text, retry_after=FLOOD_WAIT, code=code, response=excerpt)
    if code in (29, 224):
        return RateLimitedError(text, retry_after=seconds_until_next_vk_day(now), code=code, response=excerpt)
    if code == 214 and any(word in msg.lower() for word in ("limit", "a day", "per day")):
        return RateLimitedError(
            f"{text}. The wall's daily post limit is reached; the post will go out after midnight (Moscow).",
            retry_after=seconds_until_next_vk_day(now),
            code=code,
            response=excerpt,
            needs_attention=True,
        )
    if code in AUTH_CODES:
        return AuthError(f"{text}. {AUTH_HINT}", code=code, response=excerpt)
    if code == 14:
        return PermanentError(f"{text}. {CAPTCHA_HINT}", code=code, response=excerpt)
    if code in TRANSIENT_CODES:
        return TransientError(text, code=code, response=excerpt, maybe_sent=True)
    return PermanentError(text, code=code, response=excerpt)


def error_from_http(status: int, text: str) -> ConnectorError:
    """A non-200 answer or a body that is not VK's JSON envelope."""
    if status >= 500 or status == 200:
        return TransientError(
            f"VK answered HTTP {status} without a usable body.", code=status, response=text[:500], maybe_sent=True
        )
    if status == 429:
        return RateLimitedError("VK answered HTTP 429 Too Many Requests.", retry_after=1.0, code=status)
    return PermanentError(f"VK answered HTTP {status}.", code=status, response=text[:500])


def error_from_transport(exc: httpx.HTTPError, secret: str | None = None) -> ConnectorError:
    """A transport failure: ``TransientError`` if nothing was sent, else ``OutcomeUnknownError``."""
    detail = str(exc) or type(exc).__name__
    if secret:
        detail = detail.replace(secret, "<token>")
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return TransientError(f"VK could not be reached ({name}): {detail}")
    return OutcomeUnknownError(f"VK did not answer ({name}): {detail}; the request may have been carried out.")
