"""Analyzer API helpers: CSV writers for planted histories, and the app wired to the fake VK and Instagram."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from app.analytics import service as analytics_service
from app.config import Settings
from app.platforms import ConnectorHub
from connectors.instagram.fake import create_app as instagram_fake
from connectors.vk.fake import create_app as vk_fake
from tests.conftest import API_KEY

FAKE_HOSTS = {"vk": "http://vk.fake", "instagram": "http://instagram.fake"}
HEADER = "posted_at,likes,comments,shares,views,reach,followers,external_id,kind"


@pytest.fixture(autouse=True)
def _fresh_fit_cache() -> None:
    analytics_service._fits.clear()


def planted_rows(n: int, tz: str, *, peak: tuple[int, int] | None, seed: int = 7, weeks: int = 30,
                 end: datetime | None = None, lift: float = 0.7) -> list[dict[str, Any]]:
    """``n`` posts spread evenly over daytime cells (8–22 h local) of the last ``weeks`` weeks; a post in the
    ``peak`` (weekday, hour) cell earns ``exp(lift)`` times as much, its hour neighbours half that lift
    (no effect if ``peak`` is None)."""
    rng = np.random.default_rng(seed)
    zone = ZoneInfo(tz)
    end = end or datetime.now(UTC) - timedelta(days=5)
    rows = []
    for i in range(n):
        day = end - timedelta(days=int(rng.integers(0, weeks * 7)))
        local = day.astimezone(zone).replace(hour=int(rng.integers(8, 23)), minute=int(rng.integers(0, 60)))
        boost = 0.0
        if peak is not None and local.weekday() == peak[0]:
            boost = {0: lift, 1: lift / 2}.get(abs(local.hour - peak[1]), 0.0)
        reach = int(rng.integers(2500, 3500))
        likes = int(rng.poisson(reach * 0.03 * np.exp(boost + rng.normal(0, 0.1))))
        rows.append({"posted_at": local.isoformat(), "likes": likes, "comments": int(rng.poisson(2)), "shares": 1,
                     "views": reach * 2, "reach": reach, "followers": 20000, "external_id": f"p{i}", "kind": "photo"})
    return rows


def to_csv(rows: list[dict[str, Any]], header: str = HEADER) -> bytes:
    out = io.StringIO()
    out.write(header + "\n")
    for r in rows:
        out.write(",".join("" if r.get(c) is None else str(r.get(c)) for c in header.split(",")) + "\n")
    return out.getvalue().encode()


async def upload(client: httpx.AsyncClient, channel_id: str, body: bytes,
                 content_type: str = "text/csv") -> httpx.Response:
    return await client.post(f"/api/v1/channels/{channel_id}/engagement", content=body,
                             headers={"Content-Type": content_type})


@dataclass
class Fakes:
    """The API client of an app whose connectors reach the fake VK and Instagram over httpx mounts."""

    client: httpx.AsyncClient
    app: FastAPI
    vk: FastAPI
    instagram: FastAPI


@pytest.fixture
async def fakes(settings: Settings) -> AsyncIterator[Fakes]:
    from app.main import create_app

    vk, ig = vk_fake(sandbox=False), instagram_fake(sandbox=False)
    settings = settings.model_copy(update={"vk_api_base": FAKE_HOSTS["vk"],
                                           "instagram_api_base": FAKE_HOSTS["instagram"]})
    mounts = {FAKE_HOSTS["vk"]: httpx.ASGITransport(app=vk), FAKE_HOSTS["instagram"]: httpx.ASGITransport(app=ig)}
    application = create_app(settings, run_scheduler=False)
    async with application.router.lifespan_context(application), httpx.AsyncClient(mounts=mounts) as http:
        application.state.hub = ConnectorHub(settings, http)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                     headers={"Authorization": f"Bearer {API_KEY}"}) as c:
            yield Fakes(c, application, vk, ig)
