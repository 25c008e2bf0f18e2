"""SMM_BOOTSTRAP_API_KEY through real `smm serve` processes: a revoked one stays revoked, a short one is refused."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from tests.conftest import API_KEY
from tests.served import serve, smm, smm_env

pytestmark = pytest.mark.slow


def test_a_revoked_bootstrap_key_stays_revoked_after_a_restart(settings: Settings, tmp_path: Path) -> None:
    env, log = smm_env(settings), tmp_path / "serve.log"
    first = serve(env, log)
    try:
        assert first.api.get("/api/v1/channels").status_code == 200
    finally:
        first.stop()
    keys = json.loads(smm(env, "keys", "list", "--json").stdout)
    assert smm(env, "keys", "revoke", keys[0]["id"]).returncode == 0

    second = serve(env, log)
    try:
        r = second.api.get("/api/v1/channels")
        assert r.status_code == 401, r.text
        page = httpx.get(f"{second.base}/login", timeout=30)
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        login = httpx.post(f"{second.base}/login", data={"api_key": API_KEY, "csrf_token": csrf},
                           cookies=page.cookies, timeout=30)
        assert login.status_code == 401 and "not valid" in login.text
    finally:
        second.stop()
    assert "SMM_BOOTSTRAP_API_KEY names a revoked key" in log.read_text()
    assert json.loads(smm(env, "keys", "list", "--json").stdout)[0]["revoked"] is True


@pytest.mark.parametrize("key", ["qwerty7", "smm_only_23_characters_", "  padded-but-tiny-xyz  "])
def test_a_short_bootstrap_key_refuses_to_start(settings: Settings, key: str) -> None:
    result = smm(smm_env(settings, SMM_BOOTSTRAP_API_KEY=key, SMM_PORT="1"), "serve", timeout=60)
    assert result.returncode == 2, result.stderr
    assert "SMM_BOOTSTRAP_API_KEY is" in result.stderr and "at least 24" in result.stderr
    assert "a short key can be guessed" in result.stderr
    assert "Traceback" not in result.stderr and key.strip() not in result.stderr + result.stdout
