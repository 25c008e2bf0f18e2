"""Faults, in real processes against real fakes: the database restarted mid-burst (a private PostgreSQL cluster),
and a fifth of all platform calls failing with a mix of 429 / 5xx / connection resets / lost answers."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.models import Post, Target
from connectors.fakekit import FaultSpec, _free_port, serve_in_thread
from connectors.telegram.fake import create_app as telegram_fake
from connectors.vk.fake import create_app as vk_fake
from tests.conftest import BACKEND, make_settings
from tests.publishing.test_failover import seed, start_workers
from tests.publishing.test_processes import counts, procs, published_texts, worker_env, worker_logs

pytestmark = pytest.mark.slow
__all__ = ["procs"]

SETTLED = ("published", "failed", "needs_check")


async def wait_terminal(settings: Settings, total: int, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        c = await counts(settings)
        if sum(c.get(s, 0) for s in SETTLED) >= total or time.monotonic() > deadline:
            return c
        await asyncio.sleep(0.3)


async def final_rows(settings: Settings) -> dict[str, tuple[str, str | None]]:
    engine = make_engine(settings)
    async with make_sessionmaker(engine)() as s:
        rows = (await s.execute(
            select(Post.text, Target.status, Target.last_error).join(Target, Target.post_id == Post.id)
        )).all()
    await engine.dispose()
    return {t: (status, error) for t, status, error in rows}


def assert_settled_once(rows: dict[str, tuple[str, str | None]], vk_posts: Any, tg_posts: Any,
                        vk_sent: list[str], tg_sent: list[str]) -> None:
    assert {status for status, _ in rows.values()} <= set(SETTLED), Counter(s for s, _ in rows.values())
    unexplained = {t: e for t, (status, e) in rows.items() if status == "failed" and not e}
    assert unexplained == {}  # a failure carries a reason a person can read
    # never twice on either platform; VK can be asked (guid), so nothing it holds is left to a person
    assert [t for t, n in Counter(vk_sent + tg_sent).items() if n > 1] == []
    assert all(rows[t][0] != "needs_check" for t in vk_posts)
    for t, (status, _) in rows.items():  # published means it is there
        if status == "published":
            assert t in (vk_sent if t in vk_posts else tg_sent), t


async def test_a_fifth_of_platform_calls_failing(settings: Settings, procs: list[Any]) -> None:
    """Mixed faults on every method of both fakes: 429 with retry_after, 502, a reset connection before
    anything happened, and an answer lost after the post was made (the client's timeout fires)."""
    vk_app = vk_fake(sandbox=True, lost_response_mode="hang")
    tg_app = telegram_fake(sandbox=True, lost_response_mode="hang")
    tg_429 = {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
              "parameters": {"retry_after": 1}}
    vk_429 = {"error": {"error_code": 6, "error_msg": "Too many requests per second", "request_params": []}}
    for app, busy in ((vk_app, vk_429), (tg_app, tg_429)):
        p, many = 0.055, 1_000_000  # four kinds at 5.5 % each: ~20 % of calls
        status = 200 if app is vk_app else 429  # VK reports its errors inside HTTP 200
        for spec in (
            FaultSpec(method="*", count=many, kind="error", status=status, body=busy, probability=p),
            FaultSpec(method="*", count=many, kind="error", status=502, body={"error": "bad gateway"}, probability=p),
            FaultSpec(method="*", count=many, kind="drop", probability=p),
            FaultSpec(method="*", count=many, kind="lost_response", delay=2.0, probability=p),
        ):
            app.state.faults.arm(spec)
    with serve_in_thread(vk_app) as vk_base, serve_in_thread(tg_app) as tg_base:
        env = worker_env(settings, SMM_VK_API_BASE=vk_base, SMM_TELEGRAM_API_BASE=tg_base, SMM_HTTP_TIMEOUT="1",
                         SMM_RETRY_BASE_DELAY="0.2", SMM_RETRY_MAX_DELAY="1", SMM_CLAIM_LEASE="10",
                         SMM_SAFETY_TICK="1")
        await start_workers(settings, procs, env, 2)
        t0 = datetime.now(UTC) + timedelta(seconds=1)
        dues = [[t0, t0 + timedelta(seconds=1.1)] for _ in range(40)]
        vk_posts = await seed(settings, "vk", dues)
        tg_posts = await seed(settings, "telegram", dues)
        total = len(vk_posts) + len(tg_posts)
        c = await wait_terminal(settings, total, timeout=60)
        vk_sent, tg_sent = published_texts(vk_base), published_texts(tg_base)
        hits = Counter(vk_app.state.faults.hits) + Counter(tg_app.state.faults.hits)
    assert sum(c.get(s, 0) for s in SETTLED) == total, (c, worker_logs(settings))
    assert {"error 429", "error 502", "drop", "lost_response"} <= set(hits), hits  # the mix really happened
    rows = await final_rows(settings)
    assert_settled_once(rows, vk_posts, tg_posts, vk_sent, tg_sent)
    assert c.get("published", 0) >= total // 2, c  # faults slow it down; most still get through


# ----------------------------------------------------------------------------- a private PostgreSQL


def _pg_bin() -> Path | None:
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(f"{d}/initdb", os.X_OK) and os.access(f"{d}/pg_ctl", os.X_OK):
            return Path(d)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and shutil.which("initdb") else None


class PrivateCluster:
    """initdb into a temporary directory, served on a free port: ours to stop and start (never the shared one)."""

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin, self.dir, self.port = bin_dir, root / "pg", _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres account
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.dir.mkdir()
        if self.as_user:
            shutil.chown(root, "postgres")
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.dir), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self.as_user, str(self.bin / tool), *args], capture_output=True, timeout=120)
        assert done.returncode == 0, f"{tool} failed: {done.stderr.decode(errors='replace')[-2000:]}"

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.dir), "-o", opts, "-l", str(self.dir / "log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.dir), "-m", mode, "-w", "-t", "60", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}"


@pytest.fixture
def private_pg() -> Iterator[PrivateCluster]:
    if BACKEND != "postgres":
        pytest.skip("the database restart is a PostgreSQL scenario (SMM_TEST_DB=postgres runs it)")
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine for a private cluster")
    root = Path(tempfile.mkdtemp(prefix="smm-private-pg-"))  # not under pytest's root-only tmp: postgres reads it
    try:
        cluster = PrivateCluster(bin_dir, root)
        cluster.start()
        try:
            yield cluster
        finally:
            with contextlib.suppress(AssertionError, subprocess.SubprocessError):
                cluster.stop("immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def test_postgres_restarted_mid_burst(private_pg: PrivateCluster, tmp_path: Path, procs: list[Any]) -> None:
    """Two workers; the server stops and comes back while sends are in flight: the workers reconnect (the
    outcome of a send the database could not take is written when it is back) and finish; nothing is lost,
    nothing is sent twice."""
    from tests.conftest import _migrate

    admin = create_async_engine(f"{private_pg.url}/postgres", isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text('CREATE DATABASE "smm"'))
    await admin.dispose()
    url = f"{private_pg.url}/smm"
    await _migrate(url, tmp_path)
    settings = make_settings(url, tmp_path)
    vk_app, tg_app = vk_fake(sandbox=True), telegram_fake(sandbox=True)
    for app in (vk_app, tg_app):  # slow answers, so that the restart lands while sends are in flight
        app.state.faults.arm(FaultSpec(method="*", count=1_000_000, kind="latency", delay=0.3))
    with serve_in_thread(vk_app) as vk_base, serve_in_thread(tg_app) as tg_base:
        env = worker_env(settings, SMM_VK_API_BASE=vk_base, SMM_TELEGRAM_API_BASE=tg_base, SMM_SAFETY_TICK="1",
                         SMM_CLAIM_LEASE="60")
        await start_workers(settings, procs, env, 2)
        t0 = datetime.now(UTC) + timedelta(seconds=1)
        dues = [[t0 + timedelta(seconds=1.1 * i) for i in range(5)] for _ in range(12)]
        vk_posts = await seed(settings, "vk", dues)
        tg_posts = await seed(settings, "telegram", dues)
        total = len(vk_posts) + len(tg_posts)
        deadline = time.monotonic() + 30
        while (await counts(settings)).get("published", 0) < total // 4:
            assert time.monotonic() < deadline, worker_logs(settings)
            await asyncio.sleep(0.1)
        private_pg.stop("fast")  # every connection of the workers is cut
        await asyncio.sleep(1.5)
        private_pg.start()
        c = await wait_terminal(settings, total, timeout=60)
        vk_sent, tg_sent = published_texts(vk_base), published_texts(tg_base)
        assert all(p.poll() is None for p in procs), worker_logs(settings)  # reconnected, not crashed
    assert sum(c.get(s, 0) for s in SETTLED) == total, (c, worker_logs(settings))
    rows = await final_rows(settings)
    assert_settled_once(rows, vk_posts, tg_posts, vk_sent, tg_sent)
    assert c.get("failed", 0) == 0, c
    assert sorted(vk_sent) == sorted(vk_posts)  # nothing lost
