"""The log filter itself: every encoding of a known secret, token shapes, and formatters that read ``args``."""

from __future__ import annotations

import base64
import io
import logging
from urllib.parse import quote

from uvicorn.logging import AccessFormatter

from app.logs import KeyValueFormatter, RedactSecrets, register_credentials

TOKEN = "EAAGm0PX4ZCpsBAknownForTheRedactionTest0123456789"
BOT = "7000000009:AAHredactionTestBotTokenValue0123456"


def emit(formatter: logging.Formatter, msg: str, *args: object, **extra: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RedactSecrets())
    logger = logging.getLogger(f"test.redaction.{id(stream)}")
    logger.propagate, logger.handlers = False, [handler]
    logger.setLevel(logging.INFO)
    try:
        raise RuntimeError(f"failed calling /bot{BOT}/sendMessage")
    except RuntimeError:
        logger.info(msg, *args, exc_info=bool(extra.pop("with_traceback", False)), extra=extra)
    return stream.getvalue()


def test_uvicorns_access_formatter_keeps_working_and_the_path_is_redacted() -> None:
    register_credentials({"access_token": TOKEN})
    path = f"/sandbox/telegram/bot{quote(BOT)}/sendMessage?access_token={TOKEN}"
    line = emit(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'),
                '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", path, "1.1", 200)
    assert line.count("\n") == 1 and '"POST /sandbox/telegram/bot<redacted>/sendMessage?access_token=<redacted>' in line
    assert "Logging error" not in line and BOT.split(":")[1] not in line and TOKEN not in line


def test_every_encoding_of_a_known_secret_is_blanked() -> None:
    secret = "Zq7-unusual_shape_secret_for_the_log_test"
    register_credentials({"bot_token": secret, "chat_id": "@public_chat_name"})
    for prefix in (b"", b"u", b"us", b"user:"):
        blob = base64.b64encode(prefix + secret.encode()).decode()
        forms = [secret, quote(secret, safe=""), blob, blob.replace("+", "-").replace("/", "_")]
        line = emit(KeyValueFormatter("%(message)s"), "sent %s to %s", " | ".join(forms), "@public_chat_name")
        assert secret not in line and blob not in line and "<redacted>" in line, line
        assert "@public_chat_name" in line  # ids are not secrets


def test_extras_and_tracebacks_are_blanked() -> None:
    line = emit(KeyValueFormatter("%(message)s"), "publish failed", with_traceback=True,
                error=f"POST https://api.telegram.org/bot{BOT}/sendMessage", detail={"bot_token": BOT})
    assert "Traceback" in line and "RuntimeError" in line
    assert BOT not in line and quote(BOT) not in line and BOT.split(":")[1] not in line, line
