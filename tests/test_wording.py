"""Messages a person reads say what happened in their terms (issue 14, point 8): what a refused file is and what
Instagram takes; how long ago a past time was; counts and hour ranges that read right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.analytics.explain import hour_ranges, plural
from app.timeutil import how_long
from tests.conftest import make_channel


def future() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(("url", "says"), [
    ("https://example.org/notes.txt", "This file (notes.txt) is a .txt file, not a photo; Instagram takes only JPEG "
                                      "photos (.jpg or .jpeg): attach a JPEG image instead."),
    ("https://example.org/pic.png", "This file (pic.png) is a PNG image; Instagram takes only JPEG photos (.jpg or "
                                    ".jpeg): save or convert it as JPEG."),
])
async def test_instagram_says_what_the_file_is(client: httpx.AsyncClient, url: str, says: str) -> None:
    ig = await make_channel(client, "instagram")
    r = await client.post("/api/v1/posts", json={"text": "hi", "channel_ids": [ig["id"]], "scheduled_at": future(),
                                                 "media": [{"url": url, "kind": "photo"}]})
    assert r.status_code == 422, r.text
    messages = [e["message"] for e in r.json()["errors"]]
    assert says in messages, messages
    assert "convert this image" not in r.text


async def test_a_past_time_says_how_long_ago(client: httpx.AsyncClient) -> None:
    tg = await make_channel(client)
    r = await client.post("/api/v1/posts", json={"text": "hi", "channel_ids": [tg["id"]],
                                                 "scheduled_at": "2020-01-01T10:00:00+00:00"})
    assert r.status_code == 422
    message = r.json()["errors"][0]["message"]
    assert message.startswith("2020-01-01T10:00:00+00:00 is in the past (")
    assert " years ago)" in message and " s ago" not in message


def test_how_long() -> None:
    assert how_long(218239818) == "6 years"
    assert how_long(59) == "59 seconds" and how_long(1) == "1 second"
    assert how_long(90) == "1 minute" and how_long(7200) == "2 hours" and how_long(3 * 86400) == "3 days"


def test_counts_and_hour_ranges() -> None:
    assert plural(1, "post") == "1 post" and plural(3, "post") == "3 posts"
    assert hour_ranges([22, 23]) == "22:00–00:00"
    assert hour_ranges([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 0, 1, 2, 3, 4, 5, 6, 7, 8]) == \
        "10:00–09:00"


async def test_import_counts_agree(client: httpx.AsyncClient) -> None:
    """3 imported rows never read as "based on 1 posts": the explanation names how many of the stored rows count."""
    ch = await make_channel(client)
    now = datetime.now(UTC)
    rows = ["posted_at,likes,comments,shares,views,reach,followers"]
    rows += [f"{(now - timedelta(days=10 + i)).isoformat()},{10 + i},1,0,{200 + i},150,1000" for i in range(3)]
    r = await client.post(f"/api/v1/channels/{ch['id']}/engagement", content="\n".join(rows) + "\n",
                          headers={"content-type": "text/csv"})
    assert r.json()["imported"] == 3
    slots = (await client.get(f"/api/v1/channels/{ch['id']}/best-slots")).json()
    text = slots["explanation"]
    assert "1 posts" not in text and f"{slots['posts_used']} post" in text
