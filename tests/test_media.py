"""Uploads are media by content, and nothing under /media/ renders as a page (the stored-XSS finding)."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.models import MediaFile, Workspace
from app.models.base import new_id
from tests.conftest import API_KEY

MEDIA_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
HTML = b"<!doctype html><script>fetch('/channels/new').then(r => r.text()).then(alert)</script>"


def png() -> bytes:
    """A real 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", raw)
        + chunk(b"IEND", b"")
    )


ACCEPTED = [
    ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 100, "image/jpeg", "photo", "photo.jpg"),
    ("pic.png", png(), "image/png", "photo", "pic.png"),
    ("loop.gif", b"GIF89a" + b"\x00" * 100, "image/gif", "animation", "loop.gif"),
    ("p.webp", b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 100, "image/webp", "photo", "p.webp"),
    ("clip.mp4", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 100, "video/mp4", "video", "clip.mp4"),
    (
        "clip.mov",
        b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  " + b"\x00" * 100,
        "video/quicktime",
        "video",
        "clip.mov",
    ),
    ("no-extension", png(), "image/png", "photo", "no-extension.png"),
]


@pytest.mark.parametrize(("name", "data", "mime", "kind", "stored_name"), ACCEPTED)
async def test_platform_media_is_accepted_by_content(
    client: httpx.AsyncClient, anon: httpx.AsyncClient, name: str, data: bytes, mime: str, kind: str, stored_name: str
) -> None:
    r = await client.post("/api/v1/media", files={"file": (name, data, "application/octet-stream")})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["mime_type"], body["kind"], body["filename"], body["size"]) == (mime, kind, stored_name, len(data))
    served = await anon.get(body["url"].removeprefix("http://127.0.0.1:8000"))
    assert served.status_code == 200 and served.content == data
    assert served.headers["content-type"] == mime and served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == MEDIA_CSP
    assert served.headers["content-disposition"] == f'inline; filename="{stored_name}"'


HOSTILE = [
    ("x.jpg", HTML, "image/jpeg"),
    ("x.html", HTML, "text/html"),
    (
        "x.svg",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>',
        "image/svg+xml",
    ),
    ("x.png", b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'/>", "image/png"),
    ("x.js", b"alert(document.cookie)", "image/gif"),
    ("x.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "image/jpeg"),
    ("x.bmp", b"BM" + b"\x00" * 100, "image/bmp"),  # an image, but not one the platforms publish
]


@pytest.mark.parametrize(("name", "data", "claimed"), HOSTILE)
async def test_anything_else_is_415_whatever_it_claims(
    client: httpx.AsyncClient, name: str, data: bytes, claimed: str
) -> None:
    r = await client.post("/api/v1/media", files={"file": (name, data, claimed)})
    assert r.status_code == 415, r.text
    body = r.json()
    assert body["detail"].startswith("file: this file is not a JPEG, PNG, GIF or WebP image or an MP4 or MOV video")
    assert body["errors"] == [{"field": "file", "message": body["detail"].removeprefix("file: ").rstrip(".")}]


async def test_a_png_sent_as_html_is_served_as_png(client: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/media", files={"file": ("page.html", png(), "text/html")})
    assert r.status_code == 201, r.text
    media = r.json()
    assert media["mime_type"] == "image/png" and media["filename"] == "page.png"
    served = await anon.get(f"/media/{media['id']}/page.png")
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == MEDIA_CSP and "script" not in MEDIA_CSP
    assert (await anon.get(f"/media/{media['id']}/page.html")).status_code == 404


async def test_rows_stored_before_the_rule_are_served_as_attachments(app: Any, anon: httpx.AsyncClient) -> None:
    # an upload from before content checks existed cannot be made through the service any more: written directly
    media_id = new_id()
    folder = app.state.settings.media_dir / media_id
    folder.mkdir(parents=True)
    (folder / "evil.html").write_bytes(HTML)
    async with app.state.sessionmaker() as session:
        workspace_id = (await session.execute(select(Workspace.id))).scalars().first()
        session.add(
            MediaFile(
                id=media_id,
                workspace_id=workspace_id,
                filename="evil.html",
                mime_type="text/html",
                size=len(HTML),
                kind="document",
            )
        )
        await session.commit()
    served = await anon.get(f"/media/{media_id}/evil.html")
    assert served.status_code == 200 and served.content == HTML
    assert served.headers["content-type"] == "application/octet-stream"
    assert served.headers["content-disposition"] == 'attachment; filename="evil.html"'
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == MEDIA_CSP


async def test_the_ui_upload_refuses_non_media_too(app: Any) -> None:
    from tests.web.conftest import csrf_of, sign_in

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as web:
        assert (await sign_in(web, API_KEY)).status_code == 303
        page = await web.get("/posts/new")
        data = {"csrf_token": csrf_of(page.text), "text": "typed so far"}
        files = {"media_file": ("cat.png", HTML, "image/png")}
        r = await web.post("/ui/media/upload", data=data, files=files)
        assert r.status_code == 415 and "this file is not a JPEG, PNG, GIF or WebP image" in r.text
        assert ">typed so far</textarea>" in r.text and 'name="media_id" id="media_id" value=""' in r.text
        r = await web.post("/ui/media/upload", data=data, files=files, headers={"Accept": "application/json"})
        assert r.status_code == 415 and "this file is not a JPEG" in r.json()["detail"]
