"""Schemathesis over every operation of ``/openapi.json``, against a real ``smm serve`` process.

The service runs with an API key, its platform API bases pointed at a closed port on 127.0.0.1 (no platform is
reachable: sends fail, verify and sync answer their documented errors) and a few objects made through the API,
whose ids schemathesis draws for the path parameters most of the time (otherwise nearly every ``{id}`` operation
would only ever see its 404). Checks: no server error, response schema, status code and content type conformance.
Deterministic (``--generation-deterministic``: the same cases on every run) and bounded (``MAX_EXAMPLES`` per
operation and phase), so that it stays within about two minutes on a loaded 2-core machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from tests.conftest import API_KEY
from tests.served import free_port, smm_serve

pytestmark = pytest.mark.slow
MAX_EXAMPLES = 20
# Values a generator rarely hits by chance: valid zones and instants, and the edges of the calendar
INSTANTS = ["now", "auto", "2030-06-01T12:00:00+02:00", "2030-06-01T12:00:00", "2030-06-01",
            "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "9999-12-31", "0001-01-01"]
ZONES = ["Europe/Berlin", "UTC", "America/New_York"]
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


@dataclass
class Served:
    base: str
    data_dir: Path


@pytest.fixture
def served(settings: Settings) -> Iterator[Served]:
    """``smm serve`` (with its scheduler); every platform base is a port nothing listens on."""
    nowhere = f"http://127.0.0.1:{free_port()}"
    with smm_serve(settings, SMM_HTTP_TIMEOUT="5", SMM_TELEGRAM_API_BASE=nowhere, SMM_VK_API_BASE=nowhere,
                   SMM_FACEBOOK_API_BASE=nowhere, SMM_INSTAGRAM_API_BASE=nowhere) as base:
        yield Served(base, settings.data_dir)


CREDENTIALS = {
    "telegram": {"bot_token": "123456789:AAEabcdefghijklmnopqrstuvwxyz012345", "chat_id": "@mychannel"},
    "vk": {"access_token": "vk1.a.abcdefghijklmnopqrstuvwxyz", "owner_id": -123456},
    "facebook": {"page_id": "1000001", "access_token": "EAAabcdefghijklmnopqrstuvwxyz"},
    "instagram": {"ig_user_id": "17841400000000001", "access_token": "EAAabcdefghijklmnopqrstuvwxyz"},
}
HISTORY = "posted_at,likes,comments,shares,views,reach,followers\n" + "".join(
    f"2026-0{1 + i % 9}-{10 + i % 18}T{8 + i % 12:02d}:00:00+00:00,{10 + i},{i % 5},{i % 3},{900 + i},{800 + i},1000\n"
    for i in range(40)
)


def seed(base: str) -> dict[str, list[str]]:
    """Objects of every kind, made through the API: the ids schemathesis draws from."""
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30)
    ids: dict[str, list[str]] = {"channel_id": [], "post_id": [], "series_id": []}
    for platform, creds in CREDENTIALS.items():
        r = api.post("/api/v1/channels", json={"platform": platform, "name": f"{platform} channel",
                                               "timezone": "Europe/Berlin", "credentials": creds})
        assert r.status_code == 201, r.text
        ids["channel_id"].append(r.json()["id"])
    telegram = ids["channel_id"][0]
    r = api.post(f"/api/v1/channels/{telegram}/engagement", content=HISTORY, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json()["imported"] > 0, r.text
    for when in (None, "2030-06-01T12:00:00+02:00", "now"):  # a draft, a scheduled post, one that fails to send
        r = api.post("/api/v1/posts", json={"text": "Hello", "channel_ids": [telegram], "scheduled_at": when})
        assert r.status_code == 201, r.text
        ids["post_id"].append(r.json()["id"])
    r = api.post("/api/v1/series", json={"name": "Weekly", "cron": "0 9 * * mon", "timezone": "Europe/Berlin",
                                         "template": {"text": "Monday"}, "channel_ids": [telegram]})
    assert r.status_code == 201, r.text
    ids["series_id"].append(r.json()["id"])
    return ids


def config(ids: dict[str, list[str]]) -> str:
    """``schemathesis.toml``: the key, the checks and where path parameters come from."""
    lines = [
        "max-failures = 20",
        "workers = 1",
        f'headers = {{ Authorization = "Bearer {API_KEY}" }}',
        "",
        "[generation]",
        "deterministic = true",
        f"max-examples = {MAX_EXAMPLES}",
        "",
        # 502 is the documented answer when a platform cannot be reached (sync, competitor analysis); status code
        # conformance still fails it wherever it is not documented
        "[checks.not_a_server_error]",
        'expected-statuses = ["2xx", "3xx", "4xx", "502"]',
        "",
    ]
    for name, values in {**ids, "instant": INSTANTS, "zone": ZONES}.items():
        quoted = ", ".join(f'"{v}"' for v in values)
        lines += [f"[dictionaries.{name}]", f"values = [{quoted}]", ""]
    bindings = {f"path.{name}": name for name in ids} | {
        "body.channel_ids[*]": "channel_id", "body.channel_id": "channel_id", "body.apply_to_channel_id": "channel_id",
        "body.post_ids[*]": "post_id", "query.channel_id": "channel_id",
        "body.scheduled_at": "instant", "body.not_before": "instant", "body.starts_at": "instant",
        "body.ends_at": "instant", "body.start": "instant", "body.end": "instant", "query.start": "instant",
        "query.end": "instant", "body.timezone": "zone",
    }
    lines.append("[parameters]")
    lines += [f'"{key}" = {{ dictionary = "{name}", probability = 0.7 }}' for key, name in bindings.items()]
    return "\n".join(lines) + "\n"


def test_every_operation_keeps_to_the_document(served: Served) -> None:
    ids = seed(served.base)
    config_file = served.data_dir / "schemathesis.toml"
    config_file.write_text(config(ids))
    cmd = [sys.executable, "-m", "schemathesis.cli", "--no-color", "--config-file", str(config_file), "run",
           f"{served.base}/openapi.json", "--checks", CHECKS, "--request-timeout", "30"]
    run = subprocess.run(cmd, cwd=served.data_dir, capture_output=True, text=True, timeout=900,
                         env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-20000:]
    operations = sum(len(ops) for ops in httpx.get(f"{served.base}/openapi.json").json()["paths"].values())
    assert f"Tested: {operations}\n" in output, output[-5000:]  # every operation, none skipped
