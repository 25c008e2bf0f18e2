"""Pages of the content plan's measuring side: the plan-checks and links form of the settings page (and /goals)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.db import SessionDep
from app.errors import ApiError
from app.web.render import redirect
from app.web.session import CsrfUserDep
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
