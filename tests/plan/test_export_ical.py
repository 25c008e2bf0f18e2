"""Export (CSV and XLSX in the import's columns) and the iCalendar feed (public by secret URL, RFC 5545)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx
import openpyxl
from icalendar import Calendar
from sqlalchemy import update

from app.models import Target
from app.timeutil import localize
from tests.conftest import make_channel

COLUMNS = ["date", "time", "channels", "text", "rubric", "media", "timezone", "status", "links"]


async def _post(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/posts", json={"text": "hello", **body})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _plan(app: Any, client: httpx.AsyncClient) -> dict[str, Any]:
    """A workspace in Berlin with posts in several zones, one published, a draft and a cancelled one."""
    await client.patch("/api/v1/workspace", json={"timezone": "Europe/Berlin"})
    a = await make_channel(client, name="News", timezone="Europe/Moscow")
    d1 = await make_channel(client, name="Dup")
    d2 = await make_channel(client, platform="vk", name="Dup")
    made = {
        "zoned": await _post(client, text="Spring sale", channel_ids=[a["id"]], rubric="Ads",
                             scheduled_at="2030-03-10T12:00:00", timezone="Europe/Berlin",
                             media=[{"url": "https://example.org/a.jpg"}]),
        "channel_zone": await _post(client, text='=HYPERLINK("x")\nsecond line', channel_ids=[a["id"], d1["id"]],
                                    scheduled_at="2030-03-11T09:15:00+03:00"),
        "fold": await _post(client, text="twice", channel_ids=[d2["id"]], scheduled_at="2030-10-27T00:30:00Z",
                            timezone="Europe/Berlin"),
        "dst": await _post(client, text="after the jump", channel_ids=[a["id"]],
                           scheduled_at="2030-03-31T03:30:00+02:00"),
        "draft": await _post(client, text="draft", channel_ids=[a["id"]]),
        "cancelled": await _post(client, text="gone", channel_ids=[a["id"]], scheduled_at="2030-03-12T10:00:00Z"),
    }
    assert (await client.delete(f"/api/v1/posts/{made['cancelled']['id']}")).status_code == 200
    async with app.state.sessionmaker() as session:  # as the publisher leaves a published target
        await session.execute(update(Target).where(Target.post_id == made["zoned"]["id"]).values(
            status="published", url="https://t.me/news/7", external_id="7",
            published_at=datetime(2030, 3, 10, 11, 0, 1, tzinfo=UTC)))
        await session.commit()
    return {"posts": made, "channels": {"a": a, "d1": d1, "d2": d2}}


async def test_csv_and_xlsx_have_the_import_columns_and_read_back(app: Any, client: httpx.AsyncClient) -> None:
    plan = await _plan(app, client)
    ch = plan["channels"]
    r = await client.get("/api/v1/posts/export", params={"start": "2030-03-01", "end": "2030-11-01"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv") and "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8"))))
    assert rows[0] == COLUMNS
    assert rows[1:] == [
        ["2030-03-10", "12:00", "News", "Spring sale", "Ads", "https://example.org/a.jpg", "Europe/Berlin",
         "published", "https://t.me/news/7"],
        ["2030-03-11", "09:15", f"News;{ch['d1']['id']}", '=HYPERLINK("x")\nsecond line', "", "", "Europe/Moscow",
         "scheduled", ""],  # the post's first channel's zone; a name two channels share is written as the id
        ["2030-03-31", "04:30", "News", "after the jump", "", "", "Europe/Moscow", "scheduled", ""],
        ["2030-10-27", "00:30", ch["d2"]["id"], "twice", "", "", "UTC", "scheduled", ""],  # 02:30 happens twice
    ]
    by_text = {p["text"]: p for p in plan["posts"].values()}
    for row in rows[1:]:  # what the import does with a row gives the same instant back
        at = localize(datetime.fromisoformat(f"{row[0]}T{row[1]}"), row[6])
        assert at == datetime.fromisoformat(by_text[row[3]]["scheduled_at"])

    x = await client.get("/api/v1/posts/export", params={"start": "2030-03-01", "end": "2030-11-01",
                                                         "format": "xlsx"})
    assert x.status_code == 200 and x.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(x.content)).active
    assert sheet is not None
    cells = [[c.value if c.value is not None else "" for c in row] for row in sheet.iter_rows()]
    assert cells == rows
    assert sheet["D3"].data_type == "s"  # a text starting with "=" stays text, never a formula

    week = await client.get("/api/v1/posts/export", params={"start": "2030-03-11", "end": "2030-03-12"})
    assert len(list(csv.reader(io.StringIO(week.text)))) == 2  # the header and the 11 March post
    for params, field in (({"format": "pdf"}, "format"), ({"start": "yesterday"}, "start"),
                          ({"start": "2030-03-12", "end": "2030-03-11"}, "end")):
        r = await client.get("/api/v1/posts/export", params=params)
        assert r.status_code == 422 and field in r.json()["detail"], r.text


async def test_the_ical_feed(app: Any, client: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    plan = await _plan(app, client)
    posts = plan["posts"]
    url = (await client.get("/api/v1/workspace")).json()["ical_url"]
    path = url.removeprefix("http://127.0.0.1:8000")
    r = await anon.get(path)  # no API key: the token in the path is the credential
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar"), r.text
    cal = Calendar.from_ical(r.content)
    assert cal["version"] == "2.0" and "smm-scheduler" in str(cal["prodid"])
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    wanted = ("zoned", "channel_zone", "fold", "dst")  # scheduled or published; not the draft or the cancelled
    assert set(events) == {f"{posts[k]['id']}@smm-scheduler" for k in wanted}
    zoned = events[f"{posts['zoned']['id']}@smm-scheduler"]
    assert zoned.decoded("dtstart") == datetime(2030, 3, 10, 11, 0, tzinfo=UTC)
    assert "DTSTART:20300310T110000Z" in r.text  # written in UTC, so a DST change never moves it
    assert str(zoned["url"]) == "https://t.me/news/7" and "[Ads] Spring sale" == str(zoned["summary"])
    desc = str(zoned["description"])
    assert "Channels: News" in desc and "Status: published" in desc and "https://t.me/news/7" in desc
    dst = events[f"{posts['dst']['id']}@smm-scheduler"]
    assert dst.decoded("dtstart") == datetime(2030, 3, 31, 1, 30, tzinfo=UTC)
    assert "Status: scheduled" in str(dst["description"]) and "url" not in dst

    moved = await client.patch(f"/api/v1/posts/{posts['dst']['id']}", json={"scheduled_at": "2030-04-01T10:00:00Z"})
    assert moved.status_code == 200
    again = {str(e["uid"]): e for e in Calendar.from_ical((await anon.get(path)).content).walk("VEVENT")}
    assert again[f"{posts['dst']['id']}@smm-scheduler"].decoded("dtstart") == datetime(2030, 4, 1, 10, tzinfo=UTC)

    rotated = await client.post("/api/v1/workspace/ical/rotate")
    assert rotated.status_code == 200 and rotated.json()["ical_url"] != url
    old = await anon.get(path)
    assert old.status_code == 404 and "replaced" in old.json()["detail"]
    new_path = rotated.json()["ical_url"].removeprefix("http://127.0.0.1:8000")
    assert (await anon.get(new_path)).status_code == 200
    assert (await client.get("/api/v1/workspace")).json()["ical_url"] == rotated.json()["ical_url"]
