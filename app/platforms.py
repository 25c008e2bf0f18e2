"""Connector instances for the running service: one per platform for real accounts, one per platform for the
sandbox (the fake platforms this service mounts under ``/sandbox/<platform>`` when ``SMM_SANDBOX=1``)."""

from __future__ import annotations

import httpx

from app.config import Settings
from app.logs import install_redaction
from connectors.base import BaseConnector
from connectors.registry import load_registry


def _connect_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def make_http_client(settings: Settings) -> httpx.AsyncClient:
    """The one shared client: a pool as large as the publisher's concurrency (opening a connection per send
    costs more CPU than the send), idle connections dropped before servers usually drop them (5 s), so a send
    never goes out on a connection the server is closing."""
    size = max(settings.dispatch_concurrency, 20)
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size, keepalive_expiry=4.0)
    return httpx.AsyncClient(timeout=settings.http_timeout, limits=limits, follow_redirects=False)


class ConnectorHub:
    """Hands out connectors bound to the shared ``httpx.AsyncClient`` and the configured base URLs."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        install_redaction()
        self.settings = settings
        self.client = client
        self.registry = load_registry()
        self.sandbox_base = f"http://{_connect_host(settings.host)}:{settings.port}/sandbox"
        self._real: dict[str, BaseConnector] = {}
        self._sandbox: dict[str, BaseConnector] = {}

    def _settings_for(self, platform: str) -> tuple[str, dict[str, str]]:
        s = self.settings
        public = s.effective_public_base_url
        table: dict[str, tuple[str, dict[str, str]]] = {
            "telegram": (s.telegram_api_base, {}),
            "vk": (s.vk_api_base, {"api_version": s.vk_api_version}),
            "facebook": (s.facebook_api_base, {"graph_version": s.graph_api_version, "public_base_url": public}),
            "instagram": (s.instagram_api_base, {"graph_version": s.graph_api_version, "public_base_url": public}),
        }
        return table.get(platform, ("", {}))

    def get(self, platform: str, sandbox: bool = False) -> BaseConnector:
        cache = self._sandbox if sandbox else self._real
        if platform not in cache:
            cls = self.registry[platform]
            base, extra = self._settings_for(platform)
            if sandbox:
                base = f"{self.sandbox_base}/{platform}"
            cache[platform] = cls(self.client, base, **extra)
        return cache[platform]

    @property
    def platforms(self) -> list[str]:
        return sorted(self.registry)
