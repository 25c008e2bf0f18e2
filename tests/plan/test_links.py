"""UTM tagging at publish time, short links with click counts, channel spend and cost per click/follower
(issue 13.6 and 13.7): through the API, the publisher (the fake Telegram receives the text), the redirect and
the post page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import make_channel
from tests.publishing import conftest as publishing
from tests.publishing.conftest import Env, drain
from tests.web.conftest import sign_in

env, api = publishing.env, publishing.api  # the publisher's harness: the fake platforms and a runner

TEXT = ("New boots: https://shop.example/boots?color=red#sizes. Also (https://blog.shop.example/a_(b)) and "
        "https://other.org/x, plus https://www.shop.example/c?utm_source=mail!")


async def run_once(env: Env) -> None:
    env.clock.advance(1.0)
    runner = env.runner()
    await runner.dispatch_once()
    await drain(runner)


async def _setup_tags(api: httpx.AsyncClient) -> dict[str, Any]:
    r = await api.patch("/api/v1/workspace", json={"utm_domains": ["https://Shop.Example/", "www.promo.example"]})
    assert r.status_code == 200 and r.json()["utm_domains"] == ["shop.example", "promo.example"], r.text
    ch = await make_channel(api, "telegram", name="Main")
    r = await api.patch(f"/api/v1/channels/{ch['id']}", json={
        "utm_template": "utm_source={platform} & utm_medium=social&utm_campaign={rubric}"})
    assert r.status_code == 200, r.text
    assert r.json()["utm_template"] == "utm_source={platform}&utm_medium=social&utm_campaign={rubric}"
    return ch


async def test_links_are_tagged_when_sent_and_the_stored_text_stays(env: Env, api: httpx.AsyncClient) -> None:
    ch = await _setup_tags(api)
    r = await api.post("/api/v1/posts", json={"text": TEXT, "channel_ids": [ch["id"]], "scheduled_at": "now",
                                              "rubric": "Spring Sale", "link": "https://shop.example",
                                              "utm": "utm_content={channel}&utm_medium=paid"})
    assert r.status_code == 201, r.text
    post = r.json()
    tags = "utm_source=telegram&utm_medium=paid&utm_campaign=Spring%20Sale&utm_content=Main"
    want = (f"New boots: https://shop.example/boots?color=red&{tags}#sizes. Also "
            f"(https://blog.shop.example/a_(b)?{tags}) and https://other.org/x, plus "
            "https://www.shop.example/c?utm_source=mail&utm_medium=paid&utm_campaign=Spring%20Sale&utm_content=Main!")
    preview = (await api.get(f"/api/v1/posts/{post['id']}/preview")).json()
    assert preview["channels"] == [{"channel_id": ch["id"], "platform": "telegram", "name": "Main", "text": want,
                                    "link": f"https://shop.example/?{tags}", "text_format": "plain",
                                    "tagged": True, "short_links": []}]
    await run_once(env)
    sent = await env.published_at_fake("telegram")
    assert [m["text"] for m in sent] == [f"{want}\n\nhttps://shop.example/?{tags}"]  # Telegram adds the link
    got = (await api.get(f"/api/v1/posts/{post['id']}")).json()
    assert got["status"] == "published" and got["text"] == TEXT and got["options"]["utm"] == (
        "utm_content={channel}&utm_medium=paid")


async def test_html_links_keep_their_entities(env: Env, api: httpx.AsyncClient) -> None:
    ch = await _setup_tags(api)
    text = 'See <a href="https://shop.example/p?a=1&amp;b=2">the shop</a> &amp; https://shop.example/q.'
    r = await api.post("/api/v1/posts", json={"text": text, "channel_ids": [ch["id"]], "scheduled_at": "now",
                                              "text_format": "html"})
    assert r.status_code == 201, r.text
    await run_once(env)
    sent = (await env.published_at_fake("telegram"))[0]["raw_text"]
    assert sent == ('See <a href="https://shop.example/p?a=1&amp;b=2&amp;utm_source=telegram&amp;utm_medium=social">'
                    'the shop</a> &amp; https://shop.example/q?utm_source=telegram&amp;utm_medium=social.')


async def test_short_links_redirect_count_and_cost(env: Env, api: httpx.AsyncClient) -> None:
    ch = await _setup_tags(api)
    assert (await api.patch("/api/v1/workspace", json={"short_links": True})).json()["short_links"] is True
    r = await api.post("/api/v1/posts", json={"text": "Shop now: https://shop.example/sale. Elsewhere https://other.org",
                                              "channel_ids": [ch["id"]], "scheduled_at": "now", "rubric": "Ads"})
    post = r.json()
    await run_once(env)
    sent = (await env.published_at_fake("telegram"))[0]["text"]
    match = re.fullmatch(r"Shop now: http://127\.0\.0\.1:8000/l/([A-Za-z0-9]{10})\. Elsewhere https://other\.org", sent)
    assert match, sent
    code = match.group(1)
    anon = httpx.AsyncClient(transport=api._transport, base_url="http://testserver")  # no key, no cookie
    async with anon:
        for _ in range(3):
            hop = await anon.get(f"/l/{code}")
            assert hop.status_code == 302, hop.text
            assert hop.headers["location"] == "https://shop.example/sale?utm_source=telegram&utm_medium=social&utm_campaign=Ads"
            assert "set-cookie" not in hop.headers and hop.headers["cache-control"] == "no-store"
        for bad in ("zzzzzzzzzz", "a" * 300, "%00", "..%2F..", "ü"):
            miss = await anon.get(f"/l/{bad}")
            assert miss.status_code == 404 and "Link not found" in miss.text, bad
    today = datetime.now(UTC).date().isoformat()
    counted = (await api.get("/api/v1/clicks")).json()
    assert counted["total"] == 3
    assert counted["by_day"] == [{"date": today, "clicks": 3}]
    assert counted["by_post"] == [{"post_id": post["id"], "clicks": 3}]
    assert counted["by_channel"] == [{"channel_id": ch["id"], "clicks": 3}]
    assert counted["by_rubric"] == [{"rubric": "Ads", "clicks": 3}]
    assert (await api.get("/api/v1/clicks", params={"channel_id": "other"})).json()["total"] == 0

    # spend: 60 EUR over 30 days ending today, and followers from the collected engagement history
    start = (datetime.now(UTC).date() - timedelta(days=29)).isoformat()
    r = await api.post(f"/api/v1/channels/{ch['id']}/spend", json={"amount": 60, "currency": "eur", "start": start,
                                                                  "end": today, "note": "boosted post"})
    assert r.status_code == 201 and r.json()["currency"] == "EUR", r.text
    now = datetime.now(UTC)
    csv = "posted_at,likes,followers\n" + "".join(
        f"{(now - timedelta(days=d)).isoformat()},5,{1000 + (20 - d) * 2}\n" for d in (20, 10, 1))
    r = await api.post(f"/api/v1/channels/{ch['id']}/engagement", content=csv, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json()["imported"] == 3, r.text
    report = (await api.get("/api/v1/costs")).json()
    assert report["items"] == [{"channel_id": ch["id"], "name": "Main", "platform": "telegram", "clicks": 3,
                                "followers_gained": 38, "spend": [{"currency": "EUR", "amount": 60.0,
                                                                   "per_click": 20.0, "per_follower": 1.5789}]}]
    half = (await api.get("/api/v1/costs", params={"start": (now.date() - timedelta(days=14)).isoformat()})).json()
    assert half["items"][0]["spend"][0]["amount"] == 30.0  # half the period: half the money
    spends = (await api.get(f"/api/v1/channels/{ch['id']}/spend")).json()["items"]
    assert len(spends) == 1 and spends[0]["note"] == "boosted post"
    assert (await api.delete(f"/api/v1/channels/{ch['id']}/spend/{spends[0]['id']}")).status_code == 204


@pytest.mark.parametrize(("path", "body", "field", "words"), [
    ("/api/v1/workspace", {"utm_template": "utm_source"}, "utm_template", "is not key=value"),
    ("/api/v1/workspace", {"utm_template": "utm_source={network}"}, "utm_template", "'{network}' is not a placeholder"),
    ("/api/v1/workspace", {"utm_domains": ["not a domain"]}, "utm_domains", "is not a domain name"),
    ("/api/v1/posts", {"text": "x", "channel_ids": ["?"], "utm": "a=1&a=2"}, "body.utm", "'a' is given twice"),
])
async def test_refused_link_settings_say_why(api: httpx.AsyncClient, path: str, body: dict[str, Any], field: str,
                                            words: str) -> None:
    r = await (api.patch(path, json=body) if path.endswith("workspace") else api.post(path, json=body))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field and words in r.json()["detail"], r.json()


async def test_refused_spend_says_why(api: httpx.AsyncClient) -> None:
    ch = await make_channel(api, "telegram")
    for body, words in (({"amount": 5, "currency": "euro", "start": "2030-01-01", "end": "2030-01-31"}, "ISO 4217"),
                        ({"amount": 5, "currency": "EUR", "start": "2030-02-01", "end": "2030-01-31"}, "ends before"),
                        ({"amount": -1, "currency": "EUR", "start": "2030-01-01", "end": "2030-01-31"}, "greater"),
                        ({"amount": 5, "currency": "EUR", "start": "soon", "end": "2030-01-31"}, "not a date")):
        r = await api.post(f"/api/v1/channels/{ch['id']}/spend", json=body)
        assert r.status_code == 422 and words in r.json()["detail"], r.text
    assert (await api.post("/api/v1/channels/nope/spend", json={"amount": 1, "currency": "EUR", "start": "2030-01-01",
                                                                "end": "2030-01-02"})).status_code == 404
    assert (await api.get("/api/v1/costs", params={"start": "2030-02-01", "end": "2030-01-01"})).status_code == 422


async def test_post_page_shows_what_each_platform_receives(client: httpx.AsyncClient, anon: httpx.AsyncClient
                                                           ) -> None:
    await _setup_tags(client)
    vk = await make_channel(client, "vk", name="VK group")
    chans = [c["id"] for c in (await client.get("/api/v1/channels")).json()["items"]]
    at = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    r = await client.post("/api/v1/posts", json={"text": "Look https://shop.example/x", "channel_ids": chans,
                                                 "scheduled_at": at})
    assert r.status_code == 201, r.text
    assert (await sign_in(anon)).status_code == 303
    page = (await anon.get(f"/posts/{r.json()['id']}")).text
    assert 'id="outgoing"' in page and "What each platform receives" in page
    assert "https://shop.example/x?utm_source=telegram&amp;utm_medium=social" in page
    assert "https://shop.example/x?utm_source=vk&amp;utm_medium=social" not in page  # VK has no template of its own
    assert vk["id"] in chans


async def test_the_tagged_text_is_what_the_limits_are_checked_on(api: httpx.AsyncClient) -> None:
    ch = await _setup_tags(api)
    text = "x" * 4060 + " https://shop.example/a"  # 4,083 characters as written, over 4,096 once tagged
    body = {"text": text, "channel_ids": [ch["id"]], "scheduled_at": None}
    r = await api.post("/api/v1/posts", json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["channel_id"] == ch["id"], r.text
    assert "4096" in r.json()["detail"] or "4,096" in r.json()["detail"], r.json()["detail"]
    assert (await api.patch(f"/api/v1/channels/{ch['id']}", json={"utm_template": None})).status_code == 200
    assert (await api.post("/api/v1/posts", json=body)).status_code == 201  # no tags: it fits
