"""Request dependencies: the database session and the workspace behind the API key."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import select

from app.db import SessionDep
from app.errors import ApiError, Invalid
from app.models import ApiKey, Workspace
from app.security import CredentialBox, hash_api_key

__all__ = ["CurrentWorkspace", "SessionDep"]


async def workspace_for_key(session: SessionDep, key: str) -> Workspace | None:
    stmt = (
        select(Workspace)
        .join(ApiKey, ApiKey.workspace_id == Workspace.id)
        .where(ApiKey.key_hash == hash_api_key(key), ApiKey.revoked_at.is_(None))
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def current_workspace(request: Request, session: SessionDep) -> Workspace:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "Missing API key: send 'Authorization: Bearer <api key>'.")
    workspace = await workspace_for_key(session, key.strip())
    if workspace is None:
        raise ApiError(401, "Invalid or revoked API key.")
    return workspace


CurrentWorkspace = Annotated[Workspace, Depends(current_workspace)]


def get_box(request: Request) -> CredentialBox:
    box: CredentialBox = request.app.state.box
    return box


BoxDep = Annotated[CredentialBox, Depends(get_box)]


NUL = "\x00"


def _nul_field(value: Any, path: str) -> str | None:
    """The path of the first string (or key) in a JSON value that contains NUL, or None."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _nul_field(key, path) or _nul_field(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            if found := _nul_field(item, f"{path}[{i}]"):
                return found
    return None


async def refuse_nul_characters(request: Request, _: CurrentWorkspace) -> None:
    """422 for a NUL character in a query parameter or a JSON/CSV body, 404 in a path parameter.

    PostgreSQL cannot store U+0000 in text (nor compare with it), so it would surface as a 500 deep inside a
    query; no id, name, text or time needs it. Runs after the key check, so a caller without a key learns nothing.
    """
    if any(NUL in value for value in request.path_params.values()):
        raise ApiError(404, "Not found: no id contains the NUL character.")
    for name, value in request.query_params.multi_items():
        if NUL in value or NUL in name:
            raise Invalid(name, "contains the NUL character (\\u0000), which cannot be stored")
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method in ("GET", "HEAD", "DELETE") or media_type.startswith("multipart/"):
        return  # uploads are files: NUL bytes are their business
    if request.url.path.endswith("/plan/import"):
        return  # a file (XLSX is a zip): the import reports a NUL in a cell as that cell's problem
    body = await request.body()
    if media_type.endswith("json"):
        if b"\\u0000" not in body:  # JSON spells NUL as \u0000 (a raw NUL byte is invalid JSON anyway)
            return
        try:
            field = _nul_field(json.loads(body), "body")
        except ValueError:
            return  # not JSON: request validation says so
        if field:
            raise Invalid(field, "contains the NUL character (\\u0000), which cannot be stored")
    elif b"\x00" in body:
        raise Invalid("body", "contains the NUL character, which cannot be stored")
