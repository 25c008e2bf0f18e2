"""Heavy requests are bounded and answer with a sentence: the Telegram HTML check, plan fill, CSV import.

Timing is measured in bench/stalls.py, not here; these tests hold the answers and the limits.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import make_channel


async def post(client: httpx.AsyncClient, channel_ids: list[str], text: str, **extra: Any) -> httpx.Response:
    return await client.post("/api/v1/posts", json={"text": text, "channel_ids": channel_ids, "text_format": "html",
                                                    **extra})


def rules(r: httpx.Response) -> list[str]:
    return [e.get("rule", "") for e in r.json().get("errors", [])]


async def test_backtracking_html_is_refused_with_the_same_sentence(client: httpx.AsyncClient) -> None:
    channels = [(await make_channel(client, name=f"tg {i}"))["id"] for i in range(3)]
    r = await post(client, channels, "<a" + "b" * 99_990)
    assert r.status_code == 422, r.text
    body = r.json()
    assert "The HTML cannot be parsed by Telegram: '<' at position 0 must be written as &lt;." in body["detail"]
    assert rules(r).count("html_invalid") == 3  # named for every channel (checked once)
    assert {e["channel_id"] for e in body["errors"] if e["rule"] == "html_invalid"} == set(channels)


@pytest.mark.parametrize(("text", "sentence"), [
    ("<b>open", "tag <b> is not closed"),
    ("a < b", "'<' at position 2 must be written as &lt;"),
    ("<marquee>x</marquee>", "unsupported tag <marquee>"),
    ("<b>x</i>", "unexpected end tag </i>"),
    ("fish &chips", "'&' at position 5 must be written as &amp;"),
    ("&nbsp;", "'&' at position 0 must be written as &amp;"),  # Telegram knows only &lt; &gt; &amp; &quot;
])
async def test_html_problems_are_named(client: httpx.AsyncClient, text: str, sentence: str) -> None:
    ch = await make_channel(client)
    r = await post(client, [ch["id"]], text)
    assert r.status_code == 422 and sentence in r.json()["detail"], r.text


async def test_supported_html_and_entities_pass(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    text = ('<b>b</b> <strong>s</strong> <i>i</i> <em>e</em> <u>u</u> <ins>n</ins> <s>s</s> <strike>k</strike> '
            '<del>d</del> <span class="tg-spoiler">sp</span> <tg-spoiler>t</tg-spoiler> '
            '<a href="https://example.org/?a=1&amp;b=2">link</a> '
            '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji> '
            '<code>c</code> <pre><code class="language-python">p</code></pre> <blockquote expandable>q</blockquote> '
            '&lt; &gt; &amp; &quot; &#128512; &#x1F600;')
    r = await post(client, [ch["id"]], text)
    assert r.status_code == 201, r.text


async def test_telegram_counts_the_text_after_entity_parsing(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    visible = "a" * 4000 + "&amp;" * 96  # 4,096 characters once parsed; 4,480 as written
    assert (await post(client, [ch["id"]], f"<b>{visible}</b>")).status_code == 201
    r = await post(client, [ch["id"]], f"<b>{visible}x</b>")
    assert r.status_code == 422 and "this text has 4097" in r.json()["detail"], r.text


async def test_plan_fill_takes_at_most_the_documented_drafts(client: httpx.AsyncClient, monkeypatch: Any) -> None:
    from app.plan import service as plan_service

    monkeypatch.setattr(plan_service, "MAX_FILL_DRAFTS", 3)
    ch = await make_channel(client)
    ids = []
    for i in range(5):
        r = await client.post("/api/v1/posts", json={"text": f"d{i}", "channel_ids": [ch["id"]], "priority": 1 + i})
        ids.append(r.json()["id"])
    r = await client.post("/api/v1/plan/fill", json={"drafts": "all"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["truncated"] is True
    assert [p["post_id"] for p in out["plan"]] == ids[:3]  # the most important first
    times = sorted(p["scheduled_at"] for p in out["plan"])
    assert len(set(times)) == 3
    r = await client.post("/api/v1/plan/fill", json={"post_ids": ids[:3], "confirm": True})
    assert r.status_code == 200 and r.json()["truncated"] is False and r.json()["committed"] is True
    again = (await client.post("/api/v1/plan/fill", json={"drafts": "all"})).json()
    assert [p["post_id"] for p in again["plan"]] == ids[3:] and again["truncated"] is False
    assert set(times).isdisjoint(p["scheduled_at"] for p in again["plan"])  # the spacing holds
