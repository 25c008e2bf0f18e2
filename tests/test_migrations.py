"""The migrations build exactly the schema the models describe (columns, types, nullability, indexes)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app.db import make_engine
from app.models import Base
from tests.conftest import make_settings


async def test_migrated_schema_matches_the_models(database_url: str, tmp_path: Path) -> None:
    engine = make_engine(make_settings(database_url, tmp_path))
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata))
    finally:
        await engine.dispose()
    assert diff == []
