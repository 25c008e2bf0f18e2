"""The fake authorization servers behave as the platforms document: dialog → code → token, single-use codes
bound to redirect_uri / client_id / PKCE verifier, denied consent, long-lived exchange, refresh, Pages."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from connectors.facebook.fake import create_app as facebook_fake
from connectors.instagram.fake import create_app as instagram_fake
from connectors.vk.fake import create_app as vk_fake
from tests.connectors.conftest import FakeClientFactory

REDIRECT = "https://smm.example/connect/x/callback"
APP = {"client_id": "111", "client_secret": "s3cret", "redirect_uris": [REDIRECT]}


def query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


async def consent(client: httpx.AsyncClient, path: str, params: dict[str, str], decision: str = "allow",
                  scopes: list[str] | None = None) -> dict[str, str]:
    page = await client.get(path, params=params)
    assert page.status_code == 200 and "Allow" in page.text, page.text
    ticked = scopes if scopes is not None else params.get("scope", "").replace(",", " ").split()
    form: dict[str, Any] = {**params, "decision": decision, "grant": ticked}
    return query(await client.post(path, data=form))


async def test_facebook_login_code_long_lived_pages(fake_client: FakeClientFactory) -> None:
    client = fake_client(facebook_fake())
    await client.post("/_control/oauth", json={"apps": [APP], "person": {
        "id": "7", "name": "Ann", "pages": [{"id": "501", "name": "Bakery"}, {"id": "502", "name": "Cafe"}]}})
    params = {"client_id": "111", "redirect_uri": REDIRECT, "state": "st1", "response_type": "code",
              "scope": "pages_show_list,pages_manage_posts,pages_read_engagement"}
    back = await consent(client, "/v26.0/dialog/oauth", params)
    assert back["state"] == "st1"
    exchange = {"client_id": "111", "client_secret": "s3cret", "redirect_uri": REDIRECT, "code": back["code"]}
    short = (await client.get("/v26.0/oauth/access_token", params=exchange)).json()
    assert short["token_type"] == "bearer" and short["expires_in"] <= 7200
    reused = await client.get("/v26.0/oauth/access_token", params=exchange)
    assert reused.status_code == 400 and reused.json()["error"]["error_subcode"] == 36009
    long = (await client.get("/v26.0/oauth/access_token", params={
        "grant_type": "fb_exchange_token", "client_id": "111", "client_secret": "s3cret",
        "fb_exchange_token": short["access_token"]})).json()
    assert long["expires_in"] >= 59 * 86400
    pages = (await client.get("/v26.0/me/accounts", params={"access_token": long["access_token"]})).json()["data"]
    assert [p["name"] for p in pages] == ["Bakery", "Cafe"]
    debug = (await client.get("/v26.0/debug_token", params={"input_token": pages[0]["access_token"],
                                                            "access_token": "111|s3cret"})).json()["data"]
    assert debug["expires_at"] == 0 and debug["data_access_expires_at"] > 0 and debug["type"] == "PAGE"
    post = await client.post("/v26.0/501/feed", data={"message": "hi", "access_token": pages[0]["access_token"]})
    assert post.status_code == 200, post.text


async def test_facebook_denied_unticked_wrong_redirect(fake_client: FakeClientFactory) -> None:
    client = fake_client(facebook_fake())
    await client.post("/_control/oauth", json={"apps": [APP], "person": {"id": "7", "pages": [{"id": "501"}]}})
    params = {"client_id": "111", "redirect_uri": REDIRECT, "state": "s", "scope": "pages_show_list,pages_manage_posts"}
    denied = await consent(client, "/v26.0/dialog/oauth", params, "deny")
    assert denied["error"] == "access_denied" and denied["error_reason"] == "user_denied" and "code" not in denied
    assert (await client.get("/v26.0/dialog/oauth", params={**params, "redirect_uri": "https://evil.example/"})
            ).status_code == 400
    back = await consent(client, "/v26.0/dialog/oauth", params, scopes=["pages_show_list"])
    wrong = await client.get("/v26.0/oauth/access_token", params={
        "client_id": "111", "client_secret": "s3cret", "redirect_uri": REDIRECT + "x", "code": back["code"]})
    assert wrong.json()["error"]["error_subcode"] == 36008
    back = await consent(client, "/v26.0/dialog/oauth", params, scopes=["pages_show_list"])
    token = (await client.get("/v26.0/oauth/access_token", params={
        "client_id": "111", "client_secret": "s3cret", "redirect_uri": REDIRECT, "code": back["code"]})).json()
    perms = (await client.get("/v26.0/me/permissions", params={"access_token": token["access_token"]})).json()
    assert {"permission": "pages_manage_posts", "status": "declined"} in perms["data"]


async def test_instagram_login_exchange_refresh(fake_client: FakeClientFactory) -> None:
    app = instagram_fake()
    client = fake_client(app)
    await client.post("/_control/oauth", json={"apps": [APP], "account": {"user_id": "1784", "username": "shop"}})
    params = {"client_id": "111", "redirect_uri": REDIRECT, "state": "s", "response_type": "code",
              "scope": "instagram_business_basic,instagram_business_content_publish"}
    back = await consent(client, "/oauth/authorize", params)
    form = {"client_id": "111", "client_secret": "s3cret", "grant_type": "authorization_code",
            "redirect_uri": REDIRECT, "code": back["code"]}
    short = (await client.post("/oauth/access_token", data=form)).json()["data"][0]
    again = await client.post("/oauth/access_token", data=form)
    assert again.status_code == 400 and "already used" in again.json()["error_message"]
    long = (await client.get("/access_token", params={"grant_type": "ig_exchange_token", "client_secret": "s3cret",
                                                      "access_token": short["access_token"]})).json()
    assert long["expires_in"] == 60 * 86400
    me = (await client.get("/v26.0/me", params={"fields": "user_id,username", "access_token": long["access_token"]}))
    assert me.json()["username"] == "shop"
    early = await client.get("/refresh_access_token", params={"grant_type": "ig_refresh_token",
                                                              "access_token": long["access_token"]})
    assert early.status_code == 400  # a token must be a day old before it can be refreshed
    app.state.fake.clock.advance(2 * 86400)
    fresh = (await client.get("/refresh_access_token", params={"grant_type": "ig_refresh_token",
                                                               "access_token": long["access_token"]})).json()
    assert fresh["expires_in"] == 60 * 86400 and fresh["access_token"] != long["access_token"]


def challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


async def test_vk_pkce_bound_code_and_rights(fake_client: FakeClientFactory) -> None:
    client = fake_client(vk_fake())
    await client.post("/_control/oauth", json={"apps": [APP], "user": {"id": 42}})
    await client.post("/_control/seed", json={"groups": [{"id": 77, "name": "Club", "admins": {"42": 3}}]})
    verifier = "v" * 50
    params = {"client_id": "111", "redirect_uri": REDIRECT, "state": "s", "response_type": "code", "v": "5.199",
              "scope": "wall,photos,groups,offline", "code_challenge": challenge(verifier),
              "code_challenge_method": "S256"}
    back = await consent(client, "/authorize", params, scopes=["groups", "offline"])
    base = {"client_id": "111", "client_secret": "s3cret", "redirect_uri": REDIRECT, "code": back["code"]}
    bad = await client.get("/access_token", params={**base, "code_verifier": "w" * 50})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_grant"
    back = await consent(client, "/authorize", params, scopes=["groups", "offline"])
    token = (await client.get("/access_token", params={**base, "code": back["code"], "code_verifier": verifier})).json()
    assert token["expires_in"] == 0 and token["user_id"] == 42
    call = {"access_token": token["access_token"], "v": "5.199"}
    groups = (await client.get("/method/groups.get", params={**call, "filter": "admin", "extended": 1})).json()
    assert groups["response"]["items"][0]["name"] == "Club"
    post = (await client.get("/method/wall.post", params={**call, "owner_id": -77, "from_group": 1,
                                                          "message": "x"})).json()
    assert post["error"]["error_code"] == 15  # the wall right was not granted
