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

A dropped connection or a lost response raise the very httpx exceptions a real network produces when the fake runs
in-process behind ``httpx.ASGITransport``; when it is served by uvicorn (``lost_response_mode="hang"``) the
answer is held back for ``delay`` seconds so that the client's own timeout fires.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
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
from pydantic import BaseModel, ConfigDict

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


@dataclass
class Fault:
    spec: FaultSpec
    mode: Literal["raise", "hang"]

    def early_response(self) -> JSONResponse | None:
        """The response to send instead of doing anything (an injected error), or raise for a drop."""
        if self.spec.kind == "error":
            return JSONResponse(self.spec.body, status_code=self.spec.status, headers=self.spec.headers)
        if self.spec.kind == "drop":
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

    @router.post("/reset")
    async def reset_all() -> dict[str, Any]:
        faults.clear()
        faults.calls.clear()
        faults.journal.clear()
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
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
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
