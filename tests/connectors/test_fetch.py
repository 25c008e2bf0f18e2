"""The guarded fetcher over real TCP: servers on 127.0.0.1 stand for an internal network and for media hosts.

Names are answered by ``static_resolver`` (a hosts file for the test), so a "public" name can point at 127.0.0.1 and
the system resolver is never asked: if anything resolved a name a second time, it would not find it.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from connectors.addresses import PRIVATE, FetchPolicy, static_resolver
from connectors.errors import PermanentError, TransientError
from connectors.fakekit import _free_port
from connectors.fetch import FetchError, FetchFailed, FetchRefused, check_url, fetch

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200
MB = 1024 * 1024


class Counter:
    def __init__(self) -> None:
        self.hits: list[str] = []


def internal_app(counter: Counter) -> FastAPI:
    """Something inside the network: it records every request that reaches it."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def anything(path: str) -> Response:
        counter.hits.append(path)
        return Response("secret", status_code=403)

    return app


def media_app(counter: Counter, internal_port: int) -> FastAPI:
    app = FastAPI()

    @app.get("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        counter.hits.append("echo")
        return {"host": request.headers.get("host"), "client": request.client.host if request.client else None}

    @app.get("/photo.jpg")
    async def photo() -> Response:
        counter.hits.append("photo")
        return Response(JPEG, media_type="image/jpeg")

    @app.get("/missing.jpg")
    async def missing() -> Response:
        return Response(status_code=404)

    @app.get("/broken.jpg")
    async def broken() -> Response:
        return Response(status_code=503)

    @app.get("/to-internal")
    async def to_internal() -> Response:
        return RedirectResponse(f"http://127.0.0.1:{internal_port}/admin", status_code=302)

    @app.get("/to-internal-name")
    async def to_internal_name() -> Response:
        return RedirectResponse(f"http://intranet.example.com:{internal_port}/admin", status_code=307)

    @app.get("/to-file")
    async def to_file() -> Response:
        return RedirectResponse("file:///etc/passwd", status_code=302)

    @app.get("/loop/{n}")
    async def loop(n: int) -> Response:
        return RedirectResponse(f"/loop/{n + 1}", status_code=301)

    @app.get("/declared-huge")
    async def declared_huge() -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"x" * 1024

        return StreamingResponse(body(), headers={"content-length": str(500 * MB)})

    @app.get("/endless")
    async def endless() -> Response:
        async def body() -> AsyncIterator[bytes]:
            chunk = b"\xff" * (64 * 1024)
            for _ in range(200 * 16):  # 200 MB if nobody stops reading
                yield chunk

        return StreamingResponse(body(), media_type="image/jpeg")

    @app.get("/trickle")
    async def trickle() -> Response:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(200):
                yield b"\xff"
                await asyncio.sleep(0.1)

        return StreamingResponse(body(), media_type="image/jpeg")

    return app


@contextmanager
def serve(app: FastAPI, **ssl_files: str) -> Iterator[int]:
    """``app`` on 127.0.0.1 (TLS when ``ssl_certfile``/``ssl_keyfile`` are given); yields the port."""
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", **ssl_files)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def internal() -> Iterator[tuple[int, Counter]]:
    counter = Counter()
    with serve(internal_app(counter)) as port:
        yield port, counter


@pytest.fixture(scope="module")
def media(internal: tuple[int, Counter]) -> Iterator[tuple[int, Counter]]:
    counter = Counter()
    with serve(media_app(counter, internal[0])) as port:
        yield port, counter


@pytest.fixture
def hits(internal: tuple[int, Counter]) -> list[str]:
    internal[1].hits.clear()
    return internal[1].hits


def policy_for(media_port: int, **names: list[str]) -> FetchPolicy:
    """The media server is allowed (by address and port); ``names`` are what the test's DNS answers."""
    table = {name.replace("_", "."): addresses for name, addresses in names.items()}
    return FetchPolicy.allowing(f"127.0.0.1:{media_port}", resolver=static_resolver(table))


async def test_connects_to_the_checked_address_with_the_name_in_host(media: tuple[int, Counter]) -> None:
    port, _ = media
    policy = policy_for(port, media_example_com=["127.0.0.1"])
    async with httpx.AsyncClient() as client:
        got = await fetch(client, f"http://media.example.com:{port}/echo", policy=policy, max_bytes=MB)
    assert got.content_type == "application/json"
    assert got.url == f"http://media.example.com:{port}/echo" and got.name == "echo"
    assert b'"host":"media.example.com:' in got.content and b'"client":"127.0.0.1"' in got.content


def _certificate(tmp: Path, name: str) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


async def test_https_sends_the_name_as_sni_and_checks_the_certificate_against_it(
    tmp_path: Path, internal: tuple[int, Counter]
) -> None:
    cert, key = _certificate(tmp_path, "media.example.com")
    with serve(media_app(Counter(), internal[0]), ssl_certfile=cert, ssl_keyfile=key) as port:
        context = ssl.create_default_context(cafile=cert)
        async with httpx.AsyncClient(verify=context) as client:
            policy = policy_for(port, media_example_com=["127.0.0.1"])
            got = await fetch(client, f"https://media.example.com:{port}/photo.jpg", policy=policy, max_bytes=MB)
            assert got.content == JPEG
            # the certificate names media.example.com only: a name it does not cover fails the TLS check
            other = policy_for(port, other_example_com=["127.0.0.1"])
            with pytest.raises(FetchFailed, match="could not be reached"):
                await fetch(client, f"https://other.example.com:{port}/photo.jpg", policy=other, max_bytes=MB)


async def test_private_targets_are_refused_before_any_request(
    media: tuple[int, Counter], internal: tuple[int, Counter], hits: list[str]
) -> None:
    policy = policy_for(media[0], intranet_example_com=["93.184.215.14", "10.1.2.3"])
    closed = _free_port()
    async with httpx.AsyncClient() as client:
        messages = set()
        for url in (
            f"http://127.0.0.1:{internal[0]}/admin",  # something listens here
            f"http://127.0.0.1:{closed}/admin",  # nothing listens here: the same answer (no port-scan oracle)
            f"http://[::ffff:127.0.0.1]:{internal[0]}/admin",
            f"http://127.0.0.1.:{internal[0]}/admin",  # an address with the trailing dot of a qualified name
            f"http://localhost:{internal[0]}/admin",
            f"http://intranet.example.com:{internal[0]}/admin",  # one of its addresses is private
        ):
            with pytest.raises(FetchRefused) as caught:
                await fetch(client, url, policy=policy, max_bytes=MB)
            assert caught.value.reason == PRIVATE and caught.value.status is None
            messages.add(caught.value.message.replace("[::ffff:127.0.0.1]", "127.0.0.1").split(" could")[1])
    assert messages == {" not be fetched: points to a private address."}
    assert hits == []


async def test_each_redirect_is_checked_again(media: tuple[int, Counter], hits: list[str]) -> None:
    port = media[0]
    policy = policy_for(port, intranet_example_com=["127.0.0.1"])
    async with httpx.AsyncClient() as client:
        for path in ("/to-internal", "/to-internal-name"):
            with pytest.raises(FetchRefused, match="could not be fetched: it redirects to a private address"):
                await fetch(client, f"http://127.0.0.1:{port}{path}", policy=policy, max_bytes=MB)
        with pytest.raises(FetchRefused, match="after a redirect, it is not an http or https URL"):
            await fetch(client, f"http://127.0.0.1:{port}/to-file", policy=policy, max_bytes=MB)
        with pytest.raises(FetchRefused, match="redirects more than 3 times"):
            await fetch(client, f"http://127.0.0.1:{port}/loop/0", policy=policy, max_bytes=MB)
    assert hits == []


async def test_status_of_an_allowed_host_is_reported(media: tuple[int, Counter]) -> None:
    policy = policy_for(media[0])
    async with httpx.AsyncClient() as client:
        with pytest.raises(FetchRefused) as missing:
            await fetch(client, f"http://127.0.0.1:{media[0]}/missing.jpg", policy=policy, max_bytes=MB)
        with pytest.raises(FetchFailed) as broken:
            await fetch(client, f"http://127.0.0.1:{media[0]}/broken.jpg", policy=policy, max_bytes=MB)
    assert missing.value.message == "The media from 127.0.0.1 could not be fetched (HTTP 404)."
    assert isinstance(missing.value, PermanentError) and missing.value.status == 404
    assert isinstance(broken.value, TransientError) and "(HTTP 503)" in broken.value.message


class CountingTransport(httpx.AsyncHTTPTransport):
    """A real network transport that counts the body bytes the caller takes from the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.read = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        inner = response.stream
        assert isinstance(inner, httpx.AsyncByteStream)
        outer = self

        class Counted(httpx.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                async for chunk in inner:
                    outer.read += len(chunk)
                    yield chunk

            async def aclose(self) -> None:
                await inner.aclose()

        response.stream = Counted()
        return response


async def test_a_body_over_the_cap_is_refused_without_reading_it(media: tuple[int, Counter]) -> None:
    port, _ = media
    policy = policy_for(port)
    transport = CountingTransport()
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(FetchRefused, match="larger than the limit of 1 MB"):
            await fetch(client, f"http://127.0.0.1:{port}/declared-huge", policy=policy, max_bytes=MB)
        assert transport.read == 0  # a Content-Length over the cap is refused before the body
        with pytest.raises(FetchRefused, match="larger than the limit of 1 MB"):
            await fetch(client, f"http://127.0.0.1:{port}/endless", policy=policy, max_bytes=MB)
    assert MB < transport.read <= MB + 128 * 1024  # of a 200 MB body: the cap and one read more


async def test_the_whole_fetch_is_capped_in_time(media: tuple[int, Counter]) -> None:
    policy = policy_for(media[0])
    started = time.monotonic()
    async with httpx.AsyncClient() as client:
        with pytest.raises(FetchFailed, match="took longer than 1 s"):
            await fetch(client, f"http://127.0.0.1:{media[0]}/trickle", policy=policy, max_bytes=MB, timeout=1.0)
    assert time.monotonic() - started < 15  # 20 s of trickling was not waited for


async def test_names_that_do_not_resolve_fail_transiently() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(FetchFailed, match="does not resolve") as caught:
            await fetch(client, "http://nowhere.example/a.jpg", policy=policy_for(1), max_bytes=MB)
    assert isinstance(caught.value, FetchError) and isinstance(caught.value, TransientError)


async def test_check_url_at_creation_is_fast_and_lenient_about_dns() -> None:
    asked: list[str] = []

    async def slow(host: str, port: int) -> list[Any]:
        asked.append(host)
        await asyncio.sleep(30)
        return []

    resolver = static_resolver({"intranet.example.com": ["192.168.1.5"], "cdn.example.com": ["93.184.215.14"]})
    policy = FetchPolicy(resolver=resolver)
    for url in (
        "http://10.0.0.1/a.jpg",
        "http://[fd00::1]/a.jpg",
        "http://intranet.example.com/a.jpg",
        "http://db.internal/a.jpg",
    ):
        with pytest.raises(FetchRefused, match="points to a private address"):
            await check_url(url, policy=policy)
    await check_url("http://cdn.example.com/a.jpg", policy=policy)
    await check_url("http://not-in-dns.example/a.jpg", policy=policy)  # DNS may be down: checked when fetched
    await check_url("http://10.0.0.1:8080/a.jpg", policy=FetchPolicy.allowing("10.0.0.1:8080"))

    started = time.monotonic()
    await check_url("http://slow.example/a.jpg", policy=FetchPolicy(resolver=slow), timeout=0.2)
    with pytest.raises(FetchRefused):  # an IP literal never waits for DNS
        await check_url("http://127.0.0.1/a.jpg", policy=FetchPolicy(resolver=slow), timeout=0.2)
    assert time.monotonic() - started < 10 and asked == ["slow.example"]
