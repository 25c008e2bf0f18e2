"""Prometheus metrics of real processes: ``smm serve`` publishing through the sandbox, and ``smm worker`` on its own
``SMM_METRICS_PORT`` beside an API tier without a scheduler. The counters and the lateness histogram move, the
routes are templates, and neither a token nor post text appears anywhere on the page."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from tests.conftest import API_KEY, SECRET_KEY
from tests.served import ROOT, Served, free_port, serve, smm_env, wait_for, wait_ready

pytestmark = pytest.mark.slow

TOKEN = "7000000011:AAHmetricsSandboxTokenNeverInLabel1"
TEXT = "Metrics test: this sentence must never reach a label"


def samples(page: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, s.labels, s.value) for fam in text_string_to_metric_families(page) for s in fam.samples]


def value(page: str, name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels`` (0 when there is none)."""
    return sum(v for n, lab, v in samples(page) if n == name and labels.items() <= lab.items())


def _channel_and_post(api: httpx.Client) -> tuple[str, str]:
    r = api.post("/api/v1/channels", json={"platform": "telegram", "name": "Metrics", "timezone": "UTC",
                                           "sandbox": True,
                                           "credentials": {"bot_token": TOKEN, "chat_id": "@metrics_test"}})
    assert r.status_code == 201, r.text
    channel_id = r.json()["id"]
    r = api.post("/api/v1/posts", json={"text": TEXT, "channel_ids": [channel_id], "scheduled_at": "now"})
    assert r.status_code == 201, r.text
    return channel_id, r.json()["id"]


def _published(api: httpx.Client, post_id: str) -> bool:
    status = api.get(f"/api/v1/posts/{post_id}").json()["status"]
    assert status not in ("failed", "needs_check"), status
    return status == "published"


def _assert_clean(page: str, *ids: str) -> None:
    for secret in (TOKEN, TOKEN.split(":")[1], TEXT, "never reach a label", API_KEY, SECRET_KEY, *ids):
        assert secret not in page, f"{secret!r} is on the metrics page"


def test_serve_metrics_after_publishing(settings: Settings, tmp_path: Path) -> None:
    env = smm_env(settings, SMM_SANDBOX="1", SMM_METRICS="1")
    served = serve(env, tmp_path / "serve.log", ready_timeout=120)
    try:
        channel_id, post_id = _channel_and_post(served.api)
        wait_for(lambda: _published(served.api, post_id), timeout=60)
        r = httpx.get(f"{served.base}/metrics", timeout=30)  # no key: an internal network's scraper
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/plain")
        page = r.text
    finally:
        served.stop()
    assert value(page, "smm_targets_published_total", platform="telegram") == 1
    assert value(page, "smm_targets_failed_total", platform="telegram") == 0
    assert value(page, "smm_publish_lateness_seconds_count", platform="telegram") == 1
    assert value(page, "smm_publish_lateness_seconds_sum", platform="telegram") < 60  # published on time
    assert value(page, "smm_publish_attempts_total", platform="telegram", error_class="none") == 1
    assert value(page, "smm_claim_batch_size_sum") >= 1
    assert value(page, "smm_targets_due", platform="telegram") == 0
    assert value(page, "smm_database_up") == 1
    assert "smm_dispatch_in_flight" in page and "smm_analyzer_fit_seconds_count" in page
    # requests are counted under their route's template, never the raw path with its ids
    assert value(page, "smm_http_request_duration_seconds_count", route="/api/v1/posts/{post_id}",
                 method="GET", status="200") >= 1
    assert value(page, "smm_http_request_duration_seconds_count", route="/api/v1/posts", method="POST",
                 status="201") == 1
    _assert_clean(page, channel_id, post_id)


def test_worker_serves_its_own_metrics(settings: Settings, tmp_path: Path) -> None:
    """An API tier without a scheduler reports the due target; the worker that then publishes it counts it.
    (The worker's SMM_PORT is the API's: its sandbox connectors call the platforms that process mounts.)"""
    env = smm_env(settings, SMM_SANDBOX="1", SMM_METRICS="1")
    served: Served | None = None
    worker: subprocess.Popen[bytes] | None = None
    log = tmp_path / "worker.log"
    try:
        port = free_port()
        served = _serve_without_scheduler(env, tmp_path / "serve.log")
        channel_id, post_id = _channel_and_post(served.api)
        api_page = httpx.get(f"{served.base}/metrics", timeout=30).text
        assert value(api_page, "smm_targets_due", platform="telegram") == 1  # nobody publishes in the API tier
        assert value(api_page, "smm_targets_due_oldest_seconds", platform="telegram") >= 0
        with log.open("wb") as out:
            worker_env = {**env, "SMM_METRICS_PORT": str(port), "SMM_PORT": served.base.rsplit(":", 1)[1]}
            worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=worker_env,
                                      stdout=out, stderr=subprocess.STDOUT)
        api = served.api
        wait_for(lambda: _published(api, post_id), timeout=120)  # a worker starts slowly on a busy machine
        page = wait_for(lambda: _scrape(f"http://127.0.0.1:{port}/metrics", worker, log), timeout=30)
        assert httpx.get(f"http://127.0.0.1:{port}/elsewhere", timeout=10).status_code == 404
        api_page = httpx.get(f"{served.base}/metrics", timeout=30).text
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=60)
        if served is not None:
            served.stop()
    assert worker.returncode == 0, log.read_text()
    assert value(page, "smm_targets_published_total", platform="telegram") == 1
    assert value(page, "smm_publish_lateness_seconds_count", platform="telegram") == 1
    assert value(page, "smm_targets_due", platform="telegram") == 0
    assert value(api_page, "smm_targets_published_total", platform="telegram") == 0  # each process counts its own
    _assert_clean(page, channel_id, post_id)


def _serve_without_scheduler(env: dict[str, str], log_path: Path) -> Served:
    port = free_port()
    with log_path.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--no-scheduler"], cwd=ROOT,
                                env={**env, "SMM_PORT": str(port)}, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_ready(proc, base, log_path, 120)
    return Served(proc, base, log_path, httpx.Client(base_url=base, headers={"Authorization": f"Bearer {API_KEY}"},
                                                     timeout=30))


def _scrape(url: str, proc: subprocess.Popen[bytes], log: Path) -> str | None:
    assert proc.poll() is None, log.read_text()
    try:
        r = httpx.get(url, timeout=10)
    except httpx.HTTPError:
        return None
    assert r.status_code == 200, r.text
    page: Any = r.text
    return page if value(page, "smm_targets_published_total", platform="telegram") == 1 else None


async def test_no_metrics_page_unless_enabled(anon: httpx.AsyncClient) -> None:
    r = await anon.get("/metrics")
    assert r.status_code == 404


async def test_worker_metrics_port_in_use_is_a_sentence() -> None:
    from app.metrics import MetricsPortError, WorkerMetricsServer

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MetricsPortError, match=f"SMM_METRICS_PORT: cannot listen on 127.0.0.1:{port}"):
            await WorkerMetricsServer("127.0.0.1", port, None, None).start()  # type: ignore[arg-type]
