"""Real processes against a real database and a fake platform on loopback: exactly once, crash safety, on time."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.db import make_engine, make_sessionmaker, session_scope
from app.models import Attempt, Channel, Post, Target
from app.publishing.runner import PublisherRunner
from app.security import CredentialBox
from app.workspaces.service import DEFAULT_WORKSPACE, ensure_workspace
from connectors.fakekit import FaultSpec, serve_in_thread
from connectors.telegram.fake import create_app as telegram_fake
from connectors.vk.fake import create_app as vk_fake
from tests.conftest import BACKEND, SECRET_KEY

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


async def seed(settings: Settings, platform: str, channels: int, per_channel: int, due: datetime) -> list[str]:
    """Channels and scheduled posts straight into the database (fast); returns the post texts. A bot per
    channel: one bot's ~30 messages/s is split between the workers, and these bursts are about the workers."""
    box = CredentialBox(SECRET_KEY)
    engine = make_engine(settings)
    texts: list[str] = []
    async with session_scope(make_sessionmaker(engine)) as s:
        ws = await ensure_workspace(s, DEFAULT_WORKSPACE)
        for c in range(channels):
            creds = (
                {"bot_token": f"{123456789 + c}:AAEabcdefghijklmnopqrstuvwxyz012345", "chat_id": f"-100{7000 + c}"}
                if platform == "telegram"
                else {"access_token": f"vk1.a.abcdefghijklmnopqrstuvwxyz{c}", "owner_id": str(-(5000 + c))}
            )
            ch = Channel(
                workspace_id=ws.id,
                platform=platform,
                name=f"c{c}",
                timezone="UTC",
                credentials_sealed=box.seal(creds),
                account={},
            )
            s.add(ch)
            await s.flush()
            for i in range(per_channel):
                at = due + timedelta(milliseconds=(c * per_channel + i) % 2000)
                text = f"{platform}-{c}-{i}"
                p = Post(workspace_id=ws.id, text=text, media=[], options={}, scheduled_at=at, order_at=at)
                s.add(p)
                await s.flush()
                s.add(Target(post_id=p.id, channel_id=ch.id, order_at=at, status="scheduled", next_attempt_at=at,
                             overrides={}))
                texts.append(text)
    await engine.dispose()
    return texts


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMM_")}
    env.update(
        {
            "SMM_DATABASE_URL": settings.effective_database_url,
            "SMM_SECRET_KEY": SECRET_KEY,
            "SMM_DATA_DIR": str(settings.data_dir),
            "SMM_CLAIM_LEASE": "4",
            "SMM_SAFETY_TICK": "2",
            "SMM_LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra)
    return env


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = open(Path(env["SMM_DATA_DIR"]) / f"worker-{time.monotonic_ns()}.log", "wb")
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )


def worker_logs(settings: Settings) -> str:
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(settings.data_dir.glob("worker-*.log")))


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)


async def counts(settings: Settings) -> dict[str, int]:
    engine = make_engine(settings)
    async with make_sessionmaker(engine)() as s:
        rows = (await s.execute(select(Target.status, func.count()).group_by(Target.status))).all()
    await engine.dispose()
    return {status: n for status, n in rows}


async def wait_settled(settings: Settings, total: int, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        c = await counts(settings)
        if c.get("published", 0) + c.get("needs_check", 0) + c.get("failed", 0) >= total:
            return c
        if time.monotonic() > deadline:
            return c
        await asyncio.sleep(0.5)


def published_texts(base: str) -> list[str]:
    items = httpx.get(f"{base}/_control/published", timeout=10).json()
    return [str(i["text"]) for i in items]


@pytest.mark.skipif(BACKEND != "postgres", reason="several workers share one database only on PostgreSQL")
async def test_three_workers_publish_2000_targets_exactly_once(settings: Settings, procs: list[Any]) -> None:
    texts = await seed(settings, "telegram", channels=400, per_channel=5, due=datetime.now(UTC) + timedelta(seconds=4))
    with serve_in_thread(telegram_fake(sandbox=True)) as base:
        env = worker_env(settings, SMM_TELEGRAM_API_BASE=base)
        procs.extend(start_worker(env) for _ in range(3))
        c = await wait_settled(settings, len(texts), timeout=150)
        sent = published_texts(base)
    assert c == {"published": len(texts)}, c
    dupes = [t for t, n in Counter(sent).items() if n > 1]
    assert dupes == [] and sorted(sent) == sorted(texts)
    engine = make_engine(settings)
    async with make_sessionmaker(engine)() as s:
        workers_used = (await s.execute(select(func.count(func.distinct(Attempt.worker))))).scalar_one()
    await engine.dispose()
    assert workers_used == 3  # the load really was shared


async def test_sigkill_mid_burst_loses_nothing_and_duplicates_nothing(settings: Settings, procs: list[Any]) -> None:
    due = datetime.now(UTC) + timedelta(seconds=3)
    vk_texts = await seed(settings, "vk", channels=60, per_channel=4, due=due)
    tg_texts = await seed(settings, "telegram", channels=60, per_channel=4, due=due)
    vk_app, tg_app = vk_fake(sandbox=True), telegram_fake(sandbox=True)
    for fake in (vk_app, tg_app):  # slow platforms, so that a kill lands while sends are in flight
        fake.state.faults.arm(FaultSpec(method="*", count=100_000, kind="latency", delay=0.15))
    with serve_in_thread(vk_app) as vk_base, serve_in_thread(tg_app) as tg_base:
        env = worker_env(settings, SMM_VK_API_BASE=vk_base, SMM_TELEGRAM_API_BASE=tg_base)
        n_workers = 2 if BACKEND == "postgres" else 1
        procs.extend(start_worker(env) for _ in range(n_workers))
        total = len(vk_texts) + len(tg_texts)
        deadline = time.monotonic() + 60
        while (await counts(settings)).get("published", 0) < total // 5:
            assert time.monotonic() < deadline, f"publishing never started: {await counts(settings)}\n" + worker_logs(
                settings
            )
            await asyncio.sleep(0.05)
        victim = procs[0]
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        procs.append(start_worker(env))  # the restart
        c = await wait_settled(settings, total, timeout=120)
        vk_sent, tg_sent = published_texts(vk_base), published_texts(tg_base)
    assert c.get("scheduled", 0) == 0 and c.get("publishing", 0) == 0 and c.get("failed", 0) == 0, c
    # the idempotent platform: everything exactly once, and nothing left for a person
    assert sorted(vk_sent) == sorted(vk_texts)
    # Telegram cannot tell: never a duplicate; what was in flight at the kill is needs_check, the rest published
    assert [t for t, n in Counter(tg_sent).items() if n > 1] == []
    engine = make_engine(settings)
    async with make_sessionmaker(engine)() as s:
        rows = (await s.execute(select(Post.text, Target.status).join(Target, Target.post_id == Post.id))).all()
    await engine.dispose()
    by_text = dict(rows)
    assert all(by_text[t] == "published" for t in vk_texts)
    assert all(by_text[t] in ("published", "needs_check") for t in tg_texts)
    assert all(t in tg_sent for t in tg_texts if by_text[t] == "published")  # published means it is there


async def test_on_time_within_a_second(settings: Settings) -> None:
    """An idle runner hands a target to its connector within a second of scheduled_at (a date job, no polling)."""
    engine = make_engine(settings)
    maker = make_sessionmaker(engine)
    with serve_in_thread(telegram_fake(sandbox=True)) as base:
        s2 = settings.model_copy(update={"telegram_api_base": base, "safety_tick": 3600.0})
        async with httpx.AsyncClient() as http:
            from app.platforms import ConnectorHub

            runner = PublisherRunner(s2, maker, ConnectorHub(s2, http), CredentialBox(SECRET_KEY), "test")
            await runner.start()
            try:
                due = datetime.now(UTC) + timedelta(seconds=2)
                await seed(settings, "telegram", channels=3, per_channel=1, due=due)
                runner.notify()  # what the API does after a create
                deadline = time.monotonic() + 10
                while (await counts(settings)).get("published", 0) < 3 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
            finally:
                await runner.stop()
    async with maker() as s:
        rows = (
            await s.execute(
                select(Attempt.started_at, Post.scheduled_at)
                .join(Target, Target.id == Attempt.target_id)
                .join(Post, Post.id == Target.post_id)
            )
        ).all()
    await engine.dispose()
    assert len(rows) == 3
    lateness = [(started - scheduled).total_seconds() for started, scheduled in rows]
    assert all(-0.01 <= x < 1.0 for x in lateness), lateness


async def test_sigterm_finishes_in_flight_and_releases_the_rest(settings: Settings, procs: list[Any]) -> None:
    texts = await seed(settings, "telegram", channels=40, per_channel=3, due=datetime.now(UTC) + timedelta(seconds=2))
    tg_app = telegram_fake(sandbox=True)
    tg_app.state.faults.arm(FaultSpec(method="*", count=100_000, kind="latency", delay=0.4))
    with serve_in_thread(tg_app) as base:
        env = worker_env(settings, SMM_TELEGRAM_API_BASE=base, SMM_SHUTDOWN_GRACE="5")
        worker = start_worker(env)
        procs.append(worker)
        deadline = time.monotonic() + 60
        while (await counts(settings)).get("published", 0) < 10:
            assert time.monotonic() < deadline, worker_logs(settings)
            await asyncio.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
        after_stop = await counts(settings)
        assert after_stop.get("publishing", 0) == 0 and after_stop.get("needs_check", 0) == 0, after_stop
        procs.append(start_worker(env))
        c = await wait_settled(settings, len(texts), timeout=90)
        sent = published_texts(base)
    assert c == {"published": len(texts)}, c
    assert sorted(sent) == sorted(texts)  # nothing lost, nothing twice
