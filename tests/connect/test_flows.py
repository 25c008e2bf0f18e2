"""Sign-in flows end to end over real HTTP: a real `smm serve`, the platform fakes on their own ports, and a
browser (httpx, cookies kept) that follows every Location header: Channels → the platform's dialog → the
callback → the pick form → a channel that publishes. Refusals: a denied consent, a state from nowhere or from
another session, a replayed callback (reused code), a missing permission. Nothing of the code or the tokens in the
log."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.config import Settings
from connectors.facebook.fake import create_app as facebook_fake
from connectors.fakekit import serve_in_thread
from connectors.instagram.fake import create_app as instagram_fake
from connectors.vk.fake import create_app as vk_fake
from tests.conftest import API_KEY
from tests.served import Served, serve, smm_env, wait_for

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
FLOW_RE = re.compile(r'name="flow" value="([^"]+)"')
APP_ID, APP_SECRET = "4242", "app-secret-0123456789"


class Browser:
    """A person's browser: cookies per host, redirects followed by hand so each hop is visible."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.client = httpx.Client(timeout=30, follow_redirects=False)
        self.hops: list[str] = []

    def sign_in(self) -> None:
        page = self.client.get(f"{self.base}/login")
        r = self.client.post(f"{self.base}/login", data={"api_key": API_KEY, "csrf_token": csrf(page.text)})
        assert r.status_code == 303, r.text

    def go(self, response: httpx.Response) -> httpx.Response:
        while response.status_code in (302, 303, 307):
            url = str(response.url.join(response.headers["location"]))
            self.hops.append(url)
            response = self.client.get(url)
        return response

    def get(self, path: str) -> httpx.Response:
        return self.go(self.client.get(path if path.startswith("http") else f"{self.base}{path}"))

    def consent(self, dialog: httpx.Response, decision: str = "allow", grant: list[str] | None = None
                ) -> httpx.Response:
        """Answer the fake platform's dialog page (Allow / Cancel, with the ticked scopes)."""
        assert dialog.status_code == 200 and "Allow" in dialog.text, dialog.text
        params = {k: v[0] for k, v in parse_qs(urlsplit(str(dialog.url)).query).items()}
        ticked = grant if grant is not None else params.get("scope", "").replace(",", " ").split()
        first = self.client.post(str(dialog.url.copy_with(query=None)),
                                 data={**params, "decision": decision, "grant": ticked})
        assert first.status_code == 302, first.text
        self.hops.append(first.headers["location"])
        return self.go(first)

    def pick(self, page: httpx.Response, platform: str, accounts: list[str]) -> httpx.Response:
        assert page.status_code == 200, page.text
        flow = FLOW_RE.search(page.text)
        assert flow, page.text
        r = self.client.post(f"{self.base}/connect/{platform}/pick", data={
            "csrf_token": csrf(page.text), "flow": flow.group(1), "account": accounts, "timezone": "Europe/Berlin"})
        return self.go(r)


def csrf(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, html[:500]
    return match.group(1)


@pytest.fixture
def fakes() -> Iterator[dict[str, Any]]:
    apps = {"facebook": facebook_fake(), "instagram": instagram_fake(), "vk": vk_fake()}
    with serve_in_thread(apps["facebook"]) as fb, serve_in_thread(apps["instagram"]) as ig, \
            serve_in_thread(apps["vk"]) as vk:
        yield {"apps": apps, "urls": {"facebook": fb, "instagram": ig, "vk": vk}}


@pytest.fixture
def served(settings: Settings, tmp_path: Path, fakes: dict[str, Any]) -> Iterator[Served]:
    urls = fakes["urls"]
    env = smm_env(settings, **{
        "SMM_FACEBOOK_APP_ID": APP_ID, "SMM_FACEBOOK_APP_SECRET": APP_SECRET,
        "SMM_FACEBOOK_OAUTH_BASE": urls["facebook"], "SMM_FACEBOOK_API_BASE": urls["facebook"],
        "SMM_INSTAGRAM_APP_ID": APP_ID, "SMM_INSTAGRAM_APP_SECRET": APP_SECRET,
        "SMM_INSTAGRAM_OAUTH_BASE": urls["instagram"], "SMM_INSTAGRAM_LOGIN_TOKEN_BASE": urls["instagram"],
        "SMM_INSTAGRAM_LOGIN_GRAPH_BASE": urls["instagram"], "SMM_INSTAGRAM_API_BASE": urls["instagram"],
        "SMM_VK_APP_ID": APP_ID, "SMM_VK_APP_SECRET": APP_SECRET,
        "SMM_VK_OAUTH_BASE": urls["vk"], "SMM_VK_API_BASE": urls["vk"],
    })
    service = serve(env, tmp_path / "serve.log")
    for platform, url in urls.items():
        person = {"facebook": {"person": {"id": "9001", "name": "Ann", "pages": [
                      {"id": "501", "name": "Bakery", "instagram_business_account": "17841400000000888"},
                      {"id": "502", "name": "Cafe", "tasks": ["ANALYZE"]}]}},
                  "instagram": {"account": {"user_id": "17841400000000777", "username": "bakery.shop"}},
                  "vk": {"user": {"id": 42, "first_name": "Ann", "last_name": "K"}}}[platform]
        uris = [f"{service.base}/connect/{platform}/callback"]
        if platform == "facebook":  # the Meta app also serves Instagram through the linked Page
            uris.append(f"{service.base}/connect/instagram/callback")
        app = {"client_id": APP_ID, "client_secret": APP_SECRET, "redirect_uris": uris}
        assert httpx.post(f"{url}/_control/oauth", json={"apps": [app], **person}).status_code == 200
    httpx.post(f"{urls['vk']}/_control/seed", json={"groups": [
        {"id": 77, "name": "Bakery club", "admins": {"42": 3}}, {"id": 78, "name": "Read only", "admins": {"42": 1}},
        {"id": 79, "name": "Editors only", "admins": {"42": 2}},
        {"id": 80, "name": "Second club", "admins": {"42": 3}}]})
    try:
        yield service
    finally:
        service.stop()


def channels(served: Served, platform: str) -> list[dict[str, Any]]:
    return [c for c in served.api.get("/api/v1/channels").json()["items"] if c["platform"] == platform]


def test_sign_in_flows_end_to_end(served: Served, fakes: dict[str, Any]) -> None:
    """One served process for the three platforms (starting one costs more than the flows)."""
    facebook_pages_connect_refusals_and_reconnect(served, fakes)
    instagram_login_long_lived_token(served, fakes)
    vk_communities_with_pkce_and_missing_right(served, fakes)
    vk_second_dialog_denied_or_forged(served, fakes)


def facebook_pages_connect_refusals_and_reconnect(served: Served, fakes: dict[str, Any]) -> None:
    person = Browser(served.base)
    person.sign_in()
    dialog = person.get("/connect/facebook")
    assert dialog.url.host == "127.0.0.1" and "/dialog/oauth" in dialog.url.path
    query = parse_qs(dialog.url.query.decode())
    assert query["redirect_uri"] == [f"{served.base}/connect/facebook/callback"]
    assert query["client_id"] == [APP_ID] and "pages_manage_posts" in query["scope"][0] and query["state"][0]

    page = person.consent(dialog)
    callback_url = person.hops[-1]
    assert "Bakery" in page.text and "Cafe" in page.text and "CREATE_CONTENT" in page.text
    replay = person.client.get(callback_url)  # the same code and state again (a reload, or a stolen URL)
    assert replay.status_code == 400 and "already been used" in replay.text

    done = person.pick(page, "facebook", ["501", "502"])
    assert done.status_code == 200
    [channel] = channels(served, "facebook")  # the Page without CREATE_CONTENT was not connectable
    assert channel["name"] == "Bakery" and channel["token_expires_at"] is None and channel["warnings"] == []
    post = served.api.post("/api/v1/posts", json={"text": "Fresh bread", "channel_ids": [channel["id"]],
                                                  "scheduled_at": "now"})
    assert post.status_code == 201, post.text
    fb_state = fakes["apps"]["facebook"].state.fake

    def published() -> bool:
        return any(p["message"] == "Fresh bread" for p in fb_state.posts)

    wait_for(published, timeout=30)

    # a state nobody issued, and a state of another session
    assert person.client.get(f"{served.base}/connect/facebook/callback?code=x&state=forged").status_code == 400
    dialog = person.get("/connect/facebook")
    other = Browser(served.base)
    other.sign_in()
    params = {k: v[0] for k, v in parse_qs(dialog.url.query.decode()).items()}
    stolen = other.client.get(f"{served.base}/connect/facebook/callback",
                              params={"code": "x", "state": params["state"]})
    assert stolen.status_code == 400 and "another browser session" in stolen.text

    # denied consent
    denied = person.consent(person.get("/connect/facebook"), decision="deny")
    assert denied.status_code == 400 and "cancelled" in denied.text and not channels(served, "facebook")[1:]

    # the platform answers in a shape nobody documented, then fails outright: a page that says so, never a 500
    fb_url = fakes["urls"]["facebook"]
    httpx.post(f"{fb_url}/_control/faults", json={"method": "GET /me/accounts", "kind": "error", "status": 200,
                                                  "body": {"data": [{"name": "no id"}]}})
    odd = person.consent(person.get("/connect/facebook"))
    assert odd.status_code == 502 and "shape" in odd.text
    httpx.post(f"{fb_url}/_control/faults", json={"method": "GET /oauth/access_token", "kind": "error",
                                                  "status": 500, "body": {"error": {"message": "Service down",
                                                                                    "code": 2}}})
    down = person.consent(person.get("/connect/facebook"))
    assert down.status_code == 502 and "Service down" in down.text

    # missing permission: the person unticks pages_manage_posts
    page = person.consent(person.get("/connect/facebook"), grant=["pages_show_list", "pages_read_engagement"])
    assert "Missing permission: pages_manage_posts" in page.text
    nothing = person.pick(page, "facebook", ["502"])  # the Page whose role cannot create content
    assert nothing.status_code == 400 and "None of the chosen could be connected" in nothing.text

    # the Page token dies (password changed): the next post fails, the channel needs re-authorisation, and a
    # post due meanwhile is held
    served.api.patch(f"/api/v1/channels/{channel['id']}", json={"name": "Bakery (main)"})
    for token in fb_state.tokens.values():
        if token.type == "PAGE":
            token.expired = True
    served.api.post("/api/v1/posts", json={"text": "Doomed", "channel_ids": [channel["id"]], "scheduled_at": "now"})
    wait_for(lambda: channels(served, "facebook")[0]["status"] == "needs_reauth", timeout=30)
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    held = served.api.post("/api/v1/posts", json={"text": "Held", "channel_ids": [channel["id"]],
                                                  "scheduled_at": soon}).json()
    time.sleep(3)
    assert served.api.get(f"/api/v1/posts/{held['id']}").json()["status"] == "scheduled"  # held, not sent

    # re-connect: the same Page again keeps the channel (id, name, posts), with a new token; the held post goes out
    page = person.consent(person.get("/connect/facebook"))
    assert "already a channel" in page.text
    person.pick(page, "facebook", ["501"])
    [again] = channels(served, "facebook")
    assert again["id"] == channel["id"] and again["name"] == "Bakery (main)" and again["status"] == "active"
    wait_for(lambda: served.api.get(f"/api/v1/posts/{held['id']}").json()["status"] == "published", timeout=20)
    assert any(p["message"] == "Held" for p in fb_state.posts)

    log = served.log()
    for token in fb_state.tokens:
        assert token not in log
    for code in fakes["apps"]["facebook"].state.oauth.server.grants:
        assert code not in log
    assert APP_SECRET not in log


def instagram_login_long_lived_token(served: Served, fakes: dict[str, Any]) -> None:
    person = Browser(served.base)
    person.sign_in()
    page = person.consent(person.get("/connect/instagram"))
    assert "@bakery.shop" in page.text and "token valid until" in page.text
    person.pick(page, "instagram", ["17841400000000777"])
    [channel] = channels(served, "instagram")
    assert channel["platform"] == "instagram" and channel["token_expires_at"] is not None
    assert channel["warnings"] == []
    log = served.log()
    for token in fakes["apps"]["instagram"].state.fake.tokens:
        assert token not in log

    # through the Facebook Page linked to the account (Facebook Login, the Meta app)
    dialog = person.get("/connect/instagram?via=page")
    assert "/dialog/oauth" in dialog.url.path and "instagram_content_publish" in dialog.url.query.decode()
    page = person.consent(dialog)
    assert "17841400000000888" in page.text and "Cafe" not in page.text  # only Pages with a linked account
    person.pick(page, "instagram", ["17841400000000888"])
    via_page = [c for c in channels(served, "instagram") if c["id"] != channel["id"]]
    assert len(via_page) == 1 and via_page[0]["token_expires_at"] is None and via_page[0]["warnings"] == []


def vk_communities_with_pkce_and_missing_right(served: Served, fakes: dict[str, Any]) -> None:
    """VK's two dialogs: a user key lists the communities, then the community dialog (group_ids) hands out one
    community key per chosen community; each channel holds its own key and publishes with it."""
    vk_state = fakes["apps"]["vk"].state.fake
    person = Browser(served.base)
    person.sign_in()
    dialog = person.get("/connect/vk")
    query = parse_qs(dialog.url.query.decode())
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert query["scope"] == ["groups"] and "group_ids" not in query
    page = person.consent(dialog, grant=[])
    assert "Missing permission: groups" in page.text
    page = person.consent(person.get("/connect/vk"))
    assert "Bakery club" in page.text and "Second club" in page.text
    assert "Read only" not in page.text  # a moderator cannot post
    assert "Editors only" in page.text and "Only an administrator of the community" in page.text
    user_keys = set(vk_state.tokens)
    first = FLOW_RE.search(page.text)
    assert first
    # the pick sends the browser to VK's community dialog, under a new state
    r = person.client.post(f"{served.base}/connect/vk/pick", data={
        "csrf_token": csrf(page.text), "flow": first.group(1), "account": ["-77", "-80", "-79"],
        "timezone": "Europe/Berlin"})
    assert r.status_code == 303, r.text
    community = parse_qs(urlsplit(r.headers["location"]).query)
    assert community["group_ids"] == ["77,80"] and community["scope"] == ["wall,photos,manage"]
    assert community["state"] != query["state"] and "code_challenge" not in community
    dialog = person.go(r)
    assert "Bakery club" in dialog.text and "Second club" in dialog.text
    # the listing flow is used up: its pick form cannot be posted again
    again = person.client.post(f"{served.base}/connect/vk/pick", data={
        "csrf_token": csrf(page.text), "flow": first.group(1), "account": ["-77"], "timezone": "UTC"})
    assert again.status_code == 400 and "already been used" in again.text
    done = person.consent(dialog)
    assert done.status_code == 200 and str(done.url).endswith("/channels?done=connected"), done.text
    made = {c["name"]: c for c in channels(served, "vk")}
    assert set(made) == {"Bakery club", "Second club"}
    assert {c["timezone"] for c in made.values()} == {"Europe/Berlin"}
    assert all(c["token_expires_at"] is None for c in made.values())
    keys = {raw: t for raw, t in vk_state.tokens.items() if raw not in user_keys}
    assert sorted(t.group_id for t in keys.values()) == [77, 80]  # one community key each, no user key kept
    for channel in made.values():
        verified = served.api.post(f"/api/v1/channels/{channel['id']}/verify")
        assert verified.status_code == 200 and verified.json()["status"] == "active", verified.text
    # each channel publishes with its own community key on its own wall
    post = served.api.post("/api/v1/posts", json={"text": "Fresh bread", "scheduled_at": "now", "channel_ids": [
        made["Bakery club"]["id"], made["Second club"]["id"]]})
    assert post.status_code == 201, post.text
    wait_for(lambda: {p["chat"] for p in vk_state.published()} >= {-77, -80}, timeout=30)
    assert [(p.text, p.from_id) for p in vk_state.walls[-77]] == [("Fresh bread", -77)]
    assert [(p.text, p.from_id) for p in vk_state.walls[-80]] == [("Fresh bread", -80)]


def vk_second_dialog_denied_or_forged(served: Served, fakes: dict[str, Any]) -> None:
    """The community dialog cancelled connects nothing; its callback with another state is refused, and the
    real state still works once."""
    person = Browser(served.base)
    person.sign_in()
    before = len(channels(served, "vk"))

    def community_dialog() -> httpx.Response:
        page = person.consent(person.get("/connect/vk"))
        flow = FLOW_RE.search(page.text)
        assert flow, page.text
        r = person.client.post(f"{served.base}/connect/vk/pick", data={
            "csrf_token": csrf(page.text), "flow": flow.group(1), "account": ["-77"], "timezone": "UTC"})
        assert r.status_code == 303, r.text
        return person.go(r)

    denied = person.consent(community_dialog(), decision="deny")
    assert denied.status_code == 400 and "cancelled: nothing was connected" in denied.text
    assert len(channels(served, "vk")) == before
    dialog = community_dialog()
    params = {k: v[0] for k, v in parse_qs(urlsplit(str(dialog.url)).query).items()}
    answer = person.client.post(str(dialog.url.copy_with(query=None)), data={**params, "decision": "allow",
                                                                            "grant": ["wall", "photos", "manage"]})
    assert answer.status_code == 302
    back = urlsplit(answer.headers["location"])
    code = parse_qs(back.query)["code"][0]
    forged = person.client.get(f"{served.base}/connect/vk/callback", params={"code": code, "state": "forged"})
    assert forged.status_code == 400 and "was not started here" in forged.text
    assert len(channels(served, "vk")) == before
    good = person.go(answer)
    assert good.status_code == 200 and "done=connected" in str(good.url), good.text
    replay = person.client.get(answer.headers["location"])
    assert replay.status_code == 400 and "already been used" in replay.text


async def test_without_app_credentials_the_page_explains(anon: httpx.AsyncClient, app: Any) -> None:
    r = await anon.get("/connect/facebook")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")  # needs a session
    from tests.web.conftest import sign_in

    assert (await sign_in(anon)).status_code == 303
    page = await anon.get("/connect/facebook")
    assert page.status_code == 200 and "SMM_FACEBOOK_APP_ID" in page.text
    assert "http://127.0.0.1:8000/connect/facebook/callback" in page.text
    assert "/channels/new?platform=facebook" in page.text
    assert (await anon.get("/connect/telegram")).status_code == 404
    assert (await anon.get("/connect/facebook/callback?code=abc&state=nothing")).status_code == 400
    # the pick form: without this session's CSRF token, or for a flow that is not this session's
    page = (await anon.get("/channels")).text
    token = CSRF_RE.search(page)
    assert token is not None
    assert (await anon.post("/connect/facebook/pick", data={"flow": "x", "account": "1"})).status_code == 403
    bogus = await anon.post("/connect/facebook/pick", data={"csrf_token": token.group(1), "flow": "nope",
                                                           "account": "1"})
    assert bogus.status_code == 400 and "not one of this session" in bogus.text

