"""Sign in with an API key (exchanged for a session cookie) and sign out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.db import SessionDep
from app.security import hash_api_key
from app.web.render import redirect, render
from app.web.session import (
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    CsrfUserDep,
    MaybeUserDep,
    check_csrf,
    csrf_token,
    make_session_token,
    presession_nonce,
    set_cookie,
    workspace_for_key_hash,
)

router = APIRouter(include_in_schema=False)


def _safe_next(value: object) -> str:
    """Only local paths may be a post-login destination (no open redirect)."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/calendar"


@router.get("/")
async def home(user: MaybeUserDep) -> Response:
    """The calendar for a signed-in user, the sign-in page otherwise."""
    return redirect("/calendar" if user else "/login")


def _login_page(request: Request, nonce: str, is_new: bool, *, error: str = "", next_path: str = "",
                status_code: int = 200) -> Response:
    response = render(request, "login.html", {
        "login_csrf": csrf_token(request.app.state.box, f"pre:{nonce}"), "error": error,
        "next": _safe_next(next_path or request.query_params.get("next")),
    }, status_code=status_code)
    if is_new:
        set_cookie(response, request, PRESESSION_COOKIE, nonce, 3600)
    return response


@router.get("/login")
async def login_form(request: Request, user: MaybeUserDep) -> Response:
    """The sign-in form (a signed-in user goes straight on)."""
    if user is not None:
        return redirect(_safe_next(request.query_params.get("next")))
    nonce, is_new = presession_nonce(request)
    return _login_page(request, nonce, is_new)


@router.post("/login")
async def login(request: Request, session: SessionDep) -> Response:
    """Exchange an API key for a session cookie; a wrong key re-shows the form with a message."""
    form = await request.form()
    nonce = request.cookies.get(PRESESSION_COOKIE)
    check_csrf(request.app.state.box, f"pre:{nonce}" if nonce else None, form.get("csrf_token"))
    key = str(form.get("api_key") or "").strip()
    next_path = str(form.get("next") or "")
    workspace = await workspace_for_key_hash(session, hash_api_key(key)) if key else None
    if workspace is None:
        message = "Enter your API key." if not key else "That API key is not valid (or it was revoked)."
        return _login_page(request, nonce or "", False, error=message, next_path=next_path, status_code=401)
    response = redirect(_safe_next(next_path))
    set_cookie(response, request, SESSION_COOKIE, make_session_token(request.app.state.box, key), SESSION_MAX_AGE)
    response.delete_cookie(PRESESSION_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request, user: CsrfUserDep) -> Response:
    """End the session (the cookie is cleared; the key itself stays valid)."""
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
