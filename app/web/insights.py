"""The analyzer's view of a channel, when the analyzer is in this build (``app.analytics.service``)."""

from __future__ import annotations

import inspect
import logging
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import optional_module
from app.errors import ApiError
from app.models import Channel, Workspace
from app.timeutil import TimeInputError, get_zone
from app.web.heatmap import WEEKDAYS

log = logging.getLogger(__name__)


async def load_heatmap(session: AsyncSession, workspace: Workspace, channel: Channel) -> dict[str, Any] | None:
    """The channel's heatmap per the contract, or None (no analyzer, or no history to speak of)."""
    module = optional_module("app.analytics.service")
    func = getattr(module, "heatmap", None) if module is not None else None
    if func is None:
        return None
    try:
        result = func(session, workspace, channel)
        if inspect.isawaitable(result):
            result = await result
    except ApiError as exc:
        log.info("web.heatmap.unavailable", extra={"channel_id": channel.id, "detail": exc.detail})
        return None
    if not isinstance(result, dict) or not result.get("cells"):
        return None
    return result


def slot_label(slot: dict[str, Any]) -> str:
    """``Tue 18:00–19:00`` for a weekday×hour slot."""
    wd, hr = int(slot.get("weekday", 0)) % 7, int(slot.get("hour", 0)) % 24
    return f"{WEEKDAYS[wd]} {hr:02d}:00–{(hr + 1) % 24:02d}:00"


async def chosen_slot_reason(
    session: AsyncSession, workspace: Workspace, channel: Channel, at: datetime
) -> dict[str, Any]:
    """Why the best-slot option picked ``at`` for ``channel``: the slot, its score and the analyzer's words."""
    try:
        local = at.astimezone(get_zone(channel.timezone))
    except TimeInputError:
        local = at
    reason: dict[str, Any] = {"slot": f"{WEEKDAYS[local.weekday()]} {local:%H}:00", "channel": channel.name,
                              "timezone": channel.timezone, "cell": None, "explanation": "",
                              "posts_used": 0}
    data = await load_heatmap(session, workspace, channel)
    if data is None:
        reason["explanation"] = ("No engagement history yet, so the first free slot that keeps posts apart was "
                                 "taken.")
        return reason
    for cell in data.get("cells", []):
        if cell.get("weekday") == local.weekday() and cell.get("hour") == local.hour:
            reason["cell"] = cell
    reason["posts_used"] = int(data.get("posts_used") or 0)  # the same posts the cell counts come from
    reason["explanation"] = str(data.get("explanation") or "")
    return reason
