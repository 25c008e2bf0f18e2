"""What the ``smm`` commands say about where they run: which database, where the UI is, how to get a key again,
and the refusal to create a fresh empty database for a command that only reads.

The default database is ``./data/smm.db`` relative to the current folder, so ``smm status`` run from another
folder would silently make (and report on) a new empty one; a read-only command refuses that instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

from app.config import Settings


class FreshDatabase(Exception):
    """A read-only command found no database where the settings point (it would have been created empty)."""


def describe_database(settings: Settings) -> str:
    """The database in a person's words, without any password: ``SQLite file /srv/smm/data/smm.db`` or
    ``PostgreSQL smm@db:5432/smm``."""
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite":
        return f"SQLite file {sqlite_path(settings)}"
    where = f"{url.host or 'localhost'}{f':{url.port}' if url.port else ''}/{url.database or ''}"
    return f"PostgreSQL {url.username + '@' if url.username else ''}{where}"


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite file the settings name (absolute), or None for another backend or an in-memory database."""
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).expanduser().resolve()


def where_note(settings: Settings) -> str:
    """One line for stderr when the database location comes from the default (``SMM_DATA_DIR``, relative to the
    current folder): the place a person may not have meant. Empty when ``SMM_DATABASE_URL`` names it."""
    if settings.database_url:
        return ""
    return (f"using database: {describe_database(settings)} (SMM_DATA_DIR={settings.data_dir}, "
            f"from the folder {Path(os.getcwd())})")


def refuse_fresh_sqlite(settings: Settings) -> None:
    """Raise :class:`FreshDatabase` when the SQLite file does not exist yet (connecting would create it)."""
    path = sqlite_path(settings)
    if path is not None and (not path.exists() or path.stat().st_size == 0):
        raise FreshDatabase(fresh_message(settings))


def fresh_message(settings: Settings) -> str:
    """Why a read-only command stops, and how to point it at the right database."""
    return (f"error: there is no smm database at {describe_database(settings)}; this command only reads, so it "
            "does not create an empty one. Run it from the folder where `smm serve` runs (its ./data), or set "
            "SMM_DATA_DIR or SMM_DATABASE_URL to the service's database.")


def ready_message(settings: Settings) -> str:
    """What ``smm serve`` says on a start that is not the first: where the UI is and how to get a key again."""
    url = settings.effective_public_base_url
    which = "the key in SMM_BOOTSTRAP_API_KEY" if settings.bootstrap_api_key else "your API key"
    return (f"\n  smm-scheduler is starting: open {url}/ and sign in with {which} (API docs at {url}/docs).\n"
            f"  Database: {describe_database(settings)}.\n"
            "  Lost the key? It is shown only once; `smm keys create` prints a new one (run it with the same\n"
            "  SMM_DATA_DIR / SMM_DATABASE_URL as the service).\n")
