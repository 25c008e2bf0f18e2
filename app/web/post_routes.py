"""A post's page: what was published where, every attempt, and retry / cancel / reschedule."""

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
from app.posts.schemas import PostUpdate
from app.timeutil import get_zone
from app.web.insights import chosen_slot_reason
from app.web.plan_post import post_plan_context
from app.web.plan_view import rubric_class, rubric_classes, zone_of
from app.web.post_form import zone_options
from app.web.render import redirect, render
from app.web.session import CsrfUserDep, UserDep, WebUser

router = APIRouter(include_in_schema=False)

NOTICES = {
    "created": "The post is queued.",
    "auto": "The post is queued at the best free slot.",
    "retried": "Sending again now.",
    "cancelled": "The post is cancelled.",
    "rescheduled": "The post has a new time.",
}


async def _post_page(
    request: Request, session: AsyncSession, user: WebUser, post_id: str, *, error: str = "",
    status_code: int = 200, reschedule: dict[str, str] | None = None,
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
    local_value = ""
    if out.scheduled_at is not None:
        local_value = out.scheduled_at.astimezone(get_zone(zone)).strftime("%Y-%m-%dT%H:%M")
    return render(request, "post.html", {
        "post": out, "channels": channels, "attempts": attempts, "zone": zone,
        "rubric_class": rubric_class(out.rubric, await rubric_classes(session, workspace.id)),
        "notice": NOTICES.get(done, ""), "error": error,
        "reason": reason,
        "can_retry": bool(statuses & set(RETRYABLE)),
        "can_cancel": TargetStatus.PUBLISHING not in statuses and bool(statuses & set(CANCELLABLE)),
        "can_reschedule": bool(statuses) and statuses <= {TargetStatus.DRAFT, TargetStatus.SCHEDULED},
        "reschedule": reschedule or {"local_time": local_value, "timezone": zone},
        "zones": zone_options(),
        **await post_plan_context(session, workspace, post, out, channels, request.app.state.settings),
    }, user=user, status_code=status_code)


@router.get("/posts/{post_id}")
async def post_page(post_id: str, request: Request, session: SessionDep, user: UserDep) -> Response:
    """The post with each channel's status, link and attempts."""
    try:
        return await _post_page(request, session, user, post_id)
    except ApiError as exc:
        return render(request, "error.html", {"title": "Post not found", "message": exc.detail}, user=user,
                      status_code=exc.status)


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
        await session.rollback()  # the service may have touched the post before refusing
        await session.refresh(workspace)
        message = exc.detail
        if exc.errors and exc.status == 422:
            message = "; ".join(str(e.get("message", "")) for e in exc.errors) or exc.detail
        try:
            return await _post_page(request, session, user, post_id, error=message, status_code=exc.status,
                                    reschedule=reschedule)
        except ApiError as missing:
            return render(request, "error.html", {"title": "Post not found", "message": missing.detail},
                          user=user, status_code=missing.status)
    await session.commit()
    done = {"retry": "retried", "cancel": "cancelled"}.get(action, "rescheduled")
    return redirect(f"/posts/{post_id}?done={done}")


@router.post("/posts/{post_id}/retry")
async def retry_post(post_id: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Send the failed / needs-check targets again (a person's decision)."""
    return await _act(request, session, user, post_id, "retry")


@router.post("/posts/{post_id}/cancel")
async def cancel_post(post_id: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Cancel what has not been published yet."""
    return await _act(request, session, user, post_id, "cancel")


@router.post("/posts/{post_id}/reschedule")
async def reschedule_post(post_id: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Move the post to another wall-clock time in the chosen zone (DST gaps and folds are refused)."""
    form = await request.form()
    values = {k: str(form.get(k) or "").strip()[:64] for k in ("local_time", "timezone")}
    return await _act(request, session, user, post_id, "reschedule", values)
