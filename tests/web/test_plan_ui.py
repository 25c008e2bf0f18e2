"""Issue 13 points 6-9 on the web pages: a channel's spacing and UTM tags on its page, a post's own UTM tags on the
compose and edit forms, and the short links the post page shows working before the post is sent."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import httpx

from tests.conftest import make_channel
from tests.web.conftest import csrf_of


async def _token(web: httpx.AsyncClient, path: str) -> str:
    page = await web.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def _hint(page: str, hint_id: str) -> str:
    found = re.search(rf'<p class="hint[^"]*" id="{hint_id}">(.*?)</p>', page, re.S)
    assert found, page
    return " ".join(unescape(re.sub(r"<[^>]+>", "", found.group(1))).split())


async def test_channel_spacing_and_utm_from_its_page(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    await client.patch("/api/v1/workspace", json={"default_spacing_minutes": 90,
                                                   "utm_template": "utm_source={platform}&utm_medium=social"})
    ch = await make_channel(client)
    page = (await web.get(f"/channels/{ch['id']}")).text
    assert 'name="spacing_minutes"' in page and 'name="utm_template"' in page
    assert _hint(page, "hint-spacing").startswith("In effect: 90 min (the workspace's default).")
    assert _hint(page, "hint-utm").startswith("In effect: utm_source={platform}&utm_medium=social (the workspace's).")
    assert "<title>" in page and "Channel settings" not in page.split("</title>")[0]  # the title is the name only

    token = csrf_of(page)
    r = await web.post(f"/channels/{ch['id']}/settings", data={
        "csrf_token": token, "name": ch["name"], "timezone": "UTC", "spacing_minutes": "45",
        "utm_template": "utm_source={platform} & utm_campaign={rubric}"})
    assert r.status_code == 303, r.text
    stored = (await client.get(f"/api/v1/channels/{ch['id']}")).json()
    assert (stored["spacing_minutes"], stored["utm_template"]) == (45, "utm_source={platform}&utm_campaign={rubric}")
    page = (await web.get(r.headers["location"])).text
    assert _hint(page, "hint-spacing").startswith("In effect: 45 min (this channel's own).")
    assert _hint(page, "hint-utm").startswith("In effect: utm_source={platform}&utm_campaign={rubric} (this channel")
    assert 'value="45"' in page

    for spacing, utm, key, words in (
            ("soon", "", "spacing_minutes", "Spacing is a whole number of minutes"),
            ("²", "", "spacing_minutes", "Spacing is a whole number of minutes"),
            ("-5", "", "spacing_minutes", "Spacing is a whole number of minutes"),
            ("99999", "", "spacing_minutes", "Spacing is a whole number of minutes from 0 to 10080"),
            ("", "utm_source={nope}", "utm_template", "'{nope}' is not a placeholder"),
            ("", "utm_source", "utm_template", "is not key=value"),
            ("", "a=" + "x" * 1200, "utm_template", "at most 1000 characters")):
        bad = await web.post(f"/channels/{ch['id']}/settings", data={
            "csrf_token": token, "name": ch["name"], "timezone": "UTC", "spacing_minutes": spacing,
            "utm_template": utm})
        assert bad.status_code == 422, bad.text
        errs = re.search(rf'<ul class="field-error" id="err-{key}" role="alert">(.*?)</ul>', bad.text, re.S)
        assert errs and words in unescape(errs.group(1)), (words, bad.text[-3000:])
        assert f'value="{spacing}"' in bad.text  # the form comes back as typed
    after = (await client.get(f"/api/v1/channels/{ch['id']}")).json()
    assert (after["spacing_minutes"], after["utm_template"]) == (45, "utm_source={platform}&utm_campaign={rubric}")

    r = await web.post(f"/channels/{ch['id']}/settings", data={
        "csrf_token": token, "name": ch["name"], "timezone": "UTC", "spacing_minutes": "", "utm_template": ""})
    assert r.status_code == 303
    cleared = (await client.get(f"/api/v1/channels/{ch['id']}")).json()
    assert (cleared["spacing_minutes"], cleared["utm_template"]) == (None, None)
    page = (await web.get(r.headers["location"])).text
    assert _hint(page, "hint-spacing").startswith("In effect: 90 min (the workspace's default).")

    # the old form (name and zone only) leaves the plan fields alone
    await client.patch(f"/api/v1/channels/{ch['id']}", json={"spacing_minutes": 30})
    r = await web.post(f"/channels/{ch['id']}/settings", data={"csrf_token": token, "name": "Renamed",
                                                                "timezone": "UTC"})
    assert r.status_code == 303
    assert (await client.get(f"/api/v1/channels/{ch['id']}")).json()["spacing_minutes"] == 30


def _future(hours: float = 30) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


async def test_post_utm_on_the_compose_and_edit_forms(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    token = await _token(web, "/posts/new")
    compose = (await web.get("/posts/new")).text
    assert re.search(r'<details class="override" >\s*<summary>UTM tags for this post', compose)  # collapsed
    base = {"csrf_token": token, "text": "See https://shop.example/a", "channel_ids": ch["id"], "when": "at",
            "local_time": _future(), "timezone": "UTC"}

    bad = await web.post("/posts/new", data={**base, "utm": "utm_campaign={season}"})
    assert bad.status_code == 422, bad.text
    errs = re.search(r'<ul class="field-error" id="err-utm" role="alert">(.*?)</ul>', bad.text, re.S)
    assert errs and "'{season}' is not a placeholder" in unescape(errs.group(1))
    assert re.search(r'<details class="override" open>\s*<summary>UTM tags', bad.text)  # opened on the error
    assert 'value="utm_campaign={season}"' in bad.text
    assert (await client.get("/api/v1/posts")).json()["items"] == []  # nothing stored

    r = await web.post("/posts/new", data={**base, "utm": "utm_campaign=spring & utm_content={channel}"})
    assert r.status_code == 303, r.text
    post_id = r.headers["location"].split("/posts/")[1].split("?")[0]
    stored = (await client.get(f"/api/v1/posts/{post_id}")).json()
    assert stored["options"]["utm"] == "utm_campaign=spring&utm_content={channel}"  # as the API stores it
    preview = (await client.get(f"/api/v1/posts/{post_id}/preview")).json()["channels"][0]
    assert preview["text"] == "See https://shop.example/a?utm_campaign=spring&utm_content=" + ch["name"].replace(
        " ", "%20")

    edit = (await web.get(f"/posts/{post_id}/edit")).text
    assert 'value="utm_campaign=spring&amp;utm_content={channel}"' in edit
    etoken = csrf_of(edit)
    form = {"csrf_token": etoken, "text": stored["text"], "channel_ids": ch["id"], "when": "draft", "timezone": "",
            "post_id": post_id}
    bad = await web.post(f"/posts/{post_id}/edit", data={**form, "utm": "utm_medium"})
    assert bad.status_code == 422 and 'id="err-utm"' in bad.text and "is not key=value" in unescape(bad.text)
    kept = (await client.get(f"/api/v1/posts/{post_id}")).json()
    assert kept["options"]["utm"] == "utm_campaign=spring&utm_content={channel}"
    r = await web.post(f"/posts/{post_id}/edit", data={**form, "utm": "utm_campaign=autumn"})
    assert r.status_code == 303, r.text
    assert (await client.get(f"/api/v1/posts/{post_id}")).json()["options"]["utm"] == "utm_campaign=autumn"
    r = await web.post(f"/posts/{post_id}/edit", data={**form})  # a form without the field keeps the tags
    assert r.status_code == 303
    assert (await client.get(f"/api/v1/posts/{post_id}")).json()["options"]["utm"] == "utm_campaign=autumn"
    r = await web.post(f"/posts/{post_id}/edit", data={**form, "utm": ""})  # emptied: the channel's tags only
    assert r.status_code == 303
    assert (await client.get(f"/api/v1/posts/{post_id}")).json()["options"].get("utm") is None


async def test_short_links_on_the_page_of_an_unsent_post_work(web: httpx.AsyncClient, client: httpx.AsyncClient,
                                                              anon: httpx.AsyncClient) -> None:
    await client.patch("/api/v1/workspace", json={"short_links": True, "utm_template": "utm_source={platform}"})
    ch = await make_channel(client)
    r = await client.post("/api/v1/posts", json={"text": "Sale: https://shop.example/sale", "channel_ids": [ch["id"]],
                                                 "scheduled_at": (datetime.now(UTC) + timedelta(days=3)).isoformat()})
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]
    for _ in range(2):  # showing the page again stores nothing twice
        page = (await web.get(f"/posts/{post_id}")).text
        shown = re.findall(r"http://[^\s<\"]+/l/([A-Za-z0-9]+)", page[page.index('id="outgoing"'):])
        assert len(shown) == 1, page
    code = shown[0]
    hop = await anon.get(f"/l/{code}")
    assert hop.status_code == 302, hop.text  # before the post is sent
    assert hop.headers["location"] == "https://shop.example/sale?utm_source=telegram"
    assert (await anon.get("/l/zzzzzzzzzz")).status_code == 404
    counted = (await client.get("/api/v1/clicks", params={"post_id": post_id})).json()
    assert (counted["total"], counted["by_post"]) == (1, [{"post_id": post_id, "clicks": 1}])
    api_codes = [s["code"] for s in (await client.get(f"/api/v1/posts/{post_id}/preview")).json()["channels"][0][
        "short_links"]]
    assert api_codes == [code]  # the page, the API's preview and the send agree on the code
    page = (await web.get(f"/posts/{post_id}")).text
    assert 'id="clicks"' in page and "Clicks <span class=\"muted\">(1)</span>" in page
