"""Telegram Bot API connector (stub: limits and validation; publishing lands with the Telegram issue)."""

from __future__ import annotations

from typing import ClassVar

from connectors.base import BaseConnector, PlatformLimits


class TelegramConnector(BaseConnector):
    platform: ClassVar[str] = "telegram"
    platform_label: ClassVar[str] = "Telegram"
    credential_fields: ClassVar[tuple[str, ...]] = ("bot_token", "chat_id")
    limits: ClassVar[PlatformLimits] = PlatformLimits(
        text_max=4096,
        caption_max=1024,
        media_max=10,
        album_min=2,
        media_kinds=frozenset({"photo", "video", "document", "audio", "animation"}),
        length_unit="utf16",
        per_chat_per_second=1.0,
        per_token_per_second=30.0,
    )
