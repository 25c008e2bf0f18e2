"""Public holidays of the workspace's country and the workspace's own dates: API, calendar and settings page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.web.conftest import csrf_of, sign_in


async def _add(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/dates", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_holidays_and_own_dates_in_one_list(client: httpx.AsyncClient) -> None:
    await client.patch("/api/v1/workspace", json={"country": "DE"})
    shop = await _add(client, date="2030-12-24", name="  Shop   anniversary ", yearly=True)
    assert shop == {"id": shop["id"], "date": "2030-12-24", "name": "Shop anniversary", "yearly": True}
    launch = await _add(client, date="2031-01-01", name="Launch")
    leap = await _add(client, date="2028-02-29", name="Leap day", yearly=True)
    listed = (await client.get("/api/v1/dates")).json()
    assert [d["name"] for d in listed["items"]] == ["Leap day", "Shop anniversary", "Launch"]

    r = await client.get("/api/v1/holidays", params={"start": "2030-12-20", "end": "2031-01-02"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["country"], body["start"], body["end"]) == ("DE", "2030-12-20", "2031-01-02")
    assert [(m["date"], m["name"], m["kind"], m["id"]) for m in body["items"]] == [
        ("2030-12-24", "Shop anniversary", "workspace", shop["id"]),
        ("2030-12-25", "Christmas Day", "public", None),
        ("2030-12-26", "Second Day of Christmas", "public", None),
        ("2031-01-01", "New Year's Day", "public", None),
        ("2031-01-01", "Launch", "workspace", launch["id"]),
    ]
    yearly = (await client.get("/api/v1/holidays", params={"start": "2029-02-01", "end": "2032-01-01"})).json()
    mine = [(m["date"], m["name"]) for m in yearly["items"] if m["kind"] == "workspace"]
    assert mine == [("2029-02-28", "Leap day"), ("2030-02-28", "Leap day"), ("2030-12-24", "Shop anniversary"),
                    ("2031-01-01", "Launch"), ("2031-02-28", "Leap day"), ("2031-12-24", "Shop anniversary")]
    early = (await client.get("/api/v1/holidays", params={"start": "2027-12-01", "end": "2028-01-01"})).json()
    assert all(m["kind"] == "public" for m in early["items"])  # an anniversary starts on its first day

    assert (await client.delete(f"/api/v1/dates/{leap['id']}")).status_code == 204
    assert (await client.delete(f"/api/v1/dates/{leap['id']}")).status_code == 404
    await client.patch("/api/v1/workspace", json={"country": None})
    none = (await client.get("/api/v1/holidays", params={"start": "2030-12-20", "end": "2031-01-02"})).json()
    assert none["country"] is None and [m["kind"] for m in none["items"]] == ["workspace", "workspace"]


@pytest.mark.parametrize(("path", "kwargs", "field", "words"), [
    ("/api/v1/dates", {"json": {"date": "24.12.2030", "name": "x"}}, "date", "YYYY-MM-DD"),
    ("/api/v1/dates", {"json": {"date": "2030-12-24", "name": "  "}}, "name", "needs a name"),
    ("/api/v1/holidays", {"params": {"start": "2030-12-24", "end": "2030-12-01"}}, "end", "after start"),
    ("/api/v1/holidays", {"params": {"start": "2030-01-01", "end": "2040-01-01"}}, "end", "three years"),
    ("/api/v1/holidays", {"params": {"start": "soon"}}, "start", "not a date"),
])
async def test_refusals_say_why(client: httpx.AsyncClient, path: str, kwargs: dict[str, Any], field: str,
                                words: str) -> None:
    r = await client.request("POST" if "json" in kwargs else "GET", path, **kwargs)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == field and words in r.json()["detail"], r.text


async def test_the_calendar_and_the_settings_page_show_them(client: httpx.AsyncClient,
                                                            anon: httpx.AsyncClient) -> None:
    browser = anon  # keeps the session cookie
    assert (await sign_in(browser)).status_code == 303
    await client.patch("/api/v1/workspace", json={"country": "DE"})
    page = await browser.get("/settings")
    r = await browser.post("/settings/dates", data={"csrf_token": csrf_of(page.text), "date": "2030-12-24",
                                                    "name": "Contest final", "yearly": "on"})
    assert r.status_code == 303, r.text
    bad = await browser.post("/settings/dates", data={"csrf_token": csrf_of(page.text), "date": "", "name": "x"})
    assert bad.status_code == 422 and "not a date" in bad.text
    settings_page = (await browser.get("/settings")).text
    assert "Contest final" in settings_page and "every year" in settings_page
    cal = (await browser.get("/calendar?month=2030-12")).text
    eve = cal.split('data-date="2030-12-24"', 1)[1].split("</td>", 1)[0]
    xmas = cal.split('data-date="2030-12-25"', 1)[1].split("</td>", 1)[0]
    assert 'class="date-name"' in eve and "Contest final" in eve and "Christmas Day" in xmas
    week = (await browser.get("/calendar?view=week&date=2031-12-24")).text  # the next year too
    assert "Contest final" in week
    row = (await client.get("/api/v1/dates")).json()["items"][0]
    r = await browser.post(f"/settings/dates/{row['id']}/delete", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and (await client.get("/api/v1/dates")).json()["items"] == []
