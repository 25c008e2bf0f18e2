"""What every browser test module shares: Debian's Chromium driven by Playwright, and the real service
(``smm serve``) with the sandbox on, a known API key and the safety tick out of the way (``SMM_SAFETY_TICK=3600``,
so it cannot hide a missing wake-up), on the suite's backend (a database of its own on PostgreSQL).

A module calls ``skip_without_chromium()`` before importing Playwright's names, then builds its module-scoped
fixtures from ``sandbox_service`` and ``chromium``."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import BACKEND, PG_SERVER, SECRET_KEY, _pg_admin
from tests.served import Served, serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"


def skip_without_chromium() -> None:
    """Skip the calling module when Debian's Chromium is not installed (Playwright never downloads one here)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); browser tests skipped",
                    allow_module_level=True)


def pg_admin(sql: str) -> None:
    """Run a PostgreSQL admin statement on a thread of its own (an event loop may be running in this one)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _pg_admin(sql)).result()


@contextmanager
def sandbox_service(data: Path, key: str, **env: str) -> Iterator[Served]:
    """``smm serve`` on a free port with its data in ``data``, ``key`` as the bootstrap API key (``api`` sends
    it), the sandbox platforms on and the safety tick at an hour; ``env`` adds or overrides settings."""
    pg_name = f"smm_browser_{uuid.uuid4().hex[:10]}" if BACKEND == "postgres" else None
    if pg_name:
        pg_admin(f'CREATE DATABASE "{pg_name}"')
    db_url = f"{PG_SERVER}/{pg_name}" if pg_name else f"sqlite+aiosqlite:///{data / 'smm.db'}"
    full = {**{k: v for k, v in os.environ.items() if not k.startswith("SMM_")}, "SMM_SANDBOX": "1",
            "SMM_DATA_DIR": str(data), "SMM_DATABASE_URL": db_url, "SMM_BOOTSTRAP_API_KEY": key,
            "SMM_SECRET_KEY": SECRET_KEY, "SMM_HOST": "127.0.0.1", "SMM_LOG_LEVEL": "WARNING",
            "SMM_SAFETY_TICK": "3600", **env}
    running = None
    try:
        running = serve(full, data / "server.log")
        running.api.headers["Authorization"] = f"Bearer {key}"
        yield running
    finally:
        if running is not None:
            running.stop()
        if pg_name:
            pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium with the flags this machine needs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
