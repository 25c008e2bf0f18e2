"""Every route of the app, every method, needs an API key or a signed-in session — except a short, explicit list.

What is public and why (README, "What is public"):

* ``/healthz``, ``/readyz`` — probes of load balancers and orchestrators;
* ``/login`` — where a session starts;
* ``/static/…`` — the pages' CSS and scripts; ``/docs``, ``/docs/assets/…``, ``/docs/oauth2-redirect``, ``/redoc``
  and ``/openapi.json`` — the API's documentation (it holds no data; every operation it describes needs a key);
* ``/media/{id}/{name}`` — uploaded files: Instagram (and the other platforms) fetch media from a public URL; the
  ids are unguessable;
* ``/sandbox/<platform>/…`` (with ``SMM_SANDBOX=1``) — the fake platforms' own endpoints, which the connectors call
  as they call a real platform; their control API under ``…/_control/`` is *not* public.

* ``/ical/{token}.ics`` — the workspace's iCalendar feed: calendar apps subscribe without a key, so the secret
  token in the path is the credential (rotated with ``POST /api/v1/workspace/ical/rotate``; a wrong one is a 404).
* ``/l/{code}`` — short links in published posts: their readers click them; the code only redirects and counts
  (an unknown one is a 404), it shows no data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Mount

from app.config import Settings
from tests.conftest import make_settings

PUBLIC_ROUTES = {"/healthz", "/readyz", "/login", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc",
                 "/media/{media_id}/{filename}", "/ical/{token}.ics", "/l/{code:path}"}
PUBLIC_MOUNTS = {"/static", "/docs/assets", "/sandbox/telegram", "/sandbox/vk", "/sandbox/facebook",
                 "/sandbox/instagram"}
ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
CONTROL_PATHS = ("published", "reset", "faults", "calls", "seed", "clock", "rate_limit", "anything/else")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, sandbox=True)  # so that the sandbox routes exist


def routes(app: Any) -> Iterator[tuple[str, set[str], bool]]:
    """(path, methods, is a mount) of every route, included routers flattened."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazily included routers: app.routes is flat
        flat: list[Any] = list(app.routes)
    else:
        flat = [ctx.original_route if ctx.path is None else ctx for ctx in iter_route_contexts(app.routes)]
    for item in flat:
        route = getattr(item, "original_route", item)
        path = item.path
        yield path, set(getattr(route, "methods", None) or ()), isinstance(route, Mount)


def filled(path: str) -> str:
    """The path with dummy values for its parameters (``{rest:path}`` gets two segments)."""
    path = re.sub(r"\{[^}:]+:path\}", "some/thing", path)
    return re.sub(r"\{[^}]+\}", lambda m: "telegram" if m.group(0) == "{platform}" else "dummy0123", path)


def refused(response: httpx.Response, path: str) -> bool:
    if response.status_code == 401:
        return True
    if path.startswith("/api/"):
        return False
    return response.status_code in (302, 303, 307) and response.headers["location"].startswith("/login")


async def test_every_route_needs_a_key_or_a_session(app: Any, anon: httpx.AsyncClient) -> None:
    seen: list[str] = []
    open_routes: list[str] = []
    for path, methods, is_mount in routes(app):
        if is_mount:
            assert path in PUBLIC_MOUNTS, f"mount {path} is not on the allow-list"
            continue
        if path in PUBLIC_ROUTES:
            continue
        assert methods, path
        for method in sorted(methods):
            r = await anon.request(method, filled(path), follow_redirects=False)
            seen.append(f"{method} {path}")
            if not refused(r, path):
                open_routes.append(f"{method} {path} -> {r.status_code} {r.text[:120]}")
    assert not open_routes, "\n".join(open_routes)
    assert len(seen) > 40, seen  # the walk really found the API, the pages and the sandbox control routes
    assert any(s.startswith("GET /api/v1/") for s in seen) and "GET /sandbox" in seen
    assert "GET /sandbox/{platform}/_control/published" in seen


async def test_the_fakes_control_api_is_not_reachable_through_the_mount(anon: httpx.AsyncClient) -> None:
    for platform in ("telegram", "vk", "facebook", "instagram"):
        for name in CONTROL_PATHS:
            for method in ALL_METHODS:
                r = await anon.request(method, f"/sandbox/{platform}/_control/{name}", json={})
                assert r.status_code in (401, 404, 405), (method, platform, name, r.status_code, r.text)


async def test_a_forged_or_revoked_credential_is_refused_too(app: Any, anon: httpx.AsyncClient) -> None:
    forged = {"Authorization": "Bearer smm_forged_key_000000000000000000000000", "Cookie": "smm_session=a.1.b"}
    for path in ("/api/v1/channels", "/sandbox/vk/_control/published", "/calendar", "/sandbox"):
        r = await anon.get(path, headers=forged, follow_redirects=False)
        assert refused(r, path), (path, r.status_code)


async def test_the_public_routes_answer_without_a_key(anon: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/readyz", "/login", "/openapi.json", "/docs", "/redoc", "/static/app.css"):
        r = await anon.get(path)
        assert r.status_code == 200, (path, r.status_code)
    r = await anon.get("/sandbox/telegram/bot123456789:AAEabcdefghijklmnopqrstuvwxyz012345/getMe")
    assert r.status_code == 200 and r.json()["ok"] is True  # a fake platform endpoint, as the connector calls it
    assert (await anon.get("/media/dummy0123/file.jpg")).status_code == 404  # public, but only real files
    assert (await anon.get("/ical/dummy0123.ics")).status_code == 404  # public, but only with the secret
