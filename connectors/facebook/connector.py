"""Facebook Pages connector (stub: limits and validation; publishing lands with the Facebook issue)."""

from __future__ import annotations

from typing import ClassVar

from connectors.base import BaseConnector, PlatformLimits


class FacebookConnector(BaseConnector):
    platform: ClassVar[str] = "facebook"
    platform_label: ClassVar[str] = "Facebook"
    credential_fields: ClassVar[tuple[str, ...]] = ("page_id", "access_token")
    limits: ClassVar[PlatformLimits] = PlatformLimits(
        text_max=63206,
        caption_max=63206,
        media_max=10,
        album_min=2,
        media_kinds=frozenset({"photo", "video"}),
        per_chat_per_second=1.0,
        per_token_per_second=10.0,
    )
