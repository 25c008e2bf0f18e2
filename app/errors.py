"""Errors as JSON a person can read: ``{"detail": "...", "errors": [{"field": "...", "message": "..."}]}``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # FastAPI only for the handlers: the services (and the `smm` command) raise these without it
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error the API answers with ``status`` and a sentence; ``errors`` name fields where that helps."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []


class NotFound(ApiError):
    def __init__(self, what: str) -> None:
        super().__init__(404, f"{what} not found.")


class Conflict(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(409, detail)


class Invalid(ApiError):
    """A 422 about one field (``field`` is the path, e.g. ``body.scheduled_at``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(422, f"{field}: {message}" if field else message, [{"field": field, "message": message}])


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _message(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field; remove it (check its spelling)"
    if kind == "missing":
        return "this field is required"
    if kind == "json_invalid":
        ctx = err.get("ctx") or {}
        return f"the body is not valid JSON ({ctx.get('error', 'parse error')})"
    msg = str(err.get("msg", "invalid value"))
    return msg.removeprefix("Value error, ")


def install_error_handlers(app: FastAPI) -> None:
    from fastapi import HTTPException
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        body: dict[str, Any] = {"detail": exc.detail}
        if exc.errors:
            body["errors"] = exc.errors
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field_path(e.get("loc", ())), "message": _message(e)} for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors)
        return JSONResponse({"detail": detail or "invalid request", "errors": errors}, status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("http.unhandled_error", extra={"path": request.url.path})
        return JSONResponse({"detail": "Internal error; it has been logged."}, status_code=500)
