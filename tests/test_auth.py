from __future__ import annotations

import httpx
import pytest

from app.db import session_scope
from app.workspaces import service as workspaces
from tests.conftest import make_channel


@pytest.mark.parametrize("path", ["/api/v1/channels", "/api/v1/posts"])
async def test_api_needs_a_key(anon: httpx.AsyncClient, path: str) -> None:
    r = await anon.get(path)
    assert r.status_code == 401 and "API key" in r.json()["detail"]
    r = await anon.get(path, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401


async def test_other_workspace_sees_404(client: httpx.AsyncClient, anon: httpx.AsyncClient, app: object) -> None:
    ch = await make_channel(client)
    post = (await client.post("/api/v1/posts", json={"text": "hi", "channel_ids": [ch["id"]]})).json()
    async with session_scope(app.state.sessionmaker) as session:  # type: ignore[attr-defined]
        ws = await workspaces.ensure_workspace(session, "other")
        key, record = await workspaces.add_key(session, ws)
    other = {"Authorization": f"Bearer {key}"}
    assert (await anon.get(f"/api/v1/channels/{ch['id']}", headers=other)).status_code == 404
    assert (await anon.get(f"/api/v1/posts/{post['id']}", headers=other)).status_code == 404
    assert (await anon.delete(f"/api/v1/posts/{post['id']}", headers=other)).status_code == 404
    assert (await anon.get("/api/v1/posts", headers=other)).json()["items"] == []
    r = await anon.post("/api/v1/posts", headers=other, json={"text": "x", "channel_ids": [ch["id"]]})
    assert r.status_code == 422 and ch["id"] in r.json()["detail"]
    async with session_scope(app.state.sessionmaker) as session:  # type: ignore[attr-defined]
        assert await workspaces.revoke(session, record.id)
    assert (await anon.get("/api/v1/channels", headers=other)).status_code == 401


async def test_health(anon: httpx.AsyncClient) -> None:
    assert (await anon.get("/healthz")).json() == {"status": "ok"}
    assert (await anon.get("/readyz")).json() == {"status": "ready"}
    assert (await anon.get("/openapi.json")).status_code == 200
