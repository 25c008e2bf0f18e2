"""``smm status``: the publisher's counts and live workers, for people (and ``--json`` for scripts)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings


def register(app: typer.Typer) -> None:
    @app.command()
    def status(
        workspace: Annotated[str, typer.Option("--workspace", "-w", help="workspace name")] = "default",
        as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    ) -> None:
        """Due, in-flight, late, failed and needs_check counts, and the workers' heartbeats."""
        from app.cli import run
        from app.publishing.endpoints import StatusOut, publisher_status
        from app.workspaces.service import ensure_workspace

        async def work(_: Settings, session: AsyncSession) -> StatusOut:
            ws = await ensure_workspace(session, workspace)
            return await publisher_status(session, ws.id)

        out = run(work)
        if as_json:
            typer.echo(json.dumps(out.model_dump(mode="json"), indent=2))
            return
        for name, value in out.counts.items():
            typer.echo(f"{name:<12} {value}")
        typer.echo(f"workers      {len(out.workers)}")
        for w in out.workers:
            age = (out.now - w.heartbeat_at).total_seconds()
            typer.echo(f"  {w.kind:<7} {w.id}  heartbeat {age:.0f} s ago")
