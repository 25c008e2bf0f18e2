"""The scaled-out deployment of ``docker-compose.yml``, exercised as plain processes (no Docker engine here).

The services' commands and replica counts are read from the compose file itself, so the file cannot drift from
what this test runs: PostgreSQL (the suite's), one API process as its ``api`` service runs it
(``smm serve --no-scheduler``) and its ``worker`` service's replicas (``smm worker``). A post per platform goes in
through the API and must be published exactly once — by the workers, never by the API tier — woken without the
safety tick (``SMM_SAFETY_TICK=3600``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app.config import Settings
from tests.conftest import API_KEY, BACKEND, SECRET_KEY
from tests.served import free_port, wait_ready

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(BACKEND != "postgres", reason="the scaled-out layout runs on PostgreSQL"),
]
ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = ("telegram", "vk", "facebook", "instagram")


def compose_services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return services


def _command(service: dict[str, Any]) -> list[str]:
    command = list(service["command"])
    assert command[0] == "smm", command
    return [sys.executable, "-m", "app.cli", *command[1:]]


@pytest.fixture
def topology(settings: Settings) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """The compose file's api and worker services as processes; yields the API's URL and the worker processes."""
    services = compose_services()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMM_")}
    for name, value in services["api"]["environment"].items():  # the compose file's settings, made local
        env[name] = str(value)
    env.update({"SMM_DATABASE_URL": settings.effective_database_url, "SMM_DATA_DIR": str(settings.data_dir),
                "SMM_SECRET_KEY": SECRET_KEY, "SMM_BOOTSTRAP_API_KEY": API_KEY, "SMM_SANDBOX": "1",
                "SMM_HOST": "127.0.0.1", "SMM_PORT": str(port), "SMM_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                "SMM_SAFETY_TICK": "3600", "SMM_LOG_LEVEL": "WARNING"})
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, service: dict[str, Any]) -> subprocess.Popen[bytes]:
        log = (settings.data_dir / f"{name}-{len(procs)}.log").open("wb")
        proc = subprocess.Popen(_command(service), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    def logs() -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(settings.data_dir.glob("*.log")))

    base = f"http://127.0.0.1:{port}"
    try:
        api = start("api", services["api"])
        wait_ready(api, base, settings.data_dir / "api-0.log")
        worker = services["worker"]
        workers = [start("worker", worker) for _ in range(int(worker.get("deploy", {}).get("replicas", 1)))]
        yield base, workers
        for p in procs:
            assert p.poll() is None, logs()  # nothing crashed on the way
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_compose_layout_is_an_api_tier_and_workers() -> None:
    services = compose_services()
    assert services["api"]["command"] == ["smm", "serve", "--no-scheduler"]
    assert services["worker"]["command"] == ["smm", "worker"]
    assert int(services["worker"]["deploy"]["replicas"]) >= 2
    assert services["api"]["environment"]["SMM_DATABASE_URL"].startswith("postgresql")


def test_api_tier_and_workers_publish_each_post_once(topology: tuple[str, list[subprocess.Popen[bytes]]]) -> None:
    base, workers = topology
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=15)
    # the workers are up when they heart-beat (they wait for the schema the API migrated)
    deadline = time.monotonic() + 60
    while len(api.get("/api/v1/status").json()["workers"]) < len(workers):
        assert time.monotonic() < deadline, api.get("/api/v1/status").json()
        time.sleep(0.3)
    kinds = sorted(w["kind"] for w in api.get("/api/v1/status").json()["workers"])
    assert kinds == ["worker"] * len(workers)  # the API tier runs no publisher

    posts: dict[str, str] = {}
    for platform in PLATFORMS:
        ch = api.post("/api/v1/channels", json={"platform": platform, "name": f"Deploy {platform}",
                                                "timezone": "Europe/Berlin", "sandbox": True})
        assert ch.status_code == 201, ch.text
        body: dict[str, Any] = {"text": f"Scaled out to {platform}", "channel_ids": [ch.json()["id"]],
                                "scheduled_at": "now"}
        if platform == "instagram":
            body["media"] = [{"url": "https://example.org/photo.jpg", "kind": "photo"}]
        created = api.post("/api/v1/posts", json=body)
        assert created.status_code == 201, created.text
        posts[platform] = created.json()["id"]

    deadline = time.monotonic() + 60  # generous for a loaded machine; the safety tick is an hour away
    final: dict[str, dict[str, Any]] = {}
    while len(final) < len(posts) and time.monotonic() < deadline:
        for platform, post_id in posts.items():
            got = api.get(f"/api/v1/posts/{post_id}").json()
            if got["status"] in ("published", "failed", "needs_check"):
                final[platform] = got
        time.sleep(0.3)
    assert {p: f["status"] for p, f in final.items()} == dict.fromkeys(PLATFORMS, "published"), final

    worker_pids = {str(w.pid) for w in workers}
    for platform, post_id in posts.items():
        attempts = api.get(f"/api/v1/posts/{post_id}/attempts").json()
        published = [a for a in attempts if a["outcome"] == "published"]
        assert len(published) == 1, attempts
        # owners are "<host>-<pid>-<random>": the send was made by one of the workers
        assert published[0]["worker"].split("-")[-2] in worker_pids, (published[0], worker_pids)
        received = api.get(f"/sandbox/{platform}/_control/published").json()
        texts = [str(item) for item in received if f"Scaled out to {platform}" in str(item)]
        assert len(texts) == 1, received
