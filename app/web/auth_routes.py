"""Sign in with an API key (exchanged for a server-side session), limited per address and key; sign out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.db import SessionDep
from app.security import hash_api_key
from app.timeutil import utcnow
from app.web import login_limit
from app.web.render import redirect, render
from app.web.session import (
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    CsrfUserDep,
    MaybeUserDep,
    check_csrf,
    csrf_token,
    end_session,
    live_key,
    presession_nonce,
    set_cookie,
    start_session,
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
    """Exchange an API key for a session cookie; a wrong key re-shows the form with a message (401), too many
    wrong ones from one address or at one key prefix a 429 with ``Retry-After`` and when to try again."""
    form = await request.form()
    nonce = request.cookies.get(PRESESSION_COOKIE)
    check_csrf(request.app.state.box, f"pre:{nonce}" if nonce else None, form.get("csrf_token"))
    key = str(form.get("api_key") or "").strip()
    next_path = str(form.get("next") or "")
    if not key:
        return _login_page(request, nonce or "", False, error="Enter your API key.", next_path=next_path,
                           status_code=401)
    settings, now = request.app.state.settings, utcnow()
    address = request.client.host if request.client else "unknown"
    wait = await login_limit.refusal(session, settings, address, key, now)
    if wait is None:
        api_key = await live_key(session, hash_api_key(key))
        if api_key is not None:
            cookie = await start_session(session, request.app.state.box, api_key)
            await session.commit()  # the session row exists before the browser holds its cookie
            signed_in = redirect(_safe_next(next_path))
            set_cookie(signed_in, request, SESSION_COOKIE, cookie, SESSION_MAX_AGE)
            signed_in.delete_cookie(PRESESSION_COOKIE, path="/")
            return signed_in
        await login_limit.record_failure(session, settings, address, key, now)
        await session.commit()
        wait = await login_limit.refusal(session, settings, address, key, now)
        if wait is None:
            return _login_page(request, nonce or "", False, error="That API key is not valid (or it was revoked).",
                               next_path=next_path, status_code=401)
    response = _login_page(request, nonce or "", False, error=wait.message, next_path=next_path, status_code=429)
    response.headers["Retry-After"] = str(wait.retry_after)
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """End the session on the server (the cookie stops working wherever it is) and clear it; the key stays valid."""
    await end_session(session, request.app.state.box, user.session_token)
    await session.commit()
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
