"""The platforms' sign-in flows (OAuth 2.0 authorization code): the dialog's URL, the code exchange and what the
token may reach, as each platform documents them (docs/platform-apis.md §6).

* Facebook Login for Pages: dialog ``{SMM_FACEBOOK_OAUTH_BASE}/{version}/dialog/oauth``; code → short-lived user
  token → long-lived user token (``fb_exchange_token``) → ``/me/permissions`` and ``/me/accounts``: each Page with
  its Page token (which does not expire), then ``debug_token`` for its ``data_access_expires_at``.
* Instagram Login (professional accounts, no Page): dialog ``{SMM_INSTAGRAM_OAUTH_BASE}/oauth/authorize``; code →
  short-lived token (``POST {SMM_INSTAGRAM_LOGIN_TOKEN_BASE}/oauth/access_token``) → long-lived 60-day token
  (``ig_exchange_token`` on ``SMM_INSTAGRAM_LOGIN_GRAPH_BASE``) → ``/me``: the account.
* VK, two dialogs (VK's "Authorization Code Flow" for a user key, then for a community access key):
  1. ``{SMM_VK_OAUTH_BASE}/authorize`` with PKCE (S256) and ``scope=groups`` → a user key, used only to ask
     ``account.getAppPermissions`` and ``groups.get(filter=editor)``: the communities the person manages. The user
     key is not kept. Only an administrator may hand out a community's key, so an editor's communities are shown
     with that reason and cannot be picked. ❓ that oauth.vk.com honours PKCE as VK ID does is an assumption; the
     verifier is sent and the fake enforces it.
  2. after the pick, the same dialog again with ``group_ids=<chosen ids>`` and ``scope=wall,photos,manage``
     (community rights) → a code → ``/access_token`` answers ``access_token_<group_id>`` per community (no
     expiry unless revoked) → ``groups.getById`` and ``groups.getTokenPermissions`` with each key. Each community's
     channel holds its own community key with ``owner_id=-<group id>`` (docs/platform-apis.md §6: a community key is
     what publishing on a community wall needs, although VK's schema lists ``wall.post`` as user-token only 🟡).

Every failure is a :class:`SignInError` whose message is a sentence for the person, in the platform's words
where it has them; no message carries a code or a token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx

from app.config import Settings
from app.timeutil import utcnow


class SignInError(Exception):
    """The flow cannot go on; ``message`` says why (shown to the person)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Candidate:
    """One Page / community / account the person may turn into a channel."""

    key: str  # the target id: page_id, owner_id or ig_user_id
    name: str
    credentials: dict[str, str]
    token_expires_at: datetime | None = None
    data_access_expires_at: datetime | None = None
    scopes: list[str] = field(default_factory=list)
    problem: str = ""  # why it cannot publish (e.g. the person's role on the Page); empty when it can

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "credentials": self.credentials, "scopes": self.scopes,
                "problem": self.problem,
                "token_expires_at": self.token_expires_at.isoformat() if self.token_expires_at else None,
                "data_access_expires_at": (self.data_access_expires_at.isoformat()
                                           if self.data_access_expires_at else None)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Candidate:
        def when(v: str | None) -> datetime | None:
            return datetime.fromisoformat(v) if v else None

        return cls(data["key"], data["name"], dict(data["credentials"]), when(data.get("token_expires_at")),
                   when(data.get("data_access_expires_at")), list(data.get("scopes", [])), data.get("problem", ""))


@dataclass
class SignInResult:
    candidates: list[Candidate]
    missing: list[str]  # required permissions the person did not grant


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge) as RFC 7636 describes."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def _expiry(seconds: object) -> datetime | None:
    try:
        value = int(str(seconds))
    except ValueError:
        return None
    return utcnow() + timedelta(seconds=value) if value > 0 else None


def _unix(value: object) -> datetime | None:
    try:
        stamp = int(str(value))
    except ValueError:
        return None
    return datetime.fromtimestamp(stamp, UTC) if stamp > 0 else None


class Flow:
    """One platform's flow; bound to the shared HTTP client and the settings."""

    platform: ClassVar[str]  # the platform of the channels it makes
    key: ClassVar[str]  # the flow's own name (several flows may make channels of one platform)
    app_platform: ClassVar[str]  # whose app credentials it uses (SMM_<APP_PLATFORM>_APP_ID)
    name: ClassVar[str]
    scopes: ClassVar[tuple[str, ...]]
    required: ClassVar[tuple[str, ...]]
    pkce: ClassVar[bool] = False
    app_help: ClassVar[str]

    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        self.settings, self.client = settings, client

    @property
    def app_id(self) -> str:
        return str(getattr(self.settings, f"{self.app_platform}_app_id") or "")

    @property
    def app_secret(self) -> str:
        return str(getattr(self.settings, f"{self.app_platform}_app_secret") or "")

    @property
    def configured(self) -> bool:
        return bool(self.app_id and self.app_secret)

    def authorize_url(self, redirect_uri: str, state: str, challenge: str | None) -> str:
        raise NotImplementedError

    async def sign_in(self, code: str, redirect_uri: str, verifier: str | None) -> SignInResult:
        raise NotImplementedError

    async def _json(self, method: str, url: str, what: str, **kwargs: Any) -> Any:
        try:
            response = await self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise SignInError(f"{self.name} did not answer ({what}): {type(exc).__name__}. Try again.") from None
        try:
            body = response.json()
        except ValueError:
            raise SignInError(f"{self.name} answered {what} with HTTP {response.status_code} and no JSON.") from None
        if response.status_code >= 400 or (isinstance(body, dict) and "error" in body):
            raise SignInError(f"{self.name} refused {what}: {self._words(body, response.status_code)}")
        return body

    @staticmethod
    def _words(body: Any, status: int) -> str:
        if isinstance(body, dict):
            err = body.get("error")
            if isinstance(err, dict):  # Graph and VK API envelopes
                return str(err.get("message") or err.get("error_msg") or err)
            if isinstance(err, str):  # OAuth's {"error", "error_description"}
                return str(body.get("error_description") or err)
            if body.get("error_message"):  # Instagram's {"error_type", "code", "error_message"}
                return str(body["error_message"])
        return f"HTTP {status}"


class FacebookFlow(Flow):
    platform = key = app_platform = "facebook"
    name = "Facebook"
    scopes: ClassVar[tuple[str, ...]] = ("pages_show_list", "pages_manage_posts", "pages_read_engagement")
    required: ClassVar[tuple[str, ...]] = scopes
    app_help = ("Create an app at developers.facebook.com (type “Business”), add the “Facebook Login for Business” "
                "product, put {redirect} under Valid OAuth Redirect URIs, request pages_show_list, "
                "pages_manage_posts and pages_read_engagement, then set SMM_FACEBOOK_APP_ID and "
                "SMM_FACEBOOK_APP_SECRET (Settings → Basic) in this service's environment.")

    def _graph(self, path: str) -> str:
        return f"{self.settings.facebook_api_base.rstrip('/')}/{self.settings.graph_api_version}/{path}"

    def authorize_url(self, redirect_uri: str, state: str, challenge: str | None) -> str:
        query = {"client_id": self.app_id, "redirect_uri": redirect_uri, "state": state, "response_type": "code",
                 "scope": ",".join(self.scopes)}
        base = self.settings.facebook_oauth_base.rstrip("/")
        return f"{base}/{self.settings.graph_api_version}/dialog/oauth?{urlencode(query)}"

    async def _pages(self, code: str, redirect_uri: str) -> tuple[list[dict[str, Any]], list[str]]:
        """Code → short-lived → long-lived user token → (the person's Pages with Page tokens, granted scopes)."""
        app = {"client_id": self.app_id, "client_secret": self.app_secret}
        short = await self._json("GET", self._graph("oauth/access_token"), "the code exchange",
                                 params={**app, "redirect_uri": redirect_uri, "code": code})
        long = await self._json("GET", self._graph("oauth/access_token"), "the long-lived token exchange",
                                params={**app, "grant_type": "fb_exchange_token",
                                        "fb_exchange_token": str(short.get("access_token", ""))})
        user_token = str(long.get("access_token", ""))
        perms = await self._json("GET", self._graph("me/permissions"), "the permission check",
                                 params={"access_token": user_token})
        granted = [str(p.get("permission")) for p in perms.get("data", []) if p.get("status") == "granted"]
        accounts = await self._json("GET", self._graph("me/accounts"), "the list of Pages",
                                    params={"access_token": user_token, "fields": "id,name,access_token,tasks"})
        return list(accounts.get("data", [])), granted

    async def _debug(self, token: str) -> dict[str, Any]:
        debug = await self._json("GET", self._graph("debug_token"), "the token check",
                                 params={"input_token": token, "access_token": f"{self.app_id}|{self.app_secret}"})
        return dict(debug.get("data", {}))

    async def sign_in(self, code: str, redirect_uri: str, verifier: str | None) -> SignInResult:
        pages, granted = await self._pages(code, redirect_uri)
        missing = [s for s in self.required if s not in granted]
        candidates = []
        for page in pages:
            token = str(page.get("access_token", ""))
            data = await self._debug(token)
            tasks = set(page.get("tasks") or [])
            problem = "" if not tasks or "CREATE_CONTENT" in tasks else (
                "Your role on this Page does not allow creating content (Facebook task CREATE_CONTENT).")
            page_id = str(page["id"])
            candidates.append(Candidate(
                page_id, str(page.get("name") or page_id), {"page_id": page_id, "access_token": token},
                _unix(data.get("expires_at")), _unix(data.get("data_access_expires_at")),
                [str(s) for s in data.get("scopes", granted)], problem))
        return SignInResult(candidates, missing)


class InstagramPageFlow(FacebookFlow):
    """Instagram through the linked Facebook Page (Facebook Login, the Meta app of ``SMM_FACEBOOK_APP_ID``): each
    Page's ``instagram_business_account`` becomes an Instagram channel holding the Page token (it does not expire),
    published through graph.facebook.com as connectors/instagram does by default."""

    platform, key, app_platform = "instagram", "instagram_page", "facebook"
    name = "Instagram"
    scopes = ("pages_show_list", "pages_read_engagement", "instagram_basic", "instagram_content_publish")
    required = scopes

    async def sign_in(self, code: str, redirect_uri: str, verifier: str | None) -> SignInResult:
        pages, granted = await self._pages(code, redirect_uri)
        missing = [s for s in self.required if s not in granted]
        candidates = []
        for page in pages:
            token = str(page.get("access_token", ""))
            linked = await self._json("GET", self._graph(str(page["id"])), "the linked Instagram account", params={
                "fields": "instagram_business_account{id,username}", "access_token": token})
            account = linked.get("instagram_business_account") or {}
            if not account.get("id"):
                continue  # a Page without a linked professional account
            ig_id = str(account["id"])
            data = await self._debug(token)
            label = f"@{account['username']}" if account.get("username") else f"Instagram of {page.get('name')}"
            candidates.append(Candidate(ig_id, label, {"ig_user_id": ig_id, "access_token": token},
                                        _unix(data.get("expires_at")), _unix(data.get("data_access_expires_at")),
                                        granted))
        return SignInResult(candidates, missing)


class InstagramFlow(Flow):
    platform = key = app_platform = "instagram"
    name = "Instagram"
    scopes = ("instagram_business_basic", "instagram_business_content_publish")
    required = scopes
    app_help = ("Create an app at developers.facebook.com, add the “Instagram” product with “API setup with "
                "Instagram login”, put {redirect} under the business login's redirect URLs, then set "
                "SMM_INSTAGRAM_APP_ID and SMM_INSTAGRAM_APP_SECRET (the Instagram app id and secret shown there). "
                "The account must be a professional (business or creator) account.")

    def authorize_url(self, redirect_uri: str, state: str, challenge: str | None) -> str:
        query = {"client_id": self.app_id, "redirect_uri": redirect_uri, "state": state, "response_type": "code",
                 "scope": ",".join(self.scopes)}
        return f"{self.settings.instagram_oauth_base.rstrip('/')}/oauth/authorize?{urlencode(query)}"

    async def sign_in(self, code: str, redirect_uri: str, verifier: str | None) -> SignInResult:
        token_base = self.settings.instagram_login_token_base.rstrip("/")
        graph = self.settings.instagram_login_graph_base.rstrip("/")
        answer = await self._json("POST", f"{token_base}/oauth/access_token", "the code exchange", data={
            "client_id": self.app_id, "client_secret": self.app_secret, "grant_type": "authorization_code",
            "redirect_uri": redirect_uri, "code": code})
        short = (answer.get("data") or [answer])[0]  # documented both wrapped in "data" and flat
        granted = [p for p in str(short.get("permissions") or "").split(",") if p]
        long = await self._json("GET", f"{graph}/access_token", "the long-lived token exchange", params={
            "grant_type": "ig_exchange_token", "client_secret": self.app_secret,
            "access_token": str(short.get("access_token", ""))})
        token = str(long.get("access_token", ""))
        me = await self._json("GET", f"{graph}/{self.settings.graph_api_version}/me", "the account lookup",
                              params={"fields": "user_id,username,account_type,name", "access_token": token})
        ig_id = str(me.get("user_id") or me.get("id") or short.get("user_id"))
        problem = "" if me.get("account_type") in (None, "BUSINESS", "MEDIA_CREATOR", "CREATOR") else (
            "Only professional (business or creator) accounts can publish through the API.")
        candidate = Candidate(ig_id, f"@{me.get('username') or ig_id}", {"ig_user_id": ig_id, "access_token": token},
                              _expiry(long.get("expires_in")), None, granted, problem)
        return SignInResult([candidate], [s for s in self.required if granted and s not in granted])

    async def refresh(self, token: str) -> tuple[str, datetime | None]:
        """A long-lived token at least a day old → a new one, 60 days from now (``ig_refresh_token``)."""
        graph = self.settings.instagram_login_graph_base.rstrip("/")
        body = await self._json("GET", f"{graph}/refresh_access_token", "the token refresh",
                                params={"grant_type": "ig_refresh_token", "access_token": token})
        return str(body.get("access_token", "")), _expiry(body.get("expires_in"))


VK_RIGHTS = {"wall": 8192, "photos": 4, "groups": 262144, "offline": 65536}


class VKFlow(Flow):
    """The first VK dialog: a user key that lists the communities the person manages (then it is dropped)."""

    platform = key = app_platform = "vk"
    name = "VK"
    scopes: ClassVar[tuple[str, ...]] = ("groups",)
    required: ClassVar[tuple[str, ...]] = ("groups",)
    pkce = True
    app_help = ("Create an app at id.vk.com (Business → My apps; type “Website”), add {redirect} as a trusted "
                "redirect URL, enable the groups right for users and the wall, photos and manage rights for "
                "communities, then set SMM_VK_APP_ID (the app id) and SMM_VK_APP_SECRET (its protected key) in "
                "this service's environment.")

    def _query(self, redirect_uri: str, state: str) -> dict[str, str]:
        return {"client_id": self.app_id, "redirect_uri": redirect_uri, "state": state, "response_type": "code",
                "scope": ",".join(self.scopes), "v": self.settings.vk_api_version}

    def authorize_url(self, redirect_uri: str, state: str, challenge: str | None) -> str:
        query = self._query(redirect_uri, state)
        if challenge:
            query |= {"code_challenge": challenge, "code_challenge_method": "S256"}
        return f"{self.settings.vk_oauth_base.rstrip('/')}/authorize?{urlencode(query)}"

    async def _method(self, name: str, token: str, what: str, **params: Any) -> Any:
        url = f"{self.settings.vk_api_base.rstrip('/')}/method/{name}"
        body = await self._json("POST", url, what, data={**params, "access_token": token,
                                                         "v": self.settings.vk_api_version})
        return body.get("response")

    async def sign_in(self, code: str, redirect_uri: str, verifier: str | None) -> SignInResult:
        params = {"client_id": self.app_id, "client_secret": self.app_secret, "redirect_uri": redirect_uri,
                  "code": code}
        if verifier:
            params["code_verifier"] = verifier
        answer = await self._json("GET", f"{self.settings.vk_oauth_base.rstrip('/')}/access_token",
                                  "the code exchange", params=params)
        token = str(answer.get("access_token", ""))
        mask = int(await self._method("account.getAppPermissions", token, "the permission check") or 0)
        granted = [r for r, bit in VK_RIGHTS.items() if mask & bit]
        missing = [r for r in self.required if r not in granted]
        if "groups" in missing:
            return SignInResult([], missing)
        groups = await self._method("groups.get", token, "the list of communities", filter="editor", extended=1,
                                    fields="members_count")
        candidates = [Candidate(f"-{g['id']}", str(g.get("name") or f"club{g['id']}"), {"owner_id": f"-{g['id']}"},
                                problem="" if int(g.get("admin_level") or 0) >= 3 else (
                                    "Only an administrator of the community can give this app its access key "
                                    "(your role is editor)."))
                      for g in (groups or {}).get("items", [])]
        return SignInResult(candidates, missing)


class VKCommunityFlow(VKFlow):
    """The second VK dialog: ``group_ids`` of the picked communities → one community key each."""

    key = "vk_community"
    scopes: ClassVar[tuple[str, ...]] = ("wall", "photos", "manage")
    required: ClassVar[tuple[str, ...]] = ("wall", "photos")
    pkce = False  # VK documents no PKCE for the community key's code flow

    def __init__(self, settings: Settings, client: httpx.AsyncClient, group_ids: list[int] | None = None) -> None:
        super().__init__(settings, client)
        self.group_ids = list(group_ids or [])

    def authorize_url(self, redirect_uri: str, state: str, challenge: str | None) -> str:
        query = self._query(redirect_uri, state) | {"group_ids": ",".join(str(g) for g in self.group_ids)}
        return f"{self.settings.vk_oauth_base.rstrip('/')}/authorize?{urlencode(query)}"

    async def sign_in(self, code: str, redirect_uri: str, verifier: str | None) -> SignInResult:
        answer = await self._json("GET", f"{self.settings.vk_oauth_base.rstrip('/')}/access_token",
                                  "the community key exchange", params={
                                      "client_id": self.app_id, "client_secret": self.app_secret,
                                      "redirect_uri": redirect_uri, "code": code})
        keys = {k.removeprefix("access_token_"): str(v) for k, v in answer.items()
                if k.startswith("access_token_") and k.removeprefix("access_token_").isdigit()}
        candidates, missing = [], []
        for gid, token in keys.items():
            info = await self._method("groups.getById", token, "the community lookup")
            group = ((info or {}).get("groups") or [{}])[0] if isinstance(info, dict) else ((info or [{}])[0])
            perms = await self._method("groups.getTokenPermissions", token, "the community key's rights")
            granted = [str(p.get("name")) for p in (perms or {}).get("permissions", [])]
            lacking = [r for r in self.required if r not in granted]
            missing += [r for r in lacking if r not in missing]
            candidates.append(Candidate(
                f"-{gid}", str(group.get("name") or f"club{gid}"), {"access_token": token, "owner_id": f"-{gid}"},
                _expiry(answer.get("expires_in")), None, granted,
                "" if not lacking else f"The community key lacks the {', '.join(lacking)} right."))
        return SignInResult(candidates, missing)


FLOWS: dict[str, type[Flow]] = {"facebook": FacebookFlow, "instagram": InstagramFlow, "vk": VKFlow}
# every flow by its key (what a flow row records): the platforms' own, plus Instagram through a Facebook Page
FLOWS_BY_KEY: dict[str, type[Flow]] = {**{f.key: f for f in FLOWS.values()}, "instagram_page": InstagramPageFlow,
                                        "vk_community": VKCommunityFlow}
