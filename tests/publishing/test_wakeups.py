"""The dispatcher's wake-up for channels that were passed over while their platform's pacing runs."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.platforms import ConnectorHub
from app.publishing.runner import PublisherRunner
from app.security import CredentialBox
from tests.conftest import SECRET_KEY


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_wake_after_cooling_fires_once_for_the_earliest(settings: Settings, loop: str) -> None:
    """Re-arming keeps the earliest wake-up; a cooling time already past still wakes (on uvloop such a timer is
    a plain Handle without ``when()``, which once made every dispatch fail)."""
    factory = asyncio.new_event_loop
    if loop == "uvloop":
        factory = pytest.importorskip("uvloop").new_event_loop

    async def main() -> int:
        runner = PublisherRunner(settings, make_sessionmaker(make_engine(settings)),
                                 ConnectorHub(settings, httpx.AsyncClient()), CredentialBox(SECRET_KEY), "test")
        wakes = 0

        def count() -> None:
            nonlocal wakes
            wakes += 1

        runner.notify = count  # type: ignore[method-assign]
        now = asyncio.get_running_loop().time()
        runner.cooling = {"a": now - 0.5}  # already over: wake at once
        runner._wake_after_cooling()
        runner._wake_after_cooling()  # already pending: not twice
        runner.cooling = {"a": now + 0.05}
        runner._wake_after_cooling()  # a later time does not push back the pending one
        await asyncio.sleep(0.01)
        assert wakes == 1
        runner._wake_after_cooling()  # the next one, now that the first has fired
        runner.cooling = {"a": now + 0.05, "b": now + 5}
        runner._wake_after_cooling()
        await asyncio.sleep(0.2)
        return wakes

    with asyncio.Runner(loop_factory=factory) as r:
        assert r.run(main()) == 2  # the past one, once, and the one at +50 ms; not yet the one at +5 s
