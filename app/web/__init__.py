"""The web UI: server-rendered pages over the same services as the API (``mount`` is called by create_app)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.web.heatmap import render_heatmap_svg
from app.web.render import STATIC_DIR, SecurityHeaders, install_web_handlers

__all__ = ["mount", "render_heatmap_svg"]


def mount(app: FastAPI) -> None:
    """Add the pages (``/``, ``/login``, ``/calendar``, ``/posts/…``, ``/channels/…``, ``/settings``,
    ``/plan/import``, ``/sandbox``, ``/connect/…``), the static files under ``/static`` and the UI's security
    headers to ``app``."""
    from app.connect import endpoints as connect_routes
    from app.web import (
        auth_routes,
        calendar_routes,
        channel_routes,
        compose_routes,
        import_routes,
        plan_routes,
        post_routes,
        sandbox_routes,
        settings_routes,
    )

    for module in (auth_routes, calendar_routes, compose_routes, post_routes, channel_routes, sandbox_routes,
                   settings_routes, import_routes, connect_routes, plan_routes):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    install_web_handlers(app)
    app.add_middleware(SecurityHeaders)
