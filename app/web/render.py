"""Templates, the page renderer, security headers and the web UI's error pages."""

from __future__ import annotations

import math
from collections.abc import MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from app.timeutil import TimeInputError, get_zone
from app.web.preview import previews as preview_cards
from app.web.session import CsrfRejected, LoginRequired, WebUser

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.autoescape = True

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "object-src 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
)
# Paths that are not UI pages: the API, its docs (served with CDN assets), the fakes, media and probes.
NON_UI_PREFIXES = ("/api/", "/docs", "/redoc", "/openapi.json", "/sandbox/", "/media/", "/healthz", "/readyz")


def local_time(value: datetime | None, zone: str, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """``value`` on the wall clock of ``zone``, with its UTC offset (e.g. ``Tue 01 Dec 2026, 18:31 UTC+03:00``)."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        local = value.astimezone(get_zone(zone))
    except TimeInputError:
        local = value.astimezone(UTC)
    return f"{local.strftime(fmt)} {utc_offset(local)}"


def utc_offset(value: datetime) -> str:
    """``UTC+03:00`` style offset of an aware datetime."""
    off = value.utcoffset()
    minutes = int(off.total_seconds() // 60) if off is not None else 0
    sign = "+" if minutes >= 0 else "−"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def status_label(status: str) -> str:
    """A person's word for a status slug (``needs_check`` → ``needs check``)."""
    return status.replace("_", " ")


def lift(score: float) -> str:
    """A log-scale lift as the percentage a person reads: +0.18 -> '+20%'."""
    return f"{(math.exp(float(score)) - 1) * 100:+.0f}%"


templates.env.filters["lift"] = lift
templates.env.filters["local_time"] = local_time
templates.env.filters["status_label"] = status_label
templates.env.filters["urlquote"] = lambda v: quote(str(v), safe="")
templates.env.globals["platform_previews"] = pass_context(lambda ctx: preview_cards(ctx))  # _preview.html


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, user: WebUser | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render template ``name`` with the common context (user, CSRF token, sandbox flag, active nav)."""
    ctx: dict[str, Any] = {
        "user": user,
        "csrf": user.csrf if user is not None else "",
        "sandbox_on": bool(request.app.state.settings.sandbox),
        "nav": name.split("/")[0].removesuffix(".html"),
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    """A 303 See Other: after a form POST the browser GETs the next page."""
    return RedirectResponse(url, status_code=303)


class SecurityHeaders:
    """Adds CSP, X-Frame-Options and Referrer-Policy to every UI response (not the API, docs or fakes)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(NON_UI_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in names]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_web_handlers(app: FastAPI) -> None:
    """Redirect to /login for pages that need a user; a readable 403 page for a refused form."""

    @app.exception_handler(LoginRequired)
    async def _login_required(_: Request, exc: LoginRequired) -> Response:
        target = "/login"
        if exc.next_path and exc.next_path not in ("/", "/login"):
            target += "?next=" + quote(exc.next_path, safe="")
        return redirect(target)

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, _: CsrfRejected) -> Response:
        return render(request, "error.html", {
            "title": "This form has expired",
            "message": "The form was sent without a valid security token (it may be old, or come from another "
                       "site). Nothing was changed. Go back, reload the page and try again.",
        }, status_code=403)
