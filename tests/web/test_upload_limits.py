"""A file picked in the no-JavaScript post form: the upload limit applies, and above it the form page comes back
with a sentence (not the API's JSON 413)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.conftest import make_channel, make_settings
from tests.web.conftest import csrf_of

MB = 1024 * 1024
UPLOAD_LIMIT = 3 * MB  # over the 1 MB general body limit
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, sandbox=True, max_body_bytes=MB, max_upload_bytes=UPLOAD_LIMIT)


async def _form(web: httpx.AsyncClient, channel_id: str) -> dict[str, Any]:
    page = await web.get("/posts/new")
    return {
        "csrf_token": csrf_of(page.text),
        "when": "at",
        "timezone": "UTC",
        "local_time": "2030-01-15T20:00",
        "text": "with a big photo",
        "channel_ids": channel_id,
    }


async def test_a_file_over_the_body_limit_goes_with_the_post(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    photo = JPEG + b"\x00" * (2 * MB)  # over SMM_MAX_BODY_BYTES, under SMM_MAX_UPLOAD_BYTES
    r = await web.post("/posts/new", data=await _form(web, ch["id"]), files={"media_file": ("big.jpg", photo, "")})
    assert r.status_code == 303, r.text[:500]
    post_id = re.fullmatch(r"/posts/([^?]+)\?done=created", r.headers["location"])
    assert post_id
    post = (await client.get(f"/api/v1/posts/{post_id.group(1)}")).json()
    [media] = post["media"]
    assert media["mime_type"] == "image/jpeg" and media["url"].endswith("/big.jpg")
    served = await web.get(media["url"].removeprefix("http://127.0.0.1:8000"))
    assert len(served.content) == len(photo)


async def test_a_file_over_the_upload_limit_shows_the_form_again(
    web: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    ch = await make_channel(client)
    huge = JPEG + b"\x00" * (UPLOAD_LIMIT + MB)
    form = await _form(web, ch["id"])
    r = await web.post("/posts/new", data=form, files={"media_file": ("huge.jpg", huge, "image/jpeg")})
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert "larger than the upload limit of 3 MB" in r.text and "<form" in r.text and 'name="csrf_token"' in r.text
    assert r.headers["content-security-policy"].startswith("default-src 'self'")  # a UI page, with its headers

    # the same when the browser streams the body without announcing its length
    request = web.build_request("POST", "/posts/new", data=form, files={"media_file": ("huge.jpg", huge, "")})
    body = b"".join([part async for part in request.stream])  # type: ignore[union-attr]

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 256 * 1024):
            yield body[i : i + 256 * 1024]

    streamed = await web.post("/posts/new", content=chunks(), headers={"content-type": request.headers["content-type"]})
    assert streamed.status_code == 413 and "larger than the upload limit of 3 MB" in streamed.text
    assert (await client.get("/api/v1/posts")).json()["items"] == []

    # the upload button without JavaScript gets the form page too; with JavaScript, JSON
    plain = await web.post("/ui/media/upload", data=form, files={"media_file": ("huge.jpg", huge, "")})
    assert plain.status_code == 413 and "larger than the upload limit of 3 MB" in plain.text

    js = await web.post(
        "/ui/media/upload",
        data=form,
        files={"media_file": ("huge.jpg", huge, "")},
        headers={"Accept": "application/json"},
    )
    assert js.status_code == 413 and "the limit is" in js.json()["detail"]


async def test_a_file_that_is_not_media_shows_the_form_with_what_was_typed(
    web: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    ch = await make_channel(client)
    html = b"<html><script>alert(1)</script></html>"
    r = await web.post(
        "/posts/new", data=await _form(web, ch["id"]), files={"media_file": ("a.jpg", html, "image/jpeg")}
    )
    assert r.status_code == 415 and "this file is not a JPEG, PNG, GIF or WebP image" in r.text
    assert ">with a big photo</textarea>" in r.text
    assert (await client.get("/api/v1/posts")).json()["items"] == []


async def test_a_plan_over_the_upload_limit_brings_the_import_page_back(web: httpx.AsyncClient,
                                                                         client: httpx.AsyncClient) -> None:
    page = await web.get("/plan/import")
    big = b"date,time,channels,text\n" + b"2035-01-01,10:00,x," + b"y" * (UPLOAD_LIMIT + 10) + b"\n"
    r = await web.post("/plan/import", data={"csrf_token": csrf_of(page.text)}, files={"file": ("big.csv", big,
                                                                                               "text/csv")})
    assert r.status_code == 413 and "larger than the upload limit of 3 MB" in r.text and "Import a plan" in r.text
    r = await client.post("/api/v1/plan/import", content=big, headers={"Content-Type": "text/csv"})
    assert r.status_code == 413 and r.json()["detail"] == f"Request body too large: the limit is {UPLOAD_LIMIT} bytes."
    # over the general body limit, under the upload limit: the import reads it (its rows are then checked)
    mid = b"date,time,channels,text\n" + b"2035-01-01,10:00,x," + b"y" * (2 * MB) + b"\n"
    r = await client.post("/api/v1/plan/import", content=mid, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text[:300]
