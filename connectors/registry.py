"""Platform name -> connector class.

The four built-in platforms are registered here; outside code adds more through the entry-point group
``smm.connectors`` (``name = "package.module:ConnectorClass"``). A plugin that fails to load is logged and skipped.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from connectors.base import BaseConnector
from connectors.facebook.connector import FacebookConnector
from connectors.instagram.connector import InstagramConnector
from connectors.telegram.connector import TelegramConnector
from connectors.vk.connector import VKConnector

log = logging.getLogger(__name__)

BUILTIN: dict[str, type[BaseConnector]] = {
    c.platform: c for c in (TelegramConnector, VKConnector, FacebookConnector, InstagramConnector)
}


def load_registry() -> dict[str, type[BaseConnector]]:
    """The built-ins plus every plugin found under the ``smm.connectors`` entry-point group."""
    registry = dict(BUILTIN)
    for ep in entry_points(group="smm.connectors"):
        try:
            cls = ep.load()
        except Exception:  # a broken plugin must not take the service down
            log.exception("connectors.plugin.load_failed", extra={"entry_point": ep.name})
            continue
        registry[getattr(cls, "platform", ep.name)] = cls
    return registry


PLATFORMS: tuple[str, ...] = tuple(BUILTIN)
