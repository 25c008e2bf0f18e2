"""`smm clicks` and `smm spend add|list|remove`: short-link clicks and a channel's spend from the command line
(the services behind /api/v1/clicks and /api/v1/channels/{id}/spend).

Only typer is imported at the top: the services are imported inside the commands, so that ``smm --help`` and the
other commands start without loading them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.config import Settings

DEFAULT_WORKSPACE = "default"  # app.workspaces.service.DEFAULT_WORKSPACE (not imported here: see the docstring)
spend_app = typer.Typer(help="A channel's spend (ads, paid placements): cost per click and per follower.",
                        no_args_is_help=True)
WorkspaceOpt = Annotated[str, typer.Option("--workspace", "-w", help="workspace name")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
StartOpt = Annotated[str | None, typer.Option(help="first day, YYYY-MM-DD (default: 30 days up to --end)")]
EndOpt = Annotated[str | None, typer.Option(help="last day (inclusive), YYYY-MM-DD (default: today)")]


def clicks_lines(body: dict[str, Any], names: dict[str, str]) -> list[str]:
    """The clicks summary as text: the total, then per channel, per post and per day."""
    lines = [f"clicks {body['total']} from {body['start']} to {body['end']}"]
    if not body["total"]:
        return [*lines, "(no clicks in this range; clicks are counted on short links: smm workspace set "
                        "--short-links)"]
    lines.append("by channel")
    lines += [f"  {c['clicks']:>7}  {c['channel_id']}  {names.get(c['channel_id'], '')}" for c in body["by_channel"]]
    lines.append("by post")
    lines += [f"  {p['clicks']:>7}  {p['post_id']}" for p in body["by_post"]]
    lines.append("by day (UTC)")
    lines += [f"  {d['clicks']:>7}  {d['date']}" for d in body["by_day"]]
    return lines


def clicks(
    start: StartOpt = None, end: EndOpt = None,
    post: Annotated[str | None, typer.Option(help="only this post's clicks")] = None,
    channel: Annotated[str | None, typer.Option(help="only this channel's clicks")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE, as_json: JsonOpt = False,
) -> None:
    """Clicks of the short links per channel, post and day (the numbers of GET /api/v1/clicks)."""
    from app.channels import repository as channel_repo
    from app.cli import run
    from app.links import service as links
    from app.links.endpoints import _range
    from app.workspaces.service import ensure_workspace

    async def work(_: Settings, session: AsyncSession) -> tuple[dict[str, Any], dict[str, str]]:
        ws = await ensure_workspace(session, workspace)
        first, last = _range(ws, start, end)
        body = await links.clicks(session, ws, start=first, end=last, post_id=post, channel_id=channel)
        names = {c.id: c.name for c in await channel_repo.list_all(session, ws.id)}
        return {"start": first.isoformat(), "end": last.isoformat(), **body}, names

    body, names = run(work, read_only=True)
    typer.echo(json.dumps(body, indent=2) if as_json else "\n".join(clicks_lines(body, names)))


def _spend_line(row: dict[str, Any]) -> str:
    note = f"  {row['note']}" if row["note"] else ""
    return (f"{row['id']}  {row['channel_id']}  {row['amount']:>12.2f} {row['currency']}  "
            f"{row['start']} .. {row['end']}{note}")


@spend_app.command("add")
def spend_add(
    channel: Annotated[str, typer.Option(help="channel id (smm channels list)")],
    amount: Annotated[float, typer.Option(help="in the currency's units, e.g. 120.50")],
    currency: Annotated[str, typer.Option(help="ISO 4217, e.g. EUR")],
    start: Annotated[str, typer.Option(help="first day of the period, YYYY-MM-DD")],
    end: Annotated[str, typer.Option(help="last day of the period (inclusive), YYYY-MM-DD")],
    note: Annotated[str | None, typer.Option(help="what it was, e.g. 'boosted post'")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE, as_json: JsonOpt = False,
) -> None:
    """Record money spent on a channel over a period (POST /api/v1/channels/{id}/spend); exit 2 when refused."""
    from app.cli import run
    from app.links import costs
    from app.workspaces.service import ensure_workspace

    async def work(_: Settings, session: AsyncSession) -> dict[str, Any]:
        ws = await ensure_workspace(session, workspace)
        return await costs.add(session, ws, channel, amount=amount, currency=currency, start=start, end=end,
                               note=note)

    out = run(work)
    typer.echo(json.dumps(out, indent=2) if as_json else _spend_line(out))


@spend_app.command("list")
def spend_list(
    channel: Annotated[str | None, typer.Option(help="channel id; omit for every channel")] = None,
    start: StartOpt = None, end: EndOpt = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE, as_json: JsonOpt = False,
) -> None:
    """The spend entries (of one channel or all), then per channel in the range: spend, clicks, followers gained,
    cost per click and per follower (GET /api/v1/costs)."""
    from app.channels import repository as channel_repo
    from app.cli import run
    from app.links import costs
    from app.links.endpoints import _range
    from app.workspaces.service import ensure_workspace

    async def work(_: Settings, session: AsyncSession) -> dict[str, Any]:
        ws = await ensure_workspace(session, workspace)
        first, last = _range(ws, start, end)
        ids = [channel] if channel else [c.id for c in await channel_repo.list_all(session, ws.id)]
        items = [row for cid in ids for row in await costs.list_for(session, ws, cid)]
        report = await costs.report(session, ws, first, last)
        if channel:
            report = {**report, "items": [r for r in report["items"] if r["channel_id"] == channel]}
        return {"items": items, "report": report}

    out = run(work, read_only=True)
    if as_json:
        typer.echo(json.dumps(out, indent=2, default=str))
        return
    if not out["items"]:
        typer.echo("no spend recorded (add some: smm spend add --channel ID --amount 60 --currency EUR "
                   "--start YYYY-MM-DD --end YYYY-MM-DD)", err=True)
    for row in out["items"]:
        typer.echo(_spend_line(row))
    for line in report_lines(out["report"]):
        typer.echo(line)


def report_lines(report: dict[str, Any]) -> list[str]:
    """Per channel: spend by currency, clicks, followers gained, cost per click and per follower."""
    def cost(value: float | None, currency: str, what: str) -> str:
        return f"{value:.2f} {currency} a {what}" if value is not None else f"no cost a {what} yet"

    lines = [f"costs from {report['start']} to {report['end']}"] if report.get("items") else []
    for r in report.get("items", []):
        gained = r["followers_gained"]
        lines.append(f"  {r['name']} ({r['channel_id']}): {r['clicks']} clicks, "
                     f"{'-' if gained is None else gained} followers gained")
        for s in r.get("spend", []):
            lines.append(f"    spent {s['amount']:.2f} {s['currency']}: {cost(s['per_click'], s['currency'], 'click')}"
                         f", {cost(s['per_follower'], s['currency'], 'follower')}")
    return lines


@spend_app.command("remove")
def spend_remove(
    channel: Annotated[str, typer.Option(help="channel id")],
    spend_id: Annotated[str, typer.Argument(help="the entry's id (smm spend list)")],
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
) -> None:
    """Delete a spend entry (DELETE /api/v1/channels/{id}/spend/{spend_id}); exit 2 when there is no such entry."""
    from app.cli import run
    from app.links import costs
    from app.workspaces.service import ensure_workspace

    async def work(_: Settings, session: AsyncSession) -> None:
        await costs.delete(session, await ensure_workspace(session, workspace), channel, spend_id)

    run(work)
    typer.echo(f"removed spend entry {spend_id}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``smm clicks`` and the ``spend`` command group to the ``smm`` command."""
    app.command("clicks")(clicks)
    app.add_typer(spend_app, name="spend")
