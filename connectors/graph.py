"""Meta Graph API plumbing shared by the Facebook and Instagram connectors.

Everything both platforms have in common lives here, once:

* ``GraphApi`` sends one call (token as a query/form parameter), turns transport failures into our error tree
  and hands an error envelope ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`` to the
  platform's classifier;
* ``GraphErrorInfo`` is that envelope parsed, with the wait the usage headers ask for;
* ``classify_common`` is the Graph-wide code table (platform tables run first and fall back to it)::

      1, 2                       -> TransientError (maybe_sent on a write)
      4, 17, 32, 613             -> RateLimitedError, BUC wait or 60 s
      341, 80001…80014           -> RateLimitedError, BUC wait or 300 s
      368                        -> RateLimitedError 24 h, needs_attention
      102, 104, 190              -> AuthError
      3, 10, 100, 200–299        -> PermanentError (Meta's words verbatim)
      anything else              -> 5xx or is_transient: TransientError(maybe_sent=True), else PermanentError

Classification is by ``code``/``error_subcode``, never by HTTP status alone. Tokens never reach a message:
every text taken from a response or an exception goes through ``scrub``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors.addresses import literal_refusal
from connectors.errors import (
    AuthError,
    ConnectorError,
    OutcomeUnknownError,
    PermanentError,
    RateLimitedError,
    TransientError,
)

REAL_GRAPH_HOSTS = frozenset({"graph.facebook.com", "graph.instagram.com", "graph-video.facebook.com"})
SHORT_RATE_LIMIT_CODES = frozenset({4, 17, 32, 613})
BUC_RATE_LIMIT_CODES = frozenset({341, *range(80000, 80015)})
AUTH_CODES = frozenset({102, 104, 190})
PERMISSION_CODES = frozenset({3, 10, 100, *range(200, 300)})
SHORT_WAIT = 60.0
BUC_WAIT = 300.0
POLICY_BLOCK_WAIT = 24 * 3600.0
_TOKEN_IN_TEXT = re.compile(r"(access_token|input_token)=[^&\s\"']+")


def scrub(text: str, *secrets: str) -> str:
    """``text`` without any ``access_token=…`` query value and without the given secrets."""
    text = _TOKEN_IN_TEXT.sub(r"\1=***", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def buc_wait_seconds(headers: Mapping[str, str]) -> float | None:
    """The longest ``estimated_time_to_regain_access`` (minutes) of ``X-Business-Use-Case-Usage``, in seconds.

    ``None`` when the header is absent, unreadable or names no positive wait.
    """
    raw = headers.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
    except ValueError:
        return None
    minutes = 0.0
    if isinstance(usage, dict):
        for entries in usage.values():
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict):
                    try:
                        minutes = max(minutes, float(entry.get("estimated_time_to_regain_access") or 0))
                    except (TypeError, ValueError):
                        continue
    return minutes * 60.0 if minutes > 0 else None


def app_usage(headers: Mapping[str, str]) -> dict[str, float]:
    """``X-App-Usage`` as percentages (``call_count``, ``total_time``, ``total_cputime``); {} when absent."""
    try:
        usage = json.loads(headers.get("x-app-usage") or "{}")
        return {k: float(v) for k, v in usage.items()} if isinstance(usage, dict) else {}
    except (TypeError, ValueError):
        return {}


@dataclass(frozen=True)
class GraphErrorInfo:
    """One failed Graph call: the parsed error envelope (message already scrubbed) and the usage headers."""

    status: int
    code: int | None
    subcode: int | None
    message: str
    user_message: str | None = None
    is_transient: bool | None = None
    buc_wait: float | None = None
    excerpt: str = ""

    @property
    def text(self) -> str:
        """Meta's message verbatim, plus its user-facing sentence when it gave one."""
        if self.user_message and self.user_message not in self.message:
            return f"{self.message} ({self.user_message})"
        return self.message


def parse_error(response: httpx.Response, *secrets: str) -> GraphErrorInfo:
    """Read the error envelope of ``response``; any other body still yields an info (code ``None``)."""
    excerpt = scrub(response.text[:500], *secrets)
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return GraphErrorInfo(
            status=response.status_code,
            code=None,
            subcode=None,
            message=f"HTTP {response.status_code}: {excerpt[:200] or response.reason_phrase}",
            buc_wait=buc_wait_seconds(response.headers),
            excerpt=excerpt,
        )

    def _int(value: Any) -> int | None:
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    user_msg = error.get("error_user_msg")
    return GraphErrorInfo(
        status=response.status_code,
        code=_int(error.get("code")),
        subcode=_int(error.get("error_subcode")),
        message=scrub(str(error.get("message") or "Unknown Graph API error"), *secrets),
        user_message=scrub(str(user_msg), *secrets) if user_msg else None,
        is_transient=error.get("is_transient") if isinstance(error.get("is_transient"), bool) else None,
        buc_wait=buc_wait_seconds(response.headers),
        excerpt=excerpt,
    )


def classify_common(info: GraphErrorInfo, *, writes: bool, label: str = "Graph API") -> ConnectorError:
    """The Graph-wide mapping of an error to our tree (see the module docstring)."""
    code, text = info.code, info.text
    kw: dict[str, Any] = {"code": code, "response": info.excerpt}
    if code in (1, 2):
        return TransientError(text, maybe_sent=writes, **kw)
    if code in SHORT_RATE_LIMIT_CODES:
        return RateLimitedError(text, retry_after=info.buc_wait or SHORT_WAIT, **kw)
    if code in BUC_RATE_LIMIT_CODES:
        return RateLimitedError(text, retry_after=info.buc_wait or BUC_WAIT, **kw)
    if code == 368:
        return RateLimitedError(
            f"{text} — {label} temporarily blocked this account for a policy violation; "
            "a person should review it before more posts go out.",
            retry_after=max(info.buc_wait or 0.0, POLICY_BLOCK_WAIT),
            needs_attention=True,
            **kw,
        )
    if code in AUTH_CODES:
        return AuthError(f"{text} — reconnect the account to get a new access token.", **kw)
    if code is not None and code in PERMISSION_CODES:
        return PermanentError(text, **kw)
    if info.status >= 500 or info.is_transient:
        return TransientError(text, maybe_sent=True, **kw)
    if info.status == 429:
        return RateLimitedError(text, retry_after=info.buc_wait or SHORT_WAIT, **kw)
    return PermanentError(text, **kw)


Classifier = Callable[[GraphErrorInfo, bool], ConnectorError]


class GraphApi:
    """Sends Graph calls for one connector. ``classify(info, writes)`` maps an error envelope to our tree.

    ``writes=True`` marks a call with a side effect: a timeout or a dropped connection after the request went
    out is then an ``OutcomeUnknownError`` (the post may exist); for a read it is a plain ``TransientError``.
    """

    def __init__(self, client: httpx.AsyncClient, base_url: str, version: str, classify: Classifier,
                 token_roots: Mapping[str, str] | None = None) -> None:
        self.client = client
        self.root = f"{base_url.rstrip('/')}/{version.strip('/')}"
        self.classify = classify
        self.last_app_usage: dict[str, float] = {}
        # token prefix -> base URL: a token of another login goes to its own host (Instagram Login: graph.instagram)
        self.token_roots = {p: f"{b.rstrip('/')}/{version.strip('/')}" for p, b in (token_roots or {}).items()}

    def root_for(self, token: str) -> str:
        for prefix, root in self.token_roots.items():
            if token.startswith(prefix):
                return root
        return self.root

    async def get(self, path: str, token: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``GET {root}/{path}`` with ``access_token`` in the query."""
        return await self._send("GET", path, token, params=dict(params or {}), writes=False)

    async def post(
        self,
        path: str,
        token: str,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        *,
        writes: bool = True,
    ) -> dict[str, Any]:
        """``POST {root}/{path}`` as a urlencoded form (multipart with ``files``), the token in the form."""
        return await self._send("POST", path, token, data=dict(data or {}), files=files, writes=writes)

    async def _send(
        self,
        method: str,
        path: str,
        token: str,
        *,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        writes: bool,
    ) -> dict[str, Any]:
        url = f"{self.root_for(token)}/{path.lstrip('/')}"
        try:
            if method == "GET":
                response = await self.client.get(url, params={**(params or {}), "access_token": token})
            else:
                form = {k: str(v) for k, v in (data or {}).items()}
                form["access_token"] = token
                response = await self.client.post(url, data=form, files=files)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientError(f"Could not reach the Graph API: {scrub(str(exc), token)}") from exc
        except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.TransportError) as exc:
            what = f"{type(exc).__name__}: {scrub(str(exc), token)}"
            if writes:
                raise OutcomeUnknownError(
                    f"The Graph API did not answer after the request was sent ({what}); it may have been applied."
                ) from exc
            raise TransientError(f"The Graph API did not answer ({what}).") from exc
        self.last_app_usage = app_usage(response.headers)
        if response.status_code < 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and "error" not in body:
                return body
            if not isinstance(body, dict):
                text = f"The Graph API sent an unreadable answer: {scrub(response.text[:200], token)}"
                if writes:
                    raise OutcomeUnknownError(text)
                raise TransientError(text)
        raise self.classify(parse_error(response, token), writes)


def graph_time(value: str | None) -> datetime | None:
    """Parse a Graph timestamp (``2026-09-01T10:00:00+0000``) into an aware UTC datetime."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)
    except ValueError:
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except ValueError:
            return None


def is_real_graph(base_url: str) -> bool:
    """True when ``base_url`` is Meta's own Graph host (not a fake or a sandbox)."""
    host = (urlsplit(base_url).hostname or "").lower()
    return host in REAL_GRAPH_HOSTS


def is_private_url(url: str) -> bool:
    """True for URLs Meta's servers cannot fetch: localhost, local names and every address the shared classifier
    refuses (:func:`connectors.addresses.literal_refusal`, the rule every user URL is checked by)."""
    return literal_refusal(urlsplit(url).hostname or "") is not None


def public_media_url(url: str, *, base_url: str, public_base_url: str, label: str) -> str:
    """The URL Meta should fetch ``url`` from: relative URLs are resolved against ``public_base_url``.

    Against the real Graph API an unreachable (private) URL is refused up front with a ``PermanentError`` that
    says to set ``SMM_PUBLIC_BASE_URL``; against a fake any URL is fine.
    """
    if not urlsplit(url).scheme:
        if not public_base_url:
            raise PermanentError(
                f"{label} fetches media from a URL, but '{url}' is relative and SMM_PUBLIC_BASE_URL is not set."
            )
        url = f"{public_base_url.rstrip('/')}/{url.lstrip('/')}"
    if is_real_graph(base_url):
        for candidate in (url, public_base_url):
            if candidate and is_private_url(candidate):
                host = urlsplit(candidate).hostname or candidate
                raise PermanentError(
                    f"{label} downloads media from a public URL, but '{host}' is not reachable "
                    "from the internet. "
                    "Set SMM_PUBLIC_BASE_URL to a public address (e.g. https://smm.example.com) so Meta can "
                    "fetch the files."
                )
    return url


def compose_message(text: str, link: str | None) -> str:
    """The post text with ``link`` appended on its own line unless the text already contains it."""
    if not link or link in text:
        return text
    return f"{text}\n\n{link}" if text.strip() else link


def error_envelope(code: int, message: str, subcode: int | None = None, **extra: Any) -> dict[str, Any]:
    """A Graph error body as Meta sends it (used by the fakes and by tests arming faults)."""
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    error.setdefault("fbtrace_id", "AbCdEfGhIjK")
    return {"error": error}
