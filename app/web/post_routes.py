"""A post's page: what was published where, every attempt, and edit / retry / cancel (undo) / delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import repository as channel_repo
from app.db import SessionDep
from app.errors import ApiError
from app.models.statuses import CANCELLABLE, RETRYABLE, TargetStatus
from app.posts import repository as post_repo
from app.posts import service as post_service
from app.posts import undo
from app.posts.schemas import PostRestore, PostUpdate
from app.timeutil import utcnow
from app.web.compose_routes import _attach_upload, _compose_page
from app.web.insights import chosen_slot_reason
from app.web.plan_post import post_plan_context
from app.web.plan_view import rubric_class, rubric_classes, zone_of
from app.web.post_edit import EDITABLE, local_input, outcome_notice, state_from_post, summary, to_update
from app.web.post_form import field_errors, read_form, uploaded_file, zone_options
from app.web.render import redirect, render
from app.web.session import CsrfUserDep, UserDep, WebUser

router = APIRouter(include_in_schema=False)


def _message(exc: ApiError) -> str:
    if exc.errors and exc.status == 422:
        return "; ".join(str(e.get("message", "")) for e in exc.errors) or exc.detail
    return exc.detail


async def _post_page(
    request: Request, session: AsyncSession, user: WebUser, post_id: str, *, error: str = "",
    status_code: int = 200, reschedule: dict[str, str] | None = None, confirm: str = "",
    restore: dict[str, str] | None = None,
) -> Response:
    workspace = user.workspace
    post = await post_service.get(session, workspace, post_id)
    out = await post_service.to_out(session, workspace, post)
    ids = [t.channel_id for t in out.targets]
    channels = await channel_repo.get_many(session, workspace.id, ids)
    attempts = await post_repo.attempts_of(session, post.id)
    statuses = {t.status for t in out.targets}
    zone = post.timezone or zone_of(workspace)
    done = request.query_params.get("done", "")
    reason: dict[str, Any] | None = None
    if done == "auto" and out.scheduled_at is not None and ids and ids[0] in channels:
        reason = await chosen_slot_reason(session, workspace, channels[ids[0]], out.scheduled_at)
    local_value = local_input(out.scheduled_at, zone) if out.scheduled_at is not None else ""
    draft_zone = zone  # a draft's time is typed on its first channel's clock, as on the compose page
    if post.timezone is None and out.scheduled_at is None and ids and ids[0] in channels:
        draft_zone = channels[ids[0]].timezone
    can_restore = bool(undo.restorable(out.targets)) and TargetStatus.PUBLISHING not in statuses
    time_passed = out.scheduled_at is not None and out.scheduled_at < utcnow()
    return render(request, "post.html", {
        "post": out, "channels": channels, "attempts": attempts, "zone": zone,
        "rubric_class": rubric_class(out.rubric, await rubric_classes(session, workspace.id)),
        "notice": outcome_notice(done, out, zone), "error": error,
        "reason": reason, "summary": summary(out), "confirm": confirm,
        "can_retry": bool(statuses & set(RETRYABLE)),
        "can_cancel": TargetStatus.PUBLISHING not in statuses and bool(statuses & set(CANCELLABLE)),
        "can_reschedule": bool(statuses) and statuses <= {TargetStatus.DRAFT, TargetStatus.SCHEDULED},
        "can_edit": bool(statuses) and statuses <= EDITABLE,
        "can_delete": bool(statuses) and statuses <= set(undo.DELETABLE) and post.series_id is None,
        "can_restore": can_restore, "restore_needs_time": can_restore and time_passed,
        "restore": restore or {"when": "at" if out.scheduled_at else "draft", "local_time": local_value,
                               "timezone": zone},
        "reschedule": reschedule or {"local_time": local_value, "timezone": draft_zone},
        "zones": zone_options(),
        **await post_plan_context(session, workspace, post, out, channels, request.app.state.settings),
    }, user=user, status_code=status_code)


async def _page_or_missing(request: Request, session: AsyncSession, user: WebUser, post_id: str,
                           **kwargs: Any) -> Response:
    try:
        return await _post_page(request, session, user, post_id, **kwargs)
    except ApiError as exc:
        return render(request, "error.html", {"title": "Post not found", "message": exc.detail}, user=user,
                      status_code=exc.status)


@router.get("/posts/{post_id}")
async def post_page(post_id: str, request: Request, session: SessionDep, user: UserDep) -> Response:
    """The post with each channel's status, link and attempts."""
    return await _page_or_missing(request, session, user, post_id)


async def _refused(request: Request, session: AsyncSession, user: WebUser, post_id: str, exc: ApiError,
                   **kwargs: Any) -> Response:
    """The post page again with what was refused, nothing of the refused change kept."""
    await session.rollback()  # the service may have touched the post before refusing
    await session.refresh(user.workspace)
    return await _page_or_missing(request, session, user, post_id, error=_message(exc), status_code=exc.status,
                                  **kwargs)


async def _act(request: Request, session: AsyncSession, user: WebUser, post_id: str, action: str,
               reschedule: dict[str, str] | None = None) -> Response:
    workspace = user.workspace
    try:
        if action == "retry":
            await post_service.retry(session, workspace, post_id)
        elif action == "cancel":
            await post_service.cancel(session, workspace, post_id)
        else:
            if not (reschedule or {}).get("local_time"):
                raise ApiError(422, "Pick a date and time.", [{"field": "scheduled_at",
                                                              "message": "Pick a date and time."}])
            data = PostUpdate(scheduled_at=(reschedule or {}).get("local_time") or None,
                              timezone=(reschedule or {}).get("timezone") or None)
            settings = request.app.state.settings
            await post_service.update(session, workspace, post_id, data, request.app.state.hub,
                                      public_base=settings.effective_public_base_url, media_dir=settings.media_dir)
    except ApiError as exc:
        return await _refused(request, session, user, post_id, exc, reschedule=reschedule)
    await session.commit()
    done = {"retry": "retried", "cancel": "cancelled"}.get(action, "rescheduled")
    return redirect(f"/posts/{post_id}?done={done}")


@router.post("/posts/{post_id}/retry")
async def retry_post(post_id: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Send the failed / needs-check targets again (a person's decision)."""
    return await _act(request, session, user, post_id, "retry")


@router.get("/posts/{post_id}/cancel")
async def confirm_cancel(post_id: str, request: Request, session: SessionDep, user: UserDep) -> Response:
    """The confirmation step of "Cancel post" (works without JavaScript; with it a dialog asks instead)."""
    return await _page_or_missing(request, session, user, post_id, confirm="cancel")


@router.post("/posts/{post_id}/cancel")
async def cancel_post(post_id: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Cancel what has not been published yet (the confirmed step; it can be undone while nothing was sent)."""
    return await _act(request, session, user, post_id, "cancel")


@router.post("/posts/{post_id}/restore")
async def restore_post(post_id: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Undo a cancel: back to scheduled at the post's time (or the time given here), or to a draft."""
    form = await request.form()
    values = {k: str(form.get(k) or "").strip()[:64] for k in ("when", "local_time", "timezone")}
    try:
        if values["when"] == "draft":
            data = PostRestore(scheduled_at=None)
        elif values["when"] == "at":
            if not values["local_time"]:
                raise ApiError(422, "Pick a date and time.", [{"field": "scheduled_at",
                                                              "message": "Pick a date and time."}])
            data = PostRestore(scheduled_at=values["local_time"], timezone=values["timezone"] or None)
        else:  # "keep": the post's own time
            data = PostRestore()
        await undo.restore(session, user.workspace, post_id, data)
    except ApiError as exc:
        return await _refused(request, session, user, post_id, exc, restore=values)
    await session.commit()
    return redirect(f"/posts/{post_id}?done=restored")


@router.post("/posts/{post_id}/reschedule")
async def reschedule_post(post_id: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Move the post to another wall-clock time in the chosen zone (DST gaps and folds are refused)."""
    form = await request.form()
    values = {k: str(form.get(k) or "").strip()[:64] for k in ("local_time", "timezone")}
    return await _act(request, session, user, post_id, "reschedule", values)


@router.post("/posts/{post_id}/send")
async def send_draft(post_id: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """A draft (or any unsent post) to "publish now" or the best free slot, in one click from its page."""
    form = await request.form()
    when = str(form.get("when") or "")
    settings = request.app.state.settings
    try:
        if when not in ("now", "auto"):
            raise ApiError(422, "Choose Publish now or Put in the best slot.")
        await post_service.update(session, user.workspace, post_id, PostUpdate(scheduled_at=when),
                                  request.app.state.hub, public_base=settings.effective_public_base_url,
                                  media_dir=settings.media_dir, spacing=settings.min_post_spacing)
    except ApiError as exc:
        return await _refused(request, session, user, post_id, exc)
    await session.commit()
    return redirect(f"/posts/{post_id}?done={when}")


@router.get("/posts/{post_id}/delete")
async def confirm_delete(post_id: str, request: Request, session: SessionDep, user: UserDep) -> Response:
    """The confirmation step of "Delete post"."""
    return await _page_or_missing(request, session, user, post_id, confirm="delete")


@router.post("/posts/{post_id}/delete")
async def delete_post(post_id: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Delete the post and its history (while nothing of it was published or is being sent)."""
    try:
        await undo.delete_post(session, user.workspace, post_id)
    except ApiError as exc:
        return await _refused(request, session, user, post_id, exc)
    await session.commit()
    return redirect(f"/posts/{post_id}/deleted")


@router.get("/posts/{post_id}/deleted")
async def deleted_page(post_id: str, request: Request, user: UserDep) -> Response:
    """Where a delete lands: says what happened and where to go next."""
    return render(request, "post_deleted.html", {}, user=user)


@router.get("/posts/{post_id}/edit")
async def edit_page(post_id: str, request: Request, session: SessionDep, user: UserDep) -> Response:
    """The compose form filled with the post, while nothing of it is being sent."""
    workspace = user.workspace
    try:
        out = await post_service.to_out(session, workspace, await post_service.get(session, workspace, post_id))
    except ApiError as exc:
        return render(request, "error.html", {"title": "Post not found", "message": exc.detail}, user=user,
                      status_code=exc.status)
    if not {t.status for t in out.targets} <= EDITABLE:
        return redirect(f"/posts/{post_id}")  # the post page says why (its Edit button is gone)
    return await _compose_page(request, session, user, state_from_post(out, zone_of(workspace)))


@router.post("/posts/{post_id}/edit")
async def save_edit(post_id: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Save the edited post through the posts service (its checks and 409 rules); a refusal shows the form again
    with the messages beside the fields."""
    form = await request.form()
    state = read_form(form)
    state.post_id = post_id
    workspace, settings = user.workspace, request.app.state.settings
    try:
        out = await post_service.to_out(session, workspace, await post_service.get(session, workspace, post_id))
    except ApiError as exc:
        return render(request, "error.html", {"title": "Post not found", "message": exc.detail}, user=user,
                      status_code=exc.status)
    try:
        if uploaded_file(form) is not None:  # kept even when the edit is refused: the form shows it again
            await _attach_upload(request, session, user, state, form)
            await session.commit()
            await session.refresh(workspace)
        channels = list((await channel_repo.get_many(session, workspace.id, state.channel_ids)).values())
        data = to_update(state, out, channels, zone_of(workspace))
        await post_service.update(session, workspace, post_id, data, request.app.state.hub,
                                  public_base=settings.effective_public_base_url, media_dir=settings.media_dir,
                                  spacing=settings.min_post_spacing)
    except ApiError as exc:
        await session.rollback()  # nothing of the refused edit is kept
        await session.refresh(workspace)
        errors = field_errors(exc, state)
        if exc.status == 409:
            errors = {"_form": [exc.detail]}
        return await _compose_page(request, session, user, state, errors,
                                   status_code=exc.status if exc.status >= 400 else 422)
    await session.commit()
    done = {"now": "now", "auto": "auto"}.get(state.when, "saved")
    return redirect(f"/posts/{post_id}?done={done}")
