"""Connector instances for the running service: one per platform for real accounts, one per platform for the
sandbox (the fake platforms this service mounts under ``/sandbox/<platform>`` when ``SMM_SANDBOX=1``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import httpx

from app.config import Settings
from app.logs import install_redaction
from connectors.addresses import FetchPolicy, parse_allow_hosts
from connectors.base import BaseConnector
from connectors.registry import load_registry


def _connect_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def fetch_policy(settings: Settings) -> FetchPolicy:
    """What user-supplied URLs may reach: public addresses, ``SMM_FETCH_ALLOW_HOSTS`` and, with ``SMM_SANDBOX=1``,
    the service's own address (its public base URL and the host:port it listens on)."""
    entries = [entry for entry in settings.fetch_allow_hosts.split(",") if entry.strip()]
    if settings.sandbox:
        public = urlsplit(settings.effective_public_base_url)
        if public.hostname:
            entries.append(_host_port(public.hostname, public.port or (443 if public.scheme == "https" else 80)))
        hosts = ["127.0.0.1", "::1", "localhost"] if settings.host in ("0.0.0.0", "::", "") else [settings.host]
        entries += [_host_port(host, settings.port) for host in hosts]
    return FetchPolicy(allow=parse_allow_hosts(entries))


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


KEEPALIVE_S = 4.0  # idle connections are dropped before servers usually drop them (5 s)
SHARD_SIZE = 8


class ShardedTransport(httpx.AsyncBaseTransport):
    """One logical connection pool made of several small httpcore pools; each request goes to the least busy.

    httpcore looks at every connection of its pool on each request and each response (and, for every idle
    connection, counts the idle ones again): with one pool of 200 connections that was 42 % of the
    publisher's HTTP time (``bench/RESULTS.md``, dispatch). Pools of ``SHARD_SIZE`` keep the scan short.
    """

    def __init__(self, size: int, shard_size: int = SHARD_SIZE, keepalive_expiry: float = KEEPALIVE_S) -> None:
        count = max(1, -(-size // shard_size))
        per = -(-size // count)
        limits = httpx.Limits(max_connections=per, max_keepalive_connections=per, keepalive_expiry=keepalive_expiry)
        # one SSL context for every shard: each builds its own otherwise, and loading the CA bundle 25 times took
        # 8 s of a busy 2-core machine's start-up (0.3 s each)
        ssl_context = httpx.create_ssl_context()
        self.pools = [httpx.AsyncHTTPTransport(limits=limits, verify=ssl_context) for _ in range(count)]
        self.busy = [0] * count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        i = self.busy.index(min(self.busy))
        self.busy[i] += 1
        try:
            response = await self.pools[i].handle_async_request(request)
        except BaseException:
            self.busy[i] -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Counted(response.stream, self.busy, i)  # busy until the body is read or closed
        return response

    async def aclose(self) -> None:
        for pool in self.pools:
            await pool.aclose()


class _Counted(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, busy: list[int], index: int) -> None:
        self.inner, self.busy, self.index, self.closed = inner, busy, index, False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            if not self.closed:
                self.closed = True
                self.busy[self.index] -= 1


class _OnFirstRequest(httpx.AsyncBaseTransport):
    """A transport built when the first request goes out (never, for most ``smm`` commands)."""

    def __init__(self, make: Callable[[], httpx.AsyncBaseTransport]) -> None:
        self.make = make
        self.inner: httpx.AsyncBaseTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.inner is None:
            self.inner = self.make()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self.inner is not None:
            await self.inner.aclose()


def make_http_client(settings: Settings, *, deferred: bool = False) -> httpx.AsyncClient:
    """The one shared client: connections for as many sends as the publisher runs at once (opening a
    connection per send costs more CPU than the send), in small pools (:class:`ShardedTransport`).

    ``deferred``: the pools (and the CA bundle they load) are built on the first request; building and closing
    them was ~50 ms of every ``smm`` command that only checks a post."""
    def transport() -> ShardedTransport:
        return ShardedTransport(max(settings.dispatch_concurrency, 20))

    return httpx.AsyncClient(timeout=settings.http_timeout, transport=_OnFirstRequest(transport) if deferred
                             else transport(), follow_redirects=False)


class ConnectorHub:
    """Hands out connectors bound to the shared ``httpx.AsyncClient`` and the configured base URLs."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        install_redaction()
        self.settings = settings
        self.client = client
        self.registry = load_registry()
        self.sandbox_base = f"http://{_connect_host(settings.host)}:{settings.port}/sandbox"
        self.fetch_policy = fetch_policy(settings)
        self._real: dict[str, BaseConnector] = {}
        self._sandbox: dict[str, BaseConnector] = {}

    def _settings_for(self, platform: str) -> tuple[str, dict[str, str]]:
        s = self.settings
        public = s.effective_public_base_url
        table: dict[str, tuple[str, dict[str, str]]] = {
            "telegram": (s.telegram_api_base, {}),
            "vk": (s.vk_api_base, {"api_version": s.vk_api_version}),
            "facebook": (s.facebook_api_base, {"graph_version": s.graph_api_version, "public_base_url": public}),
            "instagram": (s.instagram_api_base, {"graph_version": s.graph_api_version, "public_base_url": public,
                                                 "login_base_url": s.instagram_login_graph_base}),
        }
        return table.get(platform, ("", {}))

    def get(self, platform: str, sandbox: bool = False) -> BaseConnector:
        cache = self._sandbox if sandbox else self._real
        if platform not in cache:
            cls = self.registry[platform]
            base, extra = self._settings_for(platform)
            if sandbox:
                base = f"{self.sandbox_base}/{platform}"
                extra = {k: base if k == "login_base_url" else v for k, v in extra.items()}
            connector = cls(self.client, base, **extra)
            connector.fetch_policy = self.fetch_policy  # any connector that fetches a user's URL obeys it
            cache[platform] = connector
        return cache[platform]

    @property
    def platforms(self) -> list[str]:
        return sorted(self.registry)
