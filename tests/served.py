"""Real `smm` processes for tests: `smm serve` started with given settings, waited for, stopped cleanly, its log
kept; and one-off `smm` commands. The one place tests start the service (``tests/serving.py`` re-exports it)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from app.config import Settings
from tests.conftest import API_KEY, SECRET_KEY

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def smm_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of an `smm` process on the test database (no SMM_ setting of the caller leaks in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMM_")}
    env.update({"SMM_DATABASE_URL": settings.effective_database_url, "SMM_DATA_DIR": str(settings.data_dir),
                "SMM_SECRET_KEY": SECRET_KEY, "SMM_BOOTSTRAP_API_KEY": API_KEY, "SMM_HOST": "127.0.0.1",
                "SMM_SAFETY_TICK": "3600", "SMM_LOG_LEVEL": "INFO"})
    env.update(extra)
    return env


def smm(env: dict[str, str], *args: str, input: str | None = None, timeout: float = 120
        ) -> subprocess.CompletedProcess[str]:
    """Run one `smm` command to its end."""
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, input=input, timeout=timeout)


def smm_stdout(settings: Settings, *args: str) -> str:
    """Run one `smm` command on the settings' database; it must succeed; its stdout."""
    done = smm(smm_env(settings), *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class Served:
    """One running `smm serve`; ``api`` is an httpx client with the bootstrap key."""

    proc: subprocess.Popen[bytes]
    base: str
    log_path: Path
    api: httpx.Client

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.api.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


def wait_ready(proc: subprocess.Popen[bytes], base: str, log_path: Path, timeout: float = 60) -> None:
    """Wait until the service at ``base`` answers ``/readyz`` 200; kill it and fail with its log otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"smm serve did not start:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.2)


def serve(env: dict[str, str], log_path: Path, ready_timeout: float = 60) -> Served:
    """Start `smm serve` on a free port and wait until it answers ``/readyz``."""
    port = free_port()
    env = {**env, "SMM_PORT": str(port)}
    with log_path.open("ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_ready(proc, base, log_path, ready_timeout)
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30)
    return Served(proc, base, log_path, api)


@contextlib.contextmanager
def smm_serve(settings: Settings, **extra: str) -> Iterator[str]:
    """Run `smm serve` on ``settings`` (log level WARNING unless ``extra`` says otherwise, log in the data dir's
    ``serve.log``) until the block ends; yields its base URL once ``/readyz`` answers 200."""
    served = serve(smm_env(settings, **{"SMM_LOG_LEVEL": "WARNING", **extra}), settings.data_dir / "serve.log")
    try:
        yield served.base
    finally:
        served.stop()


def wait_for(check: Callable[[], Any], timeout: float = 60, interval: float = 0.3) -> Any:
    """Poll ``check`` until it returns something truthy (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting after {timeout} s (last value: {value!r})")
        time.sleep(interval)
