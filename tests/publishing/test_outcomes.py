"""The publisher's outcome per error class, against the fake platforms, with a hand-moved clock."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import make_channel
from tests.publishing.conftest import Env, drain


async def queue(api: httpx.AsyncClient, channel_id: str, text: str = "Hello", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"text": text, "channel_ids": [channel_id], "scheduled_at": "now"}
    body.update(extra)
    r = await api.post("/api/v1/posts", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def run_once(env: Env, advance: float = 1.0) -> None:
    env.clock.advance(advance)
    runner = env.runner()
    await runner.dispatch_once()
    await drain(runner)


async def test_published_with_url_and_lateness(env: Env, api: httpx.AsyncClient) -> None:
    ch = await make_channel(api, "telegram")
    post = await queue(api, ch["id"], "Hi <b>there</b> & _all_")
    await run_once(env)
    got = (await api.get(f"/api/v1/posts/{post['id']}")).json()
    t = got["targets"][0]
    assert got["status"] == "published" and t["status"] == "published"
    assert t["url"].startswith("https://t.me/") and t["external_id"]
    assert t["attempts"] == 1 and t["late"] is False and t["late_by_s"] is not None
    sent = await env.published_at_fake("telegram")
    assert [m["text"] for m in sent] == ["Hi <b>there</b> & _all_"]
    attempts = await env.attempts(post["id"])
    assert [a.outcome for a in attempts] == ["published"]


async def test_not_due_is_not_sent_and_cancel_is_honoured(env: Env, api: httpx.AsyncClient) -> None:
    ch = await make_channel(api, "telegram")
    at = (env.clock.now + timedelta(minutes=10)).isoformat()
    post = await queue(api, ch["id"], scheduled_at=at)
    await run_once(env, advance=0)
    assert await env.published_at_fake("telegram") == []
    assert (await api.delete(f"/api/v1/posts/{post['id']}")).status_code == 200
    await run_once(env, advance=3600)
    assert await env.published_at_fake("telegram") == []
    assert (await env.target(post["id"])).status == "cancelled"


async def test_rate_limit_waits_for_retry_after(env: Env, api: httpx.AsyncClient) -> None:
    ch = await make_channel(api, "telegram")
    post = await queue(api, ch["id"])
    await env.arm(
        "telegram",
        method="sendMessage",
        count=1,
        kind="error",
        status=429,
        body={
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 35",
            "parameters": {"retry_after": 35},
        },
    )
    await run_once(env)
    t = await env.target(post["id"])
    assert t.status == "scheduled" and t.next_attempt_at is not None
    assert (t.next_attempt_at - env.clock.now).total_seconds() >= 34.5  # 35 s, never earlier (less test time)
    await run_once(env, advance=34)  # not yet
    assert await env.published_at_fake("telegram") == []
    await run_once(env, advance=2)
    assert len(await env.published_at_fake("telegram")) == 1
    assert [a.outcome for a in await env.attempts(post["id"])] == ["rate_limited", "published"]


async def test_transient_backs_off_then_gives_up(env: Env, api: httpx.AsyncClient) -> None:
    ch = await make_channel(api, "vk")
    post = await queue(api, ch["id"])
    body = {"error": {"error_code": 10, "error_msg": "Internal server error", "request_params": []}}
    await env.arm("vk", method="wall.post", count=3, kind="error", status=200, body=body)
    env.settings.max_attempts = 3
    delays: list[float] = []
    env.clock.advance(1)
    for _ in range(6):
        await run_once(env, advance=0)
        t = await env.target(post["id"])
        if t.status != "scheduled":
            break
        assert t.next_attempt_at is not None
        delays.append((t.next_attempt_at - env.clock.now).total_seconds())
        env.clock.advance(delays[-1] + 0.1)
    assert t.status == "failed" and "gave up after 3" in (t.last_error or "")
    assert "Internal server error" in (t.last_error or "")
    assert len(delays) == 2 and delays[0] >= 0.9 and delays[1] >= delays[0] * 0.5
    assert await env.published_at_fake("vk") == []


async def test_permanent_error_fails_with_platform_words(env: Env, api: httpx.AsyncClient) -> None:
    ch = await make_channel(api, "telegram")
    post = await queue(api, ch["id"])
    await env.arm(
        "telegram",
        method="sendMessage",
        count=1,
        kind="error",
        status=400,
        body={"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
    )
    await run_once(env)
    got = (await api.get(f"/api/v1/posts/{post['id']}")).json()
    assert got["status"] == "failed"
    assert "chat not found" in got["targets"][0]["last_error"]
    assert (await env.channel(ch["id"])).status == "active"


async def test_auth_error_marks_channel_and_holds_the_rest(env: Env, api: httpx.AsyncClient) -> None:
    ch = await make_channel(api, "telegram")
    first = await queue(api, ch["id"], "one")
    second = await queue(api, ch["id"], "two")
    await env.arm(
        "telegram",
        method="sendMessage",
        count=1,
        kind="error",
        status=401,
        body={"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    await run_once(env)
    await run_once(env, advance=5)
    channel = await env.channel(ch["id"])
    assert channel.status == "needs_reauth" and "Unauthorized" in (channel.status_reason or "")
    statuses = {(await env.target(first["id"])).status, (await env.target(second["id"])).status}
    assert statuses == {"failed", "scheduled"}  # the other one is held, not burnt through
    assert (await api.get(f"/api/v1/channels/{ch['id']}")).json()["status"] == "needs_reauth"
    status = (await api.get("/api/v1/status")).json()
    assert status["counts"]["held"] == 1


async def test_chat_migration_updates_channel_and_resends(env: Env, api: httpx.AsyncClient) -> None:
    ch = await make_channel(
        api, "telegram", credentials={"bot_token": "123456789:AAEabcdefghijklmnopqrstuvwxyz012345", "chat_id": "-4001"}
    )
    post = await queue(api, ch["id"])
    await env.arm(
        "telegram",
        method="sendMessage",
        count=1,
        kind="error",
        status=400,
        body={
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: group chat was upgraded to a supergroup chat",
            "parameters": {"migrate_to_chat_id": -1009999},
        },
    )
    await run_once(env)
    await run_once(env, advance=1)
    assert (await env.target(post["id"])).status == "published"
    channel = await env.channel(ch["id"])
    assert env.box.open(channel.credentials_sealed)["chat_id"] == "-1009999"
    sent = await env.published_at_fake("telegram")
    assert len(sent) == 1 and str(sent[0]["chat"]) == "-1009999"


async def test_lost_response_telegram_needs_check(env: Env, api: httpx.AsyncClient) -> None:
    ch = await make_channel(api, "telegram")
    post = await queue(api, ch["id"])
    await env.arm("telegram", method="sendMessage", count=1, kind="lost_response")
    await run_once(env)
    got = (await api.get(f"/api/v1/posts/{post['id']}")).json()
    assert got["status"] == "needs_check"
    assert "cannot tell" in got["targets"][0]["last_error"]
    await run_once(env, advance=600)  # nothing resends it on its own
    assert len(await env.published_at_fake("telegram")) == 1
    r = await api.post(f"/api/v1/posts/{post['id']}/retry")  # a person decides
    assert r.status_code == 200 and r.json()["status"] == "scheduled"


async def test_lost_response_vk_is_reconciled_without_duplicate(env: Env, api: httpx.AsyncClient) -> None:
    ch = await make_channel(api, "vk")
    post = await queue(api, ch["id"], "VK once")
    await env.arm("vk", method="wall.post", count=1, kind="lost_response")
    await run_once(env)
    t = await env.target(post["id"])
    assert t.status == "published" and t.url and t.url.startswith("https://vk.com/wall-123456_")
    assert len(await env.published_at_fake("vk")) == 1
    assert [a.outcome for a in await env.attempts(post["id"])] == ["unknown", "published"]


async def test_dropped_connection_vk_proven_absent_is_resent(env: Env, api: httpx.AsyncClient) -> None:
    ch = await make_channel(api, "vk")
    post = await queue(api, ch["id"], "VK drop")
    await env.arm("vk", method="wall.post", count=1, kind="drop")
    await run_once(env)
    assert (await env.target(post["id"])).status == "scheduled"  # proven absent: resent after a back-off
    await run_once(env, advance=3)
    assert (await env.target(post["id"])).status == "published"
    assert len(await env.published_at_fake("vk")) == 1


async def test_facebook_lost_response_reconciled(env: Env, api: httpx.AsyncClient) -> None:
    ch = await make_channel(api, "facebook")
    post = await queue(api, ch["id"], "FB once")
    await env.arm("facebook", method="POST /feed", count=1, kind="lost_response")
    await run_once(env)
    t = await env.target(post["id"])
    assert t.status == "published" and (t.url or "").startswith("https://www.facebook.com/")
    assert len(await env.published_at_fake("facebook")) == 1


async def test_instagram_container_flow_is_non_blocking(env: Env, api: httpx.AsyncClient) -> None:
    env.fakes["instagram"].state.fake.processing_delay = 30.0
    ch = await make_channel(api, "instagram")
    post = await queue(api, ch["id"], "IG", media=[{"url": "https://example.org/a.jpg"}])
    await run_once(env)
    t = await env.target(post["id"])
    assert t.status == "scheduled" and t.checkpoint.get("container_id")
    assert await env.published_at_fake("instagram") == []
    for _ in range(10):
        if (await env.target(post["id"])).status == "published":
            break
        await env.http.post("http://instagram.fake/_control/clock", json={"advance": 61})
        await run_once(env, advance=61)
    t = await env.target(post["id"])
    assert t.status == "published", t.last_error
    assert len(await env.published_at_fake("instagram")) == 1


async def test_downtime_grace_late_and_missed(env: Env, api: httpx.AsyncClient) -> None:
    ch = await make_channel(api, "telegram")
    a = await queue(api, ch["id"], "late but fine", scheduled_at=(env.clock.now + timedelta(seconds=60)).isoformat())
    b = await queue(api, ch["id"], "too late", scheduled_at=(env.clock.now + timedelta(seconds=10)).isoformat())
    env.settings.missed_grace = 1000.0
    env.clock.advance(1040)  # nothing ran: a is 980 s late (within the grace), b 1030 s (beyond)
    runner = env.runner()
    await runner.dispatch_once()
    await drain(runner)
    ta, tb = await env.target(a["id"]), await env.target(b["id"])
    assert tb.status == "failed" and tb.error_code == "missed" and "SMM_MISSED_GRACE" in (tb.last_error or "")
    assert ta.status == "published" and ta.late is True
    got = (await api.get(f"/api/v1/posts/{a['id']}")).json()["targets"][0]
    assert got["late"] is True and got["late_by_s"] is not None
    assert [m["text"] for m in await env.published_at_fake("telegram")] == ["late but fine"]
    status = (await api.get("/api/v1/status")).json()["counts"]
    assert status["missed"] == 1 and status["late"] == 1


async def test_telegram_5xx_may_have_sent_so_needs_check(env: Env, api: httpx.AsyncClient) -> None:
    ch = await make_channel(api, "telegram")
    post = await queue(api, ch["id"])
    await env.arm("telegram", method="sendMessage", count=1, kind="error", status=502,
                  body={"ok": False, "error_code": 502, "description": "Bad Gateway"})
    await run_once(env)
    t = await env.target(post["id"])
    assert t.status == "needs_check"  # a 5xx may come after the message went out; Telegram cannot say
    assert [a.outcome for a in await env.attempts(post["id"])] == ["unknown", "needs_check"]


async def test_vk_5xx_is_checked_then_resent_after_backoff(env: Env, api: httpx.AsyncClient) -> None:
    ch = await make_channel(api, "vk")
    post = await queue(api, ch["id"], "VK 502")
    await env.arm("vk", method="wall.post", count=1, kind="error", status=502, body={"error": "bad gateway"})
    await run_once(env)
    t = await env.target(post["id"])
    assert t.status == "scheduled" and t.failures == 1 and t.next_attempt_at is not None
    assert t.next_attempt_at > env.clock.now
    await run_once(env, advance=5)
    assert (await env.target(post["id"])).status == "published"
    assert len(await env.published_at_fake("vk")) == 1


async def test_tokens_never_reach_logs_or_answers(env: Env, api: httpx.AsyncClient,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    from tests.conftest import TG_TOKEN

    caplog.set_level(logging.DEBUG)
    ch = await make_channel(api, "telegram")
    post = await queue(api, ch["id"])
    await env.arm("telegram", method="sendMessage", count=1, kind="error", status=401,
                  body={"ok": False, "error_code": 401, "description": "Unauthorized"})
    await run_once(env, advance=30)
    got = await api.get(f"/api/v1/posts/{post['id']}")
    attempts = await api.get(f"/api/v1/posts/{post['id']}/attempts")
    channel = await api.get(f"/api/v1/channels/{ch['id']}")
    secret = TG_TOKEN.split(":")[1]
    for text in (caplog.text, got.text, attempts.text, channel.text):
        assert secret not in text
    assert "Unauthorized" in attempts.text
