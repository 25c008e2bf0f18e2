"""Logging set-up: one line per event, dotted event names, no secrets."""

from __future__ import annotations

import logging


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines carry bot tokens in URLs
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
