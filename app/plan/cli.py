"""`smm plan import FILE`: check a content plan (CSV or XLSX) by the API's rules; ``--commit`` creates it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.cli_options import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt

if TYPE_CHECKING:  # the command imports what it uses when it runs: `smm --help` stays cheap (app/cli.py)
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.config import Settings

plan_app = typer.Typer(help="The content plan: import from CSV or XLSX.", no_args_is_help=True)


def lines(report: dict[str, Any], committed: bool) -> list[str]:
    """The report as printed: one line per problem and warning, then the summary."""
    out = [f"row {p['row']}, column {p['column'] or '-'}: {p['error']}" for p in report["problems"]]
    out += [f"row {w['row']}, column {w['column']}: warning: {w['message']}" for w in report["warnings"]]
    summary = f"{report['rows']} rows, {report['valid']} valid, {len(report['problems'])} problems"
    if report["problems"]:
        summary += "; nothing created" if committed else ""
    elif committed:
        summary += f"; created {len(report['created'])} posts"
    else:
        summary += "; dry run: run again with --commit to create them"
    return [*out, summary]


def register(app: typer.Typer) -> None:
    from app.cli import _workspace, offline_hub, run

    @plan_app.command("import")
    def plan_import(
        file: Annotated[Path, typer.Argument(help="a .csv (UTF-8) or .xlsx file; the header is row 1",
                                             exists=True, dir_okay=False, readable=True)],
        commit: Annotated[bool, typer.Option("--commit", help="create every row, or none if one has a problem")]
        = False,
        workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
        as_json: JsonOpt = False,
    ) -> None:
        """Check a content plan row by row (a dry run); exit 1 when any row has a problem. With --commit, create
        all its posts in one transaction."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from app.plan import importer

        kind = "xlsx" if file.suffix.lower() == ".xlsx" else "csv"
        data = file.read_bytes()
        console = Console(stderr=True)

        async def work(settings: Settings, session: AsyncSession) -> dict[str, Any]:
            ws = await _workspace(session, workspace)
            with Progress(TextColumn("checking rows"), BarColumn(), MofNCompleteColumn(), console=console,
                          transient=True, disable=as_json) as bar:
                task = bar.add_task("rows", total=None)
                async with offline_hub(settings) as hub:
                    report = await importer.run_import(
                        session, ws, data, kind, hub, settings, commit=commit,
                        progress_total=lambda n: bar.update(task, total=n),
                        progress=lambda n: bar.advance(task, n))
            return report.as_dict()

        out = run(work)
        if as_json:
            typer.echo(json.dumps(out, indent=2))
        else:
            for line in lines(out, commit):
                typer.echo(line)
            for post_id in out["created"]:
                typer.echo(post_id)
        if out["problems"]:
            raise typer.Exit(1)

    app.add_typer(plan_app, name="plan")
