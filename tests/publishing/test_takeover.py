"""Liveness, in one process on a hand-moved clock: the claims of a worker whose heartbeat is stale go to the
sweeper long before their lease ends; a live worker's claims, and a claim its owner lost track of, are judged
on their own."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import update

from app.models import Target, Worker
from tests.conftest import make_channel
from tests.publishing.conftest import Env, drain
from tests.publishing.test_outcomes import queue


async def in_flight_then_dead(env: Env, api: httpx.AsyncClient, n: int) -> tuple[list[str], str]:
    """``n`` VK posts claimed by a runner that then dies mid-send (its tasks cancelled, nothing released);
    returns the post ids and the dead runner's owner id."""
    posts = []
    for i in range(n):
        ch = await make_channel(api, "vk", credentials={"access_token": "vk1.a.abcdefghijklmnopqrstuvwxyz",
                                                          "owner_id": -(4000 + i)})
        posts.append((await queue(api, ch["id"], f"post {i}"))["id"])
    await env.arm("vk", method="wall.post", count=n, kind="latency", delay=3)
    env.clock.advance(1)
    dead = env.runner()
    await dead.heartbeat()
    assert await dead.dispatch_once() == n
    await asyncio.sleep(0.3)
    for task in list(dead.inflight.values()):
        task.cancel()
    await asyncio.gather(*list(dead.inflight.values()), return_exceptions=True)
    for post_id in posts:
        assert (await env.target(post_id)).status == "publishing"
    return posts, dead.owner


async def test_a_stale_heartbeat_hands_the_claims_over_a_live_one_keeps_them(env: Env, api: httpx.AsyncClient) -> None:
    (mine, theirs), dead_owner = await in_flight_then_dead(env, api, 2)
    async with env.maker() as s:  # the second claim belongs to a worker that is alive and well
        s.add(Worker(id="live-worker", hostname="h", pid=1, kind="worker", started_at=env.clock.now,
                     heartbeat_at=env.clock.now))
        await s.execute(update(Target).where(Target.post_id == theirs).values(lease_owner="live-worker"))
        await s.commit()
    rescuer = env.runner()
    env.clock.advance(env.settings.worker_dead_after / 2)
    assert await rescuer.sweep() == 0  # a heartbeat a few seconds old is no death

    env.clock.advance(env.settings.worker_dead_after)  # well inside the 60 s lease
    async with env.maker() as s:
        await s.execute(update(Worker).where(Worker.id == "live-worker").values(heartbeat_at=env.clock.now))
        await s.commit()
    assert env.clock.now < (await env.target(mine)).lease_expires_at  # type: ignore[operator]
    assert await rescuer.sweep() == 1
    await drain(rescuer)
    await rescuer.dispatch_once()  # the resend, queued at once
    await drain(rescuer)
    # reconciled by the VK rules: the guid check, then (nothing there yet) one resend under the same guid
    target = await env.target(mine)
    assert target.status == "published" and target.lease_owner is None
    assert [p["text"] for p in await env.published_at_fake("vk")] == ["post 0"]
    other = await env.target(theirs)
    assert other.status == "publishing" and other.lease_owner == "live-worker"
    assert dead_owner != rescuer.owner


async def test_a_claim_its_own_worker_lost_track_of_is_recovered(env: Env, api: httpx.AsyncClient) -> None:
    """A claim whose commit answer was lost (the database restarted): leased to a live worker that is not
    sending it. That worker's own sweeper settles it after a few seconds, not after the lease."""
    (post_id,), owner = await in_flight_then_dead(env, api, 1)
    alive = env.runner()
    alive.owner = alive.publisher.owner = owner  # the same process, carrying on after the lost answer
    alive.worker.id = owner
    assert await alive.sweep() == 0  # it only just changed: maybe a claim in progress
    env.clock.advance(6)
    await alive.heartbeat()
    assert await alive.sweep() == 1
    await drain(alive)
    await alive.dispatch_once()
    await drain(alive)
    assert (await env.target(post_id)).status == "published"


async def test_a_lost_answer_to_the_check_is_asked_again_not_left_to_a_person(env: Env,
                                                                              api: httpx.AsyncClient) -> None:
    """VK can tell (guid): when the answer to ``wall.get`` itself is lost, the publisher asks again later rather
    than calling it ``needs_check`` (only a platform that cannot tell, like Telegram, leaves it to a person)."""
    ch = await make_channel(api, "vk")
    post = await queue(api, ch["id"], "VK checked twice")
    await env.arm("vk", method="wall.post", count=1, kind="lost_response")
    await env.arm("vk", method="wall.get", count=1, kind="lost_response")
    env.clock.advance(1)
    runner = env.runner()
    await runner.dispatch_once()
    await drain(runner)
    target = await env.target(post["id"])
    assert target.status == "publishing" and target.lease_owner is None  # waiting for the next check
    env.clock.advance(10)
    assert await runner.sweep() == 1
    await drain(runner)
    target = await env.target(post["id"])
    assert target.status == "published"
    assert len(await env.published_at_fake("vk")) == 1


async def test_a_tokens_budget_is_split_between_the_live_workers(env: Env) -> None:
    """Per-token (and per-minute) rules are shared: with two live workers each keeps half of the budget, so
    together they stay within it; a dead worker's share comes back."""
    from connectors.pacing import Pacer, Rule

    async with env.maker() as s:
        s.add(Worker(id="other-worker", hostname="h", pid=2, kind="worker", started_at=env.clock.now,
                     heartbeat_at=env.clock.now))
        await s.commit()
    runner = env.runner()
    t = [0.0]
    pacer = Pacer(clock=lambda: t[0])
    budget, spacing = Rule.budget("token", 1, 1 / 30), Rule.every("chat", 1.0)
    try:
        await runner.heartbeat()
        assert Pacer.senders == 2
        assert [pacer.reserve(budget) for _ in range(3)] == pytest.approx([0, 2 / 30, 4 / 30])
        assert [pacer.reserve(spacing) for _ in range(2)] == [0, 1.0]  # per chat: the claim's job, not split
        env.clock.advance(env.settings.worker_dead_after + 1)  # the other worker died
        await runner.heartbeat()
        assert Pacer.senders == 1
    finally:
        Pacer.set_senders(1)
