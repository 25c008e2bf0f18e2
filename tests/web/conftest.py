"""Fixtures of the web UI tests: the app with the sandbox on, signed-in and anonymous browsers-in-process."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from app.config import Settings
from app.models import Workspace
from tests.conftest import API_KEY, make_settings

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The shared settings with the sandbox switched on (sandbox channels, the /sandbox page)."""
    return make_settings(database_url, tmp_path, sandbox=True)


def csrf_of(html: str) -> str:
    """The first CSRF token on a page."""
    match = CSRF_RE.search(html)
    assert match, "no csrf_token on the page"
    return match.group(1)


@pytest.fixture
async def browser(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client that does not follow redirects (so tests see them)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def sign_in(client: httpx.AsyncClient, key: str = API_KEY) -> httpx.Response:
    """Sign in through the form, the way a person does."""
    page = await client.get("/login")
    return await client.post("/login", data={"api_key": key, "csrf_token": csrf_of(page.text)})


@pytest.fixture
async def web(browser: httpx.AsyncClient) -> httpx.AsyncClient:
    """A signed-in browser."""
    r = await sign_in(browser)
    assert r.status_code == 303, r.text
    return browser


async def set_workspace(app: Any, **values: Any) -> None:
    """Change the (only) workspace, e.g. its timezone or country."""
    async with app.state.sessionmaker() as session:
        await session.execute(update(Workspace).values(**values))
        await session.commit()
