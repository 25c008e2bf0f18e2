"""Preparation ahead in a real `smm serve` (SMM_SAFETY_TICK=3600, fakes and a media server on loopback): photo
posts on VK, Instagram and Telegram due in a few seconds have their upload/container calls reach the fakes before
their time and only the visible call at it; a post whose media answers 404 shows that on its target before its
time. (How late the visible call is, is measured by ``python -m bench.prepare``.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from connectors.fakekit import serve_in_thread
from connectors.instagram.fake import create_app as instagram_fake
from connectors.telegram.fake import create_app as telegram_fake
from connectors.vk.fake import create_app as vk_fake
from tests.conftest import make_settings
from tests.publishing.test_prepare import MediaServer
from tests.served import Served, serve, smm_env, wait_for

pytestmark = pytest.mark.slow
LEAD_S = 12.0  # posts are due this long after they are created; preparation runs every 2 s
VISIBLE = {"vk": "wall.post", "telegram": "sendPhoto", "instagram": "POST /media_publish"}
CREDS = {
    "telegram": {"bot_token": "123456789:AAEabcdefghijklmnopqrstuvwxyz012345", "chat_id": "-1007000"},
    "vk": {"access_token": "vk1.a.abcdefghijklmnopqrstuvwxyz", "owner_id": "-123456"},
    "instagram": {"ig_user_id": "17841400000000001", "access_token": "EAAabcdefghijklmnopqrstuvwxyz"},
}


@pytest.fixture
def fakes() -> Iterator[dict[str, str]]:
    media = MediaServer()
    with (
        serve_in_thread(media.app()) as media_base,
        serve_in_thread(vk_fake(sandbox=True)) as vk,
        serve_in_thread(instagram_fake(sandbox=True)) as ig,
        serve_in_thread(telegram_fake(sandbox=True)) as tg,
    ):
        yield {"media": media_base, "vk": vk, "instagram": ig, "telegram": tg}


@pytest.fixture
def served(database_url: str, tmp_path: Path, fakes: dict[str, str]) -> Iterator[Served]:
    settings: Settings = make_settings(database_url, tmp_path)
    env = smm_env(
        settings, SMM_VK_API_BASE=fakes["vk"], SMM_INSTAGRAM_API_BASE=fakes["instagram"],
        SMM_TELEGRAM_API_BASE=fakes["telegram"], SMM_FETCH_ALLOW_HOSTS=fakes["media"].removeprefix("http://"),
        SMM_PREPARE_AHEAD="300",
    )
    s = serve(env, tmp_path / "serve.log")
    try:
        yield s
    finally:
        s.stop()


def log_of(base: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{base}/_control/log", timeout=10).json())


def test_uploads_before_the_time_and_errors_shown_before_it(served: Served, fakes: dict[str, str]) -> None:
    channels = {}
    for platform, creds in CREDS.items():
        r = served.api.post("/api/v1/channels", json={"platform": platform, "name": platform, "timezone": "UTC",
                                                       "credentials": creds})
        assert r.status_code == 201, r.text
        channels[platform] = r.json()["id"]
    due = datetime.fromtimestamp(int(time.time() + LEAD_S), UTC)
    posts = {}
    for platform in CREDS:
        body = {"text": f"{platform} photo", "channel_ids": [channels[platform]], "scheduled_at": due.isoformat(),
                "media": [{"url": f"{fakes['media']}/p/{platform}.jpg"}]}
        r = served.api.post("/api/v1/posts", json=body)
        assert r.status_code == 201, r.text
        posts[platform] = r.json()["id"]
    r = served.api.post("/api/v1/channels", json={"platform": "vk", "name": "vk 2", "timezone": "UTC",
                                                   "credentials": {"access_token": "vk1.a.zyxwvutsrqponmlkjihgfedcba",
                                                                   "owner_id": "-654321"}})
    assert r.status_code == 201, r.text
    body = {"text": "broken", "channel_ids": [r.json()["id"]], "scheduled_at": due.isoformat(),
            "media": [{"url": f"{fakes['media']}/p/missing.jpg"}]}
    r = served.api.post("/api/v1/posts", json=body)
    assert r.status_code == 201, r.text
    broken = r.json()["id"]

    def error_shown() -> str | None:
        target = served.api.get(f"/api/v1/posts/{broken}").json()["targets"][0]
        return target["prepare_error"] if target["status"] == "scheduled" else None

    error = wait_for(error_shown, timeout=LEAD_S + 10, interval=0.2)
    assert time.time() < due.timestamp(), "the preparation error showed only after the post's time"
    assert "could not be fetched (HTTP 404)" in error

    def all_settled() -> bool:
        got = [served.api.get(f"/api/v1/posts/{p}").json()["status"] for p in [*posts.values(), broken]]
        return all(s in ("published", "failed") for s in got)

    wait_for(all_settled, timeout=LEAD_S + 30)
    for platform, post_id in posts.items():
        assert served.api.get(f"/api/v1/posts/{post_id}").json()["status"] == "published", served.log()
        calls = log_of(fakes[platform])
        visible = [c["at"] for c in calls if c["method"] == VISIBLE[platform]]
        # the upload steps (the broken VK post's send asks for an upload server at the time: not a step)
        steps = [c["at"] for c in calls if c["method"] in ("upload", "photos.saveWallPhoto", "POST /media:image")]
        assert len(visible) == 1, calls
        assert min(visible) >= due.timestamp() - 0.05, "sent before its time"
        if platform == "telegram":
            continue  # nothing to upload ahead: the bytes were fetched and kept (the media server's side)
        assert steps and max(steps) < due.timestamp(), f"{platform}: upload steps at the time: {calls}"
    broken_target = served.api.get(f"/api/v1/posts/{broken}").json()["targets"][0]
    assert broken_target["status"] == "failed" and "HTTP 404" in broken_target["last_error"]
