"""Plan import (CSV and XLSX): every row checked by the posts API's own rules, all rows or none, by API and CLI."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from app.config import Settings
from tests.conftest import make_channel
from tests.served import smm, smm_env

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCS = Path(__file__).resolve().parents[2] / "docs"
HEADER = "date,time,channels,text,rubric,media,timezone\n"


async def _channels(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """The channels the templates name: "News" (Telegram, Moscow) and "VK group" (VK, Moscow)."""
    return (await make_channel(client, name="News"), await make_channel(client, platform="vk", name="VK group"))


async def _import(client: httpx.AsyncClient, body: bytes | str, *, commit: bool = False, kind: str = "text/csv"
                  ) -> httpx.Response:
    return await client.post("/api/v1/plan/import", params={"commit": str(commit).lower()},
                             content=body.encode() if isinstance(body, str) else body, headers={"Content-Type": kind})


async def _posts(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/posts", params={"limit": 100})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


GOOD = HEADER + (
    "2035-03-05,10:00,News,Hello,Fun,,\n"
    "2035-03-06,12:30,News;VK group,\"Two channels, one text\",,https://example.org/a.jpg,Europe/Berlin\n")


async def test_a_good_file_is_a_dry_run_until_commit(client: httpx.AsyncClient) -> None:
    news, vk = await _channels(client)
    r = await _import(client, GOOD)
    assert r.status_code == 200, r.text
    assert r.json() == {"rows": 2, "valid": 2, "problems": [], "warnings": [], "created": []}
    assert await _posts(client) == []  # a dry run stores nothing (not even the new rubric)
    assert "Fun" not in (await client.get("/api/v1/rubrics")).text

    r = await _import(client, GOOD, commit=True)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rows"] == 2 and body["valid"] == 2 and body["problems"] == [] and len(body["created"]) == 2
    posts = {p["id"]: p for p in await _posts(client)}
    assert set(posts) == set(body["created"])
    first, second = (posts[i] for i in body["created"])
    assert first["scheduled_at"].startswith("2035-03-05T07:00:00")  # 10:00 in the channel's zone (Moscow)
    assert first["rubric"] == "Fun" and first["timezone"] == "Europe/Moscow"
    assert second["scheduled_at"].startswith("2035-03-06T11:30:00")  # 12:30 in Berlin (the row's zone)
    assert {t["channel_id"] for t in second["targets"]} == {news["id"], vk["id"]}
    assert [m["url"] for m in second["media"]] == ["https://example.org/a.jpg"]


BAD = HEADER + (
    "2035-03-05,10:00,News,fine,,,\n"            # row 2
    "2035-3-5,25:00,Nowhere,x,,,Mars/Base\n"     # row 3: date, time, channels, timezone
    "\n"                                         # row 4: blank, skipped
    "2020-01-01,10:00,News,too late,,,\n"        # row 5: in the past (the posts service's rule)
    "2035-03-05,10:00,VK group,,,ftp://x/y,\n"   # row 6: media not http(s)
    "2035-03-05,10:00,News," + "x" * 5000 + ",,,\n")  # row 7: over Telegram's 4096 characters


async def test_problems_are_named_by_row_and_column(client: httpx.AsyncClient) -> None:
    await _channels(client)
    r = await _import(client, BAD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rows"] == 5 and body["valid"] == 1 and body["created"] == []
    where = [(p["row"], p["column"]) for p in body["problems"]]
    assert where == [(3, "date"), (3, "time"), (3, "channels"), (3, "timezone"), (5, "time"), (6, "media"),
                     (7, "text")], body
    errors = {(p["row"], p["column"]): p["error"] for p in body["problems"]}
    assert "YYYY-MM-DD" in errors[(3, "date")] and "Nowhere" in errors[(3, "channels")]
    assert "in the past" in errors[(5, "time")] and "4096" in errors[(7, "text")]
    assert await _posts(client) == []


async def test_a_commit_with_one_bad_row_creates_none(client: httpx.AsyncClient) -> None:
    await _channels(client)
    r = await _import(client, GOOD + "2035-03-07,10:00,Nowhere,x,,,\n", commit=True)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["rows"] == 3 and body["valid"] == 2 and body["created"] == []
    assert body["problems"] == [{"row": 4, "column": "channels", "error": "no channel named or with the id 'Nowhere'"}]
    assert body["detail"] == "Nothing was created: 1 row(s) of the file have a problem (see problems)."
    assert body["errors"] == [{"field": "row 4, column channels", "message": body["problems"][0]["error"]}]
    assert await _posts(client) == []


async def test_file_and_header_problems_and_types(client: httpx.AsyncClient) -> None:
    await _channels(client)
    r = await _import(client, "date,channels\n2035-01-01,News\n")
    assert r.status_code == 200
    assert [(p["row"], p["column"]) for p in r.json()["problems"]] == [(1, "time"), (1, "text")]
    r = await _import(client, b"\xff\xfe\x00garbage")
    assert r.json()["problems"][0]["row"] == 0 and "UTF-8" in r.json()["problems"][0]["error"]
    r = await _import(client, b"PK not a zip", kind=XLSX)
    assert r.status_code == 200 and "XLSX" in r.json()["problems"][0]["error"]
    r = await _import(client, HEADER + "2035-03-05,10:00,News,a\x00b,,,\n")  # PostgreSQL cannot store it
    assert r.status_code == 200 and r.json()["problems"] == [
        {"row": 2, "column": "text", "error": "contains the NUL character, which cannot be stored"}]
    r = await _import(client, GOOD, kind="application/json")
    assert r.status_code == 415 and "text/csv" in r.json()["detail"]
    from app.plan.importer import MAX_ROWS

    many = HEADER + "2035-03-05,10:00,Nowhere,x,,,\n" * MAX_ROWS + ",,,,,,\n" * 50  # blank rows do not count
    assert len((await _import(client, many)).json()["problems"]) == MAX_ROWS
    r = await _import(client, HEADER + "2035-03-05,10:00,News,x,,,\n" * (MAX_ROWS + 1))
    assert r.json()["problems"] == [{"row": 0, "column": None, "error": f"more than {MAX_ROWS} rows; split the plan "
                                     f"into files of at most {MAX_ROWS} rows"}]


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_xlsx_with_typed_dates_and_a_holiday_warning(client: httpx.AsyncClient) -> None:
    await client.patch("/api/v1/workspace", json={"country": "RU"})
    await _channels(client)
    data = _xlsx([["Date", "Time", "Channels", "Text"],
                  [date(2035, 3, 8), time(9, 0), "News", "typed cells"],
                  [datetime(2035, 3, 9), "9:30", "VK group", "a datetime cell"],
                  ["2035-03-10", "10:00", "News", 42]])
    r = await _import(client, data, kind=XLSX, commit=True)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rows"] == 3 and body["problems"] == [] and len(body["created"]) == 3
    assert [(w["row"], w["column"], w["code"]) for w in body["warnings"]] == [(2, "date", "holiday")]
    assert "2035-03-08" in body["warnings"][0]["message"]
    texts = {p["text"] for p in await _posts(client)}
    assert texts == {"typed cells", "a datetime cell", "42"}


@pytest.mark.parametrize("name,kind", [("plan-template.csv", "text/csv"), ("plan-template.xlsx", XLSX)])
async def test_the_documented_templates_import_cleanly(client: httpx.AsyncClient, name: str, kind: str) -> None:
    await _channels(client)
    r = await _import(client, (DOCS / name).read_bytes(), kind=kind, commit=True)
    assert r.status_code == 200, r.text
    assert r.json()["problems"] == [] and r.json()["rows"] == 4 and len(r.json()["created"]) == 4


@pytest.mark.parametrize("fmt,kind", [("csv", "text/csv"), ("xlsx", XLSX)])
async def test_an_export_imports_again_without_problems(client: httpx.AsyncClient, fmt: str, kind: str) -> None:
    await client.patch("/api/v1/workspace", json={"timezone": "Europe/Berlin"})
    news, vk = await _channels(client)
    await make_channel(client, name="Dup")
    await make_channel(client, platform="vk", name="Dup")  # a shared name: the export writes ids
    assert (await _import(client, (DOCS / "plan-template.csv").read_bytes(), commit=True)).status_code == 200
    for body in ({"text": '=HYPERLINK("x")\nsecond line', "channel_ids": [news["id"]], "rubric": "Ads",
                  "scheduled_at": "2035-10-28T00:30:00Z", "timezone": "Europe/Berlin"},  # the hour that happens twice
                 {"text": "dup", "channel_ids": [vk["id"]], "scheduled_at": "2035-03-31T03:30:00+02:00"}):
        assert (await client.post("/api/v1/posts", json=body)).status_code == 201
    r = await client.get("/api/v1/posts/export", params={"format": fmt})
    assert r.status_code == 200, r.text
    before = len(await _posts(client))
    r = await _import(client, r.content, kind=kind)
    assert r.status_code == 200, r.text
    assert r.json()["problems"] == [] and r.json()["rows"] == before == 6 and r.json()["valid"] == 6


@pytest.mark.slow
async def test_cli_dry_run_problems_and_commit(client: httpx.AsyncClient, settings: Settings, tmp_path: Path
                                                ) -> None:
    await _channels(client)
    env = smm_env(settings)
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD + "2035-03-07,7pm,News,x,,,\n")
    done = smm(env, "plan", "import", str(bad), "--commit")
    assert done.returncode == 1, done.stderr
    assert "row 4, column time: '7pm' is not a time as HH:MM" in done.stdout
    assert "3 rows, 2 valid, 1 problems; nothing created" in done.stdout
    assert await _posts(client) == []

    good = DOCS / "plan-template.xlsx"
    done = smm(env, "plan", "import", str(good))
    assert done.returncode == 0, done.stderr
    assert "4 rows, 4 valid, 0 problems; dry run" in done.stdout and await _posts(client) == []
    done = smm(env, "plan", "import", str(good), "--commit", "--json")
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)["created"]
    assert len(created) == 4 and {p["id"] for p in await _posts(client)} == set(created)
