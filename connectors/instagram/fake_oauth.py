"""The login half of the fake Instagram API: Instagram Login for professional accounts (no Facebook Page).

In real life three hosts serve it — the dialog on ``www.instagram.com``, the code exchange on ``api.instagram.com``
and the token endpoints on ``graph.instagram.com``; this fake serves all of them on one app, next to the publishing
routes, so one base URL stands in for each. Routes and their fault-injection method names::

    GET  /oauth/authorize          "GET /oauth/authorize"     the consent page
    POST /oauth/authorize          "POST /oauth/authorize"    Allow / Cancel -> 302 to redirect_uri (+ "#_")
    POST /oauth/access_token       "POST /oauth/access_token" form: client_id, client_secret,
                                   grant_type=authorization_code, redirect_uri, code -> short-lived token (1 h)
    GET  /access_token             "GET /access_token"        grant_type=ig_exchange_token -> long-lived (60 days)
    GET  /refresh_access_token     "GET /refresh_access_token"  grant_type=ig_refresh_token: a long-lived token at
                                   least 24 h old and unexpired -> a new one, 60 days from now
    GET  /{version}/me             "GET /me"                  fields=user_id,username,account_type,name
    POST /_control/oauth           {"apps": [...], "account": {"user_id", "username", "account_type"}}

Errors of the two ``/oauth`` routes are Instagram's ``{"error_type", "code", "error_message"}`` with HTTP 400; the
graph.instagram.com routes answer Graph envelopes. Tokens it issues are accepted by the publishing routes for the
account (``instagram_business_*`` scopes count as their Facebook-Login namesakes).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from connectors import fakekit, oauthkit

if TYPE_CHECKING:
    from connectors.instagram.fake import InstagramFakeState

SHORT_LIVED = 3600.0
LONG_LIVED = 60 * 86400.0
REFRESH_MIN_AGE = 86400.0
SAME_AS = {"instagram_business_basic": "instagram_basic",
           "instagram_business_content_publish": "instagram_content_publish",
           "instagram_business_manage_insights": "instagram_manage_insights"}


@dataclass
class InstagramLogin:
    server: oauthkit.OAuthServer
    account: dict[str, Any] = field(default_factory=dict)

    def reset(self) -> None:
        self.server.reset()
        self.account = {}


def ig_error(message: str, code: int = 400) -> JSONResponse:
    return JSONResponse({"error_type": "OAuthException", "code": code, "error_message": message}, status_code=400)


def install_oauth(app: FastAPI, state: InstagramFakeState, faults: fakekit.FaultInjector) -> None:
    """Add the Instagram Login routes to the Instagram fake ``app`` (before its ``/{version}/{id}`` routes)."""
    from connectors.facebook.fake import graph_error, read_params

    login = InstagramLogin(oauthkit.OAuthServer(sandbox=state.sandbox, clock=state.clock.now))
    state.oauth = login
    app.state.oauth = login

    def account() -> dict[str, Any]:
        if not login.account:
            login.account = {"user_id": "17841400000000001", "username": "sandbox.account", "account_type": "BUSINESS"}
        if state.user(login.account["user_id"]) is None:
            state.add_user({"id": login.account["user_id"], "username": login.account.get("username", "account")})
        return login.account

    @app.post("/_control/oauth", include_in_schema=False)
    async def seed_oauth(request: Request) -> dict[str, Any]:
        spec = await request.json()
        login.server.seed_apps(spec.get("apps", []))
        if "account" in spec:
            login.account = {**spec["account"], "user_id": str(spec["account"]["user_id"])}
            account()
        return {"ok": True}

    @app.get("/oauth/authorize")
    async def dialog(request: Request) -> Any:
        if (fault := await faults.take("GET /oauth/authorize")) and (early := fault.early_response()):
            return early
        params = dict(request.query_params)
        if problem := login.server.dialog_problem(params):
            return oauthkit.error_page(problem)
        scopes = oauthkit.split_scopes(params.get("scope"))
        return oauthkit.consent_page(f"@{account()['username']}: allow this app?", str(request.url.path), params,
                                     scopes)

    @app.post("/oauth/authorize")
    async def decide(request: Request) -> Any:
        if (fault := await faults.take("POST /oauth/authorize")) and (early := fault.early_response()):
            return early
        params, choice, granted = await oauthkit.decision(request)
        if problem := login.server.dialog_problem(params):
            return oauthkit.error_page(problem)
        redirect_uri, extra = str(params["redirect_uri"]), {"state": str(params.get("state") or "")}
        if choice != "allow":
            return oauthkit.back_to_app(redirect_uri, {
                "error": "access_denied", "error_reason": "user_denied",
                "error_description": "The user denied your request.", **extra})
        requested = oauthkit.split_scopes(params.get("scope"))
        code = login.server.issue(params, [s for s in granted if s in requested])
        return oauthkit.back_to_app(redirect_uri, {"code": code, **extra}, "_")

    def new_token(scopes: list[str], lifetime: float, kind: str) -> str:
        raw = "IGAA" + secrets.token_urlsafe(48).replace("-", "A").replace("_", "B")
        now = state.clock.now()
        state.tokens[raw] = {"ig_user_ids": [account()["user_id"]],
                             "scopes": sorted(set(scopes) | {SAME_AS[s] for s in scopes if s in SAME_AS}),
                             "granted": list(scopes), "expired": False, "issued_at": now,
                             "expires_at": now + lifetime, "kind": kind}
        return raw

    def live(raw: str) -> dict[str, Any] | None:
        tok = state.tokens.get(raw)
        if tok is None or tok.get("expired") or tok.get("expires_at", 0) < state.clock.now():
            return None
        return tok

    @app.post("/oauth/access_token")
    async def exchange(request: Request) -> Any:
        if (fault := await faults.take("POST /oauth/access_token")) and (early := fault.early_response()):
            return early
        params = await read_params(request)
        client_id, secret = str(params.get("client_id") or ""), str(params.get("client_secret") or "")
        if params.get("grant_type") != "authorization_code":
            return ig_error("Invalid grant_type: authorization_code is the only one supported here.")
        if not login.server.secret_ok(client_id, secret):
            return ig_error("Invalid Client Secret")
        grant = login.server.redeem(str(params.get("code") or ""), client_id, str(params.get("redirect_uri") or ""))
        if isinstance(grant, str):
            if grant == "redirect_uri":
                return ig_error("Error validating verification code. Please make sure your redirect_uri is "
                                "identical to the one you used in the OAuth dialog request")
            return ig_error("Matching code was not found or was already used")
        token = new_token(grant.scopes, SHORT_LIVED, "short")
        body = {"data": [{"access_token": token, "user_id": account()["user_id"],
                          "permissions": ",".join(grant.scopes)}]}
        return await answer(fault, body)

    @app.get("/access_token")
    async def long_lived(request: Request) -> Any:
        if (fault := await faults.take("GET /access_token")) and (early := fault.early_response()):
            return early
        params = dict(request.query_params)
        if params.get("grant_type") != "ig_exchange_token":
            return graph_error(100, "Unsupported grant_type: use ig_exchange_token")
        if not any(app.client_secret == params.get("client_secret") for app in login.server.apps.values()) and not (
                state.sandbox and params.get("client_secret")):
            return graph_error(101, "Error validating client secret.")
        tok = live(str(params.get("access_token") or ""))
        if tok is None or tok["kind"] != "short":
            return graph_error(190, "Invalid OAuth access token - Cannot parse access token")
        token = new_token(tok["granted"], LONG_LIVED, "long")
        return await answer(fault, {"access_token": token, "token_type": "bearer", "expires_in": int(LONG_LIVED)})

    @app.get("/refresh_access_token")
    async def refresh(request: Request) -> Any:
        if (fault := await faults.take("GET /refresh_access_token")) and (early := fault.early_response()):
            return early
        params = dict(request.query_params)
        if params.get("grant_type") != "ig_refresh_token":
            return graph_error(100, "Unsupported grant_type: use ig_refresh_token")
        tok = live(str(params.get("access_token") or ""))
        if tok is None or tok["kind"] != "long":
            return graph_error(190, "Invalid OAuth access token - Cannot parse access token")
        if state.clock.now() - tok["issued_at"] < REFRESH_MIN_AGE:
            return graph_error(100, "(#100) The access token must be at least 24 hours old to be refreshed.")
        token = new_token(tok["granted"], LONG_LIVED, "long")
        return await answer(fault, {"access_token": token, "token_type": "bearer", "expires_in": int(LONG_LIVED),
                                    "permissions": ",".join(tok["granted"])})

    @app.get("/{version}/me")
    async def me(version: str, request: Request) -> Any:
        if (fault := await faults.take("GET /me")) and (early := fault.early_response()):
            return early
        params = await read_params(request)
        tok = live(str(params.get("access_token") or ""))
        if tok is None:
            return graph_error(190, "Invalid OAuth access token - Cannot parse access token")
        acc = account()
        body = {"id": acc["user_id"], "user_id": acc["user_id"], "username": acc.get("username", ""),
                "account_type": acc.get("account_type", "BUSINESS"), "name": acc.get("name", acc.get("username"))}
        wanted = set(oauthkit.split_scopes(params.get("fields"))) | {"id"}
        return await answer(fault, {k: v for k, v in body.items() if k in wanted})


async def answer(fault: fakekit.Fault | None, body: Any) -> JSONResponse:
    response = JSONResponse(body)
    if fault is not None:
        await fault.after_side_effect()
    return response
