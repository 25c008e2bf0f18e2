"""The sandbox (``SMM_SANDBOX=1``): the fake platforms served by this process under ``/sandbox/<platform>``,
so that a newcomer with no accounts can connect sandbox channels and watch posts arrive."""

from __future__ import annotations

import importlib
from typing import Any

import httpx
from fastapi import FastAPI

SANDBOX_PLATFORMS = ("telegram", "vk", "facebook", "instagram")


def mount_sandbox(app: FastAPI) -> None:
    """Mount each platform's fake (``connectors/<platform>/fake.py``) in sandbox mode."""
    fakes: dict[str, FastAPI] = {}
    for platform in SANDBOX_PLATFORMS:
        module = importlib.import_module(f"connectors.{platform}.fake")
        fake_app: FastAPI = module.create_app(sandbox=True, lost_response_mode="hang")
        app.mount(f"/sandbox/{platform}", fake_app)
        fakes[platform] = fake_app
    app.state.sandbox_fakes = fakes


async def received(app: FastAPI, platform: str) -> list[dict[str, Any]]:
    """What the sandbox ``platform`` holds as published (newest first), read through its control API."""
    fake_app = app.state.sandbox_fakes[platform]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake_app), base_url="http://sandbox") as client:
        items: list[dict[str, Any]] = (await client.get("/_control/published")).json()
    return sorted(items, key=lambda i: str(i.get("date", "")), reverse=True)
