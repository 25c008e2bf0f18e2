"""Dispatch: lateness, throughput against a bare-httpx ceiling, and worker memory, against a Telegram fake.

Run from the repository root:  .venv/bin/python -m bench.dispatch [--quick] [--backends sqlite,postgres]

Processes (all on 127.0.0.1): the Telegram fake (``connectors.telegram.fake``, sandbox) served by uvicorn in its own
process; the publisher as ``python -m app.cli worker`` (SMM_ env, SMM_LOG_LEVEL=WARNING, default publisher
settings); the ceiling client in its own process. Per backend, one fresh database with 1,000 Telegram channels,
each with its own bot token and chat (the connector paces 1 msg/s per chat and 30/s per token).

1. Lateness: 10,000 posts, post i at T0 + i·60/10,000 s on channel i mod 1,000 (uniform over 60 s; one channel's
   posts are 6 s apart, so the per-chat pacing never delays them), T0 ≈ 10 s after the worker is up. Lateness =
   the fake's receive time of the message (``published[].at``) − scheduled_at; also attempt start − scheduled_at.
2. Burst: 10,000 posts due at the same instant (10 per channel): published/s from the first to the last message
   the fake received.
3. Ceiling: a bare ``httpx.AsyncClient`` loop in its own process sends the same 10,000 sendMessage calls (same
   tokens, chats, texts, order) to the same fake, at the worker's concurrency (SMM_DISPATCH_CONCURRENCY) and at
   16 and 64; the best req/s of these is the ceiling.
4. Memory: the worker's RSS sampled every 100 ms (psutil) during runs 1 and 2, and a burst with 1,000,000 future
   posts (30–365 days ahead) added to the database.
5. PostgreSQL only: the burst with 3 workers.

Writes the ``dispatch`` block of bench/RESULTS.md. ``--profile`` runs the burst worker under cProfile
(``python -m cProfile -o``) and prints the top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pstats
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    PY,
    BenchDb,
    PostSpec,
    Proc,
    RssSampler,
    analyze,
    bulk_posts,
    command_line,
    load_avg,
    machine_info,
    mib,
    now_stamp,
    pg_available,
    running,
    seed_channels,
    settings_for,
    smm_env,
    spawn,
    start_fake,
    summary,
    temp_database,
    write_section,
)

SPREAD_S = 60.0
LEAD_S = 12.0  # first post due this long after seeding (the worker is up after ~2 s)
BURST_LEAD_S = 6.0
SETTLE_TIMEOUT_S = 180.0
CEILING_CONCURRENCY = (16, 64)  # besides the worker's own SMM_DISPATCH_CONCURRENCY
CHAT_PACE_S = 1.0  # Telegram's per-chat interval as the connector keeps it: the paced ceiling keeps it too


@dataclass
class Size:
    channels: int
    posts: int
    spread: float
    future: int


FULL = Size(1000, 10_000, SPREAD_S, 1_000_000)
QUICK = Size(100, 1000, 10.0, 20_000)


def creds_for(n: int) -> list[dict[str, str]]:
    return [{"bot_token": f"{500000 + c}:AAEbench-token-{c:06d}", "chat_id": f"-100{3000000 + c}"} for c in range(n)]


# ----------------------------------------------------------------------------- database helpers


async def _fetch(db: BenchDb, stmt: Any) -> list[Any]:
    from app.db import make_engine, make_sessionmaker

    engine = make_engine(settings_for(db))
    try:
        async with make_sessionmaker(engine)() as s:
            return list((await s.execute(stmt)).all())
    finally:
        await engine.dispose()


def fetch(db: BenchDb, stmt: Any) -> list[Any]:
    return asyncio.run(_fetch(db, stmt))


def status_counts(db: BenchDb) -> dict[str, int]:
    from sqlalchemy import func, select

    from app.models import Target

    return {s: int(n) for s, n in fetch(db, select(Target.status, func.count()).group_by(Target.status))}


def worker_ready(db: BenchDb, pids: list[int]) -> bool:
    from sqlalchemy import func, select

    from app.models import Worker

    rows = fetch(db, select(func.count()).select_from(Worker).where(Worker.pid.in_(pids)))
    return int(rows[0][0]) >= len(pids)


def attempt_lateness(db: BenchDb, prefix: str) -> list[float]:
    from sqlalchemy import select

    from app.models import Attempt, Post, Target

    stmt = (select(Attempt.started_at, Post.scheduled_at)
            .join(Target, Target.id == Attempt.target_id).join(Post, Post.id == Target.post_id)
            .where(Post.text.like(f"{prefix}%"), Attempt.outcome == "published"))
    return [(a - s).total_seconds() for a, s in fetch(db, stmt)]


# ----------------------------------------------------------------------------- fake helpers


def fake_reset(base: str) -> None:
    httpx.post(f"{base}/_control/reset", timeout=30).raise_for_status()


def fake_sends(base: str) -> int:
    calls = httpx.get(f"{base}/_control/calls", timeout=30).json()
    return int(calls.get("sendMessage", 0))


def fake_published(base: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{base}/_control/published", timeout=120).json())


# ----------------------------------------------------------------------------- one run


@dataclass
class RunResult:
    name: str
    workers: int
    n: int
    published: int
    counts: dict[str, int]
    lateness: dict[str, float] = field(default_factory=dict)
    attempt_lateness: dict[str, float] = field(default_factory=dict)
    throughput: float = 0.0
    span_s: float = 0.0
    rss_ready: int = 0
    rss_peak: int = 0
    ready_to_first_due: float = 0.0
    settle_s: float = 0.0
    errors: int = 0


def start_workers(db: BenchDb, base: str, n: int, profile: Path | None = None) -> list[Proc]:
    env = smm_env(db, SMM_TELEGRAM_API_BASE=base)
    procs = []
    for i in range(n):
        args = [PY, "-m", "app.cli", "worker"]
        if profile is not None and i == 0:
            args = [PY, "-m", "cProfile", "-o", str(profile), "-m", "app.cli", "worker"]
        procs.append(spawn(args, env, db.data_dir, f"worker{i}"))
    return procs


def run_once(db: BenchDb, ws_id: str, channel_ids: list[str], base: str, *, name: str, tag: str, size: Size,
             burst: bool, workers: int = 1, profile: Path | None = None) -> RunResult:
    """Seed this run's posts, start the worker(s), wait until every post is settled, measure."""
    fake_reset(base)
    before = status_counts(db)
    done_before = sum(before.get(k, 0) for k in ("published", "failed", "needs_check"))
    lead = BURST_LEAD_S if burst else LEAD_S
    t0 = datetime.now(UTC) + timedelta(seconds=lead)
    step = 0.0 if burst else size.spread / size.posts
    specs = [PostSpec(channel_ids[i % len(channel_ids)], t0 + timedelta(seconds=i * step), f"{tag}-{i}")
             for i in range(size.posts)]
    due = {sp.text: sp.scheduled_at.timestamp() for sp in specs}
    asyncio.run(bulk_posts(db, ws_id, specs))
    asyncio.run(analyze(db))
    procs = start_workers(db, base, workers, profile)
    samplers = [RssSampler(p.pid) for p in procs]
    for s in samplers:
        s.__enter__()
    try:
        deadline = time.monotonic() + 60
        while not worker_ready(db, [p.pid for p in procs]):
            for p in procs:
                if p.popen.poll() is not None:
                    raise RuntimeError(f"worker exited: {p.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError("worker did not start:\n" + procs[0].tail())
            time.sleep(0.05)
        ready_at = time.time()
        rss_ready = max(s.samples[-1][1] for s in samplers if s.samples) if any(s.samples for s in samplers) else 0
        last_due = max(due.values())
        deadline = time.monotonic() + (last_due - time.time()) + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline:  # every target of this run settled (published, failed, needs_check)
            if fake_sends(base) >= size.posts or time.time() > last_due:
                c = status_counts(db)
                if sum(c.get(k, 0) for k in ("published", "failed", "needs_check")) - done_before >= size.posts:
                    break
            time.sleep(0.5)
        settled_at = time.time()
    finally:
        for p in procs:
            p.stop()
        for s in samplers:
            s.__exit__()
    errors = sum(p.tail(10**7).count("Traceback") for p in procs)
    if errors:
        print(f"[{name}] {errors} tracebacks in the worker log; last one:\n{procs[0].tail(4000)}", flush=True)
    counts = status_counts(db)
    items = [i for i in fake_published(base) if str(i["text"]) in due]
    late = [float(i["at"]) - due[str(i["text"])] for i in items]
    result = RunResult(
        name=name, workers=workers, n=size.posts, published=len(items), counts=counts,
        lateness=summary(late), attempt_lateness=summary(attempt_lateness(db, f"{tag}-")),
        rss_ready=rss_ready, rss_peak=max(s.peak for s in samplers),
        ready_to_first_due=t0.timestamp() - ready_at, settle_s=settled_at - t0.timestamp(), errors=errors,
    )
    ats = sorted(float(i["at"]) for i in items)
    if len(ats) > 1:
        result.span_s = ats[-1] - ats[0]
        result.throughput = (len(ats) - 1) / result.span_s if result.span_s > 0 else 0.0
    print(f"[{name}] published {len(items)}/{size.posts}, lateness p50 {result.lateness['p50']:.3f} "
          f"p99 {result.lateness['p99']:.3f} max {result.lateness['max']:.3f} s, {result.throughput:.0f}/s, "
          f"peak RSS {mib(result.rss_peak)}", flush=True)
    return result


# ----------------------------------------------------------------------------- the ceiling


async def _ceiling(base: str, channels: int, posts: int, concurrency: int, tag: str,
                   pace: float = 0.0) -> dict[str, float]:
    """The bare loop: ``posts`` sendMessage calls round the ``channels`` chats. With ``pace``, a chat's k-th call
    waits until ``k * pace`` after the start (the platform's per-chat interval, as the publisher must keep it)."""
    creds = creds_for(channels)
    calls = [(creds[i % channels], f"{tag}-{i}", (i // channels) * pace) for i in range(posts)]
    queue: asyncio.Queue[tuple[dict[str, str], str, float]] = asyncio.Queue()
    for c in calls:
        queue.put_nowait(c)
    done: list[float] = []
    errors = 0

    async with httpx.AsyncClient(timeout=30.0) as client:
        async def worker() -> None:
            nonlocal errors
            while True:
                try:
                    cred, text, not_before = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                if (wait := start + not_before - time.time()) > 0:
                    await asyncio.sleep(wait)
                r = await client.post(f"{base}/bot{cred['bot_token']}/sendMessage",
                                      json={"chat_id": int(cred["chat_id"]), "text": text})
                if r.status_code != 200:
                    errors += 1
                done.append(time.time())

        start = time.time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        end = time.time()
    done.sort()
    span = done[-1] - done[0] if len(done) > 1 else 0.0
    return {"n": len(done), "errors": errors, "wall_s": end - start, "span_s": span,
            "rps": (len(done) - 1) / span if span > 0 else 0.0}


def run_ceiling(base: str, size: Size, concurrency: int, log_dir: Path, pace: float = 0.0) -> dict[str, float]:
    fake_reset(base)
    out = log_dir / "ceiling.json"
    proc = spawn([PY, "-m", "bench.dispatch", "--ceiling", base, "--channels", str(size.channels),
                  "--posts", str(size.posts), "--concurrency", str(concurrency), "--out", str(out),
                  "--pace", str(pace)],
                 {k: v for k, v in __import__("os").environ.items() if not k.startswith("SMM_")}, log_dir, "ceiling")
    with running(proc):
        proc.popen.wait(timeout=300)
    if proc.popen.returncode != 0:
        raise RuntimeError("ceiling client failed:\n" + proc.tail())
    res: dict[str, float] = json.loads(out.read_text())
    kind = "ceiling, paced" if pace else "ceiling"
    print(f"[{kind}] {res['rps']:.0f} req/s ({res['n']:.0f} calls, {res['errors']:.0f} errors)", flush=True)
    return res


# ----------------------------------------------------------------------------- a backend


def run_backend(backend: str, size: Size, do_million: bool, profile: bool, three_workers: bool = True,
                spread_million: bool = True) -> dict[str, Any]:
    from app.config import Settings

    concurrency = Settings(_env_file=None).dispatch_concurrency  # type: ignore[call-arg]
    out: dict[str, Any] = {"backend": backend, "runs": [], "concurrency": concurrency}
    with temp_database(backend, "dispatch") as db:
        ws_id, channel_ids = asyncio.run(seed_channels(db, creds_for(size.channels)))
        fake, base = start_fake(db.data_dir)
        with running(fake):
            out["runs"].append(run_once(db, ws_id, channel_ids, base, name="spread 60 s", tag="spread", size=size,
                                        burst=False))
            prof = Path(tempfile.gettempdir()) / f"smm-bench-worker-{backend}.prof" if profile else None
            burst = run_once(db, ws_id, channel_ids, base, name="burst", tag="burst", size=size, burst=True,
                             profile=prof)
            out["runs"].append(burst)
            if prof is not None and prof.exists():
                out["profile"] = profile_text(prof)
                print(out["profile"])
            # the ceiling is the best the bare loop does against this fake: at the worker's concurrency, and at
            # lower ones (httpx's own pool gets slow with many connections)
            out["ceilings"] = {c: run_ceiling(base, size, c, db.data_dir)["rps"]
                               for c in sorted({*CEILING_CONCURRENCY, concurrency})}
            best = max(out["ceilings"], key=out["ceilings"].get)
            out["ceiling"] = {"rps": out["ceilings"][best], "concurrency": best}
            # the same loop keeping the per-chat interval the platform asks for: what a burst can reach at best
            out["paced_ceiling"] = run_ceiling(base, size, best, db.data_dir, pace=CHAT_PACE_S)["rps"]
            if backend == "postgres" and three_workers:
                out["runs"].append(run_once(db, ws_id, channel_ids, base, name="burst, 3 workers", tag="burst3",
                                            size=size, burst=True, workers=3))
            if do_million:
                t = time.perf_counter()
                rng = random.Random(7)
                now = datetime.now(UTC)
                future = (PostSpec(channel_ids[i % len(channel_ids)],
                                   now + timedelta(days=30, seconds=rng.uniform(0, 335 * 86400)), f"future-{i}")
                          for i in range(size.future))
                asyncio.run(bulk_posts(db, ws_id, future))
                asyncio.run(analyze(db))
                out["future_seed_s"] = time.perf_counter() - t
                print(f"[{backend}] seeded {size.future} future posts in {out['future_seed_s']:.0f} s", flush=True)
                out["runs"].append(run_once(db, ws_id, channel_ids, base, name=f"burst + {size.future:,} future",
                                            tag="burstM", size=size, burst=True))
                if spread_million:
                    out["runs"].append(run_once(db, ws_id, channel_ids, base,
                                                name=f"spread 60 s + {size.future:,} future", tag="spreadM",
                                                size=size, burst=False))
    return out


def profile_text(path: Path, top: int = 25) -> str:
    import io

    buf = io.StringIO()
    st = pstats.Stats(str(path), stream=buf)
    st.sort_stats("tottime").print_stats(top)
    return buf.getvalue()


# ----------------------------------------------------------------------------- report


NOTES = """### What made the difference (2026-11-26, second session)

The first session's figures (one worker, concurrency 200): burst 103–112/s, spread-run p99 34 s. Profiling the
worker (py-spy on the running `smm worker`, burst) and fixing what it showed, in order of effect:

1. **One transaction per send → group commit** (`app/publishing/writes.py`). The claim now records the send as
   started (`send_started_at`), so there is no separate "mark sending" transaction; a finished send queues its
   outcome and one flusher writes everything queued in one transaction. Published rows and their attempt rows go
   as one `executemany` each. An `IN` list in that statement first made every batch fail and fall back to one
   transaction per write (164/s); a test now pins `splits == 0`.
2. **httpcore's pool scan.** httpcore looks at every connection of the pool on each request and response (and
   counts the idle ones again per idle connection): with one pool of 200 connections that was 42 % of the
   worker's HTTP time. `app/platforms.py::ShardedTransport` splits the pool into pools of 8, least busy first.
3. **A failed import per request.** httpcore runs `import sniffio` on every request; sniffio was not installed
   (httpx 0.28 no longer needs it), and a failed import walks `sys.path` each time: 6 % of the worker's CPU.
   It is now a dependency.
4. **Slots held by the pacer.** In a burst, the claim often picked a channel that had just published, whose next
   send then slept ≈ 1 s in the Telegram connector's per-chat pacer while holding a dispatch slot. The runner
   now passes channels in their pacing interval over (`exclude` in `claim_due`) and wakes when the first may
   send again; equally overdue channels are served longest-waiting first (`channels.last_claimed_at`), so a
   09:00 burst goes round the channels instead of draining a few at 1 msg/s at the end.
5. **Statement building.** The claim's statements are built once per dialect with bound parameters (building
   them cost more than running them on PostgreSQL); the jobs are read as rows, not ORM objects.
6. uvloop for `smm worker` (uvicorn already uses it for `smm serve` when installed): small on its own.

A bug found on the way: on uvloop, `call_at` with a time already past returns a handle without `when()`; the
cooling wake-up called it, every dispatch failed and backed off 1 s, and claims came in bursts once a second
(spread p50 0.6 s). A test now runs the wake-up on both event loops.

The remaining cost per send is mostly httpx/httpcore itself (about half of the worker's CPU in the burst), the
same code the ceiling loop runs; the rest is SQLAlchemy statement execution and asyncio task overhead.
"""


def render(results: list[dict[str, Any]], size: Size, cmd: str, elapsed: float) -> str:
    lines = [
        "## Dispatch: lateness, throughput, worker memory",
        "",
        f"Command: `{cmd}` ({elapsed:.0f} s). Date: {now_stamp()}.",
        f"Machine: {machine_info()}. Load average at the end (1/5/15 min): {load_avg()} — the machine was "
        "shared with other work during the run, so tails include some CPU contention.",
        "",
        f"Setup: {size.channels:,} Telegram channels (one bot token and one chat each), the Telegram fake "
        "(sandbox) served by uvicorn in its own process on 127.0.0.1, the publisher as `python -m app.cli worker` "
        "in its own process (default settings: dispatch concurrency "
        f"{results[0]['concurrency'] if results else 64}, batch 50, SQLite WAL / PostgreSQL pool 10+20), posts "
        "bulk-inserted before the worker starts. *spread*: post i due at T0 + i·"
        f"{size.spread:.0f}/{size.posts:,} s on channel i mod {size.channels:,} (a channel's posts are "
        f"{size.spread * size.channels / size.posts:.0f} s apart); *burst*: all {size.posts:,} due at one instant "
        f"({size.posts // size.channels} per channel: the connector's 1 msg/s per-chat pacing caps a burst at "
        f"{size.channels:,}/s). Lateness = the fake's receive time − scheduled_at; throughput = messages/s "
        "between the first and the last message the fake received. Ceiling = a bare `httpx.AsyncClient` loop in "
        "its own process, same calls, same fake, no pacing, no database, run at several concurrencies (the "
        "worker's and lower ones); the best of them is the ceiling. The paced ceiling is the same loop at that "
        "best concurrency keeping the per-chat interval (a chat's k-th call no earlier than k s after the start): "
        "the most a burst can reach while keeping the platform's rule.",
        "",
        "| backend | run | workers | published | lateness p50 s | p99 s | max s | attempt-start p99 s | "
        "throughput /s | worker RSS at start | peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for run in r["runs"]:
            la, at = run.lateness, run.attempt_lateness
            tp = f"{run.throughput:.0f}" if "burst" in run.name else f"({run.throughput:.0f})"
            lines.append(
                f"| {r['backend']} | {run.name} | {run.workers} | {run.published:,}/{run.n:,} | {la['p50']:.3f} | "
                f"{la['p99']:.3f} | {la['max']:.3f} | {at['p99']:.3f} | {tp} | {mib(run.rss_ready)} | "
                f"{mib(run.rss_peak)} |")
    lines.append("")
    lines += ["| backend | bare httpx req/s by concurrency | ceiling (best) | ours, 1 worker /s | ratio | "
              "paced ceiling (1 msg/s per chat) | ratio to it | p99 lateness (spread) | "
              "targets met (p99 < 1 s, ≥ 70%) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        burst = next(x for x in r["runs"] if x.name == "burst")
        spread = next(x for x in r["runs"] if x.name.startswith("spread"))
        ceil = r["ceiling"]["rps"]
        ratio = burst.throughput / ceil if ceil else 0.0
        ok = f"{'yes' if spread.lateness['p99'] < 1.0 else '**no**'}, {'yes' if ratio >= 0.7 else '**no**'}"
        by = ", ".join(f"{c}: {v:.0f}" for c, v in r["ceilings"].items())
        paced = r.get("paced_ceiling") or 0.0
        lines.append(f"| {r['backend']} | {by} | {ceil:.0f} | {burst.throughput:.0f} | {ratio:.0%} | "
                     f"{paced:.0f} | {burst.throughput / paced if paced else 0.0:.0%} | "
                     f"{spread.lateness['p99']:.3f} s | {ok} |")
    lines.append("")
    for r in results:
        runs = {x.name: x for x in r["runs"]}
        base = runs.get("burst")
        big = next((x for x in r["runs"] if "future" in x.name and "burst" in x.name), None)
        if base is not None and big is not None:
            lines.append(f"{r['backend']}: memory with {size.future:,} future posts: peak RSS {mib(big.rss_peak)} "
                         f"vs {mib(base.rss_peak)} without (at start {mib(big.rss_ready)} vs "
                         f"{mib(base.rss_ready)}); seeding them took {r.get('future_seed_s', 0):.0f} s.")
        for x in r["runs"]:
            lines.append(f"{r['backend']} / {x.name}: first due {x.ready_to_first_due:.1f} s after the worker was "
                         f"up; all settled {x.settle_s:.1f} s after the first due time; final counts {x.counts}.")
    lines += ["", NOTES]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="100 channels, 1,000 posts over 10 s, 20k future posts")
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--no-million", action="store_true", help="skip the run with 1,000,000 future posts")
    ap.add_argument("--million-on", default="sqlite", help="backends that get the 1M run (comma list)")
    ap.add_argument("--profile", action="store_true", help="cProfile the burst worker and print the top functions")
    ap.add_argument("--no-three", action="store_true", help="PostgreSQL: skip the burst with 3 workers")
    ap.add_argument("--no-spread-million", action="store_true", help="skip the spread run with the 1M future posts")
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    # internal: the ceiling client
    ap.add_argument("--ceiling", metavar="BASE_URL", help=argparse.SUPPRESS)
    ap.add_argument("--channels", type=int, default=1000, help=argparse.SUPPRESS)
    ap.add_argument("--posts", type=int, default=10_000, help=argparse.SUPPRESS)
    ap.add_argument("--concurrency", type=int, default=64, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--pace", type=float, default=0.0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.ceiling:
        res = asyncio.run(_ceiling(args.ceiling, args.channels, args.posts, args.concurrency, "ceiling", args.pace))
        Path(args.out).write_text(json.dumps(res))
        return 0
    size = QUICK if args.quick else FULL
    started = time.time()
    results = []
    million_on = {b.strip() for b in args.million_on.split(",")}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend == "postgres" and not pg_available():
            print("PostgreSQL not reachable at 127.0.0.1:5432: skipped", file=sys.stderr)
            continue
        results.append(run_backend(backend, size, not args.no_million and backend in million_on, args.profile,
                                   not args.no_three, not args.no_spread_million))
    cmd = command_line("bench.dispatch", argv)
    text = render(results, size, cmd, time.time() - started)
    print(text)
    if not args.no_write and not args.quick:
        write_section("dispatch", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
