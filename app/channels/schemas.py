"""Channel requests and responses. Credentials go in, never out."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.timeutil import TimeInputError, get_zone

Platform = Literal["telegram", "vk", "facebook", "instagram"]

_PATTERNS: dict[str, dict[str, tuple[str, str]]] = {
    "telegram": {
        "bot_token": (
            r"^\d{1,20}:[A-Za-z0-9_-]{35}$",
            "a bot token looks like 123456789:AAE… (digits, a colon, 35 characters)",
        ),
        "chat_id": (
            r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$",
            "a chat id is a number like -1001234567890 or @channelname",
        ),
    },
    "vk": {
        "access_token": (
            r"^[A-Za-z0-9._-]{20,512}$",
            "a VK access token is a long string of letters, digits, '.', '_' or '-'",
        ),
        "owner_id": (r"^-?[1-9]\d{0,19}$", "owner_id is a number: negative for a community wall (e.g. -123456)"),
    },
    "facebook": {
        "page_id": (r"^\d{1,30}$", "a Page id is a number"),
        "access_token": (
            r"^[A-Za-z0-9._|-]{20,1024}$",
            "a Page access token is a long string (it usually starts with EAA)",
        ),
    },
    "instagram": {
        "ig_user_id": (r"^\d{1,30}$", "an Instagram user id is a number (the professional account's id)"),
        "access_token": (
            r"^[A-Za-z0-9._|-]{20,1024}$",
            "an access token is a long string (it usually starts with EAA or IG)",
        ),
    },
}


def credential_fields(platform: str) -> tuple[str, ...]:
    return tuple(_PATTERNS.get(platform, {}))


def check_credentials(platform: str, raw: dict[str, Any]) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Normalise ids to strings and check each field's shape; returns (values, field errors)."""
    rules = _PATTERNS[platform]
    errors: list[dict[str, str]] = []
    values: dict[str, str] = {}
    for name in raw:
        if name not in rules:
            errors.append(
                {
                    "field": f"credentials.{name}",
                    "message": f"unknown field for {platform}; expected {', '.join(rules)}",
                }
            )
    for name, (pattern, hint) in rules.items():
        value = raw.get(name)
        if value is None or value == "":
            errors.append({"field": f"credentials.{name}", "message": f"required for {platform}"})
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            errors.append({"field": f"credentials.{name}", "message": "must be a string or a number"})
            continue
        text = str(value).strip()
        if not re.fullmatch(pattern, text):
            errors.append({"field": f"credentials.{name}", "message": f"does not look right: {hint}"})
            continue
        values[name] = text
    return values, errors


def _zone(value: str) -> str:
    try:
        get_zone(value)
    except TimeInputError as exc:
        raise ValueError(str(exc)) from exc
    return value


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: Platform
    name: str = Field(min_length=1, max_length=200)
    timezone: str = "UTC"
    credentials: dict[str, Any] | None = None
    sandbox: bool = False

    _check_zone = field_validator("timezone")(_zone)


class ChannelUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = None
    credentials: dict[str, Any] | None = None
    status: Literal["active", "disabled"] | None = None
    spacing_minutes: int | None = Field(default=None, ge=0, le=7 * 24 * 60,
                                        description="minutes between this channel's posts; 0 or null: the workspace's")
    utm_template: str | None = Field(default=None, max_length=1000,
                                     description="UTM tags of this channel's links; null or '': the workspace's")

    @field_validator("timezone")
    @classmethod
    def _check_zone(cls, value: str | None) -> str | None:
        return None if value is None else _zone(value)


class ChannelWarning(BaseModel):
    code: str
    message: str


class ChannelOut(BaseModel):
    id: str
    platform: str
    name: str
    timezone: str
    status: str
    status_reason: str | None
    sandbox: bool
    account: dict[str, Any]
    verified_at: datetime | None
    created_at: datetime
    token_expires_at: datetime | None = Field(
        default=None, description="When the platform says the token expires; null when it does not (or was not told).")
    warnings: list[ChannelWarning] = Field(
        default_factory=list, description="Trouble coming: token_expiring (within 7 days), data_access_expiring, "
                                          "missing_permission.")
    spacing_minutes: int | None = Field(default=None, description="null: the workspace's default spacing")
    utm_template: str | None = Field(default=None, description="null: the workspace's UTM template")


class ChannelList(BaseModel):
    items: list[ChannelOut]
    next_cursor: str | None = None
