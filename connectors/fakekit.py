"""Shared machinery of the fake platforms: fault injection, a control API, and serving a fake on loopback.

Every ``connectors/<platform>/fake.py`` builds a FastAPI app and uses a ``FaultInjector`` so that tests can
say "the next N calls of method M fail like this". A handler does::

    fault = await faults.take("sendMessage")          # applies injected latency; None when nothing is armed
    if fault is not None and (early := fault.early_response()) is not None:
        return early                                  # an injected platform error: no side effect
    ... perform the side effect, build the real response ...
    if fault is not None:
        await fault.after_side_effect()               # "timeout after the side effect": the answer is lost
    return response

Fault kinds (``POST /_control/faults``)::

    {"method": "sendMessage", "count": 1, "kind": "error", "status": 429, "body": {...}, "headers": {...}}
    {"method": "*", "count": 3, "kind": "latency", "delay": 0.5}
    {"method": "wall.post", "kind": "drop"}                      # connection dropped before anything happened
    {"method": "wall.post", "kind": "lost_response"}             # side effect happened, the client never hears

    {"method": "*", "count": 100000, "kind": "error", "status": 502, "probability": 0.05}  # 5 % of calls

A dropped connection or a lost response raise the very httpx exceptions a real network produces when the fake runs
in-process behind ``httpx.ASGITransport``; when it is served by uvicorn (``lost_response_mode="hang"``) the
answer is held back for ``delay`` seconds so that the client's own timeout fires, and a drop aborts the TCP
connection (served by :func:`serve_in_thread`; elsewhere the handler's exception makes uvicorn answer 500).

``probability`` arms a fault for a share of the matching calls (drawn from the injector's ``random.Random``,
seeded for reproducible runs); a call the draw spares does not use up the fault's ``count``. Several specs with
probabilities make a mix; ``GET /_control/calls`` counts calls per method and ``GET /_control/hits`` the faults
that fired, per kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import fnmatch
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

FaultKind = Literal["error", "latency", "drop", "lost_response"]


JOURNAL_MAX = 100_000


class FaultSpec(BaseModel):
    """One armed fault, as posted to the control API."""

    model_config = ConfigDict(extra="forbid")

    method: str = "*"
    count: int = 1
    kind: FaultKind = "error"
    status: int = 500
    body: Any = None
    headers: dict[str, str] = {}
    delay: float = 0.0
    probability: float = Field(default=1.0, ge=0.0, le=1.0)


# the uvicorn transport of the request being handled, set by serve_in_thread's wrapper (for a real reset)
_TRANSPORT: contextvars.ContextVar[Any] = contextvars.ContextVar("fake_transport", default=None)


class _KnowsItsConnection:
    """Outermost ASGI wrapper: remembers the request's transport so that a "drop" fault can abort it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        token = _TRANSPORT.set(getattr(getattr(send, "__self__", None), "transport", None))
        try:
            await self.app(scope, receive, send)
        finally:
            _TRANSPORT.reset(token)


@dataclass
class Fault:
    spec: FaultSpec
    mode: Literal["raise", "hang"]

    def early_response(self) -> JSONResponse | None:
        """The response to send instead of doing anything (an injected error), or raise for a drop."""
        if self.spec.kind == "error":
            return JSONResponse(self.spec.body, status_code=self.spec.status, headers=self.spec.headers)
        if self.spec.kind == "drop":
            transport = _TRANSPORT.get()
            if self.mode == "hang" and transport is not None:  # served: a real connection reset
                transport.abort()
                return JSONResponse(None, status_code=500)  # written to a closed transport: nobody gets it
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return None

    async def after_side_effect(self) -> None:
        """Lose the answer of a call whose side effect already happened."""
        if self.spec.kind != "lost_response":
            return
        if self.mode == "raise":
            raise httpx.ReadTimeout("timed out (fake: the side effect happened, the answer was lost)")
        await asyncio.sleep(self.spec.delay or 30.0)


@dataclass
class FaultInjector:
    """Faults armed per method name (glob patterns allowed), consumed in order."""

    lost_response_mode: Literal["raise", "hang"] = "raise"
    armed: list[list[Any]] = field(default_factory=list)  # [spec, remaining]
    calls: dict[str, int] = field(default_factory=dict)
    # (unix time, method) of every call, oldest first: when each step of a publish reached the platform
    journal: deque[tuple[float, str]] = field(default_factory=lambda: deque(maxlen=JOURNAL_MAX))
    hits: dict[str, int] = field(default_factory=dict)  # faults that fired, per kind (or "error <status>")
    rng: random.Random = field(default_factory=lambda: random.Random(20261201))

    def arm(self, spec: FaultSpec) -> None:
        self.armed.append([spec, spec.count])

    def clear(self) -> None:
        self.armed.clear()

    async def take(self, method: str) -> Fault | None:
        self.calls[method] = self.calls.get(method, 0) + 1
        self.journal.append((time.time(), method))
        for entry in self.armed:
            spec, remaining = entry
            if remaining > 0 and fnmatch.fnmatchcase(method, spec.method):
                if spec.probability < 1.0 and self.rng.random() >= spec.probability:
                    continue
                kind = f"error {spec.status}" if spec.kind == "error" else spec.kind
                self.hits[kind] = self.hits.get(kind, 0) + 1
                entry[1] -= 1
                if entry[1] == 0:
                    self.armed.remove(entry)
                if spec.kind == "latency":
                    await asyncio.sleep(spec.delay)
                return Fault(spec, self.lost_response_mode)
        return None


def control_router(faults: FaultInjector, reset: Any, published: Any) -> APIRouter:
    """The control API every fake mounts under ``/_control``.

    ``reset()`` clears the fake's state; ``published()`` returns what the fake holds as published, as a list
    of JSON objects with at least ``id``, ``chat``, ``text`` and ``media``.
    """
    router = APIRouter(prefix="/_control", include_in_schema=False)

    @router.post("/faults")
    async def arm_fault(spec: FaultSpec) -> dict[str, Any]:
        faults.arm(spec)
        return {"ok": True, "armed": len(faults.armed)}

    @router.delete("/faults")
    async def clear_faults() -> dict[str, Any]:
        faults.clear()
        return {"ok": True}

    @router.get("/calls")
    async def calls() -> dict[str, int]:
        return dict(faults.calls)

    @router.get("/log")
    async def call_log() -> list[dict[str, Any]]:
        """Every call with its arrival time (unix seconds), oldest first."""
        return [{"at": at, "method": method} for at, method in faults.journal]
    @router.get("/hits")
    async def hits() -> dict[str, int]:
        return dict(faults.hits)

    @router.post("/reset")
    async def reset_all() -> dict[str, Any]:
        faults.clear()
        faults.calls.clear()
        faults.journal.clear()
        faults.hits.clear()
        reset()
        return {"ok": True}

    @router.get("/published")
    async def list_published() -> list[dict[str, Any]]:
        return list(published())

    return router


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_in_thread(app: FastAPI, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a background thread; yields its base URL."""
    import uvicorn

    port = port or _free_port()
    config = uvicorn.Config(_KnowsItsConnection(app), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("fake server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
