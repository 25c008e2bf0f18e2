"""The sandbox is per workspace: its control API needs a key or a session, and shows and resets only the
workspace's own sandbox channels; the fake platforms' own endpoints stay open (the connectors call them)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from app.config import Settings
from tests.conftest import API_KEY
from tests.served import smm_serve, smm_stdout

pytestmark = pytest.mark.slow
CONTROL = "/sandbox/{platform}/_control"


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    with smm_serve(settings, SMM_SANDBOX="1") as base:
        yield base


def _api(base: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=20)


def _texts(api: httpx.Client, platform: str) -> list[str]:
    r = api.get(CONTROL.format(platform=platform) + "/published")
    assert r.status_code == 200, r.text
    return sorted(str(item["text"]) for item in r.json())


def _publish(api: httpx.Client, who: str) -> list[str]:
    post_ids = []
    for platform in ("telegram", "vk"):
        ch = api.post("/api/v1/channels", json={"platform": platform, "name": f"{who} {platform}",
                                                "timezone": "UTC", "sandbox": True})
        assert ch.status_code == 201, ch.text
        r = api.post("/api/v1/posts", json={"text": f"From {who} on {platform}", "channel_ids": [ch.json()["id"]],
                                            "scheduled_at": "now"})
        assert r.status_code == 201, r.text
        post_ids.append(r.json()["id"])
    return post_ids


def _wait_published(api: httpx.Client, post_ids: list[str]) -> None:
    deadline = time.monotonic() + 90
    while True:
        states = {pid: api.get(f"/api/v1/posts/{pid}").json()["status"] for pid in post_ids}
        if all(s == "published" for s in states.values()):
            return
        assert time.monotonic() < deadline, states
        time.sleep(0.5)


def _signed_in(base: str, key: str) -> httpx.Client:
    browser = httpx.Client(base_url=base, timeout=20)
    page = browser.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf, page.text
    r = browser.post("/login", data={"api_key": key, "csrf_token": csrf.group(1)})
    assert r.status_code == 303, r.text
    return browser


def test_each_workspace_sees_and_resets_only_its_own_sandbox(served: str, settings: Settings) -> None:
    key_b = smm_stdout(settings, "keys", "create", "--workspace", "other").strip()
    a, b = _api(served, API_KEY), _api(served, key_b)
    posts = _publish(a, "A") + _publish(b, "B")
    _wait_published(a, posts[:2])
    _wait_published(b, posts[2:])

    for platform in ("telegram", "vk"):
        assert _texts(a, platform) == [f"From A on {platform}"]
        assert _texts(b, platform) == [f"From B on {platform}"]

    r = a.post(CONTROL.format(platform="telegram") + "/reset")
    assert r.status_code == 200 and r.json()["forgotten"] == 1, r.text
    assert _texts(a, "telegram") == []
    assert _texts(b, "telegram") == ["From B on telegram"]  # B's post is still there for B
    assert _texts(a, "vk") == ["From A on vk"]

    page_a = _signed_in(served, API_KEY).get("/sandbox")
    assert page_a.status_code == 200 and "From A on vk" in page_a.text
    assert "From B" not in page_a.text and "From A on telegram" not in page_a.text  # reset
    page_b = _signed_in(served, key_b).get("/sandbox")
    assert "From B on telegram" in page_b.text and "From B on vk" in page_b.text and "From A" not in page_b.text

    session_a = _signed_in(served, API_KEY)  # a signed-in session works like the key
    r = session_a.get(CONTROL.format(platform="vk") + "/published")
    assert r.status_code == 200 and [i["text"] for i in r.json()] == ["From A on vk"]
    r = session_a.post(CONTROL.format(platform="vk") + "/reset")  # a change by cookie alone: not without the token
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"], r.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', session_a.get("/sandbox").text)
    assert csrf
    r = session_a.post(CONTROL.format(platform="vk") + "/reset", headers={"X-CSRF-Token": csrf.group(1)})
    assert r.status_code == 200 and r.json()["forgotten"] == 1, r.text
    assert _texts(b, "vk") == ["From B on vk"]


def test_control_needs_a_key_and_offers_only_what_is_per_workspace(served: str, settings: Settings) -> None:
    anon = httpx.Client(base_url=served, timeout=20)
    for platform in ("telegram", "vk", "facebook", "instagram"):
        control = CONTROL.format(platform=platform)
        for method, path in (("GET", "/published"), ("POST", "/reset"), ("POST", "/faults"), ("DELETE", "/faults"),
                             ("GET", "/calls"), ("POST", "/seed"), ("POST", "/clock"), ("POST", "/rate_limit")):
            r = anon.request(method, control + path, json={})
            assert r.status_code == 401, (method, path, r.text)
            assert isinstance(r.json()["detail"], str)
            forged = anon.request(method, control + path, json={}, headers={"Authorization": "Bearer nope"})
            assert forged.status_code == 401, (method, path)

    a = _api(served, API_KEY)
    for path in ("/seed", "/clock", "/rate_limit", "/calls"):
        r = a.post(CONTROL.format(platform="telegram") + path, json={})
        assert r.status_code == 403 and "every workspace" in r.json()["detail"], r.text
    fault = {"method": "getMe", "count": 1, "kind": "error", "status": 400, "body": {"ok": False}}
    r = a.post(CONTROL.format(platform="telegram") + "/faults", json=fault)
    assert r.status_code == 200 and r.json()["ok"] is True, r.text
    assert a.delete(CONTROL.format(platform="telegram") + "/faults").json() == {"ok": True}

    # the fake platform itself answers without our key, as a real platform does
    me = anon.get("/sandbox/telegram/bot123456789:AAEabcdefghijklmnopqrstuvwxyz012345/getMe")
    assert me.status_code == 200 and me.json()["ok"] is True


def test_a_workspace_cannot_take_another_workspaces_sandbox_chat(served: str, settings: Settings) -> None:
    key_b = smm_stdout(settings, "keys", "create", "--workspace", "other").strip()
    a, b = _api(served, API_KEY), _api(served, key_b)
    creds = {"bot_token": "123456789:AAEabcdefghijklmnopqrstuvwxyz012345", "chat_id": "@a_private_room"}
    body = {"platform": "telegram", "name": "room", "timezone": "UTC", "sandbox": True, "credentials": creds}
    assert a.post("/api/v1/channels", json=body).status_code == 201
    r = b.post("/api/v1/channels", json={**body, "credentials": {**creds, "chat_id": "@A_Private_Room"}})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "credentials.chat_id"
    own = b.post("/api/v1/channels", json={**body, "credentials": None})
    assert own.status_code == 201, own.text  # invented credentials: a chat of its own
    r = b.patch(f"/api/v1/channels/{own.json()['id']}", json={"credentials": creds})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "credentials.chat_id", r.text
