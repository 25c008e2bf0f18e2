"""The channel page manages the channel: rename, time zone, disable/enable, delete after a confirmation page,
new credentials, engagement CSV import, and its upcoming and recent posts (all through the API's services)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import make_channel
from tests.web.conftest import csrf_of


async def _form(web: httpx.AsyncClient, channel_id: str) -> str:
    page = await web.get(f"/channels/{channel_id}")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


async def test_rename_and_time_zone(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    token = await _form(web, ch["id"])
    r = await web.post(f"/channels/{ch['id']}/settings",
                       data={"csrf_token": token, "name": "Evening news", "timezone": "Asia/Tokyo"})
    assert r.status_code == 303 and r.headers["location"] == f"/channels/{ch['id']}?done=renamed"
    stored = (await client.get(f"/api/v1/channels/{ch['id']}")).json()
    assert stored["name"] == "Evening news" and stored["timezone"] == "Asia/Tokyo"
    page = (await web.get(r.headers["location"])).text
    assert "Channel settings saved." in page and 'value="Evening news"' in page
    assert re.search(r'<option value="Asia/Tokyo" selected', page)

    bad = await web.post(f"/channels/{ch['id']}/settings",
                         data={"csrf_token": token, "name": "Evening news", "timezone": "Mars/Olympus"})
    assert bad.status_code == 422 and 'id="err-timezone"' in bad.text and "Mars/Olympus" in bad.text
    empty = await web.post(f"/channels/{ch['id']}/settings", data={"csrf_token": token, "name": " ", "timezone": ""})
    assert empty.status_code == 422 and 'id="err-name"' in empty.text and "Give the channel a name" in empty.text
    assert (await client.get(f"/api/v1/channels/{ch['id']}")).json()["timezone"] == "Asia/Tokyo"  # unchanged


async def test_disable_enable(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    token = await _form(web, ch["id"])
    r = await web.post(f"/channels/{ch['id']}/status", data={"csrf_token": token, "status": "disabled"})
    assert r.status_code == 303
    assert (await client.get(f"/api/v1/channels/{ch['id']}")).json()["status"] == "disabled"
    page = (await web.get(r.headers["location"])).text
    assert "Channel disabled" in page and "Enable channel" in page and "Disable channel" not in page
    r = await web.post(f"/channels/{ch['id']}/status", data={"csrf_token": token, "status": "active"})
    assert (await client.get(f"/api/v1/channels/{ch['id']}")).json()["status"] == "active"
    assert "Channel enabled" in (await web.get(r.headers["location"])).text
    odd = await web.post(f"/channels/{ch['id']}/status", data={"csrf_token": token, "status": "deleted"})
    assert odd.status_code == 422 and "enable or disable" in odd.text


async def test_delete_asks_first(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    at = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    await client.post("/api/v1/posts", json={"text": "later", "channel_ids": [ch["id"]], "scheduled_at": at})
    page = (await web.get(f"/channels/{ch['id']}")).text
    assert f'href="/channels/{ch["id"]}/delete"' in page
    confirm = await web.get(f"/channels/{ch['id']}/delete")
    assert confirm.status_code == 200 and "1 queued post</strong> will not be sent" in confirm.text
    token = csrf_of(confirm.text)
    no_confirm = await web.post(f"/channels/{ch['id']}/delete", data={"csrf_token": token})
    assert no_confirm.status_code == 303 and no_confirm.headers["location"].endswith("/delete")
    assert (await client.get(f"/api/v1/channels/{ch['id']}")).status_code == 200  # still there
    r = await web.post(f"/channels/{ch['id']}/delete", data={"csrf_token": token, "confirm": "yes"})
    assert r.status_code == 303 and r.headers["location"].startswith("/channels?done=deleted")
    assert (await client.get(f"/api/v1/channels/{ch['id']}")).status_code == 404
    listing = (await web.get(r.headers["location"])).text
    assert "deleted; its published history is kept" in listing and "telegram channel" in listing
    assert (await web.get(f"/channels/{ch['id']}/delete")).status_code == 404


async def test_new_credentials_and_oauth_link(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    tg = await make_channel(client)
    token = await _form(web, tg["id"])
    bad = await web.post(f"/channels/{tg['id']}/credentials",
                         data={"csrf_token": token, "cred_bot_token": "nope", "cred_chat_id": "@mychannel"})
    assert bad.status_code == 422 and "does not look right" in bad.text and 'id="err-cred-bot_token"' in bad.text
    good = await web.post(f"/channels/{tg['id']}/credentials", data={
        "csrf_token": token, "cred_bot_token": "987654321:AAEabcdefghijklmnopqrstuvwxyz987654",
        "cred_chat_id": "@otherchannel"})
    assert good.status_code == 303 and good.headers["location"].endswith("done=credentials")
    page = (await web.get(good.headers["location"])).text
    assert "New credentials saved" in page and "987654321:AAE" not in page  # never shown back
    vk = await make_channel(client, "vk")
    assert 'href="/connect/vk"' in (await web.get(f"/channels/{vk['id']}")).text


async def test_csv_import_from_the_page(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    page = (await web.get(f"/channels/{ch['id']}")).text
    assert "`" not in page and "/api/v1/channels" not in page  # the old empty state's raw path is gone
    assert "No engagement history yet for this channel" in page and 'id="import-title"' in page
    token = csrf_of(page)
    now = datetime.now(UTC)
    rows = ["posted_at,likes,comments,shares,views,reach,followers"]
    rows += [f"{(now - timedelta(days=10 + i)).isoformat()},{10 + i},1,0,{200 + i},150,1000" for i in range(3)]
    rows.append("not a time,1,1,1,1,1,1")
    csv = ("\n".join(rows) + "\n").encode()
    r = await web.post(f"/channels/{ch['id']}/engagement", data={"csrf_token": token},
                       files={"csv_file": ("history.csv", csv, "text/csv")})
    assert r.status_code == 200, r.text
    assert "Imported 3 new rows, skipped 1 row with problems." in r.text and "Row 5:" in r.text
    again = await web.post(f"/channels/{ch['id']}/engagement", data={"csrf_token": token},
                           files={"csv_file": ("history.csv", csv, "text/csv")})
    assert "Imported 0 new rows" in again.text and "3 already there unchanged" in again.text
    page = (await web.get(f"/channels/{ch['id']}")).text
    assert "No engagement history yet for this channel" not in page
    assert re.search(r"3 posts analysed|based on 3 posts|3 of the 3", page) or "of the 3 stored were" in page, page
    assert "1 posts" not in page
    missing = await web.post(f"/channels/{ch['id']}/engagement", data={"csrf_token": token})
    assert missing.status_code == 422 and "Choose a CSV file" in missing.text


async def test_upcoming_and_recent_posts(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    other = await make_channel(client, "vk")
    soon = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    mine = (await client.post("/api/v1/posts", json={"text": "Coming up on telegram", "channel_ids": [ch["id"]],
                                                     "scheduled_at": soon})).json()
    await client.post("/api/v1/posts", json={"text": "Only on VK", "channel_ids": [other["id"]],
                                             "scheduled_at": soon})
    page = (await web.get(f"/channels/{ch['id']}")).text
    upcoming = page.split('id="upcoming-title"')[1].split('id="recent-title"')[0]
    assert f'href="/posts/{mine["id"]}"' in upcoming and "Coming up on telegram" in upcoming
    assert "Only on VK" not in page
    assert "No posts sent through this channel yet." in page
