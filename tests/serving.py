"""Kept so that ``from tests.serving import …`` still works: everything lives in ``tests/served.py``."""

from __future__ import annotations

from app.config import Settings
from tests.served import ROOT, free_port, smm_env, smm_serve, wait_ready
from tests.served import smm_stdout as smm

__all__ = ["ROOT", "free_port", "service_env", "smm", "smm_serve", "wait_ready"]


def service_env(settings: Settings, port: int, **extra: str) -> dict[str, str]:
    """The environment of a service process on ``settings``' database and data dir, listening on ``port``."""
    return smm_env(settings, **{"SMM_PORT": str(port), "SMM_LOG_LEVEL": "WARNING", **extra})
