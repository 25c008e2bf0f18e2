from __future__ import annotations

import httpx
from sqlalchemy import select

from app.models import Channel
from tests.conftest import TG_TOKEN, make_channel


async def test_create_channel_never_returns_credentials(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    assert ch["platform"] == "telegram" and ch["status"] == "active" and ch["timezone"] == "Europe/Moscow"
    assert "credentials" not in ch and TG_TOKEN not in str(ch)
    again = (await client.get(f"/api/v1/channels/{ch['id']}")).json()
    assert TG_TOKEN not in str(again) and again["id"] == ch["id"]
    listing = (await client.get("/api/v1/channels")).json()
    assert [c["id"] for c in listing["items"]] == [ch["id"]] and listing["next_cursor"] is None
    assert TG_TOKEN not in str(listing)


async def test_credentials_are_encrypted_at_rest(client: httpx.AsyncClient, app: object) -> None:
    ch = await make_channel(client)
    async with app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        row = (await session.execute(select(Channel).where(Channel.id == ch["id"]))).scalar_one()
    assert TG_TOKEN not in row.credentials_sealed
    assert app.state.box.open(row.credentials_sealed)["bot_token"] == TG_TOKEN  # type: ignore[attr-defined]


async def test_numeric_ids_are_kept_as_strings(client: httpx.AsyncClient, app: object) -> None:
    ch = await make_channel(client, "vk")
    async with app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        row = await session.get(Channel, ch["id"])
        assert row is not None
        assert app.state.box.open(row.credentials_sealed)["owner_id"] == "-123456"  # type: ignore[attr-defined]


async def test_bad_credentials_say_which_field(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/channels", json={
        "platform": "telegram", "name": "x", "timezone": "UTC",
        "credentials": {"bot_token": "nope", "chat_id": "@mychannel", "extra": 1}})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"credentials.bot_token", "credentials.extra"}
    assert "nope" not in r.text  # the rejected secret is not echoed either


async def test_missing_credentials_and_unknown_platform(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/channels", json={"platform": "vk", "name": "x", "credentials": {}})
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {
        "credentials.access_token", "credentials.owner_id"}
    r = await client.post("/api/v1/channels", json={"platform": "myspace", "name": "x", "credentials": {}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.platform"


async def test_unknown_zone_is_refused(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/channels", json={
        "platform": "telegram", "name": "x", "timezone": "Mars/Olympus",
        "credentials": {"bot_token": TG_TOKEN, "chat_id": "@mychannel"}})
    assert r.status_code == 422 and "Mars/Olympus" in r.json()["detail"]


async def test_patch_and_delete(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    r = await client.patch(f"/api/v1/channels/{ch['id']}", json={"name": "Renamed", "timezone": "Asia/Tokyo"})
    assert r.status_code == 200 and r.json()["name"] == "Renamed" and r.json()["timezone"] == "Asia/Tokyo"
    r = await client.patch(f"/api/v1/channels/{ch['id']}", json={"credentials": {"bot_token": "bad"}})
    assert r.status_code == 422
    assert (await client.delete(f"/api/v1/channels/{ch['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/channels/{ch['id']}")).status_code == 404


async def test_sandbox_channel_needs_sandbox_mode(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/channels", json={"platform": "telegram", "name": "s", "sandbox": True})
    assert r.status_code == 422 and "SMM_SANDBOX" in r.json()["detail"]
