"""End to end: `smm serve` with the sandbox, one sandbox channel per platform, a post each, published for real
through the service's own HTTP loopback to the mounted fake platforms."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from tests.conftest import API_KEY, SECRET_KEY

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMM_")}
    env.update({"SMM_DATABASE_URL": settings.effective_database_url, "SMM_DATA_DIR": str(settings.data_dir),
                "SMM_SECRET_KEY": SECRET_KEY, "SMM_BOOTSTRAP_API_KEY": API_KEY, "SMM_SANDBOX": "1",
                "SMM_HOST": "127.0.0.1", "SMM_PORT": str(port), "SMM_LOG_LEVEL": "WARNING"})
    log = (settings.data_dir / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (settings.data_dir / "serve.log").read_text()
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) in (0, -15)  # a clean shutdown (uvicorn re-raises the SIGTERM it handled)


def test_sandbox_publishes_on_every_platform_within_a_minute(served: str) -> None:
    api = httpx.Client(base_url=served, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10)
    posts: dict[str, str] = {}
    for platform in ("telegram", "vk", "facebook", "instagram"):
        ch = api.post("/api/v1/channels", json={"platform": platform, "name": f"Sandbox {platform}",
                                                "timezone": "Europe/Berlin", "sandbox": True})
        assert ch.status_code == 201, ch.text
        body = {"text": f"Hello {platform} <b>&</b>", "channel_ids": [ch.json()["id"]], "scheduled_at": "now"}
        if platform == "instagram":
            body["media"] = [{"url": "https://example.org/photo.jpg", "kind": "photo"}]
        r = api.post("/api/v1/posts", json=body)
        assert r.status_code == 201, r.text
        posts[platform] = r.json()["id"]
    deadline = time.monotonic() + 60
    done: dict[str, dict[str, object]] = {}
    while len(done) < len(posts) and time.monotonic() < deadline:
        for platform, post_id in posts.items():
            got = api.get(f"/api/v1/posts/{post_id}").json()
            if got["status"] in ("published", "failed", "needs_check"):
                done[platform] = got
        time.sleep(0.5)
    assert set(done) == set(posts), {p: api.get(f"/api/v1/posts/{i}").json()["targets"] for p, i in posts.items()}
    for platform, got in done.items():
        target = got["targets"][0]  # type: ignore[index]
        assert got["status"] == "published", (platform, target)
        assert target["url"].startswith("https://"), target
    for platform in posts:  # what each sandbox platform received
        received = api.get(f"/sandbox/{platform}/_control/published").json()
        assert [item["text"] for item in received] == [f"Hello {platform} <b>&</b>"]
    status = api.get("/api/v1/status").json()
    assert status["counts"]["published"] == 4 and any(w["kind"] == "serve" for w in status["workers"])
