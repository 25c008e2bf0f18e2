"""End to end: `smm serve` with the sandbox, one sandbox channel per platform, a post each, published for real
through the service's own HTTP loopback to the mounted fake platforms."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from app.config import Settings
from tests.conftest import API_KEY
from tests.served import serve, smm_env

pytestmark = pytest.mark.slow


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    running = serve(smm_env(settings, SMM_SANDBOX="1", SMM_LOG_LEVEL="WARNING"), settings.data_dir / "serve.log")
    try:
        yield running.base
    finally:
        running.stop()
        assert running.proc.returncode in (0, -15)  # a clean shutdown (uvicorn re-raises the SIGTERM it handled)


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
