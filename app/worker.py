"""``smm worker``: the scheduler/publisher alone, no HTTP. Waits for the schema, stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.jobs import PERIODIC_JOBS
from app.logs import register_app_secrets
from app.metrics import MetricsPortError, WorkerMetricsServer
from app.migrate import schema_at_head
from app.platforms import ConnectorHub, make_http_client
from app.publishing.runner import PublisherRunner
from app.security import CredentialBox, load_secret_key

log = logging.getLogger("smm.worker")
T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop where it is installed, as uvicorn does for ``smm serve`` (a send costs the
    event loop noticeably less CPU on it)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


async def wait_for_schema(settings: Settings, engine: object, poll: float = 2.0) -> None:
    announced = False
    while True:
        try:
            if await schema_at_head(engine):  # type: ignore[arg-type]
                return
        except Exception as exc:  # database not reachable yet
            if not announced:
                log.warning("worker.waiting_for_database: %s", str(exc)[:200])
                announced = True
        else:
            if not announced:
                log.warning("worker.waiting_for_schema: run `smm migrate` or start `smm serve`")
                announced = True
        await asyncio.sleep(poll)


async def _metrics_server(settings: Settings, runner: PublisherRunner) -> WorkerMetricsServer | None:
    """``SMM_METRICS=1``: this worker's ``/metrics`` on ``SMM_HOST:SMM_METRICS_PORT``."""
    if not settings.metrics:
        return None
    server = WorkerMetricsServer(settings.host, settings.metrics_port, runner.maker, runner)
    try:
        await server.start()
    except MetricsPortError as exc:
        raise SystemExit(f"error: {exc}") from exc
    return server


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or ``stop`` is set)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    box = CredentialBox(load_secret_key(settings))
    register_app_secrets(settings)
    engine = make_engine(settings)
    await wait_for_schema(settings, engine)
    async with make_http_client(settings) as client:
        runner = PublisherRunner(settings, make_sessionmaker(engine), ConnectorHub(settings, client), box, "worker",
                                 periodic=PERIODIC_JOBS)
        served = await _metrics_server(settings, runner)  # before the runner: a busy port ends the worker at once
        await runner.start()
        log.info("worker.started", extra={"owner": runner.owner})
        await stop.wait()
        if served is not None:
            await served.stop()
        await runner.stop()
    await engine.dispose()
