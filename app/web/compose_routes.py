"""Queue a post: the compose form, its submission, and media uploads from the UI (under ``/ui/media``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import repository as channel_repo
from app.db import SessionDep
from app.errors import ApiError
from app.media.endpoints import store_upload
from app.posts import service as post_service
from app.web.plan_view import zone_of
from app.web.post_form import (
    MEDIA_KINDS,
    ComposeState,
    Errors,
    channel_limits,
    field_errors,
    read_form,
    to_create,
    uploaded_file,
    zone_options,
)
from app.web.render import redirect, render
from app.web.session import CsrfUserDep, UserDep, WebUser

router = APIRouter(include_in_schema=False)


async def _compose_page(
    request: Request, session: AsyncSession, user: WebUser, state: ComposeState, errors: Errors | None = None,
    *, status_code: int = 200, notice: str = "",
) -> Response:
    channels = [c for c in await channel_repo.list_all(session, user.workspace.id)
                if c.status != "disabled" or c.id in state.channel_ids]  # an edited post keeps showing its own
    if not state.channel_ids and len(channels) == 1:
        state.channel_ids = [channels[0].id]
    return render(request, "compose.html", {
        "state": state, "errors": errors or {}, "rows": channel_limits(channels, request.app.state.hub),
        "zones": zone_options(), "workspace_zone": zone_of(user.workspace),
        "media_kinds": MEDIA_KINDS, "notice": notice,
    }, user=user, status_code=status_code)


@router.get("/posts/new")
async def compose(request: Request, session: SessionDep, user: UserDep) -> Response:
    """An empty compose form (``?channel=<id>`` pre-selects a channel)."""
    state = ComposeState()
    if channel := request.query_params.get("channel"):
        state.channel_ids = [channel]
    if request.query_params.get("too_large"):  # BodyLimit answers a form over the upload limit with this page
        limit = request.app.state.settings.max_upload_bytes
        message = (f"The file is larger than the upload limit of {limit / (1024 * 1024):g} MB, so nothing was "
                   "sent or saved: pick a smaller file (or give its URL) and fill in the form again.")
        return await _compose_page(request, session, user, state, {"media": [message]}, status_code=413)
    return await _compose_page(request, session, user, state)


async def _attach_upload(request: Request, session: AsyncSession, user: WebUser, state: ComposeState,
                         form: Any) -> None:
    upload = uploaded_file(form)
    if upload is None:
        return
    settings = request.app.state.settings
    record = await store_upload(session, user.workspace, upload,  # type: ignore[arg-type]  # starlette's is fastapi's base
                                settings.media_dir, settings.max_upload_bytes)
    state.media_id, state.media_name, state.media_url = record.id, record.filename, ""
    if record.kind in MEDIA_KINDS:
        state.media_kind = record.kind


@router.post("/posts/new")
async def create_post(request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Create the post through the posts service; a refusal re-shows the form with errors beside fields."""
    form = await request.form()
    state = read_form(form)
    settings = request.app.state.settings
    try:
        await _attach_upload(request, session, user, state, form)
        channels = list((await channel_repo.get_many(session, user.workspace.id, state.channel_ids)).values())
        data = to_create(state, channels, zone_of(user.workspace))
        post = await post_service.create(session, user.workspace, data, request.app.state.hub, settings)
    except ApiError as exc:
        await session.commit()  # nothing of the post was written; an uploaded file is kept for the retry
        return await _compose_page(request, session, user, state, field_errors(exc, state),
                                   status_code=exc.status if exc.status >= 400 else 422)
    post_id = post.id
    await session.commit()
    return redirect(f"/posts/{post_id}?done={'auto' if state.when == 'auto' else 'created'}")


@router.post("/ui/media/upload")
async def upload_media(request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Store the picked file (the larger upload limit applies under ``/ui/media``).

    Browsers with JavaScript get JSON (the form stays on the page); without it, the compose form comes
    back with everything typed so far plus the file's preview.
    """
    form = await request.form()
    state = read_form(form)
    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        if uploaded_file(form) is None:
            raise ApiError(422, "Choose a file to upload.", [{"field": "media", "message": "Choose a file first."}])
        await _attach_upload(request, session, user, state, form)
    except ApiError as exc:
        if wants_json:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status)
        return await _compose_page(request, session, user, state, field_errors(exc, state),
                                   status_code=exc.status)
    await session.commit()
    if wants_json:
        return JSONResponse({"media_id": state.media_id, "media_name": state.media_name,
                             "kind": state.media_kind, "preview": state.media_preview})
    return await _compose_page(request, session, user, state, notice="File uploaded: it will go with the post.")
