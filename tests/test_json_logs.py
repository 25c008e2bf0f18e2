"""``SMM_LOG_FORMAT=json``: a real ``smm serve`` publishing through the sandbox (one post published, one refused by
the platform) writes only JSON lines, with dotted event names, the target/post/channel ids as fields, one
``http.request`` line per request (route template, status, duration) and no token anywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.conftest import API_KEY, SECRET_KEY
from tests.served import serve, smm_env, wait_for

pytestmark = pytest.mark.slow

TOKEN = "7000000021:AAHjsonLogsSandboxTokenNeverLogged1"
REFUSAL = {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}


def _status(api: httpx.Client, post_id: str) -> str:
    status: str = api.get(f"/api/v1/posts/{post_id}").json()["status"]
    return status


def test_json_lines_with_events_ids_and_no_secrets(settings: Settings, tmp_path: Path) -> None:
    env = smm_env(settings, SMM_SANDBOX="1", SMM_LOG_FORMAT="json", SMM_LOG_LEVEL="INFO")
    served = serve(env, tmp_path / "serve.log", ready_timeout=120)
    try:
        r = served.api.post("/api/v1/channels", json={
            "platform": "telegram", "name": "JSON logs", "timezone": "UTC", "sandbox": True,
            "credentials": {"bot_token": TOKEN, "chat_id": "@json_logs"}})
        assert r.status_code == 201, r.text
        channel_id = r.json()["id"]
        ok = served.api.post("/api/v1/posts", json={"text": "published", "channel_ids": [channel_id],
                                                    "scheduled_at": "now"}).json()["id"]
        wait_for(lambda: _status(served.api, ok) == "published", timeout=60)
        fault = {"method": "sendMessage", "count": 1, "kind": "error", "status": 400, "body": REFUSAL}
        r = served.api.post("/sandbox/telegram/_control/faults", json=fault)
        assert r.status_code == 200, r.text
        refused = served.api.post("/api/v1/posts", json={"text": "refused", "channel_ids": [channel_id],
                                                         "scheduled_at": "now"}).json()["id"]
        wait_for(lambda: _status(served.api, refused) == "failed", timeout=60)
        httpx.get(f"{served.base}/sandbox/telegram/bot{TOKEN}/getMe", timeout=30)  # a token in our own URL
    finally:
        served.stop()
    text = served.log()
    records: list[dict[str, Any]] = []
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}\n{text[-3000:]}")
    for rec in records:
        assert {"ts", "level", "logger", "event"} <= rec.keys(), rec
    for secret in (TOKEN, TOKEN.split(":")[1], API_KEY, SECRET_KEY):
        assert secret not in text, f"{secret[:12]}… is in the log"

    def one(event: str, **fields: str) -> dict[str, Any]:
        found = [r for r in records if r["event"] == event and fields.items() <= r.items()]
        assert len(found) == 1, (event, fields, [r for r in records if r["event"].startswith("publish.")])
        return found[0]

    ids = {"channel_id": channel_id, "platform": "telegram"}
    published = one("publish.target.published", post_id=ok, **ids)
    assert published["target_id"] and published["level"] == "info" and published["late_by_s"] < 60
    failed = one("publish.target.failed", post_id=refused, **ids)
    assert failed["target_id"] and failed["level"] == "warning" and failed["error"] == "PermanentError"
    # one http.request line per request, with the route's template; uvicorn's own access line is not repeated
    assert not [r for r in records if r["logger"] == "uvicorn.access"]
    reads = [r for r in records if r["event"] == "http.request" and r["route"] == "/api/v1/posts/{post_id}"]
    assert reads and all(r["method"] == "GET" and r["status"] == 200 and r["duration_ms"] >= 0 for r in reads)
    token_request = [r for r in records if r["event"] == "http.request" and r["path"].endswith("/getMe")]
    assert len(token_request) == 1 and "<redacted>" in token_request[0]["path"], token_request
