"""An Instagram channel connected by Instagram Login (its token begins with "IG") publishes through
graph.instagram.com (``SMM_INSTAGRAM_LOGIN_GRAPH_BASE``); one connected through a Facebook Page ("EAA…") through
``SMM_INSTAGRAM_API_BASE``. Two fakes on two ports, each knowing only its own token: a call on the wrong host is
refused (190)."""

from __future__ import annotations

import httpx
import pytest

from connectors.base import Credentials
from connectors.errors import AuthError
from connectors.fakekit import serve_in_thread
from connectors.instagram.connector import InstagramConnector
from connectors.instagram.fake import create_app as instagram_fake

IG = "17841400000000777"
FB_TOKEN, IG_TOKEN = "EAAfacebooklogin0123456789abcdef", "IGAAinstagramlogin0123456789abcdef"


async def test_each_login_publishes_through_its_host() -> None:
    facebook_graph, instagram_graph = instagram_fake(), instagram_fake()
    for app, token in ((facebook_graph, FB_TOKEN), (instagram_graph, IG_TOKEN)):
        app.state.fake.seed({"users": [{"id": IG, "username": "shop"}],
                             "tokens": [{"token": token, "ig_user_ids": [IG]}]})
    with serve_in_thread(facebook_graph) as fb_url, serve_in_thread(instagram_graph) as ig_url:
        async with httpx.AsyncClient() as client:
            connector = InstagramConnector(client, fb_url, login_base_url=ig_url)
            for token in (FB_TOKEN, IG_TOKEN):
                info = await connector.verify(Credentials({"ig_user_id": IG, "access_token": token}))
                assert info.username == "shop"
            without = InstagramConnector(client, fb_url)  # no login host: an IG token goes to the Graph base
            with pytest.raises(AuthError):
                await without.verify(Credentials({"ig_user_id": IG, "access_token": IG_TOKEN}))
