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
import itertools
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import loadgen
from bench.common import (
    API_KEY,
    BenchDb,
    analyze,
    command_line,
    load_avg,
    machine_info,
    now_stamp,
    pg_available,
    running,
    seed_channels,
    settings_for,
    start_api,
    start_bare,
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


def _iso(d: datetime) -> str:
    return d.isoformat().replace("+00:00", "Z")


class _Staged:
    """Stands in for the session in ``service.stage_post``: keeps what the service adds, for bulk INSERTs."""

    def __init__(self) -> None:
        self.added: list[Any] = []

    def add(self, obj: Any) -> None:
        self.added.append(obj)

    def add_all(self, objs: list[Any]) -> None:
        self.added.extend(objs)


def _values(obj: Any) -> dict[str, Any]:
    """The column values the service set on a new ORM object (the model's defaults fill the rest at INSERT)."""
    return {k: v for k, v in obj.__dict__.items() if not k.startswith("_")}


async def seed_posts(db: BenchDb, ws_id: str, channel_ids: list[str], n: int, lo: datetime, hi: datetime,
                     rng: random.Random, chunk: int = 10_000) -> list[str]:
    """``n`` posts with one target each, as the service makes them: each post is built as
    ``app.posts.service.create`` builds it and staged by ``service.stage_post`` (what ``insert_post`` adds), then
    written with one ORM bulk INSERT per table and chunk (the models' defaults apply; no unit of work for 200k
    objects). The past ones then go through the publisher's own transition (``mark_published``, executemany) and
    get their attempt row (``attempt_row``), as a worker would have left them."""
    from sqlalchemy import insert, select

    from app.db import make_engine, make_sessionmaker, session_scope
    from app.models import Channel, Post, Target
    from app.models.base import new_id
    from app.models.statuses import AttemptOutcome
    from app.posts import service
    from app.posts.schemas import PostCreate
    from app.publishing import repository as publishing

    engine = make_engine(settings_for(db))
    maker = make_sessionmaker(engine)
    span, now, ids = (hi - lo).total_seconds(), datetime.now(UTC), []
    try:
        async with session_scope(maker) as s:
            channels = {c.id: c for c in (await s.execute(select(Channel))).scalars()}
        for first in range(0, n, chunk):
            staged, past = _Staged(), []
            for i in range(first, min(n, first + chunk)):
                at = lo + timedelta(seconds=rng.uniform(0, span))
                channel = channels[rng.choice(channel_ids)]
                data = PostCreate(text=f"Bench post {i}: " + "lorem ipsum dolor sit amet " * 3,
                                  channel_ids=[channel.id], scheduled_at=_iso(at))
                post = Post(workspace_id=ws_id, text=data.text, media=[],
                            options=data.model_dump(include=service.OPTION_FIELDS), scheduled_at=at,
                            timezone=data.timezone, order_at=at, priority=data.priority, rubric=data.rubric)
                targets = service.stage_post(staged, post, [channel], {})  # type: ignore[arg-type]
                for t in targets:
                    t.id = new_id()  # the model's default, known here for the transitions below
                ids.append(post.id)
                if at < now:
                    past.append((targets[0].id, at + timedelta(seconds=0.4), i))
            async with session_scope(maker) as s:
                await s.execute(insert(Post), [_values(o) for o in staged.added if isinstance(o, Post)])
                await s.execute(insert(Target), [_values(o) for o in staged.added if isinstance(o, Target)])
                if past:
                    await s.execute(publishing.PUBLISHED, [
                        publishing.mark_published(tid, external_id=str(i), url=None, published_at=when,
                                                  late_by_s=0.4, late=False, updated_at=when)[1]
                        for tid, when, i in past])
                    await s.execute(publishing.ATTEMPT, [
                        publishing.attempt_row(tid, "bench-seed", when - timedelta(seconds=0.4), when,
                                               AttemptOutcome.PUBLISHED)[1] for tid, when, _ in past])
    finally:
        await engine.dispose()
    return ids


def _calendar_requests(channel_ids: list[str], months: list[datetime], rng: random.Random) -> Callable[[], bytes]:
    pool = [loadgen.get("/api/v1/posts", {"start": _iso(m), "end": _iso(_next_month(m)),
                                          "channel_id": rng.choice(channel_ids), "limit": "500"}, API_KEY)
            for m in (rng.choice(months) for _ in range(2000))]
    return itertools.cycle(pool).__next__


def _read_requests(post_ids: list[str], rng: random.Random) -> Callable[[], bytes]:
    pool = [loadgen.get(f"/api/v1/posts/{rng.choice(post_ids)}", None, API_KEY) for _ in range(5000)]
    return itertools.cycle(pool).__next__


def _create_requests(channel_ids: list[str], now: datetime) -> Callable[[], bytes]:
    counter = itertools.count()

    def make() -> bytes:
        i = next(counter)
        return loadgen.post_json("/api/v1/posts", {
            "text": f"Created by the benchmark {i}", "channel_ids": [channel_ids[i % len(channel_ids)]],
            "scheduled_at": _iso(now + timedelta(days=400, seconds=i))}, API_KEY)  # past the seeded range

    return make


def _cells(base: str, make: Callable[[], bytes], expect: int, levels: tuple[int, ...], seconds: float,
           label: str) -> dict[int, loadgen.Cell]:
    out = {}
    for clients in levels:
        cell = loadgen.measure(base, make, expect, clients, seconds, warmup=min(1.0, seconds / 3))
        st = cell.stats()
        print(f"  {label:<14} {clients:>2} clients: {cell.throughput:7.1f} req/s  p50 {st['p50']:6.1f}  "
              f"p95 {st['p95']:6.1f}  p99 {st['p99']:6.1f} ms  errors {cell.errors} {cell.first_error}", flush=True)
        out[clients] = cell
    return out


def run_bare(levels: tuple[int, ...], seconds: float) -> dict[int, loadgen.Cell]:
    log_dir = Path(tempfile.mkdtemp(prefix="smm-bench-bare-"))
    proc, base = start_bare(log_dir)
    with running(proc):
        return _cells(base, lambda: loadgen.get("/bare"), 200, levels, seconds, "bare endpoint")


def run_backend(backend: str, n_posts: int, levels: tuple[int, ...], seconds: float, rng: random.Random,
                profile: bool = False) -> dict[str, Any]:
    with temp_database(backend, "api") as db:
        now = datetime.now(UTC)
        lo, hi = now - timedelta(days=365), now + timedelta(days=365)
        creds = [{"bot_token": f"{100000 + i}:AAEbenchbenchbenchbench{i:04d}", "chat_id": f"-100{2000000 + i}"}
                 for i in range(N_CHANNELS)]
        ws_id, channel_ids = asyncio.run(seed_channels(db, creds))
        t0 = time.perf_counter()
        post_ids = asyncio.run(seed_posts(db, ws_id, channel_ids, n_posts, lo, hi, rng))
        asyncio.run(analyze(db))
        seed_s = time.perf_counter() - t0
        print(f"[{backend}] seeded {n_posts} posts in {seed_s:.1f} s", flush=True)
        months = month_starts(lo, hi)
        m0 = months[len(months) // 2]
        sql, plan = asyncio.run(explain_calendar(db, ws_id, channel_ids[1], m0, _next_month(m0)))
        prof = db.data_dir / "api.prof" if profile else None
        proc, base = start_api(db, prof)
        with running(proc):
            cells = {
                "read": _cells(base, _read_requests(post_ids, rng), 200, levels, seconds, "post read"),
                "calendar": _cells(base, _calendar_requests(channel_ids, months, rng), 200, levels, seconds,
                                   "calendar month"),
                "create": _cells(base, _create_requests(channel_ids, now), 201, levels, seconds, "create"),
            }
        if prof is not None and prof.exists():
            print(profile_text(prof), flush=True)
        return {"backend": backend, "seed_s": seed_s, "cells": cells, "sql": sql, "plan": plan, "posts": n_posts}


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

Since applied (2026-12-01): the list answer skips the ORM for the posts too (Core rows straight into `PostOut`,
above). Skipping pydantic validation with `model_construct` was measured (2026-12-01) and is *slower*: building 200
`PostOut`s with one `TargetOut` each took 4.1 ms with `model_construct` against 1.5 ms validated (pydantic-core
validates in Rust; `model_construct` runs in Python), with byte-identical JSON either way.

Create: the post and its targets go in one flush. `endpoints.create_post` then calls `service.to_out`, which reads
the targets just written, with their platforms, in one query (two before). Building the `PostOut` from the
objects in hand would save that round trip too.
"""


TARGETS = (("calendar", 8, 50.0), ("create", 8, 20.0))  # (kind, clients, p95 ms) on SQLite


LOAD_NOTES = """### Under concurrent clients (2026-12-01, after the hot-path work)

* The machine is shared with five other jobs (load average 4–8 on 2 cores during these runs; the bare ceiling
  itself swung from ≈ 2,400 to ≈ 6,100 req/s at 32 clients between two runs ten minutes apart), so every figure
  includes CPU contention; compare ratios to the bare endpoint measured in the same run. One `smm serve` is one
  event loop on one core: its CPU per request bounds the throughput at 8 and 32 clients, and more clients only
  queue (p50 grows with N).
* **SQLite writers** (`app/db.py`, `one writer, handed over`): concurrent creates waited in SQLite's busy
  handler, which polls with sleeps of up to 100 ms, so eight creating clients had p95 ≈ 0.25–0.77 s and p99
  ≈ 0.65–1.15 s for ≈ 5 ms of work each. A session's first flush now takes its engine's asyncio lock, held until
  its transaction ends, and the next writer of the process starts as soon as the previous one committed. A/B on
  the same database, minutes apart (`before` = main at 4bbfc49): create at 8 clients p95 250 / 148 → 167 / 78 ms,
  p99 811 / 649 → 212 / 93 ms; at 32 clients p99 2,074 / 2,596 → 538 / 318 ms. An INSERT/UPDATE/DELETE through
  `session.execute` takes the lock too (a Core write first and a flush later, beside a flush first and a Core
  write later, would otherwise stall both for `busy_timeout`); writes on a bare connection and other processes
  (`smm worker`, the CLI) still meet SQLite's own lock.
* **Calendar rows**: a statement with any mapped attribute in it is loaded through the ORM row by row even when it
  selects only columns. `repository.target_rows_of` and the list's `list_page(rows=True)` are now built on the
  tables (Core rows, same attribute names as a `Post`): in-process, 200 targets 1.5 → 0.8 ms of CPU; a month of
  199 posts ≈ 2.0 ms (the statement itself 0.8 ms through the driver, 0.45 ms in bare `sqlite3`; the rest is row
  decoding: two JSON columns and five datetimes per post). tests/test_posts_list_rows.py holds every list item
  equal to the single read of that post, which still uses the ORM.
* **Post read** answers the `PostOut`'s JSON as built (as the list already did) instead of FastAPI validating it
  again against the response model.
* Where a calendar month's CPU goes now (193 posts, in-process, min of 50, SQLite): `list_page` 2.0 ms,
  `target_rows_of` 1.5 ms, the `PostOut` loop of `to_out_many` 2.5 ms, JSON 0.43 ms; the API key check ≈ 0.4 ms,
  and routing, dependencies and middleware ≈ 1 ms per request. Building plain dicts and validating
  `list[PostOut]` in one `TypeAdapter` call was byte-identical and 0.55 ms faster: not applied (small, and
  `to_out_many` is where other work adds fields).
* **Why the remaining targets are not met.** The ceiling is an empty FastAPI endpoint: ≈ 0.17–0.4 ms of server
  CPU per request. Half of its throughput means ≤ 0.35–0.8 ms per post read *including* the API key lookup, two
  or three SQL statements, pydantic and routing through ≈ 50 routes; the post read costs ≈ 2 ms of CPU
  in-process. On SQLite every statement also makes four trips to aiosqlite's thread (cursor, execute, fetchall,
  close) and the pool's reset a fifth, each a GIL hand-over that costs far more on a loaded machine: that is why
  SQLite trails PostgreSQL at 8 clients here. The calendar p95 < 50 ms at 8 closed-loop clients needs ≤ ≈ 5 ms
  of CPU per 210-post answer (eight answers queue on one loop); it is ≈ 8–9 ms in-process on an idle moment.
  Create p95 < 20 ms at 8 clients likewise needs ≈ 2 ms per create with the writes serialised; it is ≈ 3–5 ms.
  The levers left, not applied: one trip to aiosqlite's thread per statement (a cursor adapter that executes,
  fetches and closes in one call: needs SQLAlchemy internals), a short-lived cache of verified API keys (saves
  ≈ 0.3 ms; a revoked key would keep working for the cache's lifetime in other processes), and several
  `smm serve --no-scheduler` processes behind the load balancer (docs/deploy.md), which is what the API tier is
  for on PostgreSQL.
* The calendar statement needs no new index (EXPLAIN below: the channel's own `ix_targets_channel_order`).
"""


def render(bare: dict[int, loadgen.Cell], results: list[dict[str, Any]], cmd: str, seconds: float,
           elapsed: float) -> str:
    lines = [
        "## API under load (100,000 posts)",
        "",
        f"Command: `{cmd}` ({elapsed:.0f} s). Date: {now_stamp()}.",
        f"Machine: {machine_info()}. Load average at the end (1/5/15 min): {load_avg()} — the machine was "
        "shared with other work during the run, so figures include CPU contention.",
        "",
        f"Setup: {N_CHANNELS} Telegram channels, {results[0]['posts']:,} posts with one target each spread uniformly "
        "over two years (past: published, with their attempt; future: scheduled), stored through the service's own "
        "code (`service.stage_post`, then one ORM bulk INSERT per table and 10,000 posts; the publisher's "
        "`mark_published` and `attempt_row` for the past ones). The app runs in its own process (uvicorn, "
        "`create_app(settings, run_scheduler=False)`, no access "
        "log, default pool settings); the bare endpoint (`GET /bare` of an empty FastAPI app, answering "
        "`{\"status\": \"ok\"}`) is served the same way in the same run. The driver (`bench/loadgen.py`, this "
        "process) runs N closed-loop clients, one keep-alive HTTP/1.1 connection each, over loopback: "
        f"{seconds:.0f} s per cell after a warm-up; latency = client wall time per request.",
        "",
        "* post read: `GET /api/v1/posts/{id}` of a random stored post",
        "* calendar month: `GET /api/v1/posts?start=<month>&end=<next month>&channel_id=<random of 20>&limit=500` "
        "(≈ 210 posts per answer)",
        "* create: `POST /api/v1/posts`, a text post on one channel, scheduled in the future",
        "",
        "| backend | request | clients | req/s | p50 ms | p95 ms | p99 ms | errors | of the bare ceiling |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n, cell in bare.items():
        st = cell.stats()
        lines.append(f"| — | bare endpoint | {n} | {cell.throughput:.0f} | {st['p50']:.1f} | {st['p95']:.1f} | "
                     f"{st['p99']:.1f} | {cell.errors} | 100 % |")
    for r in results:
        for kind, label in (("read", "post read"), ("calendar", "calendar month"), ("create", "create")):
            for n, cell in r["cells"][kind].items():
                st = cell.stats()
                ceiling = bare.get(n)
                share = f"{cell.throughput / ceiling.throughput:.1%}" if ceiling and ceiling.throughput else "—"
                lines.append(f"| {r['backend']} | {label} | {n} | {cell.throughput:.0f} | {st['p50']:.1f} | "
                             f"{st['p95']:.1f} | {st['p99']:.1f} | {cell.errors} | {share} |")
    lines += ["", "Targets:", ""]
    sqlite = next((r for r in results if r["backend"] == "sqlite"), None)
    if sqlite is not None:
        for kind, n, target in TARGETS:
            cell = sqlite["cells"][kind].get(n)
            if cell is not None:
                p95 = cell.stats()["p95"]
                lines.append(f"* {kind} p95 < {target:.0f} ms at {n} clients on SQLite: {p95:.1f} ms — "
                             f"{'met' if p95 < target else '**not met**'}")
    top = max(bare, default=0)
    for r in results:
        for kind in ("read", "calendar"):
            cell = r["cells"][kind].get(top)
            if cell is not None and bare[top].throughput:
                ratio = cell.throughput / bare[top].throughput
                lines.append(f"* {r['backend']} {kind} throughput at {top} clients ≥ 50 % of the bare ceiling: "
                             f"{ratio:.1%} — {'met' if ratio >= 0.5 else '**not met**'}")
    lines.append("")
    for r in results:
        lines.append(f"{r['backend']}: seeding {r['posts']:,} posts took {r['seed_s']:.1f} s.")
    lines += ["", "### EXPLAIN of the calendar query", "", "The statement `app.posts.repository.list_page` builds "
              "(month of one channel, limit 501):", "", "```sql", results[0]["sql"], "```", ""]
    for r in results:
        head = "EXPLAIN QUERY PLAN" if r["backend"] == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS)"
        lines += [f"{r['backend']} — {head}:", "", "```", r["plan"], "```", ""]
    lines += [LOAD_NOTES, NOTES]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="2,000 posts, 1 and 8 clients, 0.5 s per cell (smoke run)")
    ap.add_argument("--posts", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=None, help="measured seconds per (request, clients) cell")
    ap.add_argument("--clients", default=None, help="comma list of concurrency levels (default 1,8,32)")
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    ap.add_argument("--profile", action="store_true", help="run the app under cProfile and print the top functions")
    args = ap.parse_args(argv)
    n_posts = args.posts or (2_000 if args.quick else 100_000)
    seconds = args.seconds or (0.5 if args.quick else 8.0)
    levels = tuple(int(c) for c in (args.clients or ("1,8" if args.quick else "1,8,32")).split(","))
    rng = random.Random(SEED)
    started = time.time()
    bare = run_bare(levels, seconds)
    results = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend == "postgres" and not pg_available():
            print("PostgreSQL not reachable at 127.0.0.1:5432: skipped", file=sys.stderr)
            continue
        results.append(run_backend(backend, n_posts, levels, seconds, rng, args.profile))
    text = render(bare, results, command_line("bench.api", argv), seconds, time.time() - started)
    print(text)
    errors = sum(c.errors for r in results for cells in r["cells"].values() for c in cells.values())
    if not args.no_write and not args.quick:
        write_section("api", text)
    return 1 if errors else 0  # a request the service refused is a failed run, also in the smoke run


if __name__ == "__main__":
    sys.exit(main())
