"""A real ``smm serve`` process for tests that need one (HTTP on a free port, the settings' database)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from app.config import Settings
from tests.conftest import API_KEY, SECRET_KEY
from tests.served import free_port, wait_ready

ROOT = Path(__file__).resolve().parents[1]


def service_env(settings: Settings, port: int, **extra: str) -> dict[str, str]:
    """The environment of a service process on ``settings``' database and data dir (no inherited SMM_ values)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMM_")}
    env.update({"SMM_DATABASE_URL": settings.effective_database_url, "SMM_DATA_DIR": str(settings.data_dir),
                "SMM_SECRET_KEY": SECRET_KEY, "SMM_BOOTSTRAP_API_KEY": API_KEY, "SMM_HOST": "127.0.0.1",
                "SMM_PORT": str(port), "SMM_LOG_LEVEL": "WARNING", "SMM_SAFETY_TICK": "3600"})
    env.update(extra)
    return env


@contextlib.contextmanager
def smm_serve(settings: Settings, **extra: str) -> Iterator[str]:
    """Run ``smm serve`` until the block ends; yields its base URL once ``/readyz`` answers 200."""
    port = free_port()
    log_path = settings.data_dir / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve"], cwd=ROOT,
                                env=service_env(settings, port, **extra), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, base, log_path)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def smm(settings: Settings, *args: str) -> str:
    """Run one ``smm`` command on the settings' database; its stdout."""
    env = service_env(settings, 8000)
    done = subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout
