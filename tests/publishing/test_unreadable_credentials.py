"""Credentials the current secret key cannot open: the target fails with the sentence, the channel needs re-auth,
both when the send was about to start and when a lost lease is recovered (the platform cannot be asked then)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import httpx

from app.security import CREDENTIALS_UNREADABLE, CredentialBox, new_secret_key
from tests.conftest import make_channel
from tests.publishing.conftest import Env, drain
from tests.publishing.test_outcomes import queue


def other_key_runner(env: Env) -> Any:
    """A publisher started with a different SMM_SECRET_KEY than the one the channel was connected under (it is
    stopped with the others: same ``runners`` list)."""
    return dataclasses.replace(env, box=CredentialBox(new_secret_key())).runner()


async def test_a_due_post_fails_with_the_sentence_and_holds_the_channel(env: Env, api: httpx.AsyncClient) -> None:
    ch = await make_channel(api, "vk")
    first, second = await queue(api, ch["id"], "one"), await queue(api, ch["id"], "two")
    env.clock.advance(1)
    runner = other_key_runner(env)
    await runner.dispatch_once()
    await drain(runner)
    env.clock.advance(5)
    await runner.dispatch_once()
    await drain(runner)
    targets = [await env.target(first["id"]), await env.target(second["id"])]
    failed = [t for t in targets if t.status == "failed"]
    assert len(failed) == 1 and failed[0].last_error == CREDENTIALS_UNREADABLE
    assert {t.status for t in targets} == {"failed", "scheduled"}  # the other post is held, not burnt through
    post_id = first["id"] if targets[0].status == "failed" else second["id"]
    attempts = await env.attempts(post_id)
    assert [(a.outcome, a.message) for a in attempts] == [("failed", CREDENTIALS_UNREADABLE)]
    channel = await env.channel(ch["id"])
    assert channel.status == "needs_reauth" and channel.status_reason == CREDENTIALS_UNREADABLE
    assert await env.published_at_fake("vk") == []


async def test_a_recovered_lease_fails_with_the_sentence_instead_of_crashing(env: Env, api: httpx.AsyncClient) -> None:
    ch = await make_channel(api, "vk")
    post = await queue(api, ch["id"], "in flight when the process died")
    await env.arm("vk", method="wall.post", count=1, kind="latency", delay=30)
    env.clock.advance(1)
    crashed = env.runner()
    await crashed.dispatch_once()
    await asyncio.sleep(0.5)
    for task in list(crashed.inflight.values()):  # the process dies mid-send: the lease stays behind
        task.cancel()
    await asyncio.gather(*list(crashed.inflight.values()), return_exceptions=True)
    assert (await env.target(post["id"])).status == "publishing"

    env.clock.advance(env.settings.claim_lease + 5)
    runner = other_key_runner(env)
    assert await runner.sweep() == 1
    await drain(runner)
    target = await env.target(post["id"])
    assert target.status == "failed" and (target.last_error or "").startswith(CREDENTIALS_UNREADABLE)
    assert "cannot be checked" in (target.last_error or "")
    assert (await env.channel(ch["id"])).status == "needs_reauth"
