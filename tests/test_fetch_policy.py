"""The deployment's fetch policy: SMM_FETCH_ALLOW_HOSTS, and the service's own address in the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.platforms import fetch_policy
from tests.conftest import make_settings


def test_allow_hosts_setting(tmp_path: Path) -> None:
    policy = fetch_policy(make_settings("sqlite+aiosqlite://", tmp_path, fetch_allow_hosts="media.lan, 10.0.0.5:8080"))
    assert policy.allows_name("media.lan", 443) and policy.allows_name("10.0.0.5", 8080)
    assert not policy.allows_name("10.0.0.5", 22) and not policy.allows_name("127.0.0.1", 8000)
    with pytest.raises(ValidationError, match="SMM_FETCH_ALLOW_HOSTS: 'a:b' has no valid port"):
        make_settings("sqlite+aiosqlite://", tmp_path, fetch_allow_hosts="ok.lan,a:b")


def test_the_sandbox_may_reach_the_service_itself(tmp_path: Path) -> None:
    off = fetch_policy(make_settings("sqlite+aiosqlite://", tmp_path, host="0.0.0.0", port=8000))
    assert off.allow == ()
    on = fetch_policy(make_settings("sqlite+aiosqlite://", tmp_path, sandbox=True, host="0.0.0.0", port=8000,
                                    public_base_url="http://smm.internal.example:8443"))
    for host, port in (("127.0.0.1", 8000), ("::1", 8000), ("localhost", 8000), ("smm.internal.example", 8443)):
        assert on.allows_name(host, port), (host, port)
    assert not on.allows_name("127.0.0.1", 5432)
    local = fetch_policy(make_settings("sqlite+aiosqlite://", tmp_path, sandbox=True))
    assert local.allows_name("127.0.0.1", 8000) and not local.allows_name("localhost", 8000)
