"""No request stalls the process: `/healthz` latency while each heavy request runs at its documented maximum.

Run from the repository root:  .venv/bin/python -m bench.stalls [--quick] [--backends sqlite,postgres]

Per backend: a fresh database, migrated; the real app (``create_app(settings, run_scheduler=False)``) served by
uvicorn in its own process. Set-up through the HTTP API where the API can do it: 100 Telegram channels (seeded at
driver level, as in the API benchmark), engagement history (2,000 rows with a strong evening effect) on the five
channels the drafts use, 500 drafts. 50 "legacy" series whose rule never fires (``0 0 30 2 *``, which creation
now refuses) are inserted directly, as rows made before the check would be.

While one heavy request runs (repeated ``--repeat`` times, sequentially, over its own connection), a second
thread sends ``GET /healthz`` every 10 ms over real loopback HTTP and records each answer's wall time; the table
gives the heavy request's status and duration and the probe's p50/p99/max. Target: probe p99 ≤ 100 ms.

Heavy requests, each at the maximum the README documents:

* ``telegram-html``: ``POST /api/v1/posts`` with ``text_format: html``, text ``"<a" + "b" * 99990`` (the
  100,000-character maximum), on 100 Telegram channels (the channel maximum) → 422;
* ``plan-fill``: ``POST /api/v1/plan/fill`` ``drafts: "all"`` over the 92-day maximum window, 500 drafts (the
  per-request maximum), dry run; ``plan-fill-confirm`` the same with ``confirm: true`` (run once, last);
* ``csv-import``: ``POST /api/v1/channels/{id}/engagement`` with 100,000 rows (the row maximum, ≈ 7 MB);
* ``best-slots``: ``GET /api/v1/channels/{id}/best-slots`` on that channel (a cold fit of 100,000 posts);
* ``series-create``: ``POST /api/v1/series`` ``0 * * * *`` on 5 channels = 1,680 targets (the cap is 2,000);
* ``series-list``: ``GET /api/v1/series?limit=100`` with the 50 never-firing legacy rules among the series;
* ``telegram-html-valid``: ``POST /api/v1/posts`` (a draft) with well-formed HTML at the 100,000-character maximum
  (``<b>x</b>`` × 12,500) on the 100 channels, and a different 100,000-character HTML override on as many channels
  as the body limit (``SMM_MAX_BODY_BYTES``, 1 MiB) holds: every distinct text parsed in full → 422 (the visible
  text is over Telegram's 4,096);
* ``upload``: ``POST /api/v1/media`` with an MP4 just under the upload maximum (``SMM_MAX_UPLOAD_BYTES``, 50 MiB,
  counted with the multipart framing) → 201;
* ``calendar-month``: the signed-in calendar page (``GET /calendar?month=…``) of a month holding 20,000 posts
  (seeded at driver level); the page shows the documented maximum of them.

Writes the ``stalls`` block of bench/RESULTS.md (not with ``--quick``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import threading
import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.config import Settings
from bench.common import (
    API_KEY,
    BenchDb,
    PostSpec,
    bulk_posts,
    command_line,
    load_avg,
    machine_info,
    now_stamp,
    pg_available,
    running,
    seed_channels,
    settings_for,
    start_api,
    summary,
    temp_database,
    write_section,
)

N_CHANNELS = 100
PLAN_CHANNELS = 5
N_DRAFTS = 500
HISTORY_ROWS = 2_000
IMPORT_ROWS = 100_000
LEGACY_SERIES = 50
CALENDAR_POSTS = 20_000
BODY_LIMIT = int(Settings.model_fields["max_body_bytes"].default)
UPLOAD_LIMIT = int(Settings.model_fields["max_upload_bytes"].default)
TARGET_P99_MS = 100.0
SEED = 20_261_201


class Prober:
    """GET /healthz every ``interval`` s in a thread, over its own keep-alive connection; latencies in ms."""

    def __init__(self, base: str, interval: float = 0.01) -> None:
        self.base, self.interval = base, interval
        self.latencies: list[float] = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=120.0) as client:
            client.get("/healthz")  # the connection, before timing
            while not self._stop.is_set():
                t0 = time.perf_counter()
                try:
                    ok = client.get("/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.latencies.append((time.perf_counter() - t0) * 1000)
                self.failures += not ok
                self._stop.wait(self.interval)

    def __enter__(self) -> Prober:
        self._thread.start()
        time.sleep(0.2)  # a few probes before the heavy request starts
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=150)


def history_csv(rows: int, rng: random.Random, start: datetime) -> bytes:
    """Past posts every few hours with a strong 18:00-20:00 effect (so the analyzer ranks hours)."""
    lines = ["posted_at,likes,comments,shares,views,reach,followers"]
    step = timedelta(hours=3, minutes=17)
    for i in range(rows):
        at = start + i * step
        boost = 3.0 if 18 <= at.hour <= 20 else 1.0
        views = int(rng.lognormvariate(7, 0.3) * boost)
        lines.append(f"{at.isoformat()},{views // 20},{views // 200},{views // 400},{views},{views * 4 // 5},20000")
    return ("\n".join(lines) + "\n").encode()


async def legacy_series(db: BenchDb, ws_id: str, channel_id: str) -> None:
    """Series rows whose rule never fires, as made before creation refused such rules."""
    from app.db import make_engine, make_sessionmaker, session_scope
    from app.models import Series

    engine = make_engine(settings_for(db))
    try:
        async with session_scope(make_sessionmaker(engine)) as s:
            s.add_all(Series(workspace_id=ws_id, name=f"legacy {i}", cron="0 0 30 2 *", timezone="Europe/Berlin",
                             template={"text": "never"}, channel_ids=[channel_id]) for i in range(LEGACY_SERIES))
    finally:
        await engine.dispose()


def calendar_posts(channel_ids: list[str], month: datetime, rng: random.Random) -> list[PostSpec]:
    """``CALENDAR_POSTS`` scheduled posts spread over the month starting at ``month`` (UTC)."""
    seconds = 28 * 86_400
    return [PostSpec(channel_id=channel_ids[i % len(channel_ids)],
                     scheduled_at=month + timedelta(seconds=rng.uniform(0, seconds)),
                     text=f"Calendar post {i}: lorem ipsum dolor sit amet") for i in range(CALENDAR_POSTS)]


def html_post(channel_ids: list[str]) -> dict[str, Any]:
    """A draft with valid HTML at the text maximum, and distinct HTML overrides up to the body limit."""
    body: dict[str, Any] = {"text": "<b>x</b>" * 12_500, "text_format": "html", "channel_ids": channel_ids,
                            "overrides": {}}
    tags = ("i", "u", "s", "em", "del", "ins", "strong", "code", "tg-spoiler")
    for cid, tag in zip(channel_ids, tags, strict=False):
        text = f"<{tag}>y</{tag}>" * (100_000 // len(f"<{tag}>y</{tag}>"))
        if len(json.dumps(body)) + len(text) + 100 > BODY_LIMIT:
            break
        body["overrides"][cid] = {"text": text}
    return body


def mp4_upload() -> bytes:
    """An MP4 file (recognised by its ``ftyp`` box) at the upload maximum."""
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    return head + b"\x00" * (UPLOAD_LIMIT - 4096 - len(head))  # the multipart framing counts too


def signed_in(base: str) -> httpx.Client:
    """A browser-like client signed in through the login form (for the web pages)."""
    web = httpx.Client(base_url=base, timeout=600.0)
    page = web.get("/login").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = web.post("/login", data={"api_key": API_KEY, "csrf_token": token})
    assert r.status_code == 303, r.text
    return web


def measure(base: str, name: str, send: Callable[[httpx.Client], httpx.Response], repeat: int,
            expect: int) -> dict[str, Any]:
    durations: list[float] = []
    statuses: set[int] = set()
    with httpx.Client(base_url=base, timeout=600.0, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        client.get("/healthz")
        with Prober(base) as probe:
            for _ in range(repeat):
                t0 = time.perf_counter()
                try:
                    r = send(client)
                except httpx.TimeoutException:  # a shared machine can be that slow: say so, measure the rest
                    durations.append((time.perf_counter() - t0) * 1000)
                    statuses.add(0)
                    print(f"[{name}] no answer within the client's timeout", file=sys.stderr, flush=True)
                    continue
                durations.append((time.perf_counter() - t0) * 1000)
                statuses.add(r.status_code)
                if r.status_code != expect:
                    print(f"[{name}] unexpected {r.status_code}: {r.text[:300]}", file=sys.stderr, flush=True)
    s = summary(probe.latencies)
    print(f"[{name}] {sorted(statuses)} heavy max {max(durations):.0f} ms; healthz p99 {s['p99']:.1f} ms "
          f"max {s['max']:.1f} ms (n={s['n']:.0f})", flush=True)
    return {"name": name, "statuses": sorted(statuses), "expect": expect, "heavy": summary(durations),
            "probe": s, "failures": probe.failures}


def run_backend(backend: str, repeat: int, rng: random.Random) -> dict[str, Any]:
    with temp_database(backend, "stalls") as db:
        creds = [{"bot_token": f"{100000 + i}:AAEbenchbenchbenchbench{i:04d}", "chat_id": f"-100{2000000 + i}"}
                 for i in range(N_CHANNELS)]
        ws_id, channel_ids = asyncio.run(seed_channels(db, creds))
        asyncio.run(legacy_series(db, ws_id, channel_ids[0]))
        month = (datetime.now(UTC) + timedelta(days=200)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        asyncio.run(bulk_posts(db, ws_id, calendar_posts(channel_ids[20:40], month, rng)))
        plan_channels = channel_ids[:PLAN_CHANNELS]
        proc, base = start_api(db)
        results: list[dict[str, Any]] = []
        auth = {"Authorization": f"Bearer {API_KEY}"}
        with running(proc), httpx.Client(base_url=base, timeout=600.0, headers=auth) as api, \
                closing(signed_in(base)) as web:
            t0 = time.perf_counter()
            past = datetime.now(UTC) - timedelta(days=400)
            for cid in plan_channels:
                r = api.post(f"/api/v1/channels/{cid}/engagement", content=history_csv(HISTORY_ROWS, rng, past),
                             headers={"Content-Type": "text/csv"})
                assert r.status_code == 200, r.text
            for i in range(N_DRAFTS):
                chans = [plan_channels[i % PLAN_CHANNELS]] + ([plan_channels[(i + 1) % PLAN_CHANNELS]] if i % 3 == 0
                                                               else [])
                r = api.post("/api/v1/posts", json={"text": f"draft {i}", "channel_ids": chans,
                                                    "priority": 1 + i % 5})
                assert r.status_code == 201, r.text
            print(f"[{backend}] set-up through the API in {time.perf_counter() - t0:.0f} s", flush=True)
            big = history_csv(IMPORT_ROWS, rng, datetime.now(UTC) - timedelta(days=IMPORT_ROWS // 7 + 2))
            import_channel = channel_ids[PLAN_CHANNELS]
            start = datetime.now(UTC) + timedelta(hours=1)
            window = {"drafts": "all", "start": start.isoformat(), "end": (start + timedelta(days=92)).isoformat()}
            html = {"text": "<a" + "b" * 99_990, "text_format": "html", "channel_ids": channel_ids}
            series_n = iter(range(10**6))
            video = mp4_upload()

            def series_body() -> dict[str, Any]:
                return {"name": f"hourly {next(series_n)}", "cron": "0 * * * *", "timezone": "UTC",
                        "template": {"text": "every hour"}, "channel_ids": channel_ids[10:15]}

            scenarios: list[tuple[str, Callable[[httpx.Client], httpx.Response], int, int]] = [
                ("telegram-html", lambda c: c.post("/api/v1/posts", json=html), repeat, 422),
                ("plan-fill", lambda c: c.post("/api/v1/plan/fill", json=window), repeat, 200),
                ("csv-import", lambda c: c.post(f"/api/v1/channels/{import_channel}/engagement", content=big,
                                                headers={"Content-Type": "text/csv"}), 1, 200),
                ("best-slots", lambda c: c.get(f"/api/v1/channels/{import_channel}/best-slots"), 1, 200),
                ("series-create", lambda c: c.post("/api/v1/series", json=series_body()), repeat, 201),
                ("series-list", lambda c: c.get("/api/v1/series", params={"limit": 100}), repeat, 200),
                ("telegram-html-valid", lambda c: c.post("/api/v1/posts", json=html_post(channel_ids)), repeat,
                 422),
                ("upload", lambda c: c.post("/api/v1/media", files={"file": ("big.mp4", video, "video/mp4")}), 1, 201),
                ("calendar-month", lambda c: web.get("/calendar", params={"month": f"{month:%Y-%m}"}), repeat, 200),
                ("plan-fill-confirm", lambda c: c.post("/api/v1/plan/fill", json={**window, "confirm": True}),
                 1, 200),
            ]
            with Prober(base) as idle:
                time.sleep(3)
            results.append({"name": "idle", "statuses": [], "expect": 0, "heavy": None,
                            "probe": summary(idle.latencies), "failures": idle.failures})
            for name, send, times, expect in scenarios:
                results.append(measure(base, f"{backend}/{name}", send, times, expect))
        return {"backend": backend, "results": results}


def render(runs: list[dict[str, Any]], cmd: str, elapsed: float) -> str:
    lines = [
        "## No request stalls the process",
        "",
        f"Command: `{cmd}` ({elapsed:.0f} s). Date: {now_stamp()}.",
        f"Machine: {machine_info()}. Load average at the end (1/5/15 min): {load_avg()} — shared with other "
        "work during the run.",
        "",
        "`GET /healthz` every 10 ms over real loopback HTTP (its own connection) while each heavy request runs at "
        "its documented maximum, sequentially, in the app's own uvicorn process; see `bench/stalls.py` for the "
        f"set-up. Target: healthz p99 ≤ {TARGET_P99_MS:.0f} ms. Before this work the same requests held the event "
        "loop for 29 s (HTML check), 15–17 s (plan fill of 600 drafts), 1.4 s (10 MB CSV) and 0.1 s per "
        "never-firing rule (issue 12 / 11); the calendar month of 20,000 posts for 9 s and ten 100,000-character "
        "HTML overrides for 1.2 s (healthz max, this benchmark, before the calendar cap and the content check in "
        "a thread).",
        "",
        "| backend | heavy request | status | heavy p50 ms | heavy max ms | healthz n | p50 ms | p99 ms | max ms "
        "| met |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        for r in run["results"]:
            p, h = r["probe"], r["heavy"]
            ok = p["p99"] <= TARGET_P99_MS and not r["failures"] and (not r["expect"] or r["statuses"] == [r["expect"]])
            name = r["name"].split("/")[-1]
            status = ",".join(str(c) if c else "timeout" for c in r["statuses"]) or "—"
            heavy = f"{h['p50']:.0f} | {h['max']:.0f}" if h else "— | —"
            lines.append(f"| {run['backend']} | {name} | {status} | {heavy} | {p['n']:.0f} | {p['p50']:.1f} | "
                         f"{p['p99']:.1f} | {p['max']:.1f} | {'yes' if ok else '**no**'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="each heavy request once, SQLite only, nothing written")
    ap.add_argument("--backends", default=None, help="default sqlite,postgres (--quick: sqlite)")
    ap.add_argument("--repeat", type=int, default=None, help="runs of each repeatable heavy request (default 3)")
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    args = ap.parse_args(argv)
    repeat = args.repeat or (1 if args.quick else 3)
    backends = args.backends or ("sqlite" if args.quick else "sqlite,postgres")
    rng = random.Random(SEED)
    started = time.time()
    runs = []
    for backend in [b.strip() for b in backends.split(",") if b.strip()]:
        if backend == "postgres" and not pg_available():
            print("PostgreSQL not reachable at 127.0.0.1:5432: skipped", file=sys.stderr)
            continue
        runs.append(run_backend(backend, repeat, rng))
    text = render(runs, command_line("bench.stalls", argv), time.time() - started)
    print(text)
    if not args.no_write and not args.quick:
        write_section("stalls", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
