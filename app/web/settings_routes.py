"""The settings page: time zone, country, spacing, rubrics (colours and target mix), significant dates, iCal feed."""

from __future__ import annotations

from typing import Any

import holidays
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.dates import service as date_service
from app.db import SessionDep
from app.errors import ApiError
from app.rubrics import repository as rubric_repo
from app.rubrics import service as rubric_service
from app.web.post_form import zone_options
from app.web.render import redirect, render
from app.web.session import CsrfUserDep, UserDep, WebUser
from app.workspaces import service as workspace_service

router = APIRouter(include_in_schema=False)

NOTICES = {
    "saved": "The settings are saved.",
    "rubric_added": "The rubric is added.",
    "rubric_saved": "The rubric is saved.",
    "rubric_deleted": "The rubric is deleted; its posts have no rubric now.",
    "rotated": "The calendar feed has a new address; the old one no longer works.",
    "date_added": "The date is added.",
    "date_deleted": "The date is deleted.",
}


def _countries() -> list[str]:
    return sorted(c for c in holidays.list_supported_countries() if len(c) == 2)


async def settings_page_response(
    request: Request, session: AsyncSession, user: WebUser, *, errors: dict[str, list[str]] | None = None,
    values: dict[str, Any] | None = None, status_code: int = 200, extra: dict[str, Any] | None = None,
) -> Response:
    """The page itself (also after a refused form, with ``errors`` beside the fields and the values typed)."""
    workspace = user.workspace
    out = await workspace_service.settings_of(session, workspace, request.app.state.settings.effective_public_base_url)
    shown = {"timezone": out["timezone"], "country": out["country"] or "",
             "spacing": str(out["default_spacing_minutes"] or "")}
    shown.update(values or {})
    rubrics = await rubric_repo.list_all(session, workspace.id)
    total = sum(r.target_share or 0 for r in rubrics)
    context = {"settings": out, "values": shown, "errors": errors or {}, "zones": zone_options(),
               "dates": await date_service.list_dates(session, workspace),
               "countries": _countries(), "rubrics": rubrics, "mix_total": total,
               "notice_text": NOTICES.get(request.query_params.get("done", ""), "")}
    context.update(extra or {})
    return render(request, "settings.html", context, user=user, status_code=status_code)


async def _refused(request: Request, session: AsyncSession, user: WebUser, exc: ApiError, key: str,
                   values: dict[str, Any] | None = None) -> Response:
    """Undo what the refused form changed, then show the page with the reason beside ``key``."""
    await session.rollback()
    await session.refresh(user.workspace)
    errors: dict[str, list[str]] = {}
    for err in exc.errors or [{"field": key, "message": exc.detail}]:
        field = str(err.get("field", key)).split(".")[0]
        errors.setdefault(field if field in ("timezone", "country", "spacing") else key, []).append(
            str(err.get("message") or exc.detail))
    return await settings_page_response(request, session, user, errors=errors, values=values, status_code=422)


@router.get("/settings")
async def settings_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    """Workspace settings, rubrics and the calendar feed."""
    return await settings_page_response(request, session, user)


@router.post("/settings")
async def save_settings(request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    form = await request.form()
    values = {k: str(form.get(k) or "").strip()[:100] for k in ("timezone", "country", "spacing")}
    try:
        spacing = int(values["spacing"] or 0)
    except ValueError:
        return await _refused(request, session, user,
                              ApiError(422, "not a number", [{"field": "spacing", "message":
                                       "the spacing is a whole number of minutes (empty or 0: none)"}]),
                              "spacing", values)
    if not 0 <= spacing <= 7 * 24 * 60:
        return await _refused(request, session, user, ApiError(422, "out of range", [
            {"field": "spacing", "message": "the spacing is between 0 and 10080 minutes (a week)"}]), "spacing", values)
    fields: dict[str, object] = {"timezone": values["timezone"] or "UTC", "country": values["country"] or None,
              "default_spacing_minutes": spacing}
    try:
        await workspace_service.update_settings(session, user.workspace, fields)
    except ApiError as exc:
        return await _refused(request, session, user, exc, "_form", values)
    await session.commit()
    return redirect("/settings?done=saved")


def _share(text: str) -> float | None:
    """A share typed in percent ('' → none); ``ValueError`` for text that is not a number."""
    text = text.strip().removesuffix("%").strip()
    return None if not text else float(text) / 100


def _rubric_fields(form: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": str(form.get("name") or "")[:200],
                              "colour": str(form.get("colour") or "").strip()[:20] or None}
    try:
        fields["target_share"] = _share(str(form.get("target_share") or "")[:20])
    except ValueError:
        raise ApiError(422, "not a number", [{"field": "rubric", "message":
                       "the target share is a percentage, e.g. 30 (empty: no target)"}]) from None
    return fields


@router.post("/settings/rubrics")
async def add_rubric(request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    form = await request.form()
    try:
        fields = _rubric_fields(form)
        await rubric_service.create(session, user.workspace, fields["name"], fields["colour"], fields["target_share"])
    except ApiError as exc:
        return await _refused(request, session, user, exc, "rubric")
    await session.commit()
    return redirect("/settings?done=rubric_added#rubrics")


@router.post("/settings/rubrics/{rubric_id}")
async def save_rubric(rubric_id: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    form = await request.form()
    try:
        await rubric_service.update(session, user.workspace, rubric_id, _rubric_fields(form))
    except ApiError as exc:
        return await _refused(request, session, user, exc, "rubric")
    await session.commit()
    return redirect("/settings?done=rubric_saved#rubrics")


@router.post("/settings/rubrics/{rubric_id}/delete")
async def delete_rubric(rubric_id: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    try:
        await rubric_service.delete(session, user.workspace, rubric_id)
    except ApiError as exc:
        return await _refused(request, session, user, exc, "rubric")
    await session.commit()
    return redirect("/settings?done=rubric_deleted#rubrics")


@router.post("/settings/dates")
async def add_date(request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    form = await request.form()
    try:
        await date_service.add_date(session, user.workspace, str(form.get("date") or "")[:100],
                                    str(form.get("name") or "")[:400], form.get("yearly") == "on")
    except ApiError as exc:
        return await _refused(request, session, user, exc, "dates")
    await session.commit()
    return redirect("/settings?done=date_added#dates")


@router.post("/settings/dates/{date_id}/delete")
async def delete_date(date_id: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    try:
        await date_service.delete_date(session, user.workspace, date_id)
    except ApiError as exc:
        return await _refused(request, session, user, exc, "dates")
    await session.commit()
    return redirect("/settings?done=date_deleted#dates")


@router.post("/settings/ical/rotate")
async def rotate_ical(request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    await workspace_service.rotate_ical(session, user.workspace)
    await session.commit()
    return redirect("/settings?done=rotated#ical")


@router.get("/ui/rubrics.css")
async def rubric_styles(session: SessionDep, user: UserDep) -> Response:
    """The workspace's rubric colours as classes (``.rb-<id>``): the CSP allows no inline styles. Colours are
    stored as ``#rrggbb`` only, so nothing else can reach the stylesheet."""
    from app.web.plan_view import rubric_css_class

    lines = [f".{rubric_css_class(r.id)} {{ --r: {r.colour}; }}"
             for r in await rubric_repo.list_all(session, user.workspace.id)]
    return Response("\n".join(lines) + "\n", media_type="text/css", headers={"Cache-Control": "no-cache"})
