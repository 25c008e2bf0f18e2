"""The login half of the fake Facebook Graph API: Facebook Login for Pages, served by the same fake app.

Routes (any ``{version}``) and their fault-injection method names::

    GET  /{version}/dialog/oauth        "GET /dialog/oauth"    the consent page (www.facebook.com in real life)
    POST /{version}/dialog/oauth        "POST /dialog/oauth"   Allow / Cancel -> 302 to redirect_uri
    GET  /{version}/oauth/access_token  "GET /oauth/access_token"   code exchange, or grant_type=fb_exchange_token
    GET  /{version}/me/accounts         "GET /me/accounts"     the person's Pages, each with a Page token
    GET  /{version}/me/permissions      "GET /me/permissions"  granted / declined
    POST /_control/oauth                {"apps": [{client_id, client_secret, redirect_uris}],
                                         "person": {"id", "name", "pages": [{"id", "name", "tasks"}]}}

As Meta documents: a denied dialog returns ``error=access_denied&error_reason=user_denied``; the code exchange
needs the exact ``redirect_uri`` of the dialog; a code works once (``This authorization code has been used``,
100/36009); the short-lived user token lives about an hour, the long-lived one 60 days; Page tokens read with a
long-lived user token do not expire (``expires_at`` 0 in ``debug_token``) and carry the person's granted
permissions; ``data_access_expires_at`` is 90 days after the login.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from connectors import fakekit, oauthkit

if TYPE_CHECKING:
    from connectors.facebook.fake import FacebookFakeState

SHORT_LIVED = 3600.0
LONG_LIVED = 60 * 86400.0
DATA_ACCESS = 90 * 86400.0
DEFAULT_TASKS = ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"]


@dataclass
class FacebookLogin:
    """The signed-in person of the fake dialog and the authorization server."""

    server: oauthkit.OAuthServer
    person: dict[str, Any] = field(default_factory=dict)

    def reset(self) -> None:
        self.server.reset()
        self.person = {}


def install_oauth(app: FastAPI, state: FacebookFakeState, faults: fakekit.FaultInjector) -> None:
    """Add the login routes to the Graph fake ``app`` (before its ``/{version}/{page-id}`` routes)."""
    from connectors.facebook.fake import FakeToken, graph_error, read_params

    login = FacebookLogin(oauthkit.OAuthServer(sandbox=state.sandbox, clock=state.clock.now))
    state.oauth = login
    app.state.oauth = login

    def person() -> dict[str, Any]:
        if not login.person and state.sandbox:
            login.person = {"id": "100000000000001", "name": "Sandbox Person",
                            "pages": [{"id": "100000000000011", "name": "Sandbox Page One"},
                                      {"id": "100000000000012", "name": "Sandbox Page Two"}]}
        return login.person or {"id": "100000000000001", "name": "Fake Person", "pages": []}

    @app.post("/_control/oauth", include_in_schema=False)
    async def seed_oauth(request: Request) -> dict[str, Any]:
        spec = await request.json()
        login.server.seed_apps(spec.get("apps", []))
        if "person" in spec:
            login.person = dict(spec["person"])
            for page in login.person.get("pages", []):
                state.add_page(page)
        return {"ok": True}

    @app.get("/{version}/dialog/oauth")
    async def dialog(version: str, request: Request) -> Any:
        if (fault := await faults.take("GET /dialog/oauth")) and (early := fault.early_response()):
            return early
        params = dict(request.query_params)
        if problem := login.server.dialog_problem(params):
            return oauthkit.error_page(problem)
        if params.get("response_type", "code") != "code":
            return oauthkit.error_page("This fake only serves response_type=code.")
        scopes = oauthkit.split_scopes(params.get("scope"))
        title = f"{person().get('name', 'Fake Person')}: allow this app?"
        return oauthkit.consent_page(title, str(request.url.path), params, scopes)

    @app.post("/{version}/dialog/oauth")
    async def decide(version: str, request: Request) -> Any:
        if (fault := await faults.take("POST /dialog/oauth")) and (early := fault.early_response()):
            return early
        params, choice, granted = await oauthkit.decision(request)
        if problem := login.server.dialog_problem(params):
            return oauthkit.error_page(problem)
        redirect_uri, extra = str(params["redirect_uri"]), {"state": str(params.get("state") or "")}
        if choice != "allow":
            return oauthkit.back_to_app(redirect_uri, {
                "error": "access_denied", "error_code": "200", "error_description": "Permissions error",
                "error_reason": "user_denied", **extra}, "_=_")
        requested = oauthkit.split_scopes(params.get("scope"))
        granted = [s for s in granted if s in requested]
        code = login.server.issue(params, granted, declined=[s for s in requested if s not in granted])
        return oauthkit.back_to_app(redirect_uri, {"code": code, **extra}, "_=_")

    def new_user_token(scopes: list[str], declined: list[str], lifetime: float, data_access: float) -> str:
        raw = "EAA" + secrets.token_urlsafe(48).replace("-", "A").replace("_", "B")
        state.tokens[raw] = FakeToken(raw, "USER", "", list(scopes), expires_at=state.clock.now() + lifetime,
                                      data_access_expires_at=data_access, user_id=str(person()["id"]),
                                      declined=list(declined))
        return raw

    @app.get("/{version}/oauth/access_token")
    async def access_token(version: str, request: Request) -> Any:
        if (fault := await faults.take("GET /oauth/access_token")) and (early := fault.early_response()):
            return early
        params = await read_params(request)
        client_id, secret = str(params.get("client_id") or ""), str(params.get("client_secret") or "")
        if not login.server.secret_ok(client_id, secret):
            return graph_error(1, "Error validating client secret.")
        if params.get("grant_type") == "fb_exchange_token":
            short = state.tokens.get(str(params.get("fb_exchange_token") or ""))
            if short is None or short.type != "USER" or short.expires_at < state.clock.now():
                return graph_error(190, "Invalid OAuth access token - Cannot parse access token")
            token = new_user_token(short.scopes, short.declined, LONG_LIVED, short.data_access_expires_at)
            return await answer(fault, {"access_token": token, "token_type": "bearer", "expires_in": int(LONG_LIVED)})
        grant = login.server.redeem(str(params.get("code") or ""), client_id, str(params.get("redirect_uri") or ""))
        if isinstance(grant, str):
            if grant == "used":
                return graph_error(100, "This authorization code has been used.", 36009)
            if grant == "redirect_uri":
                return graph_error(100, "Error validating verification code. Please make sure your redirect_uri is "
                                        "identical to the one you used in the OAuth dialog request", 36008)
            if grant == "expired":
                return graph_error(100, "This authorization code has expired.", 36007)
            return graph_error(100, "Invalid verification code format.")
        token = new_user_token(grant.scopes, grant.extra.get("declined", []), SHORT_LIVED,
                               state.clock.now() + DATA_ACCESS)
        return await answer(fault, {"access_token": token, "token_type": "bearer", "expires_in": int(SHORT_LIVED)})

    def user_token(params: dict[str, Any]) -> FakeToken | JSONResponse:
        tok = state.token(params)
        if isinstance(tok, FakeToken) and tok.type != "USER":
            return graph_error(100, "(#100) Tried accessing nonexisting field (accounts) on node type (Page)")
        return tok

    @app.get("/{version}/me/accounts")
    async def accounts(version: str, request: Request) -> Any:
        if (fault := await faults.take("GET /me/accounts")) and (early := fault.early_response()):
            return early
        params = await read_params(request)
        if isinstance(tok := user_token(params), JSONResponse):
            return tok
        if "pages_show_list" not in tok.scopes:
            return {"data": []}  # without pages_show_list Graph lists no Pages
        long_lived = tok.expires_at - state.clock.now() > 2 * SHORT_LIVED
        data = []
        for page in person().get("pages", []):
            pid = str(page["id"])
            if pid not in state.pages:
                state.add_page(page)
            raw = f"EAA{pid}P{secrets.token_urlsafe(40).replace('-', 'A').replace('_', 'B')}"
            state.tokens[raw] = FakeToken(raw, "PAGE", pid, [s for s in tok.scopes if s.startswith("pages_")],
                                          expires_at=0.0 if long_lived else tok.expires_at,
                                          data_access_expires_at=tok.data_access_expires_at, user_id=tok.user_id)
            data.append({"access_token": raw, "category": page.get("category", "Brand"),
                         "category_list": [{"id": "1605186416478696", "name": "Brand"}],
                         "name": state.pages[pid]["name"], "id": pid,
                         "tasks": list(page.get("tasks", DEFAULT_TASKS))})
        return await answer(fault, {"data": data, "paging": {"cursors": {"before": "QVFI", "after": "QVFI"}}})

    @app.get("/{version}/me/permissions")
    async def permissions(version: str, request: Request) -> Any:
        if (fault := await faults.take("GET /me/permissions")) and (early := fault.early_response()):
            return early
        params = await read_params(request)
        if isinstance(tok := user_token(params), JSONResponse):
            return tok
        data = [{"permission": s, "status": "granted"} for s in tok.scopes]
        data += [{"permission": s, "status": "declined"} for s in tok.declined]
        return await answer(fault, {"data": data})


async def answer(fault: fakekit.Fault | None, body: Any) -> JSONResponse:
    response = JSONResponse(body)
    if fault is not None:
        await fault.after_side_effect()
    return response
