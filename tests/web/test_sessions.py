"""Sessions on the server and the sign-in limit, through the login form the way a browser uses it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from app.main import create_app
from tests.conftest import API_KEY, make_settings
from tests.web.conftest import csrf_of, sign_in

WRONG = "smm_test_this_is_not_the_key_0123456789"  # the real key's prefix (smm_test), a wrong key


@asynccontextmanager
async def browser_at(app: Any, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client whose requests come from ``address``."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_logout_ends_the_session_on_the_server(app: Any, web: httpx.AsyncClient) -> None:
    cookie = web.cookies["smm_session"]
    async with browser_at(app, "127.0.0.1") as copy:  # the same cookie, copied to another browser
        copy.cookies.set("smm_session", cookie)
        assert (await copy.get("/calendar")).status_code == 200
        page = await web.get("/calendar")
        r = await web.post("/logout", data={"csrf_token": csrf_of(page.text)})
        assert r.status_code == 303 and r.headers["location"] == "/login"
        r = await copy.get("/calendar")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert (await sign_in(web)).status_code == 303  # the key itself still signs in


async def test_two_sign_ins_are_two_sessions(app: Any) -> None:
    async with browser_at(app, "127.0.0.1") as one, browser_at(app, "127.0.0.1") as two:
        assert (await sign_in(one)).status_code == 303 and (await sign_in(two)).status_code == 303
        assert one.cookies["smm_session"] != two.cookies["smm_session"]
        page = await one.get("/calendar")
        await one.post("/logout", data={"csrf_token": csrf_of(page.text)})
        assert (await two.get("/calendar")).status_code == 200  # signing out here leaves the other browser in


async def test_wrong_keys_from_one_address_are_limited(app: Any) -> None:
    limit = app.state.settings.login_max_failures
    async with browser_at(app, "203.0.113.7") as attacker:
        statuses = [(await sign_in(attacker, f"guess-number-{i:04d}-xxxxxxxxxxxx")).status_code for i in range(limit)]
        assert statuses == [401] * (limit - 1) + [429]
        r = await sign_in(attacker, API_KEY)  # even the right key waits: the answer would tell a guess apart
        assert r.status_code == 429
        assert 0 < int(r.headers["retry-after"]) <= app.state.settings.login_window
        assert "Too many sign-in attempts from your address. Try again in 5 minutes." in r.text
        assert "smm_session" not in r.cookies
    async with browser_at(app, "198.51.100.20") as someone_else:
        assert (await sign_in(someone_else)).status_code == 303


async def test_wrong_keys_at_one_prefix_from_many_addresses_are_limited(app: Any) -> None:
    limit = app.state.settings.login_max_failures
    for i in range(limit):
        async with browser_at(app, f"203.0.113.{i + 1}") as bot:
            assert (await sign_in(bot, WRONG + str(i))).status_code == (401 if i < limit - 1 else 429)
    async with browser_at(app, "198.51.100.99") as fresh:
        r = await sign_in(fresh, API_KEY)
        assert r.status_code == 429 and "Too many sign-in attempts with this key." in r.text
        assert int(r.headers["retry-after"]) > 0
        other_prefix = await sign_in(fresh, "another-prefix-entirely-0123456789")
        assert other_prefix.status_code == 401 and "not valid" in other_prefix.text


async def test_the_limit_lifts_after_its_window(database_url: str, tmp_path: Path) -> None:
    app = create_app(make_settings(database_url, tmp_path, login_window=3.0), run_scheduler=False)
    async with app.router.lifespan_context(app), browser_at(app, "203.0.113.50") as person:
        for i in range(app.state.settings.login_max_failures):
            await sign_in(person, f"typo-{i:03d}-aaaaaaaaaaaaaaaaaaaaaaa")
        r = await sign_in(person, API_KEY)
        assert r.status_code == 429 and int(r.headers["retry-after"]) <= 3
        deadline = time.monotonic() + 60
        while (r := await sign_in(person, API_KEY)).status_code == 429:
            assert time.monotonic() < deadline, r.text
            await asyncio.sleep(0.5)
        assert r.status_code == 303


async def test_an_ipv6_client_counts_as_its_64_network(app: Any) -> None:
    limit = app.state.settings.login_max_failures
    for i in range(limit):  # a host may use any address of its /64: one client
        async with browser_at(app, f"2001:db8:1:2::{i + 1:x}") as host:
            await sign_in(host, f"{i:03d}-distinct-prefix-bbbbbbbbbbbbbbbbbb")
    async with browser_at(app, "2001:db8:1:2::ffff") as same_network:
        r = await sign_in(same_network, API_KEY)
        assert r.status_code == 429 and "from your address" in r.text
    async with browser_at(app, "2001:db8:1:3::1") as next_network:
        assert (await sign_in(next_network)).status_code == 303
