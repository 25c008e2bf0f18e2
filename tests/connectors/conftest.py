"""Fixtures shared by every connector's tests: in-process clients on a fake app, a fake clock, fault arming.

Platform-neutral on purpose (Telegram, VK, Facebook and Instagram tests use them)::

    async def test_x(fake_client, arm_fault):
        app = create_app()
        client = fake_client(app)                      # httpx.AsyncClient on httpx.ASGITransport(app)
        await arm_fault(client, "sendMessage", status=429, body={...})
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from connectors.pacing import Pacer

FAKE_BASE_URL = "http://fake.test"
FakeClientFactory = Callable[..., httpx.AsyncClient]
ArmFault = Callable[..., Awaitable[None]]


class FakeClock:
    """A clock for pacers and fakes: ``sleep`` moves time forward instead of waiting.

    ``clock.now`` starts at 2026-01-01T00:00:00Z, so it also serves as a wall clock (``time.time`` stand-in).
    ``sleeps`` records every requested delay.
    """

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake_pacer(fake_clock: FakeClock) -> Pacer:
    """A fresh pacer on the fake clock (never shares slots with the class-level pacer)."""
    return Pacer(clock=fake_clock, sleep=fake_clock.sleep)


@pytest.fixture
async def fake_client() -> AsyncIterator[FakeClientFactory]:
    """``fake_client(app, base_url=..., **kwargs)`` -> an ``httpx.AsyncClient`` on ``app``, in-process."""
    clients: list[httpx.AsyncClient] = []

    def make(app: FastAPI, base_url: str = FAKE_BASE_URL, **kwargs: Any) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def arm_fault() -> ArmFault:
    """``await arm_fault(client, method, kind="error", status=..., body=..., count=1, prefix="")``."""

    async def arm(client: httpx.AsyncClient, method: str, *, prefix: str = "", **spec: Any) -> None:
        response = await client.post(f"{prefix}/_control/faults", json={"method": method, **spec})
        assert response.status_code == 200, response.text

    return arm
