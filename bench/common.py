"""Shared helpers of the API and dispatch benchmarks.

Machine description, percentiles, the RESULTS.md section writer, temporary databases (SQLite files and
PostgreSQL ``bench_*`` databases), fast bulk seeding (driver level: ``sqlite3.executemany`` in chunks and
asyncpg ``COPY``), server subprocesses on 127.0.0.1 and an RSS sampler.

Also a tiny entry point used to start servers in their own process::

    python -m bench.common serve-api  --port N   # create_app(Settings() from SMM_ env, run_scheduler=False)
    python -m bench.common serve-bare --port N   # one bare FastAPI endpoint, served the same way (bench.api's ceiling)
    python -m bench.common serve-fake --port N   # the Telegram fake, sandbox=True
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
HEADER = "# Benchmark results\n"
PG_SERVER = os.environ.get("SMM_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
SECRET_KEY = "x2mXyq3pSlN9b1q2N6W3vN8cUu0kYV3Xy6tH5Lq9S0E="
API_KEY = "smm_bench_key_0123456789abcdefghijklmnopqrstuvwxyz"
PY = sys.executable


# ----------------------------------------------------------------------------- reporting


def machine_info() -> str:
    """CPU model, cores, RAM, OS and Python, one line."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return (f"CPU {cpu}, {os.cpu_count()} cores, RAM {ram}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def load_avg() -> str:
    """The 1/5/15-minute load averages (the machine may be shared with other work while a benchmark runs)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{one:.2f}/{five:.2f}/{fifteen:.2f}"


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of an already sorted sequence."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summary(values: Iterable[float]) -> dict[str, float]:
    """n, p50, p95, p99, max, mean of ``values``."""
    xs = sorted(values)
    return {
        "n": float(len(xs)),
        "p50": percentile(xs, 50),
        "p95": percentile(xs, 95),
        "p99": percentile(xs, 99),
        "max": xs[-1] if xs else math.nan,
        "mean": sum(xs) / len(xs) if xs else math.nan,
    }


def command_line(module: str, argv: list[str] | None) -> str:
    """How a benchmark was invoked, as recorded in RESULTS.md."""
    args = argv if argv is not None else sys.argv[1:]
    return " ".join([".venv/bin/python -m", module, *args])


def write_section(name: str, body: str, path: Path = RESULTS) -> None:
    """Replace (or append) the block ``<!-- name:start -->…<!-- name:end -->``; other blocks stay as they are."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    old = path.read_text() if path.exists() else HEADER
    if not old.lstrip().startswith("#"):
        old = HEADER + "\n" + old
    if start in old and end in old:
        new = old[: old.index(start)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    path.write_text(new)


# ----------------------------------------------------------------------------- databases


async def pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(f"{PG_SERVER}/postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def pg_available() -> bool:
    try:
        asyncio.run(pg_admin("SELECT 1"))
    except Exception:
        return False
    return True


@dataclass
class BenchDb:
    """A temporary database: a SQLite file in a temp dir, or a PostgreSQL database named ``bench_*``."""

    backend: str  # sqlite | postgres
    url: str
    data_dir: Path
    pg_name: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    @property
    def sqlite_path(self) -> Path:
        return Path(self.url.split(":///", 1)[1])


@contextlib.contextmanager
def temp_database(backend: str, purpose: str) -> Iterator[BenchDb]:
    """Create, migrate to head, yield, then drop (PostgreSQL) / delete (SQLite)."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"smm-bench-{purpose}-"))
    pg_name = None
    if backend == "postgres":
        pg_name = f"bench_{purpose}_{uuid.uuid4().hex[:8]}"
        asyncio.run(pg_admin(f'CREATE DATABASE "{pg_name}"'))
        url = f"{PG_SERVER}/{pg_name}"
    else:
        url = f"sqlite+aiosqlite:///{data_dir / 'smm.db'}"
    db = BenchDb(backend, url, data_dir, pg_name)
    try:
        asyncio.run(migrate(db))
        yield db
    finally:
        if pg_name is not None:
            with contextlib.suppress(Exception):
                asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
        shutil.rmtree(data_dir, ignore_errors=True)


def settings_for(db: BenchDb, **extra: Any) -> Any:
    from app.config import Settings

    values: dict[str, Any] = {"database_url": db.url, "data_dir": db.data_dir, "secret_key": SECRET_KEY,
                              "bootstrap_api_key": API_KEY, "host": "127.0.0.1", "log_level": "WARNING"}
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def migrate(db: BenchDb) -> None:
    from app.db import make_engine
    from app.migrate import upgrade_to_head

    engine = make_engine(settings_for(db))
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()


def smm_env(db: BenchDb, **extra: str) -> dict[str, str]:
    """Environment for an ``smm`` process on ``db`` (inherits nothing ``SMM_`` from ours)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMM_")}
    env.update({
        "SMM_DATABASE_URL": db.url,
        "SMM_SECRET_KEY": SECRET_KEY,
        "SMM_DATA_DIR": str(db.data_dir),
        "SMM_BOOTSTRAP_API_KEY": API_KEY,
        "SMM_LOG_LEVEL": "WARNING",
        "SMM_HOST": "127.0.0.1",
    })
    env.update(extra)
    return env


# ----------------------------------------------------------------------------- seeding


async def seed_channels(db: BenchDb, creds: Sequence[dict[str, str]], platform_name: str = "telegram",
                        ) -> tuple[str, list[str]]:
    """The ``default`` workspace and one channel per credentials dict; returns (workspace id, channel ids)."""
    from app.db import make_engine, make_sessionmaker, session_scope
    from app.models import Channel
    from app.security import CredentialBox
    from app.workspaces.service import DEFAULT_WORKSPACE, ensure_workspace

    box = CredentialBox(SECRET_KEY)
    engine = make_engine(settings_for(db))
    ids: list[str] = []
    try:
        async with session_scope(make_sessionmaker(engine)) as s:
            ws = await ensure_workspace(s, DEFAULT_WORKSPACE)
            chans = [
                Channel(workspace_id=ws.id, platform=platform_name, name=f"bench {i}", timezone="UTC",
                        credentials_sealed=box.seal(c), account={}, sandbox=False)
                for i, c in enumerate(creds)
            ]
            s.add_all(chans)
            await s.flush()
            ids = [c.id for c in chans]
            ws_id = ws.id
    finally:
        await engine.dispose()
    return ws_id, ids


POST_COLS = ("id", "created_at", "updated_at", "workspace_id", "text", "media", "options", "scheduled_at",
             "timezone", "order_at", "cancelled_at", "priority", "rubric", "series_id", "occurrence_at")
TARGET_COLS = ("id", "created_at", "updated_at", "post_id", "channel_id", "order_at", "status", "overrides",
               "attempts", "failures", "next_attempt_at", "lease_owner", "lease_expires_at", "send_started_at",
               "checkpoint", "external_id", "url", "last_error", "error_code", "published_at", "late_by_s", "late")


@dataclass
class PostSpec:
    channel_id: str
    scheduled_at: datetime
    text: str
    status: str = "scheduled"  # scheduled | published


def _sqlite_dt(d: datetime | None) -> str | None:
    # the format SQLAlchemy's SQLite DateTime stores (naive UTC text); UTCDateTime strips the zone
    return None if d is None else d.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _rows(ws_id: str, specs: Iterable[PostSpec], sqlite: bool) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    dt = _sqlite_dt if sqlite else (lambda d: d)
    empty_list, empty_dict = ("[]", "{}")
    now = dt(datetime.now(UTC))
    posts: list[tuple[Any, ...]] = []
    targets: list[tuple[Any, ...]] = []
    for sp in specs:
        pid, tid = uuid.uuid4().hex, uuid.uuid4().hex
        at = dt(sp.scheduled_at)
        posts.append((pid, now, now, ws_id, sp.text, empty_list, empty_dict, at, None, at, None, 3, None, None, None))
        published = sp.status == "published"
        targets.append((
            tid, now, now, pid, sp.channel_id, at, sp.status, empty_dict, 1 if published else 0, 0,
            None if published else at, None, None, None, empty_dict, "1" if published else None, None, None, None,
            at if published else None, 0.1 if published else None, 0 if sqlite else False,
        ))
    return posts, targets


async def bulk_posts(db: BenchDb, ws_id: str, specs: Iterable[PostSpec], chunk: int = 10_000) -> int:
    """Insert posts with one target each, fast (no ORM): SQLite executemany in chunks, PostgreSQL COPY."""
    total = 0
    batch: list[PostSpec] = []

    async def flush() -> None:
        nonlocal total
        if not batch:
            return
        posts, targets = _rows(ws_id, batch, db.is_sqlite)
        if db.is_sqlite:
            _sqlite_insert(db.sqlite_path, posts, targets)
        else:
            await _pg_copy(db.url, posts, targets)
        total += len(batch)
        batch.clear()

    for sp in specs:
        batch.append(sp)
        if len(batch) >= chunk:
            await flush()
    await flush()
    return total


def _sqlite_insert(path: Path, posts: list[tuple[Any, ...]], targets: list[tuple[Any, ...]]) -> None:
    conn = sqlite3.connect(path, timeout=60)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        with conn:
            conn.executemany(f"INSERT INTO posts ({', '.join(POST_COLS)}) VALUES ({', '.join('?' * len(POST_COLS))})",
                             posts)
            conn.executemany(
                f"INSERT INTO targets ({', '.join(TARGET_COLS)}) VALUES ({', '.join('?' * len(TARGET_COLS))})", targets
            )
    finally:
        conn.close()


async def _pg_copy(url: str, posts: list[tuple[Any, ...]], targets: list[tuple[Any, ...]]) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        async with conn.transaction():
            await conn.copy_records_to_table("posts", records=posts, columns=list(POST_COLS))
            await conn.copy_records_to_table("targets", records=targets, columns=list(TARGET_COLS))
    finally:
        await conn.close()


async def analyze(db: BenchDb) -> None:
    """PostgreSQL: refresh planner statistics after a bulk load (what autovacuum would do shortly)."""
    if db.is_sqlite:
        return
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(db.url))
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


# ----------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    """A child process with its log file; ``stop()`` sends SIGTERM, then SIGKILL after ``grace`` s."""

    popen: subprocess.Popen[bytes]
    log_path: Path
    name: str
    # uvicorn re-raises a captured SIGTERM after its shutdown, which kills a cProfile'd server before it writes
    # its stats; SIGINT ends as KeyboardInterrupt, which cProfile survives
    stop_signal: int = signal.SIGTERM

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, grace: float = 15.0) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(self.stop_signal)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        return self.popen.returncode

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


def spawn(args: list[str], env: dict[str, str], log_dir: Path, name: str) -> Proc:
    log_path = log_dir / f"{name}-{time.monotonic_ns()}.log"
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    return Proc(popen, log_path, name)


def wait_http(url: str, proc: Proc, timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers (any status below 500) or the process dies / time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not answer {url} within {timeout} s:\n{proc.tail()}")


@contextlib.contextmanager
def running(proc: Proc) -> Iterator[Proc]:
    try:
        yield proc
    finally:
        proc.stop()


def start_fake(log_dir: Path) -> tuple[Proc, str]:
    """The Telegram fake (sandbox: any well-formed token, unknown chats are created) in its own process."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMM_")}
    proc = spawn([PY, "-m", "bench.common", "serve-fake", "--port", str(port)], env, log_dir, "fake")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/_control/calls", proc)
    return proc, base


def start_api(db: BenchDb, profile: Path | None = None) -> tuple[Proc, str]:
    """The app (HTTP only) in its own process; ``profile``: run it under cProfile, stats written there on exit."""
    port = free_port()
    prof = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
    proc = spawn([PY, *prof, "-m", "bench.common", "serve-api", "--port", str(port)],
                 smm_env(db, SMM_PORT=str(port)), db.data_dir, "api")
    if profile is not None:
        proc.stop_signal = signal.SIGINT
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/healthz", proc)
    return proc, base


def start_bare(log_dir: Path) -> tuple[Proc, str]:
    """A bare FastAPI endpoint (``GET /bare``) served by uvicorn exactly as :func:`start_api` serves the app."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMM_")}
    proc = spawn([PY, "-m", "bench.common", "serve-bare", "--port", str(port)], env, log_dir, "bare")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/bare", proc)
    return proc, base


class RssSampler:
    """Samples the RSS of one process every ``interval`` s in a thread; ``peak`` and ``samples`` (bytes)."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), int(self.proc.memory_info().rss)))
            except psutil.Error:
                return
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def peak(self) -> int:
        return max((r for _, r in self.samples), default=0)

    def first(self) -> int:
        return self.samples[0][1] if self.samples else 0


def mib(n: float) -> str:
    return f"{n / 1024 / 1024:.0f} MiB"


# ----------------------------------------------------------------------------- server entry points


def _serve_api(port: int) -> None:
    import uvicorn

    from app.config import Settings
    from app.logs import setup_logging
    from app.main import create_app

    settings = Settings()
    setup_logging(settings.log_level)
    uvicorn.run(create_app(settings, run_scheduler=False), host="127.0.0.1", port=port, log_level="warning",
                access_log=False)


def _serve_bare(port: int) -> None:
    """The ceiling of bench.api: one FastAPI endpoint that does nothing, served as ``_serve_api`` serves the app."""
    import uvicorn
    from fastapi import FastAPI

    bare = FastAPI()

    @bare.get("/bare")
    async def bare_endpoint() -> dict[str, str]:
        return {"status": "ok"}

    uvicorn.run(bare, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _serve_fake(port: int) -> None:
    import uvicorn

    from connectors.telegram.fake import create_app

    uvicorn.run(create_app(sandbox=True), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="bench servers (internal)")
    ap.add_argument("what", choices=["serve-api", "serve-bare", "serve-fake", "machine"])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    if args.what == "machine":
        print(machine_info())
    elif args.what == "serve-api":
        _serve_api(args.port)
    elif args.what == "serve-bare":
        _serve_bare(args.port)
    else:
        _serve_fake(args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())

