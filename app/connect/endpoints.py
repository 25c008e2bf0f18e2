"""Web routes of the sign-in flows (all need a signed-in session; the callback too — it checks the state against
the session that started it)::

    GET  /connect/{platform}            → 303 to the platform's dialog (or, without app credentials, how to make one);
                                          /connect/instagram?via=page: Instagram through the linked Facebook Page
    GET  /connect/{platform}/callback   ← the dialog's answer: code & state, or error=access_denied
    POST /connect/{platform}/pick       the chosen Pages / communities / accounts become channels (CSRF); for VK,
                                          303 to VK's community dialog (group_ids) whose callback, under a new
                                          state, connects each community with its own community key
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app.connect import service
from app.connect.oauth import FLOWS, SignInError
from app.db import SessionDep
from app.models import Channel
from app.publishing.wakeup import schedule_changed
from app.web.plan_view import zone_of
from app.web.post_form import zone_options
from app.web.render import redirect, render
from app.web.session import CsrfUserDep, UserDep, WebUser

log = logging.getLogger("smm.connect")
router = APIRouter(include_in_schema=False)
NAMES = {"vk": "VK", "facebook": "Facebook", "instagram": "Instagram"}


def _unknown(request: Request, user: WebUser, platform: str) -> Response:
    message = ("Telegram has no sign-in flow for bots: create a bot with @BotFather and paste its token."
               if platform == "telegram" else f"There is no sign-in flow for “{platform[:40]}”.")
    return render(request, "error.html", {"title": "No sign-in for this platform", "message": message}, user=user,
                  status_code=404)


def _problem(request: Request, user: WebUser, platform: str, message: str, status_code: int) -> Response:
    return render(request, "connect/problem.html", {"platform": platform, "name": NAMES[platform],
                                                    "message": message}, user=user, status_code=status_code)


@router.get("/connect/{platform}")
async def connect(platform: str, request: Request, session: SessionDep, user: UserDep) -> Response:
    """Start a sign-in: a state bound to this session, then off to the platform's dialog."""
    if platform not in FLOWS:
        return _unknown(request, user, platform)
    state = request.app.state
    via_page = request.query_params.get("via") == "page"
    flow = service.flow_for(state.settings, state.http, platform, via_page)
    if not flow.configured:
        page_flow = service.flow_for(state.settings, state.http, platform, True)
        return render(request, "connect/setup.html", {
            "platform": platform, "name": NAMES[platform],
            "help": flow.app_help.format(redirect=service.redirect_uri(state.settings, platform)),
            "redirect_uri": service.redirect_uri(state.settings, platform),
            "via_page": platform == "instagram" and not via_page and page_flow.configured}, user=user)
    url = await service.start(session, state.box, flow, user)
    await session.commit()
    log.info("connect.started", extra={"platform": platform})
    return RedirectResponse(url, status_code=303)


@router.get("/connect/{platform}/callback")
async def callback(platform: str, request: Request, session: SessionDep, user: UserDep) -> Response:
    """The dialog's answer. The state is used up whatever happens next, so a replay is refused."""
    if platform not in FLOWS:
        return _unknown(request, user, platform)
    state = request.app.state
    params = {k: v[:2048] for k, v in request.query_params.items()}
    try:
        returned = await service.callback(session, state.box, state.settings, state.http, user, platform, params)
    except service.Refused as exc:
        await session.commit()
        log.info("connect.refused", extra={"platform": platform})
        return _problem(request, user, platform, exc.message, 400)
    except SignInError as exc:
        await session.commit()
        log.warning("connect.exchange_failed", extra={"platform": platform})
        return _problem(request, user, platform, exc.message, 502)
    if returned.key == "vk_community":  # the communities were picked before their dialog: connect them now
        try:
            channels = await service.pick(
                session, state.box, state.settings, user, platform, returned.flow_id,
                [c.key for c in returned.result.candidates], (returned.carry or {}).get("timezone") or "UTC")
        except SignInError as exc:
            await session.commit()
            return _problem(request, user, platform, exc.message, 400)
        return await _connected(session, platform, channels)
    await session.commit()
    log.info("connect.returned", extra={"platform": platform, "accounts": len(returned.result.candidates)})
    return render(request, "connect/pick.html", {
        "platform": platform, "name": NAMES[platform], "flow_id": returned.flow_id,
        "candidates": returned.result.candidates, "missing": returned.result.missing,
        "existing": returned.existing, "zones": zone_options(), "timezone": zone_of(user.workspace)}, user=user)


@router.post("/connect/{platform}/pick")
async def pick(platform: str, request: Request, session: SessionDep, user: CsrfUserDep) -> Response:
    """Create (or re-connect) the chosen channels."""
    if platform not in FLOWS:
        return _unknown(request, user, platform)
    form = await request.form()
    chosen = [str(v)[:64] for v in form.getlist("account")][:100]
    timezone = str(form.get("timezone") or "UTC")[:64]
    if timezone not in dict(zone_options()):
        timezone = "UTC"
    state, flow_id = request.app.state, str(form.get("flow") or "")[:64]
    try:
        if platform == "vk":  # the communities' keys come from VK's community dialog
            url = await service.pick_communities(session, state.box, state.settings, state.http, user, flow_id,
                                                 chosen, timezone)
            await session.commit()
            log.info("connect.community_dialog", extra={"platform": platform})
            return RedirectResponse(url, status_code=303)
        channels = await service.pick(session, state.box, state.settings, user, platform, flow_id, chosen, timezone)
    except SignInError as exc:
        await session.commit()
        return _problem(request, user, platform, exc.message, 400)
    return await _connected(session, platform, channels)


async def _connected(session: SessionDep, platform: str, channels: list[Channel]) -> Response:
    ids = [c.id for c in channels]
    await schedule_changed(session)  # a re-connected channel's held posts are due again (sent at commit)
    await session.commit()
    log.info("connect.connected", extra={"platform": platform, "channels": len(ids)})
    if len(ids) == 1:
        return redirect(f"/channels/{ids[0]}?done=connected")
    return redirect("/channels?done=connected")
