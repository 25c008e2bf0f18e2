"""The application factory: wiring of settings, database, connectors, routes and (optionally) the scheduler."""

from __future__ import annotations

import gc
import logging
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse

from app import metrics, web
from app.analytics.endpoints import router as analytics_router
from app.channels.endpoints import router as channels_router
from app.config import Settings, get_settings
from app.dates.endpoints import router as dates_router
from app.db import make_engine, make_sessionmaker, session_scope
from app.deps import refuse_nul_characters
from app.errors import install_error_handlers
from app.export.endpoints import feed_router
from app.export.endpoints import router as export_router
from app.goals.endpoints import router as goals_router
from app.health import router as health_router
from app.jobs import PERIODIC_JOBS
from app.links.endpoints import public_router as links_public_router
from app.links.endpoints import router as links_router
from app.logs import register_app_secrets, register_secret
from app.media.endpoints import public_router as media_public_router
from app.media.endpoints import router as media_router
from app.migrate import upgrade_to_head
from app.openapi import API_ERRORS, install_openapi, mount_docs
from app.plan.endpoints import router as plan_router
from app.platforms import ConnectorHub, make_http_client
from app.posts.endpoints import router as posts_router
from app.publishing.endpoints import router as status_router
from app.publishing.runner import PublisherRunner
from app.rubrics.endpoints import mix_router
from app.rubrics.endpoints import router as rubrics_router
from app.security import CredentialBox, load_secret_key
from app.series.endpoints import router as series_router
from app.workspaces import service as workspaces
from app.workspaces.endpoints import router as workspace_router

log = logging.getLogger("smm")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# media uploads (the API, the UI's upload and the no-JavaScript post form that carries a file) and engagement
# CSV imports and content-plan imports (API and page) take the larger SMM_MAX_UPLOAD_BYTES
UPLOAD_PATHS = (r"^(/api/v1/media|/ui/media|/posts/new$|/api/v1/plan/import$|/plan/import|"
                r"/api/v1/channels/[^/]+/engagement$|/channels/[^/]+/engagement$)")
# HTML forms that send files, and the page that says "too large" in their place: GET <page>?too_large=1
FORM_PAGES = {"/posts/new": "/posts/new", "/ui/media/upload": "/posts/new", "/plan/import": "/plan/import",
              "/plan/import/commit": "/plan/import"}


class BodyLimit:
    """Answer 413 to a request body over the limit (uploads have their own, larger one).

    A browser's form (``form_pages``, unless it asks for JSON) gets its page again instead of a JSON body: the
    request is answered as ``GET <page>?too_large=1`` with status 413, so the user sees the form and why.
    """

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int, upload_paths: str,
                 form_pages: dict[str, str] | None = None) -> None:  # fmt: skip
        self.app, self.limit, self.upload_limit = app, limit, upload_limit
        self.upload_paths = re.compile(upload_paths)
        self.form_pages = form_pages or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = self.upload_limit if self.upload_paths.match(path) else self.limit
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await self._refuse(scope, send, limit)
                return
        seen, started = 0, False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, send, limit)

    async def _refuse(self, scope: Scope, send: Send, limit: int) -> None:
        page = self.form_pages.get(scope.get("path", ""))
        accept = b"".join(v for n, v in scope.get("headers", []) if n == b"accept")
        if page is None or b"application/json" in accept:
            await self._too_large(send, limit)
            return
        drop = {b"content-length", b"content-type", b"transfer-encoding"}
        page_scope = {**scope, "method": "GET", "path": page, "raw_path": page.encode(),
                      "query_string": b"too_large=1",
                      "headers": [(n, v) for n, v in scope.get("headers", []) if n not in drop]}

        async def no_body() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def as_413(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                message = {**message, "status": 413}
            await send(message)

        await self.app(page_scope, no_body, as_413)

    @staticmethod
    async def _too_large(send: Send, limit: int) -> None:
        response = JSONResponse({"detail": f"Request body too large: the limit is {limit} bytes."}, 413)
        await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


class _TooLarge(Exception):
    pass


_heap_frozen = False


def freeze_startup_heap() -> None:
    """Take what start-up loaded (modules, mappers, schemas, routes: ~180k objects) out of the cyclic GC, once.

    Every full collection walks all tracked objects; on the 2-core bench machine that was a 60-95 ms pause every
    ~30 calendar requests, i.e. the whole p99 (bench/RESULTS.md). Frozen objects are still freed by reference
    counting; only the collector stops re-scanning them. Per process, so repeated apps (tests) freeze once.
    """
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.collect()
        gc.freeze()


async def bootstrap_keys(app: FastAPI) -> None:
    """``SMM_BOOTSTRAP_API_KEY``, or on a first start a fresh key for ``default``, printed once."""
    from app.startup import describe_database

    settings: Settings = app.state.settings
    async with session_scope(app.state.sessionmaker) as session:
        if settings.bootstrap_api_key:
            workspaces.check_bootstrap_key(settings.bootstrap_api_key)
            register_secret(settings.bootstrap_api_key)
            ws = await workspaces.ensure_workspace(session, workspaces.DEFAULT_WORKSPACE)
            found = await workspaces.ensure_key(session, ws, settings.bootstrap_api_key.strip())
            if found is workspaces.BootstrapKey.REVOKED:
                log.warning("auth.bootstrap_key.revoked: SMM_BOOTSTRAP_API_KEY names a revoked key; it stays "
                            "revoked and cannot sign in. Remove the setting or set a new key.")
            _say_ready(settings)
            return
        if await workspaces.any_key(session):
            _say_ready(settings)
            return
        ws = await workspaces.ensure_workspace(session, workspaces.DEFAULT_WORKSPACE)
        key, _ = await workspaces.add_key(session, ws, name="first start")
    url = settings.effective_public_base_url
    print(
        f"\n  smm-scheduler is ready. Your API key for workspace 'default' (shown once, keep it):\n\n"
        f"    {key}\n\n  Open {url}/ and sign in with it; API docs at {url}/docs\n"
        f"  Database: {describe_database(settings)}\n",
        file=sys.stderr, flush=True,
    )


def _say_ready(settings: Settings) -> None:
    """A start that is not the first: where the UI is and how to get a key again (a JSON log keeps to JSON)."""
    from app.startup import describe_database, ready_message

    if settings.log_format == "json":
        log.info("serve.ready", extra={"url": settings.effective_public_base_url,
                                       "database": describe_database(settings)})
    else:
        print(ready_message(settings), file=sys.stderr, flush=True)


def create_app(settings: Settings | None = None, *, run_scheduler: bool = True, migrate: bool = True) -> FastAPI:
    """Build the service. ``run_scheduler=False`` serves HTTP only (``smm serve --no-scheduler``)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        app.state.box = CredentialBox(load_secret_key(settings))
        register_app_secrets(settings)
        engine = make_engine(settings)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        if migrate:
            await upgrade_to_head(engine)
        await bootstrap_keys(app)
        async with make_http_client(settings) as client:
            app.state.http = client
            app.state.hub = ConnectorHub(settings, client)
            runner = None
            if run_scheduler:
                runner = PublisherRunner(settings, app.state.sessionmaker, app.state.hub, app.state.box, "serve",
                                         periodic=PERIODIC_JOBS)
                await runner.start()
            app.state.runner = runner
            freeze_startup_heap()
            try:
                yield
            finally:
                if runner is not None:
                    await runner.stop()
        await engine.dispose()

    app = FastAPI(title="smm-scheduler", version="0.1.0", lifespan=lifespan,
                  description="A content calendar that publishes itself.", docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.runner = None
    install_error_handlers(app)

    mount_docs(app)
    install_openapi(app)
    api = APIRouter(prefix="/api/v1", responses=API_ERRORS, dependencies=[Depends(refuse_nul_characters)])
    # the content plan's routers first: /posts/export must not be read as /posts/{post_id}
    for router in (export_router, workspace_router, rubrics_router, mix_router, dates_router, links_router,
                   goals_router):
        api.include_router(router)
    for router in (channels_router, posts_router, media_router, series_router, status_router, analytics_router,
                   plan_router):
        api.include_router(router)
    app.include_router(api)
    app.include_router(media_public_router)
    app.include_router(feed_router)
    app.include_router(links_public_router)

    app.include_router(health_router)

    if settings.sandbox:
        from app.sandbox import mount_sandbox

        mount_sandbox(app)
    web.mount(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, upload_limit=settings.max_upload_bytes,
                       upload_paths=UPLOAD_PATHS, form_pages=FORM_PAGES)
    metrics.install(app, settings)  # outermost: times every request, 413s included; /metrics if SMM_METRICS=1
    return app


