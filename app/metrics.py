"""Prometheus metrics: one registry per process, served at ``/metrics`` when ``SMM_METRICS=1``.

``smm serve`` answers ``/metrics`` on its own port; ``smm worker`` has no HTTP API and serves the same page on
``SMM_METRICS_PORT`` (:func:`start_worker_server`). Each process counts what *it* did (sends, outcomes, requests),
so there is no shared state between processes and no ``PROMETHEUS_MULTIPROC_DIR``: Prometheus scrapes each
process and ``sum()`` adds them up. Two gauges are read from the database at scrape time (targets due and how
long the oldest has waited), so every process reports the same value for them: use ``max()``, not ``sum()``.

Labels are bounded and never carry a secret or post text: platform names, error class names (the connector error
tree), HTTP methods, status codes and route *templates* (``/api/v1/posts/{post_id}``, never the raw path; a
request that matched no route is ``route="unmatched"``).

The publisher calls the one-line helpers below (``published``, ``failed``, ``needs_check``, ``publish_attempt``,
``claimed``, ``missed``); they cost a counter increment and are safe with metrics off (nothing is served then).
The metric names and what to alert on are in docs/deploy.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.registry import PLATFORMS

log = logging.getLogger("smm.metrics")
http_log = logging.getLogger("smm.http")  # one ``http.request`` line per request (JSON log format only)

disable_created_metrics()  # no ``*_created`` series: they double the page and no alert reads them
REGISTRY = CollectorRegistry(auto_describe=True)
process_collector.ProcessCollector(registry=REGISTRY)
platform_collector.PlatformCollector(registry=REGISTRY)
gc_collector.GCCollector(registry=REGISTRY)

LATENESS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
BATCH_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

TARGETS_DUE = Gauge("smm_targets_due", "Targets whose time has come and that no worker has claimed yet "
                    "(read from the database at scrape time; the same in every process).", ["platform"],
                    registry=REGISTRY)
TARGETS_DUE_OLDEST = Gauge("smm_targets_due_oldest_seconds", "How long the oldest unclaimed due target has waited "
                           "(0 when none is due; read from the database at scrape time).", ["platform"],
                           registry=REGISTRY)
DATABASE_UP = Gauge("smm_database_up", "1 when the last scrape could read the database, else 0.", registry=REGISTRY)
PUBLISHED = Counter("smm_targets_published", "Targets this process settled as published.", ["platform"],
                    registry=REGISTRY)
FAILED = Counter("smm_targets_failed", "Targets this process settled as failed (a person must act).", ["platform"],
                 registry=REGISTRY)
NEEDS_CHECK = Counter("smm_targets_needs_check", "Targets this process set to needs_check (the platform cannot "
                      "tell whether a send went out).", ["platform"], registry=REGISTRY)
MISSED = Counter("smm_targets_missed", "Targets this process marked failed as missed (due longer ago than "
                 "SMM_MISSED_GRACE).", registry=REGISTRY)
LATENESS = Histogram("smm_publish_lateness_seconds", "Publication time minus scheduled time, per published target.",
                     ["platform"], buckets=LATENESS_BUCKETS, registry=REGISTRY)
ATTEMPTS = Counter("smm_publish_attempts", "Sends to a platform, by the error class they ended with "
                   "(error_class=\"none\": the platform accepted it).", ["platform", "error_class"],
                   registry=REGISTRY)
CLAIM_BATCH = Histogram("smm_claim_batch_size", "Targets taken per claim statement (le=0: claims that found "
                        "nothing due).", buckets=BATCH_BUCKETS, registry=REGISTRY)
IN_FLIGHT = Gauge("smm_dispatch_in_flight", "Claimed targets this process is sending or settling now.",
                  registry=REGISTRY)
HTTP_LATENCY = Histogram("smm_http_request_duration_seconds", "HTTP request time, by route template.",
                         ["method", "route", "status"], buckets=HTTP_BUCKETS, registry=REGISTRY)
FIT_TIME = Histogram("smm_analyzer_fit_seconds", "Time of one analyzer fit (weekday x hour model of a channel).",
                     buckets=FIT_BUCKETS, registry=REGISTRY)

for _platform in PLATFORMS:  # series exist from the start, so rate() and absent() alerts work before the first post
    for _c in (PUBLISHED, FAILED, NEEDS_CHECK):
        _c.labels(_platform)
    ATTEMPTS.labels(_platform, "none")


# ----------------------------------------------------------------------------- the publisher's one-line calls


def published(platform: str, late_by_s: float | None) -> None:
    PUBLISHED.labels(platform).inc()
    if late_by_s is not None:
        LATENESS.labels(platform).observe(max(0.0, late_by_s))


def failed(platform: str) -> None:
    FAILED.labels(platform).inc()


def needs_check(platform: str) -> None:
    NEEDS_CHECK.labels(platform).inc()


def missed(count: int) -> int:
    """Count targets marked missed; returns ``count`` so a call can wrap the statement that marked them."""
    if count:
        MISSED.inc(count)
    return count


def claimed(count: int) -> None:
    CLAIM_BATCH.observe(count)


@contextlib.contextmanager
def publish_attempt(platform: str) -> Iterator[None]:
    """Around one send: counts it under the class of the exception it ended with (re-raised), or ``none``."""
    try:
        yield
    except BaseException as exc:
        ATTEMPTS.labels(platform, type(exc).__name__).inc()
        raise
    ATTEMPTS.labels(platform, "none").inc()


F = TypeVar("F", bound=Callable[..., Any])


def timed_fit(fn: F) -> F:
    """Decorator for the analyzer's fit: its duration goes to ``smm_analyzer_fit_seconds``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with FIT_TIME.time():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


# ----------------------------------------------------------------------------- scrape


async def refresh(maker: async_sessionmaker[AsyncSession] | None, runner: Any) -> None:
    """Set the gauges that are read, not counted: in-flight sends of ``runner``, due targets from the database."""
    IN_FLIGHT.set(len(runner.inflight) if runner is not None else 0)
    if maker is None:
        return
    from app.publishing import repository as publishing_repo

    now = datetime.now(UTC)
    try:
        async with maker() as session:
            due = await publishing_repo.due_by_platform(session, now)
    except Exception as exc:  # the page still answers: the database being down is what it should show
        DATABASE_UP.set(0)
        log.warning("metrics.database_unavailable", extra={"error": type(exc).__name__})
        return
    DATABASE_UP.set(1)
    for platform in {*PLATFORMS, *due}:
        count, oldest = due.get(platform, (0, None))
        TARGETS_DUE.labels(platform).set(count)
        if oldest is not None and oldest.tzinfo is None:  # SQLite hands back naive UTC
            oldest = oldest.replace(tzinfo=UTC)
        TARGETS_DUE_OLDEST.labels(platform).set(0.0 if oldest is None else max(0.0, (now - oldest).total_seconds()))


async def render(maker: async_sessionmaker[AsyncSession] | None, runner: Any) -> bytes:
    await refresh(maker, runner)
    return generate_latest(REGISTRY)


# ----------------------------------------------------------------------------- HTTP: middleware and routes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/api/v1/posts/{post_id}``), ``unmatched`` when none matched."""
    # FastAPI >= 0.16x keeps an included router's routes unprefixed and records the full template beside them
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    route = scope.get("route")
    path = getattr(context, "path_format", None) or getattr(route, "path_format", None)
    if isinstance(path, str) and path:
        return path
    if scope.get("app_root_path") or scope.get("root_path"):  # a mount (static files) without a route object
        return str(scope.get("root_path") or scope.get("app_root_path")) + "/{path}"
    return "unmatched"


class RequestMetrics:
    """Outermost ASGI middleware: request time by method, route template and status; one ``http.request`` log
    record per request (emitted only in the JSON log format, where it replaces uvicorn's access line)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watching_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        finally:
            elapsed = time.perf_counter() - started
            route, method = route_template(scope), str(scope.get("method", ""))
            HTTP_LATENCY.labels(method, route, str(status)).observe(elapsed)
            if http_log.isEnabledFor(logging.INFO):
                http_log.info("http.request", extra={"method": method, "route": route, "path": scope.get("path", ""),
                                                     "status": status, "duration_ms": round(elapsed * 1000, 2)})


def install(app: Any, settings: Any) -> None:
    """Request metrics on every app; the ``/metrics`` page only with ``SMM_METRICS=1`` (no key, as
    ``/healthz``: meant for an internal network, see docs/deploy.md). Call after the other middleware."""
    app.add_middleware(RequestMetrics)
    if not settings.metrics:
        return

    async def metrics_page(request: Request) -> Response:
        state = request.app.state
        body = await render(getattr(state, "sessionmaker", None), getattr(state, "runner", None))
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", metrics_page, methods=["GET"], include_in_schema=False)


# ----------------------------------------------------------------------------- smm worker's own page


class WorkerMetricsServer:
    """``/metrics`` (and ``/healthz``) of an ``smm worker`` on ``SMM_HOST``:``SMM_METRICS_PORT``, served by uvicorn
    in the worker's own event loop; the worker keeps its signal handlers."""

    def __init__(self, host: str, port: int, maker: async_sessionmaker[AsyncSession], runner: Any) -> None:
        self.host, self.port, self.maker, self.runner = host, port, maker, runner
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope.get("path")
        if path == "/metrics":
            status, body, ctype = 200, await render(self.maker, self.runner), CONTENT_TYPE_LATEST
        elif path == "/healthz":
            status, body, ctype = 200, b'{"status":"ok"}', "application/json"
        else:
            status, body, ctype = 404, b'{"detail":"Not found: this port serves /metrics and /healthz."}', \
                "application/json"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", ctype.encode()), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def start(self) -> None:
        import uvicorn

        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise MetricsPortError(f"SMM_METRICS_PORT: cannot listen on {self.host}:{self.port} ({exc.strerror}); "
                                   "give each worker on one host its own port") from exc
        sock.listen(128)  # connections wait in the backlog until uvicorn's loop accepts them
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self._asgi, interface="asgi3", log_config=None, access_log=False, lifespan="off",
                                log_level="warning")

        class _Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:  # the worker handles SIGTERM itself
                yield

        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="smm-metrics")
        log.info("metrics.serving", extra={"host": self.host, "port": self.port})

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.gather(self._task, return_exceptions=True)


class MetricsPortError(RuntimeError):
    pass
