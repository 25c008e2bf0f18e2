"""Token warnings reach people before posts fail: every channel read (API), the calendar's banner and
`smm status` show a token expiring within 7 days and a missing permission; a healthy token shows nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from app.config import Settings
from app.models import Channel
from app.timeutil import utcnow
from tests.conftest import make_channel
from tests.served import smm, smm_env
from tests.web.conftest import sign_in


async def set_token(app: Any, channel_id: str, **values: Any) -> None:
    async with app.state.sessionmaker() as session:
        await session.execute(update(Channel).where(Channel.id == channel_id).values(**values))
        await session.commit()


async def test_warnings_in_api_calendar_and_status(client: httpx.AsyncClient, anon: httpx.AsyncClient, app: Any,
                                                   settings: Settings) -> None:
    ig = await make_channel(client, "instagram", name="Shop")
    fb = await make_channel(client, "facebook", name="Bakery")
    tg = await make_channel(client, "telegram", name="News")
    assert tg["token_expires_at"] is None and tg["warnings"] == []
    await set_token(app, ig["id"], token_expires_at=utcnow() + timedelta(days=3),
                    scopes=["instagram_business_basic", "instagram_business_content_publish"])
    await set_token(app, fb["id"], token_expires_at=None, scopes=["pages_show_list", "pages_read_engagement"])

    items = {c["name"]: c for c in (await client.get("/api/v1/channels")).json()["items"]}
    assert [w["code"] for w in items["Shop"]["warnings"]] == ["token_expiring"]
    assert items["Shop"]["token_expires_at"] is not None
    assert [w["code"] for w in items["Bakery"]["warnings"]] == ["missing_permission"]
    assert "pages_manage_posts" in items["Bakery"]["warnings"][0]["message"]
    assert items["News"]["warnings"] == []
    one = (await client.get(f"/api/v1/channels/{ig['id']}")).json()
    assert one["warnings"] == items["Shop"]["warnings"]

    await set_token(app, ig["id"], token_expires_at=utcnow() + timedelta(days=20))  # outside the 7 days
    assert (await client.get(f"/api/v1/channels/{ig['id']}")).json()["warnings"] == []

    await sign_in(anon)
    calendar = (await anon.get("/calendar")).text
    assert "pages_manage_posts" in calendar and 'href="/connect/facebook"' in calendar
    detail = (await anon.get(f"/channels/{fb['id']}")).text
    assert "pages_manage_posts" in detail and 'href="/connect/facebook"' in detail

    done = smm(smm_env(settings), "status", "--json")
    assert done.returncode == 0, done.stderr
    warnings = json.loads(done.stdout)["channel_warnings"]
    assert [(w["channel"], w["code"]) for w in warnings] == [("Bakery", "missing_permission")]
    text = smm(smm_env(settings), "status")
    assert "missing_permission" in text.stdout and "Bakery" in text.stdout
