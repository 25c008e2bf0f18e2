"""Web sessions and CSRF: a signed cookie that names a server-side session row, never the API key.

The cookie is ``<session token>.<issued unix time>.<signature>``; the database keeps only the token's hash
(``web_sessions``), tied to the API key that signed in. Every request looks the row up again, joined to a live
key: logout deletes the row and a revoked key ends its sessions at once. CSRF tokens are signatures over the
session cookie (or, before sign-in, over a random pre-session nonce), so a token from one session is worthless
in another.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import SessionDep
from app.models import ApiKey, WebSession, Workspace
from app.security import CredentialBox, hash_api_key
from app.timeutil import utcnow

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


def make_session_token(box: CredentialBox, session_secret: str, now: float | None = None) -> str:
    """The signed cookie value for the server-side session ``session_secret`` (never the API key)."""
    issued = str(int(now if now is not None else time.time()))
    return f"{session_secret}.{issued}.{box.sign(f'session:{session_secret}:{issued}'.encode())}"


def parse_session_token(box: CredentialBox, token: str, now: float | None = None) -> str | None:
    """The session secret a cookie stands for, or None when it is forged or expired."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    session_secret, issued, sig = parts
    if not box.verify(f"session:{session_secret}:{issued}".encode(), sig):
        return None
    if (now if now is not None else time.time()) - int(issued) > SESSION_MAX_AGE:
        return None
    return session_secret


async def start_session(session: AsyncSession, box: CredentialBox, api_key: ApiKey) -> str:
    """Store a new session of ``api_key`` (and forget expired ones); returns the cookie value."""
    now = utcnow()
    await session.execute(delete(WebSession).where(WebSession.expires_at < now))
    secret = secrets.token_urlsafe(32)
    session.add(WebSession(api_key_id=api_key.id, token_hash=hash_api_key(secret), created_at=now,
                           expires_at=now + timedelta(seconds=SESSION_MAX_AGE)))
    await session.flush()
    return make_session_token(box, secret)


async def end_session(session: AsyncSession, box: CredentialBox, token: str) -> None:
    """Delete the session a cookie names: the cookie is worthless from now on, wherever it was copied to."""
    secret = parse_session_token(box, token)
    if secret is not None:
        await session.execute(delete(WebSession).where(WebSession.token_hash == hash_api_key(secret)))


def csrf_token(box: CredentialBox, bound_to: str) -> str:
    """The CSRF token of the session (or pre-session nonce) ``bound_to``."""
    return box.sign(f"csrf:{bound_to}".encode())


def check_csrf(box: CredentialBox, bound_to: str | None, token: object) -> None:
    """Raise ``CsrfRejected`` unless ``token`` is the CSRF token of ``bound_to``."""
    if not bound_to or not isinstance(token, str) or not token or not box.verify(f"csrf:{bound_to}".encode(), token):
        raise CsrfRejected()


async def live_key(session: AsyncSession, key_hash: str) -> ApiKey | None:
    """The live (not revoked) API key with this hash."""
    stmt = select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    return (await session.execute(stmt)).scalar_one_or_none()


async def workspace_for_session(session: AsyncSession, session_secret: str) -> Workspace | None:
    """The workspace of an unexpired session whose key is live, looked up by the session secret's hash."""
    stmt = (
        select(Workspace)
        .join(ApiKey, ApiKey.workspace_id == Workspace.id)
        .join(WebSession, WebSession.api_key_id == ApiKey.id)
        .where(WebSession.token_hash == hash_api_key(session_secret), WebSession.expires_at > utcnow(),
               ApiKey.revoked_at.is_(None))
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def optional_user(request: Request, session: SessionDep) -> WebUser | None:
    """The signed-in user, or None (no cookie, a forged, expired or ended one, or a revoked key)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    box = _box(request)
    session_secret = parse_session_token(box, token)
    if session_secret is None:
        return None
    workspace = await workspace_for_session(session, session_secret)
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
