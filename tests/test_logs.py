"""No token in any log line, in any encoding, and no logging errors: a real `smm serve` at DEBUG with the sandbox
publishes to all four sandbox platforms and to a real fake Telegram (its own process) with known tokens."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest

from app.config import Settings
from tests.conftest import API_KEY, SECRET_KEY
from tests.served import ROOT, Served, free_port, serve, smm_env, wait_for

pytestmark = pytest.mark.slow

TOKENS = {
    "telegram": "7000000001:AAHknownSandboxTokenForTheLogTest01",
    "real_telegram": "7000000002:AAHknownRealFakeTokenForTheLogTes02",
    "vk": "vk1.a.knownVkSandboxTokenForTheLogTest0123456789",
    "facebook": "EAAknownFacebookSandboxTokenForTheLogTest0123",
    "instagram": "EAAknownInstagramSandboxTokenForTheLogTest012",
}
CREDENTIALS = {
    "telegram": {"bot_token": TOKENS["telegram"], "chat_id": "@sandbox_logs"},
    "vk": {"access_token": TOKENS["vk"], "owner_id": "-20000001"},
    "facebook": {"page_id": "100000000000001", "access_token": TOKENS["facebook"]},
    "instagram": {"ig_user_id": "17841400000000099", "access_token": TOKENS["instagram"]},
}


def _forms(secret: str) -> dict[str, str]:
    raw = secret.encode()
    return {"plain": secret, "percent-encoded": quote(secret, safe=""), "quoted path": quote(secret),
            "form-encoded": quote_plus(secret), "base64": base64.b64encode(raw).decode(),
            "base64 url-safe": base64.urlsafe_b64encode(raw).decode()}


@pytest.fixture
def fake_telegram(tmp_path: Path) -> Iterator[str]:
    """The fake Bot API in its own process on 127.0.0.1 (a real HTTP peer of the service's client)."""
    port = free_port()
    code = ("import uvicorn; from connectors.telegram.fake import create_app; "
            f"uvicorn.run(create_app(sandbox=True), host='127.0.0.1', port={port}, log_level='warning')")
    with (tmp_path / "fake.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/_control/published", timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "fake.log").read_text()
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _publish_everywhere(served: Served) -> None:
    channels: dict[str, str] = {}
    for platform, creds in CREDENTIALS.items():
        r = served.api.post("/api/v1/channels", json={"platform": platform, "name": f"Sandbox {platform}",
                                                      "timezone": "UTC", "sandbox": True, "credentials": creds})
        assert r.status_code == 201, r.text
        channels[platform] = r.json()["id"]
    r = served.api.post("/api/v1/channels", json={
        "platform": "telegram", "name": "Telegram at the fake", "timezone": "UTC",
        "credentials": {"bot_token": TOKENS["real_telegram"], "chat_id": "@logs_channel"}})
    assert r.status_code == 201, r.text
    channels["real_telegram"] = r.json()["id"]
    for channel_id in channels.values():  # getMe and friends carry the token in the URL too
        assert served.api.post(f"/api/v1/channels/{channel_id}/verify").status_code == 200
    posts = []
    for name, channel_id in channels.items():
        body: dict[str, object] = {"text": f"log test {name}", "channel_ids": [channel_id], "scheduled_at": "now"}
        if name == "instagram":  # the container is polled for its status: the query carries access_token
            body["media"] = [{"url": "https://example.org/photo.jpg", "kind": "photo"}]
        r = served.api.post("/api/v1/posts", json=body)
        assert r.status_code == 201, r.text
        posts.append(r.json()["id"])

    def all_published() -> bool:
        statuses = [served.api.get(f"/api/v1/posts/{p}").json()["status"] for p in posts]
        assert not {"failed", "needs_check"} & set(statuses), statuses
        return all(s == "published" for s in statuses)

    wait_for(all_published, timeout=90)
    # a client that puts a token in our own URLs (path and query): the access log line must not keep it
    token = TOKENS["telegram"]
    httpx.get(f"{served.base}/sandbox/telegram/bot{token}/getMe", timeout=30)
    served.api.get("/api/v1/posts", params={"channel_id": token})
    served.api.get(f"/api/v1/channels/{quote(token, safe='')}")
    httpx.get(f"{served.base}/healthz", params={"probe": "one-line-per-request"}, timeout=30)


def test_no_token_in_any_log_line_in_any_encoding(settings: Settings, tmp_path: Path, fake_telegram: str) -> None:
    env = smm_env(settings, SMM_SANDBOX="1", SMM_LOG_LEVEL="DEBUG", SMM_TELEGRAM_API_BASE=fake_telegram)
    served = serve(env, tmp_path / "serve.log")
    try:
        _publish_everywhere(served)
    finally:
        served.stop()
    log = served.log()
    lines = log.splitlines()
    assert "Logging error" not in log, log[-5000:]  # no formatter error, ever
    # no crash while serving; once uvicorn is shutting down, a loaded machine may cancel a connection's reset
    # (SQLAlchemy logs "Exception during reset or similar" for it): that is noise of the exit, not of the service
    serving = log.split("uvicorn.error Shutting down", 1)[0]
    assert "Traceback" not in serving, serving[-5000:]
    secrets = {**TOKENS, "secret key": SECRET_KEY, "api key": API_KEY}
    for name, secret in secrets.items():
        for form, text in _forms(secret).items():
            leaking = [line for line in lines if text in line]
            assert not leaking, f"{name} appears {form} in the log: {leaking[:3]}"
    # the lines that would have carried them are there, redacted (so the test looked at the right lines)
    assert any("/bot<redacted>/sendMessage" in line and "HTTP Request" in line for line in lines), "no httpx line"
    assert any('"POST /sandbox/telegram/bot<redacted>/sendMessage HTTP/1.1" 200' in line for line in lines)
    assert any("access_token=<redacted>" in line and "uvicorn.access" in line for line in lines)
    # the token percent-encoded in our own path (``%3A`` for its colon) is there, and redacted, in the access log
    assert any('"GET /api/v1/channels/<redacted> HTTP/1.1" 404' in line and "uvicorn.access" in line
               for line in lines), [line for line in lines if "GET /api/v1/channels/" in line]
    assert [line for line in lines if "probe=one-line-per-request" in line] != []
    assert len([line for line in lines if "probe=one-line-per-request" in line]) == 1  # one line per request
