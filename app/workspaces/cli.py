"""`smm workspace show|set`: the workspace's settings from the command line (same rules as the API)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import Invalid
from app.workspaces import service

workspace_app = typer.Typer(help="Workspace settings (time zone, country, spacing, rubric mix).", no_args_is_help=True)
WorkspaceOpt = Annotated[str, typer.Option("--workspace", "-w", help="workspace name")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def parse_mix(text: str) -> dict[str, float]:
    """``"News=0.4, Fun=0.3"`` → ``{"News": 0.4, "Fun": 0.3}``; ``""`` clears the mix."""
    mix: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, eq, share = part.rpartition("=")
        try:
            if not eq or not name.strip():
                raise ValueError
            mix[name.strip()] = float(share.strip().removesuffix("%")) / (100 if share.strip().endswith("%") else 1)
        except ValueError:
            raise Invalid("--mix", f"'{part}' is not NAME=SHARE (e.g. News=0.4 or News=40%)") from None
    return mix


def _lines(out: dict[str, Any]) -> list[str]:
    mix = ", ".join(f"{k}={v:g}" for k, v in out["rubric_mix"].items()) or "(none)"
    spacing = out["default_spacing_minutes"]
    return [f"workspace  {out['name']} ({out['id']})", f"timezone   {out['timezone']}",
            f"country    {out['country'] or '(none: no public holidays)'}",
            f"spacing    {f'{spacing} min' if spacing else '(none)'}", f"mix        {mix}",
            f"ical_url   {out['ical_url']}"]


def _echo(out: dict[str, Any], as_json: bool) -> None:
    typer.echo(json.dumps(out, indent=2) if as_json else "\n".join(_lines(out)))


@workspace_app.command("show")
def show(workspace: WorkspaceOpt = service.DEFAULT_WORKSPACE, as_json: JsonOpt = False) -> None:
    """Print the workspace's settings (and its iCalendar feed URL)."""
    from app.cli import run

    async def work(settings: Settings, session: AsyncSession) -> dict[str, Any]:
        ws = await service.ensure_workspace(session, workspace)
        return await service.settings_of(session, ws, settings.effective_public_base_url)

    _echo(run(work, read_only=True), as_json)


@workspace_app.command("set")
def set_(
    timezone: Annotated[str | None, typer.Option(help="IANA zone, e.g. Europe/Berlin")] = None,
    country: Annotated[str | None, typer.Option(help="ISO 3166 alpha-2 (public holidays); '' clears it")] = None,
    spacing: Annotated[int | None, typer.Option(min=0, help="default minutes between a channel's posts; 0 clears")]
    = None,
    mix: Annotated[str | None, typer.Option(help="the whole target mix: 'News=0.4,Fun=30%'; '' clears it")] = None,
    workspace: WorkspaceOpt = service.DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Change settings; the others stay. Exit 2 with the reason when one is refused (then nothing changes)."""
    from app.cli import run

    fields: dict[str, Any] = {}
    if timezone is not None:
        fields["timezone"] = timezone
    if country is not None:
        fields["country"] = country
    if spacing is not None:
        fields["default_spacing_minutes"] = spacing
    if not fields and mix is None:
        typer.echo("nothing to change: give --timezone, --country, --spacing or --mix", err=True)
        raise typer.Exit(2)

    async def work(settings: Settings, session: AsyncSession) -> dict[str, Any]:
        if mix is not None:
            fields["rubric_mix"] = parse_mix(mix)
        ws = await service.ensure_workspace(session, workspace)
        await service.update_settings(session, ws, fields)
        return await service.settings_of(session, ws, settings.effective_public_base_url)

    _echo(run(work), as_json)


def register(app: typer.Typer) -> None:
    """Add the ``workspace`` command group to the ``smm`` command."""
    app.add_typer(workspace_app, name="workspace")
