"""Publisher test harness: the real database, the fake platforms over httpx, a runner with a settable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import make_engine, make_sessionmaker, session_scope
from app.models import Attempt, Channel, Target
from app.platforms import ConnectorHub
from app.publishing.runner import PublisherRunner
from app.security import CredentialBox
from connectors.facebook.fake import create_app as facebook_fake
from connectors.instagram.fake import create_app as instagram_fake
from connectors.telegram.fake import create_app as telegram_fake
from connectors.vk.fake import create_app as vk_fake
from tests.conftest import SECRET_KEY

FAKE_HOSTS = {
    "telegram": "http://telegram.fake",
    "vk": "http://vk.fake",
    "facebook": "http://facebook.fake",
    "instagram": "http://instagram.fake",
}


@dataclass
class Clock:
    """Real time plus an offset the test moves by hand (``advance``): posts queued "now" are due at once, and
    waiting for a retry_after or a back-off takes no real time."""

    offset: timedelta = field(default_factory=timedelta)

    @property
    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@dataclass
class Env:
    settings: Settings
    maker: async_sessionmaker[AsyncSession]
    box: CredentialBox
    hub: ConnectorHub
    fakes: dict[str, FastAPI]
    http: httpx.AsyncClient
    clock: Clock
    runners: list[PublisherRunner] = field(default_factory=list)

    def runner(self, clock: Callable[[], datetime] | None = None, **overrides: Any) -> PublisherRunner:
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        r = PublisherRunner(settings, self.maker, self.hub, self.box, "test", clock=clock or self.clock)
        self.runners.append(r)
        return r

    async def fake_get(self, platform: str, path: str) -> Any:
        return (await self.http.get(f"{FAKE_HOSTS[platform]}{path}")).json()

    async def published_at_fake(self, platform: str) -> list[dict[str, Any]]:
        return list(await self.fake_get(platform, "/_control/published"))

    async def arm(self, platform: str, **fault: Any) -> None:
        r = await self.http.post(f"{FAKE_HOSTS[platform]}/_control/faults", json=fault)
        assert r.status_code == 200, r.text

    async def target(self, post_id: str) -> Target:
        async with self.maker() as s:
            return (await s.execute(select(Target).where(Target.post_id == post_id))).scalar_one()

    async def attempts(self, post_id: str) -> list[Attempt]:
        async with self.maker() as s:
            stmt = (
                select(Attempt)
                .join(Target, Target.id == Attempt.target_id)
                .where(Target.post_id == post_id)
                .order_by(Attempt.started_at)
            )
            return list((await s.execute(stmt)).scalars())

    async def channel(self, channel_id: str) -> Channel:
        async with self.maker() as s:
            ch = await s.get(Channel, channel_id)
            assert ch is not None
            return ch


async def drain(runner: PublisherRunner) -> None:
    """Wait for every send the runner started (and the ones those freed up)."""
    import asyncio

    for _ in range(100):
        if not runner.inflight:
            return
        await asyncio.gather(*list(runner.inflight.values()), return_exceptions=True)
    raise AssertionError("runner did not drain")


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    fakes = {
        "telegram": telegram_fake(sandbox=True),
        "vk": vk_fake(sandbox=True),
        "facebook": facebook_fake(sandbox=True),
        "instagram": instagram_fake(sandbox=True),
    }
    mounts = {f"{FAKE_HOSTS[p]}": httpx.ASGITransport(app=a) for p, a in fakes.items()}
    settings = settings.model_copy(
        update={
            "telegram_api_base": FAKE_HOSTS["telegram"],
            "vk_api_base": FAKE_HOSTS["vk"],
            "facebook_api_base": FAKE_HOSTS["facebook"],
            "instagram_api_base": FAKE_HOSTS["instagram"],
            "retry_base_delay": 2.0,
        }
    )
    engine = make_engine(settings)
    async with httpx.AsyncClient(mounts=mounts, timeout=5) as http:
        e = Env(
            settings=settings,
            maker=make_sessionmaker(engine),
            box=CredentialBox(SECRET_KEY),
            hub=ConnectorHub(settings, http),
            fakes=fakes,
            http=http,
            clock=Clock(),
        )
        async with session_scope(e.maker):
            pass
        yield e
        for r in e.runners:
            if r.scheduler.running or r._loop_task is not None:
                await r.stop()
    await engine.dispose()


@pytest.fixture
async def api(env: Env) -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP API over the same database (no scheduler of its own)."""
    from app.main import create_app
    from tests.conftest import API_KEY

    application = create_app(env.settings, run_scheduler=False)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers={"Authorization": f"Bearer {API_KEY}"}
        ) as c:
            yield c
