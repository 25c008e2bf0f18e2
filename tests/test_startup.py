"""What `smm` says about where it runs: a second `smm serve` start says where the UI is and how to get a key again;
a command run from another folder says which database it uses; read-only commands refuse to create a fresh one."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.config import Settings
from tests.conftest import BACKEND, PG_SERVER, SECRET_KEY, _pg_admin, make_settings

READ_ONLY = (("status",), ("keys", "list"), ("channels", "list"), ("posts", "list"), ("workspace", "show"))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMM_")}
    env.update({"SMM_SECRET_KEY": SECRET_KEY, "SMM_LOG_LEVEL": "WARNING", **extra})
    return env


def _smm(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def _admin(sql: str) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _pg_admin(sql)).result()


@pytest.mark.slow
def test_from_another_folder(tmp_path: Path) -> None:
    """The default database is ./data/smm.db of the current folder: read-only commands refuse to make it."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    db = elsewhere / "data" / "smm.db"
    for args in READ_ONLY:
        done = _smm(elsewhere, _env(), *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert f"no smm database at SQLite file {db}" in done.stderr, done.stderr
        assert "does not create an empty one" in done.stderr and "SMM_DATA_DIR or SMM_DATABASE_URL" in done.stderr
        assert "Traceback" not in done.stderr and not db.exists()
    created = _smm(elsewhere, _env(), "keys", "create")  # a command that writes may create it, and says where
    assert created.returncode == 0, created.stderr
    assert f"using database: SQLite file {db} (SMM_DATA_DIR=data, from the folder {elsewhere})" in created.stderr
    status = _smm(elsewhere, _env(), "status")
    assert status.returncode == 0, status.stderr
    assert f"using database: SQLite file {db}" in status.stderr and "workers" in status.stdout


@pytest.mark.slow
def test_a_fresh_database_named_by_url_is_refused(tmp_path: Path) -> None:
    pg_name = None
    if BACKEND == "postgres":
        pg_name = f"smm_fresh_{uuid.uuid4().hex[:8]}"
        _admin(f'CREATE DATABASE "{pg_name}"')
        url, says = f"{PG_SERVER}/{pg_name}", "no smm database at PostgreSQL "
    else:
        url, says = f"sqlite+aiosqlite:///{tmp_path / 'missing.db'}", f"no smm database at SQLite file {tmp_path}"
    try:
        done = _smm(tmp_path, _env(SMM_DATABASE_URL=url), "status", "--json")
        assert done.returncode == 2 and says in done.stderr, done.stderr
        assert done.stdout == "" and "using database" not in done.stderr  # the URL was given: no location note
        assert not (tmp_path / "missing.db").exists()
        again = _smm(tmp_path, _env(SMM_DATABASE_URL=url), "status")  # and it was not migrated meanwhile
        assert again.returncode == 2, again.stderr
    finally:
        if pg_name:
            _admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


async def test_second_start_says_where_the_ui_is(database_url: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from app.main import create_app

    settings: Settings = make_settings(database_url, tmp_path, bootstrap_api_key=None, port=8123)
    for _ in range(2):
        application = create_app(settings, run_scheduler=False)
        async with application.router.lifespan_context(application):
            pass
    err = capsys.readouterr().err
    first, _, second = err.partition("smm-scheduler is starting")
    assert "Your API key for workspace 'default' (shown once, keep it)" in first
    assert second.startswith(": open http://127.0.0.1:8123/ and sign in with your API key")
    assert "`smm keys create` prints a new one" in second and "Database: " in second
    key = first.split("keep it):")[1].split()[0]
    assert key.startswith("smm_") and key not in second  # the key itself is never shown again
