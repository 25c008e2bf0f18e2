"""The authorization half of the fake VK API (oauth.vk.com in real life), served by the same fake app.

Routes and their fault-injection method names::

    GET  /authorize      "GET /authorize"      the consent page: client_id, redirect_uri, scope, response_type=code,
                                               state, v, and PKCE code_challenge (+ code_challenge_method=S256)
    POST /authorize      "POST /authorize"     Allow / Cancel -> 302 to redirect_uri with code & state, or
                                               error=access_denied&error_reason=user_denied
    GET  /access_token   "GET /access_token"   client_id, client_secret, redirect_uri, code (+ code_verifier)
                                               -> {"access_token", "expires_in", "user_id"}
    POST /_control/oauth {"apps": [...], "user": {"id", "first_name", "last_name"}}

The community leg (VK's Authorization Code Flow for a community access key): the same dialog with
``group_ids=<id,...>`` and community rights (``scope=wall,photos,manage``) is shown only to an administrator
(level 3) of every listed community (otherwise an error page); its code's exchange answers
``{"access_token_<group_id>": "<key>", ..., "expires_in": 0}``, one community key per group, carrying the rights
ticked in the dialog (the VK publishing fake lets such a key post on, and upload photos to, its own wall).

A user token asked with ``offline`` does not expire (``expires_in: 0``), otherwise it lasts a day. The token carries
exactly the rights ticked in the dialog: ``wall.post`` without ``wall`` (or an upload without ``photos``) answers
error 15, ``groups.get`` needs ``groups``. Errors of ``/access_token`` are OAuth's ``{"error",
"error_description"}`` with HTTP 401 (``invalid_grant``: the code is unknown, used, expired or was issued for
another redirect_uri or PKCE verifier; ``invalid_client``: a wrong secret).

❓ PKCE on oauth.vk.com: VK documents PKCE for VK ID (id.vk.com); that oauth.vk.com's code flow honours
``code_challenge`` the same way is this fake's assumption (a client that sends no challenge is not asked for a
verifier).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from connectors import fakekit, oauthkit
from connectors.vk.fake_state import Token

if TYPE_CHECKING:
    from connectors.vk.fake_state import VKState

DAY = 86400


@dataclass
class VKLogin:
    server: oauthkit.OAuthServer
    user: dict[str, Any] = field(default_factory=dict)

    def reset(self) -> None:
        self.server.reset()
        self.user = {}


def new_token() -> str:
    return "vk1.a." + secrets.token_urlsafe(64).replace("-", "a").replace("_", "b")


def oauth_error(error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=401)


def install_oauth(app: FastAPI, state: VKState, faults: fakekit.FaultInjector) -> None:
    """Add the dialog and the code exchange to the VK fake ``app``."""
    login = VKLogin(oauthkit.OAuthServer(sandbox=state.sandbox, clock=state.clock))
    state.oauth = login
    app.state.oauth = login

    def person() -> dict[str, Any]:
        if not login.user:
            login.user = {"id": 100001, "first_name": "Sandbox", "last_name": "Person"}
        uid = int(login.user["id"])
        if uid not in state.users:
            state.add_user(uid, first_name=login.user.get("first_name", "Fake"),
                           last_name=login.user.get("last_name", "User"))
        if state.sandbox and not any(uid in g.admins for g in state.groups.values()):
            for gid in (200001, 200002):
                state.add_group(gid, name=f"Sandbox community {gid}", admins={uid: 3})
        return login.user

    def community_problem(params: dict[str, Any]) -> tuple[list[int], str | None]:
        """The dialog's communities, or why it refuses (unknown id, or the person is not their administrator)."""
        uid = int(person()["id"])
        try:
            groups = [int(g) for g in str(params.get("group_ids") or "").split(",") if g.strip()]
        except ValueError:
            return [], "group_ids is invalid."
        if not groups:
            return [], "group_ids is required."
        for gid in groups:
            group = state.groups.get(gid)
            if group is None:
                return [], f"Community {gid} was not found."
            if group.admins.get(uid, 0) < 3:
                return [], f"Only an administrator of “{group.name}” can give an app its access key."
        return groups, None

    @app.post("/_control/oauth", include_in_schema=False)
    async def seed_oauth(request: Request) -> dict[str, Any]:
        spec = await request.json()
        login.server.seed_apps(spec.get("apps", []))
        if "user" in spec:
            login.user = dict(spec["user"])
            person()
        return {"ok": True}

    @app.get("/authorize")
    async def dialog(request: Request) -> Any:
        if (fault := await faults.take("GET /authorize")) and (early := fault.early_response()):
            return early
        params = dict(request.query_params)
        if problem := login.server.dialog_problem(params):
            return oauthkit.error_page(problem)
        if params.get("response_type", "code") != "code":
            return oauthkit.error_page("This fake only serves response_type=code.")
        who = person()
        if params.get("group_ids") is not None:
            groups, problem = community_problem(params)
            if problem:
                return oauthkit.error_page(problem)
            names = ", ".join(state.groups[g].name for g in groups)
            return oauthkit.consent_page(f"Allow the app to act on behalf of the community {names}?",
                                         str(request.url.path), params, oauthkit.split_scopes(params.get("scope")))
        return oauthkit.consent_page(f"{who.get('first_name', '')} {who.get('last_name', '')}: allow the app?",
                                     str(request.url.path), params, oauthkit.split_scopes(params.get("scope")))

    @app.post("/authorize")
    async def decide(request: Request) -> Any:
        if (fault := await faults.take("POST /authorize")) and (early := fault.early_response()):
            return early
        params, choice, granted = await oauthkit.decision(request)
        if problem := login.server.dialog_problem(params):
            return oauthkit.error_page(problem)
        redirect_uri, back = str(params["redirect_uri"]), {"state": str(params.get("state") or "")}
        if choice != "allow":
            return oauthkit.back_to_app(redirect_uri, {"error": "access_denied", "error_reason": "user_denied",
                                                       "error_description": "User denied your request", **back})
        requested = oauthkit.split_scopes(params.get("scope"))
        extra: dict[str, Any] = {}
        if params.get("group_ids") is not None:
            groups, problem = community_problem(params)
            if problem:
                return oauthkit.error_page(problem)
            extra["group_ids"] = groups
        code = login.server.issue(params, [s for s in granted if s in requested], **extra)
        return oauthkit.back_to_app(redirect_uri, {"code": code, **back})

    @app.get("/access_token")
    async def access_token(request: Request) -> Any:
        if (fault := await faults.take("GET /access_token")) and (early := fault.early_response()):
            return early
        params = dict(request.query_params)
        client_id, secret = str(params.get("client_id") or ""), str(params.get("client_secret") or "")
        if not login.server.secret_ok(client_id, secret):
            return oauth_error("invalid_client", "client_secret is incorrect")
        grant = login.server.redeem(str(params.get("code") or ""), client_id, str(params.get("redirect_uri") or ""),
                                    params.get("code_verifier"))
        if isinstance(grant, str):
            if grant == "redirect_uri":
                return oauth_error("invalid_grant", "redirect_uri is incorrect, check application domain in the "
                                                    "settings page")
            if grant == "verifier":
                return oauth_error("invalid_grant", "code_verifier is invalid")
            return oauth_error("invalid_grant", "Code is invalid or expired.")
        uid = int(person()["id"])
        body: dict[str, Any]
        if "group_ids" in grant.extra:  # community keys: one per group, they do not expire
            body = {"expires_in": 0}
            for gid in grant.extra["group_ids"]:
                key = new_token()
                state.tokens[key] = Token(group_id=int(gid), scopes=list(grant.scopes))
                body[f"access_token_{gid}"] = key
        else:
            raw = new_token()
            state.tokens[raw] = Token(user_id=uid, scopes=list(grant.scopes))
            expires_in = 0 if "offline" in grant.scopes else DAY
            body = {"access_token": raw, "expires_in": expires_in, "user_id": uid}
        response = JSONResponse(body)
        if fault is not None:
            await fault.after_side_effect()
        return response
