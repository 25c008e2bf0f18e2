"""Pages of the content plan's measuring side: the plan-checks and links form of the settings page (and /goals)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import repository as channel_repo
from app.db import SessionDep
from app.errors import ApiError
from app.goals import service as goal_service
from app.goals.service import GoalMetric
from app.links import costs
from app.timeutil import utcnow
from app.web.render import redirect, render
from app.web.session import CsrfUserDep, UserDep, WebUser
from app.web.settings_routes import settings_page_response
from app.workspaces import service as workspace_service

router = APIRouter(include_in_schema=False)

PLAN_FIELDS = ("max_gap_days", "max_posts_per_day", "duplicate_window_days", "utm_template", "utm_domains")
LIMITS = {"max_gap_days": 365, "max_posts_per_day": 100, "duplicate_window_days": 365}


@router.post("/settings/plan")
async def save_plan_settings(request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """The cadence checks' limits (empty: the default) and the UTM / short-link settings."""
    form = await request.form()
    values = {k: str(form.get(k) or "").strip()[:1000] for k in PLAN_FIELDS}
    values["short_links"] = "on" if form.get("short_links") == "on" else ""
    fields: dict[str, object] = {}
    errors: dict[str, list[str]] = {}
    for name, high in LIMITS.items():
        text = values[name]
        if not text:
            fields[name] = None
        elif text.isdigit() and 1 <= int(text) <= high:
            fields[name] = int(text)
        else:
            errors.setdefault("plan", []).append(
                f"{name.replace('_', ' ').capitalize()}: a whole number from 1 to {high} (empty: the default)")
    fields["utm_template"] = values["utm_template"] or None
    fields["utm_domains"] = [d.strip() for d in values["utm_domains"].replace("\n", ",").split(",") if d.strip()]
    fields["short_links"] = bool(values["short_links"])
    if not errors:
        try:
            await workspace_service.update_settings(session, user.workspace, fields)
        except ApiError as exc:
            errors["plan"] = [str(e.get("message") or exc.detail) for e in exc.errors] or [exc.detail]
    if errors:
        await session.rollback()
        await session.refresh(user.workspace)
        return await settings_page_response(request, session, user, status_code=422,
                                            extra={"plan_errors": errors["plan"], "plan_values": values})
    await session.commit()
    return redirect("/settings?done=saved#plan-checks")


GOAL_NOTICES = {"added": "The goal is added.", "deleted": "The goal is deleted.",
                "spend_added": "The spend is recorded."}


async def _goals_page(request: Request, session: AsyncSession, user: WebUser, *, errors: list[str] | None = None,
                      values: dict[str, str] | None = None, status_code: int = 200,
                      spend_errors: list[str] | None = None) -> Response:
    workspace = user.workspace
    channels = await channel_repo.list_all(session, workspace.id)
    names = {c.id: c.name for c in channels}
    goals = [{**await goal_service.out(session, workspace, g), "channel": names.get(g.channel_id or "", "")}
             for g in await goal_service.list_all(session, workspace)]
    today = utcnow().date()
    report = await costs.report(session, workspace, today - timedelta(days=29), today)
    return render(request, "goals.html", {
        "costs": report, "spend_errors": spend_errors or [],
        "goals": goals, "channels": channels, "metrics": [(m.value, goal_service.LABELS[m]) for m in GoalMetric],
        "shares": [m.value for m in goal_service.SHARES], "errors": errors or [], "values": values or {},
        "notice": GOAL_NOTICES.get(request.query_params.get("done", ""), ""),
    }, user=user, status_code=status_code)


@router.get("/goals")
async def goals_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    """Goals and KPIs: each one's progress, where the current pace leads, and a form to add one."""
    return await _goals_page(request, session, user)


@router.post("/goals")
async def add_goal(request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    form = await request.form()
    values = {k: str(form.get(k) or "").strip()[:200] for k in ("metric", "target", "deadline", "channel_id", "name")}
    try:
        text = values["target"].removesuffix("%").strip()
        try:
            target = float(text.replace(",", "."))
        except ValueError:
            raise ApiError(422, "not a number", [{"field": "target", "message":
                           "the target is a number, e.g. 10000 (or 5% for a share)"}]) from None
        if values["target"].endswith("%"):
            target /= 100
        await goal_service.create(session, user.workspace, {**values, "target": target,
                                                            "channel_id": values["channel_id"] or None})
    except ApiError as exc:
        await session.rollback()
        await session.refresh(user.workspace)
        messages = [str(e.get("message") or exc.detail) for e in exc.errors] or [exc.detail]
        return await _goals_page(request, session, user, errors=messages, values=values, status_code=422)
    await session.commit()
    return redirect("/goals?done=added")


@router.post("/goals/{goal_id}/delete")
async def delete_goal(goal_id: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    try:
        await goal_service.delete(session, user.workspace, goal_id)
    except ApiError as exc:
        return await _goals_page(request, session, user, errors=[exc.detail], status_code=exc.status)
    await session.commit()
    return redirect("/goals?done=deleted")


@router.post("/goals/spend")
async def add_spend(request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Record money spent on a channel (the costs table beside the goals)."""
    form = await request.form()
    values = {k: str(form.get(k) or "").strip()[:500] for k in ("channel_id", "amount", "currency", "start", "end",
                                                                "note")}
    try:
        try:
            amount = float(values["amount"].replace(",", "."))
        except ValueError:
            raise ApiError(422, "not a number", [{"field": "amount", "message":
                           "the amount is a number, e.g. 120.50"}]) from None
        await costs.add(session, user.workspace, values["channel_id"], amount=amount, currency=values["currency"],
                        start=values["start"], end=values["end"], note=values["note"] or None)
    except ApiError as exc:
        await session.rollback()
        await session.refresh(user.workspace)
        messages = [str(e.get("message") or exc.detail) for e in exc.errors] or [exc.detail]
        return await _goals_page(request, session, user, spend_errors=messages, status_code=422)
    await session.commit()
    return redirect("/goals?done=spend_added#costs")
