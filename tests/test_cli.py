"""The `smm` command, run as a real process against the test database."""

from __future__ import annotations

import json
import subprocess

import pytest

from app.config import Settings
from tests.served import smm as run_smm
from tests.served import smm_env


def smm(settings: Settings, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = run_smm(smm_env(settings), *args, timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.mark.slow
def test_keys_channels_posts(settings: Settings) -> None:
    created = smm(settings, "keys", "create", "--workspace", "acme")
    key = created.stdout.strip()
    assert key.startswith("smm_") and "\n" not in key and "acme" in created.stderr  # the key alone on stdout
    listed = json.loads(smm(settings, "keys", "list", "--json").stdout)
    mine = [k for k in listed if k["workspace"] == "acme"]
    assert len(mine) == 1 and key not in json.dumps(listed) and mine[0]["prefix"] == key[:8]
    smm(settings, "keys", "revoke", mine[0]["id"])
    assert json.loads(smm(settings, "keys", "list", "--json").stdout)[-1]["revoked"] is True
    assert smm(settings, "keys", "revoke", "nope", check=False).returncode == 1

    assert smm(settings, "channels", "list", "--json", "--workspace", "acme").stdout.strip() == "[]"
    bad = smm(settings, "posts", "add", "--channel", "missing", "--text", "x", "--at", "now", check=False)
    assert bad.returncode == 2 and "unknown channel" in bad.stderr


@pytest.mark.slow
def test_secret_key_and_migrate(settings: Settings) -> None:
    from cryptography.fernet import Fernet

    key = smm(settings, "secret-key").stdout.strip()
    Fernet(key.encode())  # a valid Fernet key
    assert "latest schema" in smm(settings, "migrate").stderr
    status = json.loads(smm(settings, "status", "--json").stdout)
    assert set(status["counts"]) >= {"due", "in_flight", "late", "failed", "needs_check"}
