"""`smm goals list|add|remove`: goals and their progress from the command line (the service behind /api/v1/goals).

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
goals_app = typer.Typer(help="Goals and KPIs: a metric, a target, a deadline, a channel or all.",
                        no_args_is_help=True)
WorkspaceOpt = Annotated[str, typer.Option("--workspace", "-w", help="workspace name")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
SHARE_METRICS = ("engagement_rate", "published_on_time")


def parse_target(text: str) -> float:
    """``"10000"`` → 10000.0, ``"5%"`` → 0.05 (rates are shares from 0 to 1, as the API takes them)."""
    from app.errors import Invalid

    raw = text.strip().replace(",", ".")
    try:
        return float(raw.removesuffix("%")) / (100 if raw.endswith("%") else 1)
    except ValueError:
        raise Invalid("target", f"'{text[:40]}' is not a number (e.g. 10000, 0.05 or 5%)") from None


def _shown(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.4g}%" if metric in SHARE_METRICS else f"{value:g}"


def _line(g: dict[str, Any]) -> str:
    where = g["channel_id"] or "all channels"
    progress = "-" if g["progress"] is None else f"{g['progress'] * 100:.0f}%"
    name = f"  {g['name']}" if g["name"] else ""
    return (f"{g['id']}  {g['metric']:<17} target {_shown(g['metric'], g['target']):<8} by {g['deadline']}  "
            f"now {_shown(g['metric'], g['current']):<8} projected {_shown(g['metric'], g['projected']):<8} "
            f"{progress:>4} {g['status']:<8} {where}{name}")


def _dumped(goal: dict[str, Any]) -> dict[str, Any]:
    return {**goal, "created_at": goal["created_at"].isoformat()}


@goals_app.command("list")
def goals_list(workspace: WorkspaceOpt = DEFAULT_WORKSPACE, as_json: JsonOpt = False) -> None:
    """Every goal by deadline, with its progress and whether the current pace reaches it."""
    from app.cli import run
    from app.goals import service
    from app.workspaces.service import ensure_workspace

    async def work(_: Settings, session: AsyncSession) -> list[dict[str, Any]]:
        ws = await ensure_workspace(session, workspace)
        return [_dumped(await service.out(session, ws, g)) for g in await service.list_all(session, ws)]

    rows = run(work, read_only=True)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no goals yet (add one: smm goals add --metric followers --target 10000 --deadline YYYY-MM-DD)",
                   err=True)
    for g in rows:
        typer.echo(_line(g))


@goals_app.command("add")
def goals_add(
    metric: Annotated[str, typer.Option(help="followers, posts_per_week, engagement_rate, published_on_time or "
                                             "clicks_per_day")],
    target: Annotated[str, typer.Option(help="the value to reach; a rate as a share or a percent (0.05 or 5%)")],
    deadline: Annotated[str, typer.Option(help="YYYY-MM-DD, after today")],
    channel: Annotated[str | None, typer.Option(help="channel id; omit for all channels")] = None,
    name: Annotated[str | None, typer.Option(help="what the goal is for, e.g. 'Spring launch'")] = None,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Add a goal (the same checks as POST /api/v1/goals); exit 2 with the reason when refused."""
    from app.cli import run
    from app.goals import service
    from app.workspaces.service import ensure_workspace

    async def work(_: Settings, session: AsyncSession) -> dict[str, Any]:
        ws = await ensure_workspace(session, workspace)
        goal = await service.create(session, ws, {"metric": metric, "target": parse_target(target),
                                                  "deadline": deadline, "channel_id": channel, "name": name})
        return _dumped(await service.out(session, ws, goal))

    out = run(work)
    typer.echo(json.dumps(out, indent=2) if as_json else _line(out))


@goals_app.command("remove")
def goals_remove(goal_id: Annotated[str, typer.Argument(help="the goal's id (smm goals list)")],
                 workspace: WorkspaceOpt = DEFAULT_WORKSPACE) -> None:
    """Delete a goal (DELETE /api/v1/goals/{id}); exit 2 when there is no such goal."""
    from app.cli import run
    from app.goals import service
    from app.workspaces.service import ensure_workspace

    async def work(_: Settings, session: AsyncSession) -> None:
        await service.delete(session, await ensure_workspace(session, workspace), goal_id)

    run(work)
    typer.echo(f"removed goal {goal_id}", err=True)


def register(app: typer.Typer) -> None:
    """Add the ``goals`` command group to the ``smm`` command."""
    app.add_typer(goals_app, name="goals")
