"""No 500 from a time a client sends: out-of-range instants and dates are 422s naming the field (API, CSV, CLI)
and 400 pages (web), through the one parser in app.timeutil."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.config import Settings
from app.timeutil import MAX_YEAR, MIN_YEAR
from tests.conftest import make_channel
from tests.test_cli import smm

EARLY = "0001-01-01T00:00:00+01:00"
LATE = "9999-12-31T23:59:59-05:00"
RANGE = f"{MIN_YEAR}–{MAX_YEAR}"


def refused(r: httpx.Response, field: str) -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["errors"][0]["field"] == field, body
    assert "out of range" in body["detail"] and RANGE in body["detail"], body


@pytest.mark.parametrize("value", [EARLY, LATE, "9999-12-31T23:59:59", "1969-12-31T23:59:59Z"])
async def test_post_scheduled_at_out_of_range(client: httpx.AsyncClient, value: str) -> None:
    ch = await make_channel(client)
    r = await client.post("/api/v1/posts", json={"text": "x", "channel_ids": [ch["id"]], "scheduled_at": value,
                                                 "timezone": "Europe/Berlin"})
    refused(r, "scheduled_at")
    draft = (await client.post("/api/v1/posts", json={"text": "x", "channel_ids": [ch["id"]]})).json()
    refused(await client.patch(f"/api/v1/posts/{draft['id']}", json={"scheduled_at": value}), "scheduled_at")


async def test_list_bounds_out_of_range(client: httpx.AsyncClient) -> None:
    refused(await client.get("/api/v1/posts", params={"start": EARLY}), "start")
    refused(await client.get("/api/v1/posts", params={"end": LATE}), "end")
    refused(await client.get("/api/v1/posts", params={"start": "0001-01-01"}), "start")
    refused(await client.get("/api/v1/posts", params={"end": "9999-12-31"}), "end")
    r = await client.get("/api/v1/posts", params={"start": "²"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "start"
    ok = await client.get("/api/v1/posts", params={"start": "1970-01-01", "end": f"{MAX_YEAR}-12-31"})
    assert ok.status_code == 200 and ok.json()["items"] == []


async def test_series_bounds_out_of_range(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    base = {"name": "s", "cron": "0 9 * * *", "timezone": "UTC", "template": {"text": "x"}, "channel_ids": [ch["id"]]}
    refused(await client.post("/api/v1/series", json={**base, "starts_at": EARLY}), "starts_at")
    refused(await client.post("/api/v1/series", json={**base, "ends_at": LATE}), "ends_at")
    made = await client.post("/api/v1/series", json=base)
    assert made.status_code == 201, made.text
    refused(await client.patch(f"/api/v1/series/{made.json()['id']}", json={"ends_at": LATE}), "ends_at")


async def test_plan_fill_bounds_out_of_range(client: httpx.AsyncClient) -> None:
    refused(await client.post("/api/v1/plan/fill", json={"drafts": "all", "start": EARLY}), "start")
    refused(await client.post("/api/v1/plan/fill", json={"drafts": "all", "end": LATE}), "end")


async def test_csv_posted_at_out_of_range_is_a_row_error(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    body = ("posted_at,likes\n"
            f"{EARLY},1\n"
            "²,2\n"
            "99999999999999999999,3\n"
            "2024-05-01T18:30:00+03:00,4\n").encode()
    r = await client.post(f"/api/v1/channels/{ch['id']}/engagement", content=body,
                          headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["imported"] == 1 and out["skipped"] == 3
    errors = {e["row"]: e["error"] for e in out["errors"]}
    assert "out of range" in errors[2] and "is not a time" in errors[3] and "milliseconds" in errors[4]


async def test_csv_over_the_row_limit_is_refused_whole(client: httpx.AsyncClient, monkeypatch: Any) -> None:
    from app.analytics import importer

    monkeypatch.setattr(importer, "MAX_ROWS", 3)
    ch = await make_channel(client)
    rows = "".join(f"2024-05-0{d}T18:30:00+03:00,{d}\n" for d in range(1, 5))
    r = await client.post(f"/api/v1/channels/{ch['id']}/engagement", content=("posted_at,likes\n" + rows).encode(),
                          headers={"Content-Type": "text/csv"})
    assert r.status_code == 422 and "more than 3 rows" in r.json()["detail"], r.text


@pytest.mark.slow
async def test_cli_refuses_out_of_range_times(settings: Settings, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    listed = smm(settings, "posts", "list", "--start", EARLY, check=False)
    assert listed.returncode != 0 and "out of range" in listed.stderr and "Traceback" not in listed.stderr
    added = smm(settings, "posts", "add", "--channel", ch["id"], "--text", "x", "--at", LATE, check=False)
    assert added.returncode != 0 and "out of range" in added.stderr and "Traceback" not in added.stderr
    assert (await client.get("/api/v1/posts")).json()["items"] == []
