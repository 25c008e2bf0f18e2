"""Every entry point that makes a post due wakes the publisher at once (issue 11, point 1).

One real ``smm serve`` (sandbox fakes, ``SMM_SAFETY_TICK=3600``) serves the module; each test makes a "now" post
due through one entry point and needs it published within 10 s. Before the single wake-up path
(``app/publishing/wakeup.py``), the web form, the web retry, a re-activated channel and ``smm posts add`` beside the
server waited for the safety tick (here an hour). On PostgreSQL the CLI's wake-up is a NOTIFY sent in its
transaction; on SQLite it is a datagram to the server's socket in ``<db>.wake/``.

Plan confirm and series creation place posts at future times (slots are hour starts, occurrences follow the rule),
so for them the test listens as a second publisher would — a socket of its own in ``<db>.wake/`` on SQLite, a
``LISTEN smm_schedule`` on PostgreSQL — and needs the wake-up sent by the server's commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from app.config import Settings
from app.publishing.wakeup import NOTIFY_CHANNEL, Receiver
from tests.conftest import API_KEY, BACKEND, _truncate, make_settings
from tests.served import Served, serve, smm, smm_env

pytestmark = pytest.mark.slow

BOUND_S = 10.0  # the bug waits for the safety tick: 3600 s
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def server(database_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Settings]]:
    data = tmp_path_factory.mktemp("wake")
    if BACKEND == "postgres":
        asyncio.run(_truncate(database_template))
        url = database_template
    else:
        shutil.copy(database_template, data / "smm.db")
        url = f"sqlite+aiosqlite:///{data / 'smm.db'}"
    settings = make_settings(url, data, sandbox=True)
    served = serve(smm_env(settings, SMM_SANDBOX="1", SMM_LOG_LEVEL="WARNING"), data / "serve.log")
    try:
        yield served, settings
    finally:
        served.stop()


def _channel(s: Served, name: str) -> str:
    r = s.api.post("/api/v1/channels", json={"platform": "telegram", "name": name, "timezone": "UTC",
                                             "sandbox": True})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _status(s: Served, post_id: str) -> str:
    return str(s.api.get(f"/api/v1/posts/{post_id}").json()["status"])


def _published_within(s: Served, post_id: str, bound: float = BOUND_S) -> None:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if _status(s, post_id) == "published":
            return
        time.sleep(0.1)
    got = s.api.get(f"/api/v1/posts/{post_id}").json()
    raise AssertionError(f"not published within {bound} s: {got['targets']}\n{s.log()[-3000:]}")


def _wait(check: Callable[[], Any], bound: float = BOUND_S) -> Any:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up after {bound} s")


@contextlib.contextmanager
def _browser(s: Served) -> Iterator[tuple[httpx.Client, str]]:
    """A signed-in browser (cookies kept) and a CSRF token of its session."""
    with httpx.Client(base_url=s.base, timeout=30) as web:
        yield _sign_in(web)


def _sign_in(web: httpx.Client) -> tuple[httpx.Client, str]:
    page = web.get("/login")
    match = CSRF_RE.search(page.text)
    assert match, page.text
    r = web.post("/login", data={"api_key": API_KEY, "csrf_token": match.group(1)})
    assert r.status_code == 303, r.text
    form = web.get("/posts/new")
    match = CSRF_RE.search(form.text)
    assert match, form.text
    return web, match.group(1)


def test_api_now(server: tuple[Served, Settings]) -> None:
    s, _ = server
    ch = _channel(s, "api")
    r = s.api.post("/api/v1/posts", json={"text": "via the API", "channel_ids": [ch], "scheduled_at": "now"})
    assert r.status_code == 201, r.text
    _published_within(s, r.json()["id"])


def test_web_form_publish_now(server: tuple[Served, Settings]) -> None:
    s, _ = server
    ch = _channel(s, "web form")
    with _browser(s) as (web, csrf):
        r = web.post("/posts/new", data={"text": "via the web form", "channel_ids": ch, "when": "now",
                                         "csrf_token": csrf})
        assert r.status_code == 303, r.text
        post_id = r.headers["location"].split("/posts/", 1)[1].split("?", 1)[0]
    _published_within(s, post_id)


def test_cli_posts_add_now_beside_the_server(server: tuple[Served, Settings]) -> None:
    s, settings = server
    ch = _channel(s, "cli")
    done = smm(smm_env(settings, SMM_SANDBOX="1"), "posts", "add", "--channel", ch, "--text", "via the CLI",
               "--at", "now", "--json", timeout=60)
    assert done.returncode == 0, done.stderr
    post_id = re.search(r'"id": "([^"]+)"', done.stdout)
    assert post_id, done.stdout
    _published_within(s, post_id.group(1))


def test_web_retry(server: tuple[Served, Settings]) -> None:
    s, _ = server
    ch = _channel(s, "retry")
    fault = {"method": "sendMessage", "count": 1, "kind": "error", "status": 400,
             "body": {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}}
    assert s.api.post("/sandbox/telegram/_control/faults", json=fault).status_code < 300
    r = s.api.post("/api/v1/posts", json={"text": "refused, then retried", "channel_ids": [ch],
                                          "scheduled_at": "now"})
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]
    _wait(lambda: _status(s, post_id) == "failed")
    with _browser(s) as (web, csrf):
        r = web.post(f"/posts/{post_id}/retry", data={"csrf_token": csrf})
        assert r.status_code == 303, r.text
    _published_within(s, post_id)


def test_channel_enabled_again(server: tuple[Served, Settings]) -> None:
    s, _ = server
    ch = _channel(s, "re-enabled")
    due = datetime.now(UTC) + timedelta(seconds=2)
    r = s.api.post("/api/v1/posts", json={"text": "waits for its channel", "channel_ids": [ch],
                                          "scheduled_at": due.isoformat()})
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]
    assert s.api.patch(f"/api/v1/channels/{ch}", json={"status": "disabled"}).status_code == 200
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 1.0)
    assert _status(s, post_id) == "scheduled"  # due, but its channel is disabled
    assert s.api.patch(f"/api/v1/channels/{ch}", json={"status": "active"}).status_code == 200
    _published_within(s, post_id)


class Listener:
    """A second publisher's ear: a socket in ``<db>.wake/`` (SQLite) or ``LISTEN smm_schedule`` (PostgreSQL)."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.effective_database_url
        self.heard = asyncio.Event()
        self._receiver: Receiver | None = None
        self._conn: Any = None

    async def __aenter__(self) -> Listener:
        if BACKEND == "postgres":
            import asyncpg

            dsn = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
            self._conn = await asyncpg.connect(dsn)
            await self._conn.add_listener(NOTIFY_CHANNEL, lambda *_: self.heard.set())
        else:
            self._receiver = Receiver(self.url, self.heard.set)
            self._receiver.start()
            assert self._receiver.bound, "the wake-up socket could not be bound"
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._conn is not None:
            await self._conn.close()
        if self._receiver is not None:
            self._receiver.close()

    async def heard_within(self, bound: float = BOUND_S) -> bool:
        try:
            await asyncio.wait_for(self.heard.wait(), bound)
        except TimeoutError:
            return False
        return True


async def test_plan_confirm_wakes_every_publisher(server: tuple[Served, Settings]) -> None:
    s, settings = server
    async with httpx.AsyncClient(base_url=s.base, headers={"Authorization": f"Bearer {API_KEY}"},
                                 timeout=30) as api:
        ch = await asyncio.to_thread(_channel, s, "plan")
        draft = await api.post("/api/v1/posts", json={"text": "a draft to place", "channel_ids": [ch]})
        assert draft.status_code == 201, draft.text
        async with Listener(settings) as ear:
            dry = await api.post("/api/v1/plan/fill", json={"post_ids": [draft.json()["id"]], "confirm": False})
            assert dry.status_code == 200 and dry.json()["plan"], dry.text
            assert not await ear.heard_within(0.5)  # a dry run changes nothing
            r = await api.post("/api/v1/plan/fill", json={"post_ids": [draft.json()["id"]], "confirm": True})
            assert r.status_code == 200 and r.json()["plan"], r.text
            assert await ear.heard_within(), "plan confirm did not wake the other publishers"


async def test_series_creation_wakes_every_publisher(server: tuple[Served, Settings]) -> None:
    s, settings = server
    async with httpx.AsyncClient(base_url=s.base, headers={"Authorization": f"Bearer {API_KEY}"},
                                 timeout=30) as api:
        ch = await asyncio.to_thread(_channel, s, "series")
        async with Listener(settings) as ear:
            r = await api.post("/api/v1/series", json={"name": "daily", "cron": "0 9 * * *", "timezone": "UTC",
                                                       "template": {"text": "daily"}, "channel_ids": [ch]})
            assert r.status_code == 201, r.text
            assert await ear.heard_within(), "materialising the series did not wake the other publishers"


def test_wake_dir_is_beside_the_sqlite_file(tmp_path: Path) -> None:
    from app.publishing.wakeup import wake_dir

    assert wake_dir(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}") == tmp_path / "a.db.wake"
    assert wake_dir("sqlite+aiosqlite:///:memory:") is None
    assert wake_dir("postgresql+asyncpg://u@h/db") is None
