"""Placeholder: the publisher runner lands with the publisher issue."""

from __future__ import annotations

from typing import Any


class PublisherRunner:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def notify(self) -> None:
        pass

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass
