"""Apply and inspect the Alembic schema history from inside the service.

Every ``smm`` command that touches the database asks first whether the schema is at head. That question is
answered without Alembic (a scan of the revision ids in migrations/versions and one ``SELECT`` of the version
table), so a command on a database that is up to date never imports Alembic or runs a migration script; Alembic
is loaded only to apply what is due, or when the history is not a plain line (then it is the one to decide).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations

if TYPE_CHECKING:
    from alembic.config import Config

SCRIPT_LOCATION = Path(migrations.__file__).resolve().parent
VERSION_TABLE = "alembic_version"  # Alembic's default; migrations/env.py does not change it


def alembic_config() -> Config:
    """The Alembic configuration, built in code so that an installed package (no alembic.ini) migrates too."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    cfg.set_main_option("path_separator", "os")
    return cfg


def _upgrade(connection: Connection) -> None:
    if _current(connection) == head_revision():
        return  # nothing to apply: skip loading Alembic and every migration script (each `smm` command starts here)
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


async def upgrade_to_head(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


@cache
def head_revision() -> str | None:
    """The newest revision this code knows (read once: the scripts do not change while it runs)."""
    return scanned_head() or alembic_head()


def alembic_head() -> str | None:
    """The head as Alembic computes it (imports every migration script)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def scanned_head(versions: Path = SCRIPT_LOCATION / "versions") -> str | None:
    """The head read from the scripts' ``revision`` / ``down_revision`` assignments without importing them;
    ``None`` when that is not a single plain line of history (a merge, a branch, an assignment that is not a
    literal): :func:`alembic_head` decides then."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        found = _revision_ids(path)
        if found is None:
            return None
        revision, down = found
        revisions.add(revision)
        parents.update(down)
    heads = revisions - parents
    if len(heads) != 1 or not parents <= revisions:
        return None
    return heads.pop()


def _revision_ids(path: Path) -> tuple[str, tuple[str, ...]] | None:
    values: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision") and value is not None:
            try:
                values[target.id] = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError):
                return None
    revision, down = values.get("revision"), values.get("down_revision")
    if not isinstance(revision, str) or "down_revision" not in values:
        return None
    if down is None:
        return revision, ()
    if isinstance(down, str):
        return revision, (down,)
    return None  # a merge revision (a tuple of parents): leave it to Alembic


def _current(connection: Connection) -> str | None:
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = list(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
    if len(rows) <= 1:
        return rows[0] if rows else None
    from alembic.runtime.migration import MigrationContext  # several heads stored: Alembic says what that means

    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (``None``: never migrated)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def schema_at_head(engine: AsyncEngine) -> bool:
    return await current_revision(engine) == head_revision()
