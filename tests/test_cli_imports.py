"""The ``smm`` command starts cheap (issue 11, "now" lateness): a command imports only what it uses.

``smm posts add --at now`` counted from its start was ~10 s late on a loaded machine, nearly all of it start-up:
every command imported FastAPI (through app.errors and app.db), Alembic (the migration check), the holidays
tables and every command group's services before parsing its arguments. Timing lives in bench/cli_startup.py;
these tests hold the line without a clock: they run the real command in its own process and look at
``sys.modules`` when it has finished.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx
import pytest
import typer

from app.config import Settings
from tests.conftest import make_channel
from tests.served import ROOT, smm_env

# runs the CLI in this process exactly as `python -m app.cli …` does, then says what it had imported
PROBE = """
import json, runpy, sys
args = sys.argv[1:]
sys.argv = ["smm", *args]
code = 0
try:
    runpy.run_module("app.cli", run_name="__main__")
except SystemExit as exc:
    code = exc.code or 0
print("\\nMODULES " + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

NEVER = ("fastapi", "starlette", "uvicorn", "jinja2", "numpy", "alembic", "apscheduler", "openpyxl",
         "app.main", "app.web", "app.analytics.model", "app.analytics.service", "app.session_dep")


def probe(env: dict[str, str], *args: str) -> tuple[str, set[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    out, _, tail = done.stdout.rpartition("\nMODULES ")
    assert tail, done.stderr
    result: dict[str, Any] = json.loads(tail)
    assert result["code"] == 0, done.stderr
    return out, set(result["modules"])


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if n in modules or any(m.startswith(n + ".") for m in modules))


async def test_posts_add_now_imports_no_web_app_migrations_or_analyzer(
        settings: Settings, client: httpx.AsyncClient) -> None:
    channel = await make_channel(client)
    out, modules = probe(smm_env(settings), "posts", "add", "--channel", channel["id"], "--text", "now!",
                         "--at", "now", "--json")
    post = json.loads(out)
    assert post["status"] == "scheduled" and post["text"] == "now!"  # it did its work: stored, due now
    assert [t["channel_id"] for t in post["targets"]] == [channel["id"]]
    stored = (await client.get(f"/api/v1/posts/{post['id']}")).json()
    assert stored["text"] == "now!"
    # a workspace without a country needs no holidays tables
    assert loaded(modules, (*NEVER, "holidays")) == []


async def test_status_imports_no_web_app(settings: Settings, client: httpx.AsyncClient) -> None:
    await make_channel(client)
    out, modules = probe(smm_env(settings), "status", "--json")
    assert set(json.loads(out)["counts"]) >= {"due", "in_flight", "late", "failed", "needs_check"}
    assert loaded(modules, NEVER) == []


def test_help_lists_every_command_and_imports_only_typer(settings: Settings) -> None:
    from app.cli import app

    out, modules = probe(smm_env(settings, COLUMNS="200"), "--help")
    names = list(typer.main.get_group(app).commands)
    assert len(names) >= 11 and {"posts", "status", "serve", "plan", "engagement", "workspace"} <= set(names)
    for name in names:
        assert f" {name} " in out, f"{name} missing from smm --help:\n{out}"
    assert loaded(modules, (*NEVER, "sqlalchemy", "pydantic", "app.config", "app.models", "httpx",
                            "connectors", "cryptography", "holidays")) == []


def test_session_dep_still_importable_from_app_db() -> None:
    """The web routes import ``SessionDep`` from app.db; it now lives in app/session_dep.py (FastAPI)."""
    import app.db
    from app import session_dep

    assert app.db.SessionDep is session_dep.SessionDep
    assert app.db.get_session is session_dep.get_session
    with pytest.raises(AttributeError):
        app.db.no_such_name  # noqa: B018


def test_scanned_head_is_alembics_head() -> None:
    """The migration check reads the head without Alembic; it must name the head Alembic names."""
    from app.migrate import alembic_head, head_revision, scanned_head

    assert scanned_head() is not None
    assert scanned_head() == alembic_head() == head_revision()


def test_scanned_head_leaves_branches_and_merges_to_alembic(tmp_path: Any) -> None:
    from app.migrate import scanned_head

    def script(name: str, body: str) -> None:
        (tmp_path / f"{name}.py").write_text(f'"""{name}"""\nfrom alembic import op\n\n{body}\n')

    script("a", "revision: str = 'a'\ndown_revision: str | None = None")
    script("b", "revision = 'b'\ndown_revision = 'a'")
    assert scanned_head(tmp_path) == "b"
    script("c", "revision = 'c'\ndown_revision = 'a'")  # a second head
    assert scanned_head(tmp_path) is None
    script("d", "revision = 'd'\ndown_revision = ('b', 'c')")  # a merge: Alembic decides
    assert scanned_head(tmp_path) is None


async def test_deferred_client_builds_its_pools_on_the_first_request() -> None:
    """``smm`` commands get a client whose connection pools are built only when a request goes out."""
    from app.platforms import _OnFirstRequest

    built: list[int] = []

    def make() -> httpx.AsyncBaseTransport:
        built.append(1)
        return httpx.MockTransport(lambda request: httpx.Response(200, text=f"got {request.url.path}"))

    async with httpx.AsyncClient(transport=_OnFirstRequest(make)) as client:
        assert built == []
        assert (await client.get("http://example.test/a")).text == "got /a"
        assert (await client.get("http://example.test/b")).text == "got /b"
    assert built == [1]
