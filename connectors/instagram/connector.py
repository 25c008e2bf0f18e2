"""Instagram Graph API connector (stub: limits and validation; publishing lands with the Instagram issue)."""

from __future__ import annotations

from typing import ClassVar

from connectors.base import BaseConnector, PlatformLimits


class InstagramConnector(BaseConnector):
    platform: ClassVar[str] = "instagram"
    platform_label: ClassVar[str] = "Instagram"
    credential_fields: ClassVar[tuple[str, ...]] = ("ig_user_id", "access_token")
    limits: ClassVar[PlatformLimits] = PlatformLimits(
        text_max=2200,
        caption_max=2200,
        media_max=10,
        album_min=2,
        needs_media=True,
        media_kinds=frozenset({"photo", "video"}),
        hashtags_max=30,
        mentions_max=20,
        image_mime_types=frozenset({"image/jpeg"}),
        per_chat_per_second=1.0,
        per_token_per_second=10.0,
    )
