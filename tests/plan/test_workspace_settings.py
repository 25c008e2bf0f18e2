"""Workspace settings through the API and `smm workspace`: time zone, country, spacing, rubric mix, date ranges."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.conftest import make_channel
from tests.test_cli import smm


async def test_get_answers_the_contract_fields(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/workspace")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "default" and body["timezone"] == "UTC" and body["country"] is None
    assert body["default_spacing_minutes"] is None and body["rubric_mix"] == {}
    assert body["ical_url"].startswith("http://127.0.0.1:8000/ical/") and body["ical_url"].endswith(".ics")
    assert len(body["ical_url"].rsplit("/", 1)[1]) > 40  # a secret, not a guessable id


async def test_patch_changes_only_what_it_names(client: httpx.AsyncClient) -> None:
    r = await client.patch("/api/v1/workspace", json={"timezone": "Europe/Berlin", "country": "de",
                                                      "default_spacing_minutes": 90})
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in ("timezone", "country", "default_spacing_minutes")} == {
        "timezone": "Europe/Berlin", "country": "DE", "default_spacing_minutes": 90}
    r = await client.patch("/api/v1/workspace", json={"rubric_mix": {"News": 0.5, "Fun": 0.25}})
    assert r.status_code == 200 and r.json()["rubric_mix"] == {"News": 0.5, "Fun": 0.25}
    assert r.json()["timezone"] == "Europe/Berlin"  # untouched
    again = (await client.get("/api/v1/workspace")).json()
    assert again == r.json()  # stored, not only answered
    r = await client.patch("/api/v1/workspace", json={"rubric_mix": {"news": 0.3}, "country": None})
    assert r.json()["rubric_mix"] == {"News": 0.3} and r.json()["country"] is None  # matched case-insensitively


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"timezone": "Mars/Olympus"}, "timezone", "IANA"),
    ({"timezone": None}, "timezone", "always has a time zone"),
    ({"country": "XX"}, "country", "ISO 3166"),
    ({"country": "DEU"}, "country", "alpha-2"),
    ({"rubric_mix": {"A": 0.7, "B": 0.6}}, "rubric_mix", "add up to 1.3"),
    ({"rubric_mix": {"A": 1.5}}, "rubric_mix.A", "between 0 and 1"),
    ({"default_spacing_minutes": -1}, "body.default_spacing_minutes", "greater than or equal"),
    ({"colour": "red"}, "body.colour", "unknown field"),
])
async def test_refused_settings_say_why_and_change_nothing(
    client: httpx.AsyncClient, body: dict[str, Any], field: str, words: str
) -> None:
    before = (await client.get("/api/v1/workspace")).json()
    r = await client.patch("/api/v1/workspace", json={**body, "default_spacing_minutes": 15}
                           if "default_spacing_minutes" not in body else body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field and words in r.json()["detail"], r.json()
    assert (await client.get("/api/v1/workspace")).json() == before


async def test_date_ranges_are_days_of_the_workspace_zone_across_dst(client: httpx.AsyncClient) -> None:
    """In Santiago the clocks jump from 00:00 to 01:00 on 2027-09-05: that day starts at 01:00 (04:00 UTC)."""
    ch = await make_channel(client)
    await client.patch("/api/v1/workspace", json={"timezone": "America/Santiago"})
    made = {}
    for label, at in {"before": "2027-09-04T23:30:00-04:00", "first": "2027-09-05T01:30:00-03:00",
                      "last": "2027-09-05T23:59:00-03:00", "next": "2027-09-06T00:00:00-03:00"}.items():
        r = await client.post("/api/v1/posts", json={"text": label, "channel_ids": [ch["id"]], "scheduled_at": at})
        assert r.status_code == 201, r.text
        made[r.json()["id"]] = label
    r = await client.get("/api/v1/posts", params={"start": "2027-09-05", "end": "2027-09-06"})
    assert r.status_code == 200, r.text  # it used to be a 422: "00:00 does not exist"
    assert [made[p["id"]] for p in r.json()["items"]] == ["first", "last"]
    await client.patch("/api/v1/workspace", json={"timezone": "Europe/Berlin"})  # a 25-hour day (clocks go back)
    for label, at in {"late": "2027-10-31T23:30:00+01:00", "early": "2027-10-31T00:10:00+02:00"}.items():
        r = await client.post("/api/v1/posts", json={"text": label, "channel_ids": [ch["id"]], "scheduled_at": at})
        made[r.json()["id"]] = label
    r = await client.get("/api/v1/posts", params={"start": "2027-10-31", "end": "2027-11-01"})
    assert [made[p["id"]] for p in r.json()["items"]] == ["early", "late"]


@pytest.mark.slow
def test_the_cli_shows_and_sets_the_same_settings(settings: Settings) -> None:
    shown = json.loads(smm(settings, "workspace", "show", "--json").stdout)
    assert shown["timezone"] == "UTC" and shown["ical_url"].endswith(".ics")
    out = smm(settings, "workspace", "set", "--timezone", "Asia/Tokyo", "--country", "JP", "--spacing", "60",
              "--mix", "News=40%,Tips=0.2").stdout
    assert "Asia/Tokyo" in out and "JP" in out and "News=0.4, Tips=0.2" in out and "60 min" in out
    assert shown["ical_url"] in out  # the feed keeps its address
    bad = smm(settings, "workspace", "set", "--country", "Narnia", "--json", check=False)
    assert bad.returncode == 2 and "ISO 3166" in bad.stderr and not bad.stdout
