"""The log filter blanks what the sign-in flows carry in URLs: the authorization code (``code=``, also percent-
encoded inside another URL, as a login redirect's ``next=`` holds it), PKCE verifiers and tokens — but not error
codes, which the logs need."""

from __future__ import annotations

import logging

from app.config import Settings
from app.logs import REDACTED, RedactSecrets, register_app_secrets


def redacted(message: str) -> str:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, message, None, None)
    RedactSecrets().filter(record)
    return record.getMessage()


def test_codes_and_tokens_in_query_strings_are_blanked() -> None:
    line = redacted('"GET /connect/facebook/callback?code=AQD7secretcode123&state=s1 HTTP/1.1" 200')
    assert "AQD7secretcode123" not in line and f"code={REDACTED}" in line
    nested = redacted("/login?next=%2Fconnect%2Fvk%2Fcallback%3Fcode%3Dzz9secret%26state%3Dq")
    assert "zz9secret" not in nested
    amp = redacted("/connect/vk/callback?state=q&code=k2secret#_")
    assert "k2secret" not in amp
    assert "v3rifier" not in redacted("GET /access_token?code_verifier=v3rifierabc&client_secret=shh12345")
    assert "shh12345" not in redacted("GET /access_token?client_secret=shh12345")
    token = redacted("GET /refresh_access_token?grant_type=ig_refresh_token&access_token=IGAAsecret123456")
    assert "IGAAsecret123456" not in token
    encoded = redacted("url=https%3A%2F%2Fgraph%3Faccess_token%3DIGAAsecret999%26x%3D1")
    assert "IGAAsecret999" not in encoded


def test_error_codes_stay_readable() -> None:
    assert redacted("vk error_code=15 for wall.post") == "vk error_code=15 for wall.post"
    assert redacted('{"error": {"code": 190, "message": "x"}}') == '{"error": {"code": 190, "message": "x"}}'


def test_app_secrets_are_registered() -> None:
    register_app_secrets(Settings(_env_file=None, facebook_app_secret="fb-app-secret-0123456789"))  # type: ignore[call-arg]
    assert "fb-app-secret-0123456789" not in redacted("secret is fb-app-secret-0123456789 here")
