"""Opaque, tamper-evident keyset cursors shared by every list endpoint."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated

from fastapi import Query

from app.errors import ApiError
from app.security import CredentialBox

Limit = Annotated[int, Query(ge=1, le=500, description="page size")]


def encode_cursor(box: CredentialBox, at: datetime, id_: str) -> str:
    payload = json.dumps([at.isoformat(), id_], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + box.sign(payload)


def decode_cursor(box: CredentialBox, cursor: str) -> tuple[datetime, str]:
    """The (sort key, id) a cursor stands for; 400 when it was altered or is not ours."""
    try:
        body, _, sig = cursor.partition(".")
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if not box.verify(payload, sig):
            raise ValueError("bad signature")
        at_text, id_ = json.loads(payload)
        return datetime.fromisoformat(at_text), str(id_)
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(
            400, "The cursor is invalid: pass next_cursor exactly as a previous page returned it."
        ) from exc
