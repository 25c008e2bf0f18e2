"""Group commit: concurrent sends write their outcomes in shared transactions, and one bad write fails alone."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Attempt, Channel, Target
from app.publishing.writes import GroupCommit
from tests.conftest import make_channel
from tests.publishing.conftest import Env, drain


def own_bot(i: int) -> dict[str, str]:
    """A bot and chat of its own (the connector paces sends per chat and per bot)."""
    return {"bot_token": f"{700000 + i}:AAE{i:032d}", "chat_id": f"@chat{i}"}


async def test_concurrent_sends_share_commits(env: Env, api: httpx.AsyncClient) -> None:
    channels = [await make_channel(api, "telegram", name=f"tg{i}", credentials=own_bot(i)) for i in range(24)]
    for ch in channels:
        r = await api.post("/api/v1/posts", json={"text": f"to {ch['name']}", "channel_ids": [ch["id"]],
                                                  "scheduled_at": "now"})
        assert r.status_code == 201, r.text
    env.clock.advance(1)
    runner = env.runner()
    assert await runner.dispatch_once() == 24
    await drain(runner)
    writes = runner.publisher.writes
    assert writes.ops == 24 and writes.splits == 0
    assert writes.batches < 24  # outcomes that finished together were committed together
    async with env.maker() as s:
        statuses = (await s.execute(select(Target.status, Target.attempts, Target.lease_owner))).all()
        attempts = (await s.execute(select(func.count()).select_from(Attempt).where(Attempt.outcome == "published")))
        assert attempts.scalar_one() == 24
    assert statuses and all(st == ("published", 1, None) for st in statuses)
    assert len(await env.published_at_fake("telegram")) == 24


async def test_a_failing_write_fails_alone(env: Env, api: httpx.AsyncClient) -> None:
    ids = [(await make_channel(api, "telegram", name=f"c{i}"))["id"] for i in range(3)]
    writes = GroupCommit(env.maker)

    def rename(channel_id: str, name: str, fail: bool = False):  # type: ignore[no-untyped-def]
        async def op(s: AsyncSession) -> str:
            await s.execute(update(Channel).where(Channel.id == channel_id).values(name=name))
            if fail:
                raise ValueError("this write is broken")
            return name

        return op

    results = await asyncio.gather(
        writes.run(rename(ids[0], "first")),
        writes.run(rename(ids[1], "second", fail=True)),
        writes.run(rename(ids[2], "third")),
        return_exceptions=True,
    )
    await writes.close()
    assert writes.splits == 1
    assert results[0] == "first" and results[2] == "third"
    assert isinstance(results[1], ValueError)
    async with env.maker() as s:
        names = dict((await s.execute(select(Channel.id, Channel.name).where(Channel.id.in_(ids)))).all())
    assert names == {ids[0]: "first", ids[1]: "c1", ids[2]: "third"}


async def test_close_writes_what_is_queued(env: Env, api: httpx.AsyncClient) -> None:
    ch = await make_channel(api, "telegram", name="before")
    writes = GroupCommit(env.maker)

    async def op(s: AsyncSession) -> None:
        await s.execute(update(Channel).where(Channel.id == ch["id"]).values(name="after"))

    task = asyncio.create_task(writes.run(op))
    await asyncio.sleep(0)
    await writes.close()
    await task
    assert (await env.channel(ch["id"])).name == "after"


async def test_close_finishes_the_batch_being_written(env: Env, api: httpx.AsyncClient) -> None:
    ch = await make_channel(api, "telegram", name="before")
    writes = GroupCommit(env.maker)
    started = asyncio.Event()

    async def slow(s: AsyncSession) -> None:
        await s.execute(update(Channel).where(Channel.id == ch["id"]).values(name="after"))
        started.set()
        await asyncio.sleep(0.2)  # still inside the transaction when close() comes

    task = asyncio.create_task(writes.run(slow))
    await started.wait()
    await writes.close()
    await task
    assert (await env.channel(ch["id"])).name == "after"


@pytest.mark.parametrize("status", ["publishing", "needs_check"])
async def test_confirmed_send_wins_after_the_lease_was_lost(env: Env, api: httpx.AsyncClient, status: str) -> None:
    """A send the platform confirmed is recorded even if recovery took the target meanwhile."""
    ch = await make_channel(api, "vk")
    r = await api.post("/api/v1/posts", json={"text": "slow", "channel_ids": [ch["id"]], "scheduled_at": "now"})
    post_id = r.json()["id"]
    await env.arm("vk", method="wall.post", count=1, kind="latency", delay=1.0)
    env.clock.advance(1)
    runner = env.runner()
    await runner.dispatch_once()
    async with env.maker() as s, s.begin():  # recovery took it over while the send was on its way
        await s.execute(update(Target).where(Target.post_id == post_id).values(lease_owner="someone-else",
                                                                                status=status))
    await drain(runner)
    t = await env.target(post_id)
    assert t.status == "published" and t.external_id and t.lease_owner is None
