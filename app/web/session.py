"""Web sessions and CSRF: a signed cookie that references an API key by its hash, never the key itself.

The cookie is ``<key hash>.<issued unix time>.<signature>``; every request looks the hash up again, so a
revoked key ends its sessions at once. CSRF tokens are signatures over the session cookie (or, before sign-in,
over a random pre-session nonce), so a token from one session is worthless in another.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import SessionDep
from app.models import ApiKey, Workspace
from app.security import CredentialBox, hash_api_key

SESSION_COOKIE = "smm_session"
PRESESSION_COOKIE = "smm_pre"
SESSION_MAX_AGE = 30 * 24 * 3600


class LoginRequired(Exception):
    """The page needs a signed-in user; answered with a redirect to ``/login``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRejected(Exception):
    """A form arrived without a valid CSRF token; answered with a readable 403 page."""


@dataclass(frozen=True)
class WebUser:
    """The signed-in workspace and the session token its forms' CSRF tokens are bound to."""

    workspace: Workspace
    session_token: str
    csrf: str


def _box(request: Request) -> CredentialBox:
    box: CredentialBox = request.app.state.box
    return box


def is_https(request: Request) -> bool:
    """True when the browser talks HTTPS to us (directly or through a proxy that says so)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def make_session_token(box: CredentialBox, api_key: str, now: float | None = None) -> str:
    """A signed session value for ``api_key``: its hash and the issue time, never the key."""
    key_hash = hash_api_key(api_key)
    issued = str(int(now if now is not None else time.time()))
    return f"{key_hash}.{issued}.{box.sign(f'session:{key_hash}:{issued}'.encode())}"


def parse_session_token(box: CredentialBox, token: str, now: float | None = None) -> str | None:
    """The key hash a session token stands for, or None when it is forged or expired."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    key_hash, issued, sig = parts
    if not box.verify(f"session:{key_hash}:{issued}".encode(), sig):
        return None
    if (now if now is not None else time.time()) - int(issued) > SESSION_MAX_AGE:
        return None
    return key_hash


def csrf_token(box: CredentialBox, bound_to: str) -> str:
    """The CSRF token of the session (or pre-session nonce) ``bound_to``."""
    return box.sign(f"csrf:{bound_to}".encode())


def check_csrf(box: CredentialBox, bound_to: str | None, token: object) -> None:
    """Raise ``CsrfRejected`` unless ``token`` is the CSRF token of ``bound_to``."""
    if not bound_to or not isinstance(token, str) or not token or not box.verify(f"csrf:{bound_to}".encode(), token):
        raise CsrfRejected()


async def workspace_for_key_hash(session: AsyncSession, key_hash: str) -> Workspace | None:
    """The workspace of a live (not revoked) API key, looked up by the key's hash."""
    stmt = (
        select(Workspace)
        .join(ApiKey, ApiKey.workspace_id == Workspace.id)
        .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def optional_user(request: Request, session: SessionDep) -> WebUser | None:
    """The signed-in user, or None (no cookie, a forged or expired one, or a revoked key)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    box = _box(request)
    key_hash = parse_session_token(box, token)
    if key_hash is None:
        return None
    workspace = await workspace_for_key_hash(session, key_hash)
    if workspace is None:
        return None
    return WebUser(workspace, token, csrf_token(box, token))


async def require_user(request: Request, user: Annotated[WebUser | None, Depends(optional_user)]) -> WebUser:
    """The signed-in user; otherwise a redirect to ``/login`` (raised as ``LoginRequired``)."""
    if user is None:
        path = request.url.path
        if request.url.query:
            path += "?" + request.url.query
        raise LoginRequired(path if request.method == "GET" else "/")
    return user


UserDep = Annotated[WebUser, Depends(require_user)]
MaybeUserDep = Annotated[WebUser | None, Depends(optional_user)]


async def require_csrf(request: Request, user: UserDep) -> WebUser:
    """A signed-in user whose form carries this session's CSRF token (403 page otherwise)."""
    form = await request.form()
    check_csrf(_box(request), user.session_token, form.get("csrf_token"))
    return user


CsrfUserDep = Annotated[WebUser, Depends(require_csrf)]


def presession_nonce(request: Request) -> tuple[str, bool]:
    """The login form's pre-session nonce and whether it is new (and must be set as a cookie)."""
    nonce = request.cookies.get(PRESESSION_COOKIE)
    if nonce and 16 <= len(nonce) <= 64 and nonce.replace("-", "").replace("_", "").isalnum():
        return nonce, False
    return secrets.token_urlsafe(24), True


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    """Set a cookie the way every cookie of the UI is set: HttpOnly, SameSite=Lax, Secure over HTTPS."""
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=is_https(request),
                        path="/")
