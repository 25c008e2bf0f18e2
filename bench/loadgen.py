"""A small closed-loop HTTP/1.1 load generator: N clients, one keep-alive connection each, over loopback.

Each client sends its next request as soon as the previous answer is read in full (``Content-Length`` or chunked),
so N is the number of requests in flight. Requests are pre-built bytes (``get``/``post_json``), and the client
does nothing per request but write, read the head, read the body: on a 2-core machine it leaves the server as
much CPU as a driver can, and the same driver measures the bare-endpoint ceiling in the same run.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from bench.common import summary


def get(path: str, params: dict[str, str] | None = None, key: str | None = None) -> bytes:
    target = f"{path}?{urlencode(params)}" if params else path
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode()


def post_json(path: str, body: Any, key: str | None = None) -> bytes:
    data = json.dumps(body).encode()
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n")
    return head.encode() + data


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int]:
    """(status, body length) of one response."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, chunked = 0, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        await reader.readexactly(length)
        return status, length
    total = 0
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        await reader.readexactly(size + 2)
        total += size
        if size == 0:
            return status, total


@dataclass
class Cell:
    """What N clients achieved in one measured window."""

    clients: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def stats(self) -> dict[str, float]:
        return summary(self.latencies_ms)


async def _client(host: str, port: int, make: Callable[[], bytes], expect: int, stop_at: float, cell: Cell | None,
                  ) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop_at:
            raw = make()
            t0 = time.perf_counter()
            writer.write(raw)
            status, _ = await _read_response(reader)
            dt = (time.perf_counter() - t0) * 1000.0
            if cell is None:
                continue
            if status == expect:
                cell.latencies_ms.append(dt)
            else:
                cell.errors += 1
                cell.first_error = cell.first_error or f"HTTP {status}"
    finally:
        writer.close()


async def _window(host: str, port: int, make: Callable[[], bytes], expect: int, clients: int, seconds: float,
                  cell: Cell | None) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(_client(host, port, make, expect, started + seconds, cell) for _ in range(clients)))
    return time.perf_counter() - started


def measure(base: str, make: Callable[[], bytes], expect: int, clients: int, seconds: float, warmup: float) -> Cell:
    """Warm up for ``warmup`` s (not counted), then ``clients`` closed-loop clients for ``seconds`` s."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    cell = Cell(clients, seconds)

    async def run() -> None:
        if warmup > 0:
            await _window(host, int(port), make, expect, clients, warmup, None)
        cell.seconds = await _window(host, int(port), make, expect, clients, seconds, cell)

    asyncio.run(run())
    return cell
