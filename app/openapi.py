"""What the OpenAPI document says about errors, and the API docs pages served without a CDN.

Every error the service sends has one shape (``app/errors.py``, the 413 of ``BodyLimit``)::

    {"detail": "a sentence", "errors": [{"field": "scheduled_at", "message": "..."}]}

``errors`` is sent when fields can be named (always on a 422 of request validation) and left out otherwise.
Routes declare the 4xx/5xx they really send with ``responses=errors(...)``; the API router adds 401 to every
``/api/v1`` operation. Declaring 422 on a route also keeps FastAPI from adding its own ``HTTPValidationError``
(a ``detail`` *array*, which this service never sends): ``tests/test_openapi.py`` checks none is left.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field


class FieldError(BaseModel):
    """One field the request got wrong."""

    field: str = Field(description="where: a dotted path such as `media[0].url` or `scheduled_at`; may be empty")
    message: str = Field(description="what is wrong with it, in words a person understands")


class ErrorBody(BaseModel):
    """The body of every error answer."""

    detail: str = Field(description="what went wrong, as a sentence")
    errors: list[FieldError] = Field(
        default_factory=list, description="the fields concerned; left out when none can be named"
    )


# Why each status is sent, as the document says it. One description per status keeps the document uniform.
REASONS: dict[int, str] = {
    400: "The request cannot be read: a body that cannot be parsed, or a cursor that was altered (pass "
         "`next_cursor` exactly as a page returned it).",
    401: "No API key, or the key is unknown or revoked: send `Authorization: Bearer <api key>`.",
    404: "No such object in this workspace (another workspace's id answers 404 too).",
    409: "The object's state does not allow this now (e.g. the post is already being published).",
    413: "The request body is over the limit (`SMM_MAX_BODY_BYTES`; uploads: `SMM_MAX_UPLOAD_BYTES`).",
    415: "The body's type is not one this operation accepts.",
    422: "A value is invalid: `errors` names each field and what is wrong with it.",
    429: "Too many attempts: wait the seconds given in `Retry-After`.",
    502: "The platform did not answer usefully; try again later.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that sends these error statuses (all with the ``ErrorBody`` shape)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody, "description": REASONS[status]}
        if status == 429:
            entry["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
        out[status] = entry
    return out


# Sent by every /api/v1 operation (the key check runs before anything else).
API_ERRORS = errors(401)
ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` state the statuses that follow from how requests are handled, for every operation:

    * 422 where FastAPI validates something a client sends (a body, query or header parameter) — with the
      ``ErrorBody`` shape of ``app/errors.py`` instead of FastAPI's ``HTTPValidationError``; an operation whose
      only parameters are path strings cannot fail validation, so FastAPI's 422 is removed there;
    * 400 and 413 wherever there is a request body: a body that cannot be parsed at all (not UTF-8, broken
      multipart) is FastAPI's 400, and ``BodyLimit`` in ``app/main.py`` applies to every request.

    Statuses a route raises itself (400, 404, 409, 415, 422, 502) are declared on the route with ``errors()``.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = build()
        for operations in doc.get("paths", {}).values():
            for operation in operations.values():
                _fix_error_responses(operation)
        schemas = doc.get("components", {}).get("schemas", {})
        for name in FASTAPI_VALIDATION_SCHEMAS:
            schemas.pop(name, None)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def _fix_error_responses(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    has_body = "requestBody" in operation
    validated = has_body or any(p.get("in") in ("query", "header") for p in operation.get("parameters", []))
    generated = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
    if generated.get("$ref", "").endswith("/HTTPValidationError"):
        if validated:
            responses["422"] = _response(422)
        else:
            del responses["422"]
    for status in (400, 413) if has_body else ():
        responses.setdefault(str(status), _response(status))


def _response(status: int) -> dict[str, Any]:
    return {"description": REASONS[status], "content": {"application/json": {"schema": dict(ERROR_REF)}}}


# -- the docs pages ------------------------------------------------------------------------------------------

DOCS_ASSETS = "/docs/assets"
# The pages' own inline start-up script is allowed; nothing outside this service (ReDoc's side menu would fetch
# its vendor's logo from a CDN: the browser is told not to)
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'self'; object-src 'none'")
DOCS_HEADERS = {"Content-Security-Policy": DOCS_CSP, "X-Content-Type-Options": "nosniff"}


def mount_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` with their scripts and styles served by this process.

    The assets come from the ``fastapi-offline`` package (Swagger UI 5, which reads OpenAPI 3.1, and ReDoc 2),
    so the docs work on a machine without internet. Build the app with ``docs_url=None, redoc_url=None``.
    """
    assets = resources.files("fastapi_offline") / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _with_csp(get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}", title=f"{app.title} - API docs",
            oauth2_redirect_url=f"{root}{oauth2_redirect}",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from the validator's site
        ))

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _with_csp(get_redoc_html(
            openapi_url=f"{root}{openapi_url}", title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png", with_google_fonts=False,
        ))


def _with_csp(page: HTMLResponse) -> HTMLResponse:
    page.headers.update(DOCS_HEADERS)
    return page
