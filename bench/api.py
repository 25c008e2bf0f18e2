"""API latency with 100,000 posts: the calendar month of one channel and a create, on SQLite and PostgreSQL.

Run from the repository root:  .venv/bin/python -m bench.api [--quick] [--backends sqlite,postgres]

Per backend: a fresh database (SQLite file in a temp dir / PostgreSQL ``bench_api_*``), migrated to head; 20
Telegram channels and 100,000 posts with one target each, spread uniformly over two years (now − 1 y … now + 1 y;
the past ones published, the future ones scheduled), bulk-inserted at driver level. The real app
(``create_app(settings, run_scheduler=False)``) is served by uvicorn in its own process; the client sends
sequential requests over loopback HTTP with keep-alive (``httpx.Client``):

* N calendar requests ``GET /api/v1/posts?start=<month start>&end=<next month start>&channel_id=<id>&limit=500``
  for random (channel, month) pairs inside the seeded range;
* N creates ``POST /api/v1/posts`` (a text post on one Telegram channel, scheduled in the future).

Latency = client-side wall time per request. EXPLAIN of the exact calendar statement the app builds
(``app.posts.repository.list_page``) is printed on both backends. Writes the ``api`` block of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import pstats
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    API_KEY,
    BenchDb,
    PostSpec,
    analyze,
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

N_CHANNELS = 20
SEED = 20_260_101


def month_starts(first: datetime, last: datetime) -> list[datetime]:
    """UTC month starts m with first <= m and m + 1 month <= last."""
    out = []
    m = datetime(first.year, first.month, 1, tzinfo=UTC)
    if m < first:
        m = _next_month(m)
    while _next_month(m) <= last:
        out.append(m)
        m = _next_month(m)
    return out


def _next_month(m: datetime) -> datetime:
    return m.replace(year=m.year + 1, month=1) if m.month == 12 else m.replace(month=m.month + 1)


def _specs(channel_ids: list[str], n: int, lo: datetime, hi: datetime, rng: random.Random) -> list[PostSpec]:
    span = (hi - lo).total_seconds()
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        at = lo + timedelta(seconds=rng.uniform(0, span))
        out.append(PostSpec(channel_id=rng.choice(channel_ids), scheduled_at=at,
                            text=f"Bench post {i}: " + "lorem ipsum dolor sit amet " * 3,
                            status="published" if at < now else "scheduled"))
    return out


class _CaptureSession:
    """Stands in for an AsyncSession to capture the statement a repository function builds."""

    def __init__(self, dialect_name: str) -> None:
        self.statement: Any = None
        self.bind = type("Bind", (), {"dialect": type("D", (), {"name": dialect_name})()})()

    async def execute(self, stmt: Any, *args: Any, **kwargs: Any) -> Any:
        self.statement = stmt
        return type("R", (), {"scalars": lambda self: iter(())})()


async def explain_calendar(db: BenchDb, ws_id: str, channel_id: str, start: datetime, end: datetime) -> tuple[str, str]:
    """The calendar statement (as the app builds it) and its plan on ``db``."""
    from app.db import make_engine
    from app.posts import repository as repo

    engine = make_engine(settings_for(db))
    try:
        cap = _CaptureSession(engine.dialect.name)
        await repo.list_page(cap, ws_id, start=start, end=end, channel_id=channel_id,  # type: ignore[arg-type]
                             status=None, after=None, limit=501)
        sql = str(cap.statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
        prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
        async with engine.connect() as conn:
            rows: list[Any] = list((await conn.exec_driver_sql(prefix + sql)).all())
        if db.is_sqlite:
            plan = "\n".join(f"{'  ' * _depth(rows, r)}{r[3]}" for r in rows)
        else:
            plan = "\n".join(str(r[0]) for r in rows)
    finally:
        await engine.dispose()
    return " ".join(sql.split()), plan


def _depth(rows: list[Any], row: Any) -> int:
    parents = {r[0]: r[1] for r in rows}
    depth, pid = 0, row[1]
    while pid in parents:
        depth, pid = depth + 1, parents[pid]
    return depth


def time_requests(client: httpx.Client, requests: list[tuple[str, str, dict[str, Any]]],
                  expect: int) -> tuple[list[float], list[int]]:
    """Sequential requests; returns latencies in ms and a per-request item/size figure."""
    lat: list[float] = []
    sizes: list[int] = []
    for method, path, kw in requests:
        t0 = time.perf_counter()
        r = client.request(method, path, **kw)
        dt = (time.perf_counter() - t0) * 1000.0
        if r.status_code != expect:
            raise RuntimeError(f"{method} {path} -> {r.status_code}: {r.text[:300]}")
        lat.append(dt)
        body = r.json()
        sizes.append(len(body.get("items", [])) if "items" in body else 1)
    return lat, sizes


def run_backend(backend: str, n_posts: int, n_requests: int, rng: random.Random, profile: bool = False,
                ) -> dict[str, Any]:
    with temp_database(backend, "api") as db:
        now = datetime.now(UTC)
        lo, hi = now - timedelta(days=365), now + timedelta(days=365)
        creds = [{"bot_token": f"{100000 + i}:AAEbenchbenchbenchbench{i:04d}", "chat_id": f"-100{2000000 + i}"}
                 for i in range(N_CHANNELS)]
        ws_id, channel_ids = asyncio.run(seed_channels(db, creds))
        t0 = time.perf_counter()
        asyncio.run(bulk_posts(db, ws_id, _specs(channel_ids, n_posts, lo, hi, rng)))
        asyncio.run(analyze(db))
        seed_s = time.perf_counter() - t0
        print(f"[{backend}] seeded {n_posts} posts in {seed_s:.1f} s", flush=True)
        months = month_starts(lo, hi)
        cal = []
        for _ in range(n_requests):
            m = rng.choice(months)
            params = {"start": m.isoformat().replace("+00:00", "Z"),
                      "end": _next_month(m).isoformat().replace("+00:00", "Z"),
                      "channel_id": rng.choice(channel_ids), "limit": "500"}
            cal.append(("GET", "/api/v1/posts", {"params": params}))
        creates = []
        for i in range(n_requests):
            at = now + timedelta(days=30, minutes=i)
            creates.append(("POST", "/api/v1/posts", {"json": {
                "text": f"Created by the benchmark {i}", "channel_ids": [channel_ids[0]],
                "scheduled_at": at.isoformat()}}))
        m0 = months[len(months) // 2]
        sql, plan = asyncio.run(explain_calendar(db, ws_id, channel_ids[1], m0, _next_month(m0)))
        prof = db.data_dir / "api.prof" if profile else None
        proc, base = start_api(db, prof)
        with running(proc), httpx.Client(base_url=base, timeout=30.0,
                                         headers={"Authorization": f"Bearer {API_KEY}"}) as client:
            warm = max(10, n_requests // 10)
            time_requests(client, cal[:warm], 200)  # warm-up: connection, caches, first-use imports
            cal_ms, items = time_requests(client, cal, 200)
            create_ms, _ = time_requests(client, creates, 201)
        if prof is not None and prof.exists():
            print(profile_text(prof), flush=True)
        print(f"[{backend}] calendar p95 {summary(cal_ms)['p95']:.1f} ms, "
              f"create p95 {summary(create_ms)['p95']:.1f} ms", flush=True)
        return {"backend": backend, "seed_s": seed_s, "calendar": summary(cal_ms), "create": summary(create_ms),
                "items": summary(items), "sql": sql, "plan": plan, "posts": n_posts}


def profile_text(path: Path, top: int = 30) -> str:
    buf = io.StringIO()
    st = pstats.Stats(str(path), stream=buf)
    st.sort_stats("cumulative").print_stats(top)
    st.sort_stats("tottime").print_stats(top)
    return buf.getvalue()


NOTES = """### Where the calendar time goes (profiled 2026-11-26, SQLite, ≈ 210 posts per answer)

The statement: with `channel_id`, `app.posts.repository.list_page` walks the channel's own index,
`ix_targets_channel_order (channel_id, order_at, post_id)`. `targets.order_at` is a copy of `posts.order_at`, set
by `app.posts.service` wherever a post's time is set (`insert_post`: create, `"auto"`, series occurrences; `update`:
reschedule, back to draft, plan fill). The month range, the keyset `(order_at, post_id) > cursor` and the
`ORDER BY` all come from that index, so the plan reads only the channel's ≈ 210 entries of the month, not the
≈ 4,200 posts the workspace has that month. Each post is then read by primary key, and `posts.workspace_id` is
checked there. SQLite: `SEARCH targets USING COVERING INDEX`, no sort step, and the same plan after `ANALYZE`.
PostgreSQL: a bitmap scan of the index plus a sort of the ≈ 210 rows (the heap's visibility map is not set yet
after the bulk load); with a cursor, or after a `VACUUM`, an index-only scan with the row comparison in its
index condition. Statement plus row fetch on the same 100k posts (Core rows, 200 random channel-months, p50):
SQLite 9.9 → 3.3 ms, PostgreSQL 17.2 → 3.2 ms. The bare SQLite statement takes ≈ 0.5 ms.

In-process breakdown now (p50): `repo.list_page` ≈ 4.4 ms (statement, row decoding, ≈ 210 ORM `Post`s),
`service.to_out_many` ≈ 6.5 ms, JSON ≈ 0.6 ms. FastAPI, auth and the event loop take the rest of the ≈ 15 ms over
HTTP. `to_out_many` was ≈ 10 ms; the targets now come from one Core query joined with their channel's platform
(`repository.target_rows_of`), with no ORM `Target` objects and no separate channels query. What remains is
mostly pydantic validation of `PostOut`/`TargetOut`, the `UTCDateTime` result processing (≈ 5 datetimes per row)
and the JSON columns.

The tail: before, p99 sat at ≈ 95 ms with p50 at ≈ 15 ms. A gc callback in the served process showed each full
(generation-2) collection taking 60–95 ms, because it walks every tracked object, including the ≈ 180k loaded at
start-up. One came every ≈ 30 calendar requests. `app.main.freeze_startup_heap` now calls `gc.freeze()` once
after start-up, and full collections have taken < 2 ms since.

Not applied (not measured): the answer could skip the ORM for the posts too (Core rows straight into `PostOut`),
or skip pydantic validation of rows the database already typed (`model_construct`).

Create: the post and its targets go in one flush. `endpoints.create_post` then calls `service.to_out`, which reads
the targets just written, with their platforms, in one query (two before). Building the `PostOut` from the
objects in hand would save that round trip too.
"""


def render(results: list[dict[str, Any]], cmd: str, n_requests: int, elapsed: float) -> str:
    lines = [
        "## API latency (100,000 posts)",
        "",
        f"Command: `{cmd}` ({elapsed:.0f} s). Date: {now_stamp()}.",
        f"Machine: {machine_info()}. Load average at the end (1/5/15 min): {load_avg()} — the machine was "
        "shared with other work during the run, so tails include some CPU contention.",
        "",
        f"Setup: {N_CHANNELS} Telegram channels, {results[0]['posts']:,} posts with one target each spread "
        "uniformly over two years (past: published, future: scheduled), bulk-inserted at driver level "
        "(SQLite executemany in 10k chunks / PostgreSQL COPY; PostgreSQL then ANALYZE; SQLite left without "
        "ANALYZE, as deployed). The app runs in its own process (uvicorn, `create_app(settings, "
        "run_scheduler=False)`, default pool settings); the client sends sequential requests over real loopback "
        f"HTTP with keep-alive. N = {n_requests} per kind after a warm-up; latency = client wall time.",
        "",
        "* calendar: `GET /api/v1/posts?start=<month start>&end=<next month start>&channel_id=<random of 20>"
        "&limit=500`, random month in the seeded range (≈ 1/24 of the posts per month, 1/20 of those per channel)",
        "* create: `POST /api/v1/posts` — a text post on one Telegram channel, scheduled 30 days ahead",
        "",
        "| backend | request | p50 ms | p95 ms | p99 ms | max ms | target | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for kind, target in (("calendar", 50.0), ("create", 20.0)):
            s = r[kind]
            met = ("yes" if s["p95"] < target else "**no**") if r["backend"] == "sqlite" else "—"
            lines.append(f"| {r['backend']} | {kind} | {s['p50']:.1f} | {s['p95']:.1f} | {s['p99']:.1f} | "
                         f"{s['max']:.1f} | p95 < {target:.0f} ms (SQLite) | {met} |")
    lines.append("")
    for r in results:
        it = r["items"]
        lines.append(f"{r['backend']}: seeding took {r['seed_s']:.1f} s; calendar answers held "
                     f"{it['p50']:.0f} items (median; max {it['max']:.0f}).")
    lines += ["", "### EXPLAIN of the calendar query", "", "The statement `app.posts.repository.list_page` builds "
              "(month of one channel, limit 501):", "", "```sql", results[0]["sql"], "```", ""]
    for r in results:
        head = "EXPLAIN QUERY PLAN" if r["backend"] == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS)"
        lines += [f"{r['backend']} — {head}:", "", "```", r["plan"], "```", ""]
    lines.append(NOTES)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="10,000 posts, 50 requests per kind (smoke run)")
    ap.add_argument("--posts", type=int, default=None)
    ap.add_argument("--requests", type=int, default=None)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    ap.add_argument("--profile", action="store_true", help="run the app under cProfile and print the top functions")
    args = ap.parse_args(argv)
    n_posts = args.posts or (10_000 if args.quick else 100_000)
    n_requests = args.requests or (50 if args.quick else 300)
    rng = random.Random(SEED)
    started = time.time()
    results = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend == "postgres" and not pg_available():
            print("PostgreSQL not reachable at 127.0.0.1:5432: skipped", file=sys.stderr)
            continue
        results.append(run_backend(backend, n_posts, n_requests, rng, args.profile))
    cmd = command_line("bench.api", argv)
    text = render(results, cmd, n_requests, time.time() - started)
    print(text)
    if not args.no_write and not args.quick:
        write_section("api", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
