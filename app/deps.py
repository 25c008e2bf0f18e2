"""Request dependencies: the database session and the workspace behind the API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select

from app.db import SessionDep
from app.errors import ApiError
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
