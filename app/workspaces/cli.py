"""`smm workspace show|set`: the workspace's settings from the command line (same rules as the API)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.cli_options import DEFAULT_WORKSPACE, JsonOpt, WorkspaceOpt
from app.errors import Invalid

if TYPE_CHECKING:  # the commands import what they use when they run: `smm --help` stays cheap (app/cli.py)
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.config import Settings

workspace_app = typer.Typer(help="Workspace settings (time zone, country, spacing, rubric mix).", no_args_is_help=True)


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
            f"ical_url   {out['ical_url']}",
            f"checks     gap over {out['max_gap_days']} days, over {out['max_posts_per_day']} posts a day, repeats "
            f"within {out['duplicate_window_days']} days",
            f"utm        {out['utm_template'] or '(none)'} on {', '.join(out['utm_domains']) or 'every domain'}",
            f"short      {'on' if out['short_links'] else 'off'}"]


def _echo(out: dict[str, Any], as_json: bool) -> None:
    typer.echo(json.dumps(out, indent=2) if as_json else "\n".join(_lines(out)))


@workspace_app.command("show")
def show(workspace: WorkspaceOpt = DEFAULT_WORKSPACE, as_json: JsonOpt = False) -> None:
    """Print the workspace's settings (and its iCalendar feed URL)."""
    from app.cli import run
    from app.workspaces import service

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
    max_gap_days: Annotated[int | None, typer.Option(help="longest gap (days) in a channel's plan; 0: default 7")]
    = None,
    max_posts_per_day: Annotated[int | None, typer.Option(help="most posts of a channel a day; 0: default 3")] = None,
    duplicate_window_days: Annotated[int | None, typer.Option(
        help="days either side in which a nearly identical text is a repeat; 0: default 30")] = None,
    utm_template: Annotated[str | None, typer.Option(
        help="UTM tags, e.g. 'utm_source={platform}&utm_medium=social'; '' clears it")] = None,
    utm_domains: Annotated[str | None, typer.Option(help="domains to tag, comma-separated; '' tags every domain")]
    = None,
    short_links: Annotated[bool | None, typer.Option("--short-links/--no-short-links",
                                                     help="send links as /l/<code> and count their clicks")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Change settings; the others stay. Exit 2 with the reason when one is refused (then nothing changes)."""
    from app.cli import run
    from app.workspaces import service

    fields: dict[str, Any] = {}
    if timezone is not None:
        fields["timezone"] = timezone
    if country is not None:
        fields["country"] = country
    if spacing is not None:
        fields["default_spacing_minutes"] = spacing
    for name, value in (("max_gap_days", max_gap_days), ("max_posts_per_day", max_posts_per_day),
                        ("duplicate_window_days", duplicate_window_days), ("utm_template", utm_template),
                        ("short_links", short_links)):
        if value is not None:
            fields[name] = value
    if utm_domains is not None:
        fields["utm_domains"] = [d.strip() for d in utm_domains.split(",") if d.strip()]
    if not fields and mix is None:
        typer.echo("nothing to change: give --timezone, --country, --spacing, --mix, --max-gap-days, "
                   "--max-posts-per-day, --duplicate-window-days, --utm-template, --utm-domains or --short-links",
                   err=True)
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
