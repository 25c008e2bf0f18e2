"""``smm status``: the publisher's counts and live workers, for people (and ``--json`` for scripts)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # the command imports what it uses when it runs: `smm --help` stays cheap (app/cli.py)
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.config import Settings


def register(app: typer.Typer) -> None:
    @app.command()
    def status(
        workspace: Annotated[str, typer.Option("--workspace", "-w", help="workspace name")] = "default",
        as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    ) -> None:
        """Due, in-flight, late, failed and needs_check counts, and the workers' heartbeats."""
        from app.channels import repository as channel_repo
        from app.cli import run
        from app.connect.lifetimes import warnings_of
        from app.publishing.status import StatusOut, publisher_status
        from app.workspaces.service import ensure_workspace

        async def work(_: Settings, session: AsyncSession) -> tuple[StatusOut, list[dict[str, str]]]:
            ws = await ensure_workspace(session, workspace)
            warned = warnings_of(await channel_repo.list_all(session, ws.id))
            return await publisher_status(session, ws.id), [
                {"channel_id": c.id, "channel": c.name, **w} for c, w in warned]

        out, warnings = run(work, read_only=True)
        if as_json:
            typer.echo(json.dumps({**out.model_dump(mode="json"), "channel_warnings": warnings}, indent=2))
            return
        for name, value in out.counts.items():
            typer.echo(f"{name:<12} {value}")
        typer.echo(f"workers      {len(out.workers)}")
        for w in out.workers:
            age = (out.now - w.heartbeat_at).total_seconds()
            typer.echo(f"  {w.kind:<7} {w.id}  heartbeat {age:.0f} s ago")
        typer.echo(f"warnings     {len(warnings)}")
        for item in warnings:
            typer.echo(f"  {item['channel']} ({item['channel_id']}): {item['code']}: {item['message']}")
