"""VK API connector (stub: limits and validation; publishing lands with the VK issue)."""

from __future__ import annotations

from typing import ClassVar

from connectors.base import BaseConnector, PlatformLimits


class VKConnector(BaseConnector):
    platform: ClassVar[str] = "vk"
    platform_label: ClassVar[str] = "VK"
    credential_fields: ClassVar[tuple[str, ...]] = ("access_token", "owner_id")
    limits: ClassVar[PlatformLimits] = PlatformLimits(
        text_max=16384,
        caption_max=16384,
        media_max=10,
        album_min=1,
        media_kinds=frozenset({"photo"}),
        per_chat_per_second=1.0,
        per_token_per_second=3.0,
    )
