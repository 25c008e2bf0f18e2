"""The plan import page: upload (CSRF-checked), the report by row and column, then "create these N posts"."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx

from tests.conftest import make_channel
from tests.web.conftest import csrf_of

DOCS = Path(__file__).resolve().parents[2] / "docs"


async def _upload(web: httpx.AsyncClient, name: str, data: bytes, kind: str = "text/csv",
                  token: str | None = None) -> httpx.Response:
    page = await web.get("/plan/import")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    return await web.post("/plan/import", data={"csrf_token": csrf_of(page.text) if token is None else token},
                          files={"file": (name, data, kind)})


async def test_upload_reports_then_creates_every_post(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    await make_channel(client, name="News")
    await make_channel(client, platform="vk", name="VK group")
    assert 'href="/plan/import"' in (await web.get("/calendar")).text
    r = await _upload(web, "plan-template.xlsx", (DOCS / "plan-template.xlsx").read_bytes(),
                      "application/octet-stream")  # a browser that does not know the type: the name decides
    assert r.status_code == 200, r.text
    assert "4 rows, 4 valid, 0 problems" in r.text and "Create these 4 posts" in r.text
    assert (await client.get("/api/v1/posts")).json()["items"] == []  # the upload is a dry run

    form = {k: html.unescape(v) for k, v in re.findall(r'name="(\w+)" value="([^"]*)"', r.text.split(
        'action="/plan/import/commit"')[1].split("</form>")[0])}
    done = await web.post("/plan/import/commit", data=form)
    assert done.status_code == 200, done.text
    assert "Created 4 posts from plan-template.xlsx." in done.text
    assert len((await client.get("/api/v1/posts")).json()["items"]) == 4


async def test_problems_are_listed_and_nothing_can_be_created(web: httpx.AsyncClient, client: httpx.AsyncClient
                                                              ) -> None:
    await make_channel(client, name="News")
    bad = b"date,time,channels,text\n2035-03-05,10:00,News,ok\n2035-03-06,noon,Nowhere,x\n"
    r = await _upload(web, "bad.csv", bad)
    assert r.status_code == 200
    rows = re.findall(r"<tr><td>(\d+)</td><td>(\w+)</td>", r.text)
    assert rows == [("3", "time"), ("3", "channels")] and "Create these" not in r.text
    assert "&#39;noon&#39; is not a time as HH:MM" in r.text
    assert (await _upload(web, "plan.json", b"{}", "application/json")).status_code == 415
    assert (await _upload(web, "bad.csv", bad, token="forged")).status_code == 403
    assert (await client.get("/api/v1/posts")).json()["items"] == []
