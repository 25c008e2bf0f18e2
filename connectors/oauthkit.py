"""Shared machinery of the fake authorization servers (``connectors/<platform>/fake_oauth.py``).

A platform's authorization dialog is a page a person answers; the fakes render a small consent page (``GET``) whose
form posts back to the same path (``POST``) with ``decision=allow|deny`` and the scopes the person left ticked
(``grant``, repeated), and answer that with the 302 to ``redirect_uri`` the platform would send. Tests post the form
directly.

What every fake dialog enforces, as the platforms do:

* the app (``client_id``) must be registered (``POST /_control/seed`` ``{"oauth_apps": [{"client_id",
  "client_secret", "redirect_uris"}]}``), and ``redirect_uri`` must be one of its registered URIs — otherwise an
  error page, never a redirect (the platforms refuse to redirect to an unknown address);
* a code is single use, expires after ``CODE_TTL`` seconds, and is bound to the ``client_id``, the exact
  ``redirect_uri`` and, when the dialog was given a ``code_challenge``, to the PKCE verifier (S256 or plain).

``sandbox=True`` accepts any app and any redirect URI (a newcomer without accounts can try the flow).
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi.responses import HTMLResponse, RedirectResponse

CODE_TTL = 600.0


@dataclass
class OAuthApp:
    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(default_factory=list)


@dataclass
class Grant:
    """What a person agreed to in the dialog; its ``code`` is exchanged once."""

    code: str
    client_id: str
    redirect_uri: str
    scopes: list[str]
    issued: float
    challenge: str | None = None
    challenge_method: str = "S256"
    extra: dict[str, Any] = field(default_factory=dict)
    used: bool = False


@dataclass
class OAuthServer:
    """Apps, issued codes and the tokens the exchanges handed out (for tests to inspect)."""

    sandbox: bool = False
    clock: Any = time.time
    apps: dict[str, OAuthApp] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)

    def reset(self) -> None:
        self.apps.clear()
        self.grants.clear()

    def seed_apps(self, specs: list[dict[str, Any]]) -> None:
        for spec in specs:
            self.apps[str(spec["client_id"])] = OAuthApp(
                str(spec["client_id"]), str(spec["client_secret"]), [str(u) for u in spec.get("redirect_uris", [])]
            )

    def app_for(self, client_id: str) -> OAuthApp | None:
        app = self.apps.get(client_id)
        if app is None and self.sandbox and client_id:
            app = OAuthApp(client_id, "")
        return app

    def dialog_problem(self, params: dict[str, Any]) -> str | None:
        """Why the dialog refuses to show (a page, not a redirect), or None."""
        app = self.app_for(str(params.get("client_id") or ""))
        if app is None:
            return "Invalid App ID: the app is not registered."
        redirect_uri = str(params.get("redirect_uri") or "")
        if not redirect_uri or not urlsplit(redirect_uri).scheme:
            return "redirect_uri is required."
        if not self.sandbox and redirect_uri not in app.redirect_uris:
            return ("URL Blocked: This redirect failed because the redirect URI is not whitelisted in the app's "
                    "Client OAuth Settings.")
        return None

    def secret_ok(self, client_id: str, client_secret: str) -> bool:
        app = self.app_for(client_id)
        return app is not None and bool(client_secret) and (self.sandbox or app.client_secret == client_secret)

    def issue(self, params: dict[str, Any], scopes: list[str], **extra: Any) -> str:
        code = secrets.token_urlsafe(32)
        self.grants[code] = Grant(code, str(params["client_id"]), str(params["redirect_uri"]), scopes, self.clock(),
                                  challenge=params.get("code_challenge") or None,
                                  challenge_method=str(params.get("code_challenge_method") or "S256"), extra=extra)
        return code

    def redeem(self, code: str, client_id: str, redirect_uri: str, verifier: str | None = None) -> Grant | str:
        """The grant of a code, used up; or a reason it cannot be redeemed (``unknown``, ``used``, ``expired``,
        ``redirect_uri``, ``client_id``, ``verifier``)."""
        grant = self.grants.get(code)
        if grant is None:
            return "unknown"
        if grant.used:
            return "used"
        grant.used = True  # a code is burned by any attempt, as the platforms do after a misuse
        if self.clock() - grant.issued > CODE_TTL:
            return "expired"
        if grant.client_id != client_id:
            return "client_id"
        if grant.redirect_uri != redirect_uri:
            return "redirect_uri"
        if grant.challenge is not None and not pkce_matches(grant.challenge, grant.challenge_method, verifier):
            return "verifier"
        return grant


def pkce_matches(challenge: str, method: str, verifier: str | None) -> bool:
    if not verifier:
        return False
    if method.upper() == "PLAIN":
        return secrets.compare_digest(challenge, verifier)
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return secrets.compare_digest(challenge, digest)


def consent_page(title: str, action: str, params: dict[str, Any], scopes: list[str]) -> HTMLResponse:
    """The fake's dialog: the app asks for ``scopes``; Allow / Cancel post back to ``action``."""
    hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(str(v))}">'
                     for k, v in params.items())
    boxes = "".join(f'<label><input type="checkbox" name="grant" value="{html.escape(s)}" checked> '
                    f"{html.escape(s)}</label><br>" for s in scopes)
    body = (f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>"
            f'<form method="post" action="{html.escape(action)}">{hidden}{boxes}'
            '<button name="decision" value="allow">Allow</button> '
            '<button name="decision" value="deny">Cancel</button></form>')
    return HTMLResponse(body)


def error_page(message: str) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><title>Error</title><p>{html.escape(message)}</p>", status_code=400)


def back_to_app(redirect_uri: str, query: dict[str, str], fragment: str = "") -> RedirectResponse:
    """The dialog's answer: a 302 to ``redirect_uri`` with ``query`` appended (and ``#fragment``)."""
    joiner = "&" if urlsplit(redirect_uri).query else "?"
    target = redirect_uri + joiner + urlencode(query) + (f"#{fragment}" if fragment else "")
    return RedirectResponse(target, status_code=302)


def split_scopes(raw: object) -> list[str]:
    """Scopes as given: comma- or space-separated."""
    return [s for s in str(raw or "").replace(",", " ").split() if s]


async def decision(request: Any) -> tuple[dict[str, Any], str, list[str]]:
    """The consent form posted back: (the dialog's original params, allow|deny, the scopes left ticked)."""
    form = await request.form()
    params = {k: v for k, v in form.multi_items() if k not in ("decision", "grant")}
    return params, str(form.get("decision") or "deny"), [str(s) for s in form.getlist("grant")]
