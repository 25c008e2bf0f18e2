"""Logging set-up: one line per event, dotted event names, context as key=value (or one JSON object per line with
``SMM_LOG_FORMAT=json``), no secrets in any encoding.

Every record reaches one root handler (uvicorn's loggers included: ``smm serve`` gives uvicorn no logging config
of its own, so its access lines are ordinary ``%``-formatted records, one per request). One filter,
:class:`RedactSecrets`, sits on every handler and blanks secrets before anything is formatted:

- by pattern: Telegram bot tokens (``123:ABC…``, also with ``:`` written ``%3A`` as uvicorn's request line does),
  ``access_token=``-style parameters (plain, percent-encoded or JSON), OAuth ``code=`` query parameters (plain or
  percent-encoded), bearer values, API keys, VK and Graph tokens;
- by value: the secret key, the bootstrap key and the channel credentials in use (the most recently opened),
  plain, percent-encoded and base64 (standard and URL-safe, at any alignment inside a longer base64 text).
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, quote_plus

REDACTED = "<redacted>"
MIN_SECRET_LENGTH = 8  # shorter values (ids, flags) would blank ordinary words
SECRET_FIELD = re.compile(r"token|secret|password|key", re.IGNORECASE)

_SECRET_NAMES = ("access_token", "input_token", "client_secret", "fb_exchange_token", "bot_token", "api_key",
                 "code_verifier", "refresh_token")
# an OAuth authorization code (``?code=``, ``&code=``, or inside an encoded URL ``%3Fcode%3D``), not ``error_code=``
_CODE_NAME = r"(?:(?<![A-Za-z0-9_])|(?<=%26)|(?<=%3[Ff]))code"
_TOKEN_SHAPES = re.compile(
    "|".join([
        r"\d{5,12}(?::|%3[Aa]|%253[Aa])[A-Za-z0-9_-]{30,}",  # Telegram bot token, anywhere (paths, messages)
        r"smm_[A-Za-z0-9_-]{20,}",  # our API keys
        r"vk1\.a\.[A-Za-z0-9_-]{16,}",
        r"EAA[A-Za-z0-9]{16,}",  # Graph API tokens
    ])
)
# what follows a bearer, or a secret's name in a query (also percent-encoded) or JSON; the name itself is kept
_NAMED = re.compile(
    rf"(?P<keep>(?:Bearer|bearer)\s+|(?:{'|'.join(_SECRET_NAMES)})(?:=|%3[Dd]|\"\s*:\s*\"|'\s*:\s*'))"
    r"[^&\s\"'<>%]+"
)
_NAMED_HINTS = (*_SECRET_NAMES, "earer")  # a cheap test before the regex: most lines name no secret
# only as a query parameter: a JSON "code" is an error code (Graph's 190, our "missed"), not a secret
_CODE_PARAM = re.compile(rf"(?P<keep>{_CODE_NAME}(?:=|%3[Dd]))[^&\s\"'<>%#]+")

# record attributes that are not ``extra`` context (uvicorn adds ``color_message``, a copy of the message)
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName", "color_message"}


def _base64_forms(raw: bytes) -> set[str]:
    """The base64 text of ``raw`` wherever it starts inside a longer base64 text (3 alignments, 2 alphabets):
    the characters that depend on ``raw`` alone, without the partial groups at either end."""
    forms: set[str] = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        start, end = -(-8 * shift // 6), 8 * (shift + len(raw)) // 6
        for text in (encoded[start:end], encoded.rstrip("=") if shift == 0 else ""):
            if len(text) >= MIN_SECRET_LENGTH:
                forms |= {text, text.replace("+", "-").replace("/", "_")}
    return forms


def encodings(value: str) -> set[str]:
    """The forms of a secret a log line may carry: plain, percent-encoded (as paths and queries are) and base64."""
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value)}
    return forms | _base64_forms(value.encode())


@functools.lru_cache(maxsize=4096)
def _forms_of(value: str) -> frozenset[str]:
    """:func:`encodings`, kept for the channels a worker cycles through (they drop out of the recent list and
    come back on their next send; computing the forms again each time cost more than the send's own logging)."""
    return frozenset(encodings(value))


class Redactor:
    """Known secret values (every encoding) and the patterns; ``redact`` blanks both in a text.

    The values are the process's own secrets (kept for good) and the credentials opened most recently (a token can
    only reach a log line while it is in use): a bounded list of plain substring checks per line, no regex to
    rebuild as channels come and go.
    """

    RECENT = 32  # ~8 forms each: a few hundred substring tests per emitted line

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pinned: dict[str, frozenset[str]] = {}
        self._recent: OrderedDict[str, frozenset[str]] = OrderedDict()
        self._forms: tuple[str, ...] = ()
        self._stale = False

    def register(self, value: object, *, pinned: bool = False) -> None:
        if not isinstance(value, str) or len(value.strip()) < MIN_SECRET_LENGTH:
            return
        value = value.strip()
        with self._lock:
            if value in self._pinned:
                return
            if value in self._recent and not pinned:
                self._recent.move_to_end(value)
                return
            forms = _forms_of(value)
            if pinned:
                self._recent.pop(value, None)
                self._pinned[value] = forms
            else:
                self._recent[value] = forms
                while len(self._recent) > self.RECENT:
                    self._recent.popitem(last=False)
            self._stale = True  # the list is rebuilt when a line is next redacted, not on every open

    def _current_forms(self) -> tuple[str, ...]:
        """Every known form, the longest first; rebuilt only after a change (the publisher opens credentials
        for every send, while log lines at its level are rare)."""
        if self._stale:
            with self._lock:
                if self._stale:
                    every = set().union(*self._pinned.values(), *self._recent.values())
                    self._forms = tuple(sorted(every, key=len, reverse=True))  # the longest form first
                    self._stale = False
        return self._forms

    def redact(self, text: str) -> str:
        forms = self._current_forms()
        if forms and any(map(text.__contains__, forms)):  # the test runs in C; replacing is rare
            for form in forms:
                if form in text:
                    text = text.replace(form, REDACTED)
        text = _TOKEN_SHAPES.sub(REDACTED, text)
        if any(map(text.__contains__, _NAMED_HINTS)):
            text = _NAMED.sub(_blank, text)
        if "code" in text:
            text = _CODE_PARAM.sub(_blank, text)
        return text


def _blank(match: re.Match[str]) -> str:
    return (match.group("keep") or "") + REDACTED


REDACTOR = Redactor()


def register_secret(value: object) -> None:
    """Remember one of the process's secrets (secret key, bootstrap key) so that no log line carries it."""
    REDACTOR.register(value, pinned=True)


def register_app_secrets(settings: object) -> None:
    """The sign-in flows' app secrets (``SMM_VK_APP_SECRET``, …): no log line carries them."""
    for name in ("vk_app_secret", "facebook_app_secret", "instagram_app_secret"):
        register_secret(getattr(settings, name, None))


def register_credentials(values: Mapping[str, object]) -> None:
    """Remember the secret fields of a channel's credentials (tokens, not ids such as ``chat_id``)."""
    for name, value in values.items():
        if SECRET_FIELD.search(name):
            REDACTOR.register(value)


class RedactSecrets(logging.Filter):
    """Blanks secrets in a record's message, arguments, exception text, stack and ``extra`` values.

    Arguments are redacted one by one where that suffices, so formatters that read ``record.args`` (such as
    uvicorn's access formatter) still get the shape they expect; the record is never dropped.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        redact = REDACTOR.redact
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: let the handler report it as logging does
            return True
        if redact(message) != message:  # only then is the record rewritten (one check on the clean path)
            if isinstance(record.args, tuple):
                record.args = tuple(_redacted_arg(a) for a in record.args)
            elif isinstance(record.args, Mapping):
                record.args = {k: _redacted_arg(v) for k, v in record.args.items()}
            message = record.getMessage()
            redacted = redact(message)
            if redacted != message:  # in the format string itself, or spread over it and an argument
                record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        extras = [name for name in record.__dict__ if name not in _STANDARD and not name.startswith("_")]
        if extras:
            shown = "\n".join(str(record.__dict__[name]) for name in extras)
            if redact(shown) != shown:
                for name in extras:
                    setattr(record, name, _redacted_arg(record.__dict__[name]))
        return True


def _redacted_arg(value: object) -> object:
    if isinstance(value, str):
        return REDACTOR.redact(value)
    if value is None or isinstance(value, (int, float)):
        return value  # keeps %d and friends working; numbers are ids, not secrets
    text = str(value)
    redacted = REDACTOR.redact(text)
    return value if redacted == text else redacted


class KeyValueFormatter(logging.Formatter):
    """Appends the ``extra={...}`` context of a record (target ids, platforms, error classes) as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in sorted(extras.items()))
        return line


class JobIds(Protocol):
    @property
    def target_id(self) -> str: ...
    @property
    def post_id(self) -> str: ...
    @property
    def channel_id(self) -> str: ...
    @property
    def platform(self) -> str: ...


def job_context(job: JobIds) -> dict[str, str]:
    """The ``extra`` of a publisher log record: which target, post and channel, on which platform."""
    return {"target_id": job.target_id, "post_id": job.post_id, "channel_id": job.channel_id,
            "platform": job.platform}


_EVENT = re.compile(r"^([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)(?::\s*|\s+|$)")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``event`` (the dotted name the message starts with,
    else the logger's name), ``message`` (the rest, when there is any), the record's ``extra`` fields as they are,
    and ``exc`` for a traceback. Runs after :class:`RedactSecrets`, so it formats what the filter left."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        match = _EVENT.match(message)
        event, rest = (match.group(1), message[match.end():]) if match else (record.name, message)
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(), "logger": record.name, "event": event,
        }
        if rest:
            out["message"] = rest
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key not in out:
                out[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, default=str, ensure_ascii=False)


class _NotUvicornAccess(logging.Filter):
    """JSON format: the ``http.request`` record of :mod:`app.metrics` (route template, status, duration) stands in
    for uvicorn's access line, so each request is one line either way."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name != "uvicorn.access"


def _all_handlers() -> Iterable[logging.Handler]:
    yield from logging.getLogger().handlers
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            yield from logger.handlers


def install_redaction() -> None:
    """Idempotent: every handler there is gets the filter (call again after a library added handlers)."""
    for handler in _all_handlers():
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """One stderr handler on the root logger for everything, uvicorn included (``smm serve`` passes uvicorn
    ``log_config=None``); HTTP client internals only at ``DEBUG``. ``fmt``: ``text`` or ``json``
    (``SMM_LOG_FORMAT``)."""
    handler = logging.StreamHandler()
    as_json = fmt.lower() == "json"
    if as_json:
        handler.setFormatter(JsonFormatter())
        handler.addFilter(_NotUvicornAccess())
    else:
        handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    client_level = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    logging.getLogger("httpx").setLevel(client_level)
    logging.getLogger("httpcore").setLevel(client_level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("smm.http").setLevel(logging.NOTSET if as_json else logging.WARNING)  # see _NotUvicornAccess
    install_redaction()
