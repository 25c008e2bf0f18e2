"""The ``smm`` command: serve, worker, migrate, keys, channels, posts (human output; ``--json`` for scripts).

Start-up is kept cheap: this module and the command groups it registers import only typer at module level; each
command imports what it uses when it runs, so ``smm --help`` or ``smm posts add`` never loads the web app,
FastAPI, Alembic (unless a migration is due) or the analyzer. tests/test_cli_imports.py holds that line.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from app.analytics import cli as analytics_cli
from app.cli_options import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt
from app.goals import cli as goals_cli
from app.links import cli as links_cli
from app.plan import cli as plan_cli
from app.publishing import cli as publishing_cli
from app.workspaces import cli as workspace_cli

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.config import Settings
    from app.platforms import ConnectorHub

T = TypeVar("T")
app = typer.Typer(help="smm-scheduler: a content calendar that publishes itself.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (one workspace each).", no_args_is_help=True)
channels_app = typer.Typer(help="Channels.", no_args_is_help=True)
posts_app = typer.Typer(help="Posts.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(channels_app, name="channels")
app.add_typer(posts_app, name="posts")


def _err(message: str) -> None:
    typer.echo(message, err=True)


def run(coro_fn: Callable[[Settings, AsyncSession], Awaitable[T]], *, migrate: bool = True,
        read_only: bool = False) -> T:
    """Run one unit of work against the configured database (migrated to head first).

    Says on stderr which database it uses when that comes from the default location (relative to the current
    folder). ``read_only`` commands refuse (exit 2) a database that does not exist yet instead of creating it
    empty: a SQLite file that is missing, or a PostgreSQL database never migrated."""
    from app.config import get_settings
    from app.db import make_engine, make_sessionmaker, session_scope
    from app.errors import ApiError
    from app.migrate import current_revision, upgrade_to_head
    from app.startup import FreshDatabase, fresh_message, refuse_fresh_sqlite, where_note

    settings = get_settings()
    if note := where_note(settings):
        _err(note)
    if read_only:
        try:
            refuse_fresh_sqlite(settings)
        except FreshDatabase as exc:
            _err(str(exc))
            raise typer.Exit(2) from exc

    async def main() -> T:
        engine = make_engine(settings)
        try:
            if read_only and await current_revision(engine) is None:
                raise FreshDatabase(fresh_message(settings))
            if migrate:
                await upgrade_to_head(engine)
            async with session_scope(make_sessionmaker(engine)) as session:
                return await coro_fn(settings, session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except ApiError as exc:
        _err(f"error: {exc.detail}")
        raise typer.Exit(2) from exc
    except FreshDatabase as exc:
        _err(str(exc))
        raise typer.Exit(2) from exc


@asynccontextmanager
async def offline_hub(settings: Settings) -> AsyncIterator[ConnectorHub]:
    """Connectors for a command's checks; HTTP pools only if one of them sends a request."""
    from app.platforms import ConnectorHub, make_http_client

    async with make_http_client(settings, deferred=True) as client:
        yield ConnectorHub(settings, client)


@app.command()
def serve(
    no_scheduler: Annotated[bool, typer.Option("--no-scheduler", help="HTTP only; workers publish")] = False,
    host: Annotated[str | None, typer.Option(help="listen address (SMM_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="listen port (SMM_PORT)")] = None,
) -> None:
    """HTTP API + web pages + the scheduler, in one process. Applies migrations at start."""
    import uvicorn

    from app.config import get_settings
    from app.logs import setup_logging
    from app.main import create_app

    settings = get_settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    setup_logging(settings.log_level, settings.log_format)
    _refuse_bad_configuration(settings)
    uvicorn.run(
        create_app(settings, run_scheduler=not no_scheduler),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn logs through the root handler of setup_logging (one format, one redaction)
        timeout_graceful_shutdown=int(settings.shutdown_grace) + 5,
    )


def _refuse_bad_configuration(settings: Settings, *, bootstrap: bool = True) -> None:
    """Settings the service cannot start with end the command with their sentence (exit 2), not a traceback."""
    from app.security import ConfigError, load_secret_key
    from app.workspaces import service as workspaces

    try:
        if bootstrap:
            workspaces.check_bootstrap_key(settings.bootstrap_api_key)
        load_secret_key(settings)
    except ConfigError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2) from exc


@app.command()
def worker() -> None:
    """The scheduler/publisher alone (no HTTP). Any number may run against one PostgreSQL database."""
    from app.config import get_settings
    from app.logs import setup_logging
    from app.worker import run_loop, run_worker

    settings = get_settings()
    setup_logging(settings.log_level, settings.log_format)
    _refuse_bad_configuration(settings, bootstrap=False)  # a worker never signs anyone in
    run_loop(run_worker(settings))


@app.command()
def migrate(
    check: Annotated[bool, typer.Option("--check", help="only say whether the schema is at head (exit 1 if not)")]
    = False,
) -> None:
    """Apply the database migrations and exit (``--check``: change nothing, say where the schema is)."""
    from app.config import get_settings
    from app.db import make_engine
    from app.migrate import current_revision, head_revision, upgrade_to_head

    settings = get_settings()

    async def main() -> tuple[str | None, str | None]:
        engine = make_engine(settings)
        try:
            if not check:
                await upgrade_to_head(engine)
            return await current_revision(engine), head_revision()
        finally:
            await engine.dispose()

    current, head = asyncio.run(main())
    if current == head:
        _err(f"database is at the latest schema ({head})")
        return
    _err(f"database schema is at {current or 'nothing (never migrated)'}, this version needs {head}: "
         "run `smm migrate` (or start `smm serve`, which migrates first)")
    raise typer.Exit(1)


secret_key_app = typer.Typer(help="Print a new Fernet key for SMM_SECRET_KEY; `rotate` moves credentials to one.",
                             invoke_without_command=True)
app.add_typer(secret_key_app, name="secret-key")


@secret_key_app.callback()
def secret_key(ctx: typer.Context) -> None:
    """Print a new Fernet key for SMM_SECRET_KEY (alone on stdout)."""
    if ctx.invoked_subcommand is None:
        from app.security import new_secret_key

        typer.echo(new_secret_key())


@secret_key_app.command("rotate")
def secret_key_rotate(
    old_key: Annotated[str, typer.Option(
        "--old-key", envvar="SMM_OLD_SECRET_KEY", prompt="Old secret key", hide_input=True,
        help="the key the credentials are sealed with now (asked for if not given; never echoed)")],
    new_key: Annotated[str, typer.Option(
        "--new-key", envvar="SMM_NEW_SECRET_KEY", prompt="New secret key", hide_input=True,
        confirmation_prompt=True, help="the key to seal them with (`smm secret-key` prints one)")],
    force: Annotated[bool, typer.Option("--force", help="rotate although a service process looks alive")] = False,
) -> None:
    """Re-encrypt every stored channel credential from the old key to the new one, in one transaction.

    Stop the service first; start it again with SMM_SECRET_KEY set to the new key."""
    from app.channels.service import reseal_all
    from app.config import get_settings
    from app.security import CredentialBox, SecretKeyError, checked_secret_key

    try:
        old = checked_secret_key(old_key, "the old key")
        new = checked_secret_key(new_key, "the new key")
    except SecretKeyError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2) from exc
    if old == new:
        _err("error: the old and the new key are the same; `smm secret-key` prints a new one.")
        raise typer.Exit(2)

    async def work(_: Settings, session: AsyncSession) -> int:
        if not force:
            await _refuse_while_running(session)
        return await reseal_all(session, CredentialBox(old), CredentialBox(new))

    count = run(work)
    settings = get_settings()
    key_file = settings.data_dir / "secret.key"
    if not settings.secret_key and key_file.exists() and key_file.read_text().strip() == old:
        key_file.write_text(new + "\n")  # the service reads this file when SMM_SECRET_KEY is unset
        _err(f"re-encrypted {count} channel credentials; {key_file} now holds the new key")
    else:
        _err(f"re-encrypted {count} channel credentials; start the service with SMM_SECRET_KEY set to the new key")


async def _refuse_while_running(session: AsyncSession) -> None:
    """A running process keeps sealing with the old key (and cannot open what was moved): stop them first."""
    from datetime import timedelta

    from sqlalchemy import select

    from app.errors import ApiError
    from app.models import Worker
    from app.timeutil import utcnow

    since = utcnow() - timedelta(minutes=1)
    stmt = select(Worker).where(Worker.heartbeat_at >= since, Worker.stopped_at.is_(None))
    alive = list((await session.execute(stmt)).scalars())
    if alive:
        names = ", ".join(f"{w.kind} on {w.hostname} (pid {w.pid})" for w in alive[:5])
        raise ApiError(409, f"{len(alive)} service process(es) are running ({names}); stop every `smm serve` and "
                            "`smm worker` first, then rotate (a process seen in the last minute counts as "
                            "running; --force skips this check). Nothing was changed.")


@keys_app.command("create")
def keys_create(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    name: Annotated[str | None, typer.Option(help="a label")] = None,
) -> None:
    """Create a key (and the workspace if needed); prints the key alone on stdout."""
    from app.workspaces import service as workspaces

    async def work(_: Settings, session: AsyncSession) -> tuple[str, str]:
        ws = await workspaces.ensure_workspace(session, workspace)
        key, record = await workspaces.add_key(session, ws, name=name)
        return key, record.id

    key, key_id = run(work)
    _err(f"created key {key_id} for workspace '{workspace}' (shown once)")
    typer.echo(key)


@keys_app.command("list")
def keys_list(as_json: JsonOpt = False) -> None:
    """List keys (id, workspace, prefix, state); never the keys themselves."""
    from app.workspaces import service as workspaces

    async def work(_: Settings, session: AsyncSession) -> list[dict[str, Any]]:
        return [
            {
                "id": k.id,
                "workspace": ws,
                "prefix": k.prefix,
                "name": k.name,
                "created_at": k.created_at.isoformat(),
                "revoked": k.revoked_at is not None,
            }
            for k, ws in await workspaces.list_keys(session)
        ]

    rows = run(work, read_only=True)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        state = "revoked" if r["revoked"] else "active"
        typer.echo(f"{r['id']}  {r['workspace']:<20} {r['prefix']}…  {state:<8} {r['name'] or ''}")


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its id (or its prefix)."""
    from app.workspaces import service as workspaces

    async def work(_: Settings, session: AsyncSession) -> bool:
        return await workspaces.revoke(session, key_id)

    if not run(work):
        _err(f"no key with id {key_id}")
        raise typer.Exit(1)
    _err(f"revoked {key_id}")


async def _workspace(session: AsyncSession, name: str) -> Any:
    from app.workspaces.service import ensure_workspace

    return await ensure_workspace(session, name)


@channels_app.command("list")
def channels_list(workspace: WorkspaceOpt = DEFAULT_WORKSPACE, as_json: JsonOpt = False) -> None:
    """List the workspace's channels."""
    from app.channels import repository as channel_repo
    from app.channels.service import to_out

    async def work(_: Settings, session: AsyncSession) -> list[dict[str, Any]]:
        ws = await _workspace(session, workspace)
        return [to_out(c).model_dump(mode="json") for c in await channel_repo.list_all(session, ws.id)]

    rows = run(work, read_only=True)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        _err("no channels yet")
    for r in rows:
        typer.echo(f"{r['id']}  {r['platform']:<9} {r['status']:<12} {r['timezone']:<18} {r['name']}")


@posts_app.command("list")
def posts_list(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    start: Annotated[str | None, typer.Option(help="from (RFC 3339 or YYYY-MM-DD)")] = None,
    end: Annotated[str | None, typer.Option(help="until, exclusive")] = None,
    channel: Annotated[str | None, typer.Option(help="channel id")] = None,
    status: Annotated[str | None, typer.Option(help="target status")] = None,
    limit: int = 100,
    as_json: JsonOpt = False,
) -> None:
    """List posts in calendar order."""
    from app.posts import repository as post_repo
    from app.posts import service as post_service
    from app.posts.endpoints import _bound

    async def work(_: Settings, session: AsyncSession) -> list[dict[str, Any]]:
        ws = await _workspace(session, workspace)
        rows = await post_repo.list_page(
            session,
            ws.id,
            start=_bound(start, "start", ws.timezone),
            end=_bound(end, "end", ws.timezone),
            channel_id=channel,
            status=status,
            after=None,
            limit=limit,
        )
        return [p.model_dump(mode="json") for p in await post_service.to_out_many(session, ws, rows)]

    rows = run(work, read_only=True)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        _err("no posts")
    for r in rows:
        when = r["scheduled_at"] or "draft"
        text = (r["text"] or "").replace("\n", " ")
        typer.echo(f"{r['id']}  {when:<26} {r['status']:<20} {text[:60]}")


@posts_app.command("add")
def posts_add(
    channel: Annotated[list[str], typer.Option("--channel", "-c", help="channel id (repeatable)")],
    text: Annotated[str, typer.Option(help="the post's text")] = "",
    at: Annotated[
        str | None, typer.Option(help='RFC 3339, local time with --timezone, "now"; omit for a draft')
    ] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone for a local --at")] = None,
    media: Annotated[list[str] | None, typer.Option(help="photo URL (repeatable)")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Queue a post on one or more channels."""
    from app.posts import service as post_service
    from app.posts.schemas import MediaIn, PostCreate

    async def work(settings: Settings, session: AsyncSession) -> dict[str, Any]:
        ws = await _workspace(session, workspace)
        data = PostCreate(
            text=text,
            channel_ids=channel,
            scheduled_at=at,
            timezone=timezone,
            media=[MediaIn(url=u) for u in media or []],
        )
        async with offline_hub(settings) as hub:
            post = await post_service.create(session, ws, data, hub, settings)
        return (await post_service.to_out(session, ws, post)).model_dump(mode="json")

    out = run(work)
    if as_json:
        typer.echo(json.dumps(out, indent=2))
    else:
        typer.echo(f"{out['id']}  {out['status']}  {out['scheduled_at'] or 'draft'}")


publishing_cli.register(app)
analytics_cli.register(app)
workspace_cli.register(app)
plan_cli.register(app)
goals_cli.register(app)  # smm goals list|add|remove (services imported inside the commands)
links_cli.register(app)  # smm clicks, smm spend add|list|remove


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        # the interpreter's last garbage collection walks every object the ~1000 modules made: 0.2-0.4 s of a
        # command's wall time after its work is done; frozen objects are skipped (exit, atexit and flushing as usual)
        gc.freeze()


if __name__ == "__main__":
    main()
