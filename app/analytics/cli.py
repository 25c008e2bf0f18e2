"""`smm engagement ...`: engagement history from the command line (same rules and summary as the API)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.cli_options import DEFAULT_WORKSPACE

if TYPE_CHECKING:  # the command imports what it uses when it runs: `smm --help` stays cheap (app/cli.py)
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.config import Settings

engagement_app = typer.Typer(help="Engagement history (the analyzer's input).", no_args_is_help=True)


def _summary_lines(out: dict[str, Any]) -> list[str]:
    lines = [f"imported {out['imported']}, updated {out['updated']}, {out['unchanged']} unchanged, "
             f"skipped {out['skipped']} (of {out['rows']} rows)"]
    if out["ignored_columns"]:
        lines.append(f"ignored columns: {', '.join(out['ignored_columns'])}")
    lines += [f"row {e['row']}: {e['error']}" for e in out["errors"]]
    if out["errors_truncated"]:
        lines.append(f"... and {out['skipped'] - len(out['errors'])} more row errors")
    return lines


@engagement_app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="CSV with a header row: posted_at, likes, comments, shares, views, "
                                              "reach, followers, external_id, kind", exists=True, dir_okay=False)],
    channel: Annotated[str, typer.Option("--channel", "-c", help="channel id")],
    workspace: Annotated[str, typer.Option("--workspace", "-w", help="workspace name")] = DEFAULT_WORKSPACE,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Import a channel's past posts and their numbers; re-importing the same rows never doubles them."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from app.analytics import service
    from app.cli import run
    from app.workspaces import service as workspaces

    data = file.read_bytes()
    with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True, disable=as_json, console=Console(stderr=True)) as bar:
        task = bar.add_task("import", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        async def work(_: Settings, session: AsyncSession) -> dict[str, Any]:
            ws = await workspaces.ensure_workspace(session, workspace)
            return await service.import_csv(session, ws, channel, data, progress=progress)

        out = run(work)
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    for line in _summary_lines(out):
        typer.echo(line)


def register(app: typer.Typer) -> None:
    """Add the ``engagement`` command group to the ``smm`` command."""
    app.add_typer(engagement_app, name="engagement")
