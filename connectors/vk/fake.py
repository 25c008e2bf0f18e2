"""A fake of the VK API for tests and the sandbox: ``create_app()`` returns a FastAPI app.

Routes are relative (``/method/<name>`` and the photo upload server ``/upload/photo``), so the app works mounted
under a prefix such as ``/sandbox/vk``; the ``upload_url`` it hands out is built from the request's base URL.
Parameters come from the query string, an urlencoded or a multipart form; errors are answered inside HTTP 200
as ``{"error": {"error_code", "error_msg", "request_params"}}``. Seeding: ``POST /_control/seed`` (see
``VKState.seed``) or the state object on ``app.state.fake``. A repeated ``(owner_id, guid)`` within 3600 s
returns the first ``post_id``. ``sandbox=True`` accepts any well-formed token as a user and creates unknown
communities with that user as administrator. A community key (``group_id`` token) may post on, and upload
wall photos to, its own community only (error 15 elsewhere).
Fault method names are the API method names, plus ``upload``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from connectors.fakekit import FaultInjector, control_router
from connectors.vk.fake_state import GUID_WINDOW, Token, VKError, VKState, bad_param

Params = dict[str, Any]
Handler = Callable[[VKState, Token, Params, Request], Awaitable[Any]]
UPLOAD_SECRET = "fake-vk-upload"
MAX_TEXT = 16384


def _int(params: Params, key: str, default: int | None = None) -> int:
    raw = params.get(key)
    if raw in (None, ""):
        if default is None:
            raise bad_param(f"{key} is undefined")
        return default
    try:
        return int(str(raw))
    except ValueError:
        raise bad_param(f"{key} not integer") from None


def _user_only(token: Token) -> int:
    if token.user_id is None:
        raise VKError(27, "Group authorization failed: method is unavailable with group auth.")
    return token.user_id


def _poster(token: Token, group_id: int) -> int:
    """Who calls a publishing method: the user, or a community key acting on its own community (``group_id``;
    0 = not given). VK's schema marks wall.post and the wall photo upload as user-token only; this fake follows
    docs/platform-apis.md §6 instead (a community key is what publishing on a community wall needs) and lets a
    community key publish on its own wall, never on another's."""
    if token.group_id is None:
        return _user_only(token)
    if group_id not in (0, token.group_id):
        raise VKError(15, "Access denied: a community access key acts only on behalf of its own community")
    return -token.group_id


def _group_item(state: VKState, group_id: int, fields: str, token: Token) -> dict[str, Any]:
    group = state.groups[group_id]
    out: dict[str, Any] = {"id": group.id, "name": group.name, "screen_name": group.screen_name or f"club{group.id}",
                           "is_closed": group.is_closed, "type": "page"}  # fmt: skip
    level = group.admins.get(token.user_id or 0, 0)
    if token.user_id is not None:
        out["is_admin"] = 1 if level else 0
        out["is_member"] = 1 if level else 0
        if level:
            out["admin_level"] = level
    wanted = {f.strip() for f in fields.split(",")}
    if "members_count" in wanted:
        out["members_count"] = group.members_count
    if "can_post" in wanted:
        out["can_post"] = 1 if level >= 2 or token.group_id == group.id else 0
    return out


async def users_get(state: VKState, token: Token, params: Params, request: Request) -> Any:
    refs = [r for r in str(params.get("user_ids") or "").split(",") if r.strip()]
    users = [state.user_for(r) for r in refs] if refs else ([state.users[token.user_id]] if token.user_id else [])
    fields = set(str(params.get("fields") or "").split(","))
    out = []
    for user in users:
        item: dict[str, Any] = {"id": user.id, "first_name": user.first_name, "last_name": user.last_name}
        if "screen_name" in fields:
            item["screen_name"] = user.screen_name or f"id{user.id}"
        if "followers_count" in fields:
            item["followers_count"] = user.followers_count
        if "can_post" in fields:
            item["can_post"] = 1 if user.id == token.user_id or user.wall_open else 0
        out.append(item)
    return out


async def groups_get_by_id(state: VKState, token: Token, params: Params, request: Request) -> Any:
    refs = [r for r in str(params.get("group_ids") or params.get("group_id") or "").split(",") if r.strip()]
    if not refs and token.group_id is not None:
        refs = [str(token.group_id)]
    if not refs:
        raise bad_param("group_ids is undefined")
    groups = [state.group_for(ref, token) for ref in refs]
    fields = str(params.get("fields") or "")
    return {"groups": [_group_item(state, g.id, fields, token) for g in groups], "profiles": []}


def _check_wall_access(state: VKState, owner: int, token: Token, *, write: bool) -> None:
    if owner < 0:
        group = state.group_for(str(-owner), token)
        level = 3 if token.group_id == group.id else group.admins.get(token.user_id or 0, 0)
        if write and level < 2:  # posting on a community wall needs an editor or administrator
            raise VKError(214, "Access to adding post denied: access to the wall is closed")
        if not write and group.is_closed and not level:
            raise VKError(15, "Access denied: this wall available only for community members")
    elif owner not in state.users:
        raise VKError(18, "User was deleted or banned")
    elif write and owner != token.user_id and not state.users[owner].wall_open:
        raise VKError(214, "Access to adding post denied: access to the wall is closed")


def _attachments(state: VKState, raw: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for ref in (r.strip() for r in raw.split(",") if r.strip()):
        if ref.startswith(("http://", "https://")):
            if any(a["type"] == "link" for a in out):
                raise bad_param("attachments: only one link is allowed")
            out.append({"type": "link", "link": {"url": ref, "title": ref}})
        elif ref.startswith("photo"):
            key = "_".join(ref.split("_")[:2])
            if key not in state.photos:
                raise bad_param("attachments param is invalid")
            out.append({"type": "photo", "photo": state.photos[key]})
        else:
            raise bad_param("attachments param is invalid")
    if len(out) > 10:
        raise bad_param("too many attachments")
    return out


NO_RIGHT = "Access denied: no access to call this method"
# the bit of each right in account.getAppPermissions / groups.getTokenPermissions
RIGHT_BITS = {"notify": 1, "friends": 2, "photos": 4, "video": 16, "stories": 64, "docs": 131072, "wall": 8192,
              "groups": 262144, "offline": 65536, "stats": 1048576, "manage": 262144, "messages": 4096}


def _right(token: Token, right: str) -> None:
    if token.lacks(right):
        raise VKError(15, NO_RIGHT)


async def wall_post(state: VKState, token: Token, params: Params, request: Request) -> Any:
    default = -token.group_id if token.group_id is not None else 0
    owner = _int(params, "owner_id", default) or _user_only(token)
    user_id = _poster(token, -owner if owner < 0 else -1)
    _right(token, "wall")
    from_group = str(params.get("from_group") or "0") == "1" or token.group_id is not None
    message = str(params.get("message") or "")
    attachments = _attachments(state, str(params.get("attachments") or ""))
    if not message.strip() and not attachments:
        raise bad_param("message is empty or invalid")
    if len(message) > MAX_TEXT:
        raise bad_param("message is too long")
    _check_wall_access(state, owner, token, write=True)
    guid = str(params.get("guid") or "") or None
    now = state.clock()
    if guid is not None and (seen := state.guids.get((owner, guid))) and now - seen[1] < GUID_WINDOW:
        return {"post_id": seen[0]}
    if state.posts_today(owner) >= state.daily_cap:
        raise VKError(214, f"Access to adding post denied: post limit reached ({state.daily_cap} posts a day)")
    author = owner if owner < 0 and from_group else user_id
    post = state.add_post(owner, message, attachments=attachments, from_id=author, date=int(now), guid=guid,
                          via_api=True, views=0)  # fmt: skip
    if guid is not None:
        state.guids[(owner, guid)] = (post.id, now)
    return {"post_id": post.id}


async def wall_get(state: VKState, token: Token, params: Params, request: Request) -> Any:
    if params.get("domain"):
        domain = str(params["domain"])
        try:
            owner = -state.group_for(domain).id
        except VKError:
            owner = state.user_for(domain).id
    else:
        owner = _int(params, "owner_id", token.user_id or -(token.group_id or 0))
    count, offset = _int(params, "count", 20), _int(params, "offset", 0)
    if not 0 <= count <= 100:
        raise bad_param("count should be less or equal to 100")
    _check_wall_access(state, owner, token, write=False)
    wall = state.walls.get(owner, [])
    ordered = [p for p in reversed(wall) if p.is_pinned] + [p for p in reversed(wall) if not p.is_pinned]
    return {"count": len(wall), "items": [p.item() for p in ordered[offset : offset + count]]}


async def get_wall_upload_server(state: VKState, token: Token, params: Params, request: Request) -> Any:
    group_id = _int(params, "group_id", 0)
    user_id = _poster(token, group_id)
    group_id = group_id or token.group_id or 0
    _right(token, "photos")
    if group_id:
        state.group_for(str(group_id), token)
    server = 800_000 + (group_id or user_id) % 1000
    base = f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}/"
    return {"upload_url": f"{base}upload/photo?server={server}&gid={group_id}&uid={user_id}",
            "album_id": -14, "user_id": user_id}  # fmt: skip


async def save_wall_photo(state: VKState, token: Token, params: Params, request: Request) -> Any:
    user_id = _poster(token, _int(params, "group_id", 0))
    photo, upload_hash = str(params.get("photo") or ""), str(params.get("hash") or "")
    if photo in ("", "[]"):
        raise bad_param("photos_list is invalid")
    upload = state.uploads.get(upload_hash)
    if upload is None or upload["photo"] != photo or str(upload["server"]) != str(params.get("server")):
        raise VKError(121, "Invalid hash")
    group_id = _int(params, "group_id", 0) or token.group_id or 0
    owner = -group_id if group_id else user_id
    state.next_photo_id += 1
    item = {"id": state.next_photo_id, "owner_id": owner, "album_id": -14, "date": int(state.clock()),
            "access_key": hashlib.sha1(photo.encode()).hexdigest()[:18], "text": "",
            "sizes": [{"type": "x", "width": 604, "height": 604, "url": f"https://sun.userapi.fake/{upload_hash}"}],
            "upload": {k: upload[k] for k in ("filename", "size")}}  # fmt: skip
    state.photos[f"photo{owner}_{item['id']}"] = item
    return [item]


async def groups_get(state: VKState, token: Token, params: Params, request: Request) -> Any:
    """``filter=admin|editor|moder`` and ``extended=1``: the communities the user manages (needs ``groups``)."""
    user_id = _user_only(token)
    _right(token, "groups")
    least = {"admin": 3, "editor": 2, "moder": 1}.get(str(params.get("filter") or "").split(",")[0], 0)
    mine = [g for g in state.groups.values() if g.admins.get(user_id, 0) >= max(least, 1)]
    if str(params.get("extended") or "0") != "1":
        return {"count": len(mine), "items": [g.id for g in mine]}
    fields = str(params.get("fields") or "")
    return {"count": len(mine), "items": [_group_item(state, g.id, fields, token) for g in mine]}


def _rights(token: Token) -> list[str]:
    return list(RIGHT_BITS) if token.scopes is None else [s for s in token.scopes if s in RIGHT_BITS]


async def account_get_app_permissions(state: VKState, token: Token, params: Params, request: Request) -> Any:
    _user_only(token)
    mask = 0
    for right in _rights(token):
        mask |= RIGHT_BITS[right]
    return mask


async def groups_get_token_permissions(state: VKState, token: Token, params: Params, request: Request) -> Any:
    if token.group_id is None:
        raise VKError(27, "Group authorization failed: method is allowed only with group token.")
    rights = _rights(token)
    mask = 0
    for right in rights:
        mask |= RIGHT_BITS[right]
    return {"mask": mask, "permissions": [{"setting": RIGHT_BITS[r], "name": r} for r in rights]}


HANDLERS: dict[str, Handler] = {
    "groups.get": groups_get,
    "account.getAppPermissions": account_get_app_permissions,
    "groups.getTokenPermissions": groups_get_token_permissions,
    "users.get": users_get,
    "groups.getById": groups_get_by_id,
    "wall.post": wall_post,
    "wall.get": wall_get,
    "photos.getWallUploadServer": get_wall_upload_server,
    "photos.saveWallPhoto": save_wall_photo,
}


async def _read_params(request: Request) -> tuple[Params, dict[str, UploadFile]]:
    params: Params = dict(request.query_params)
    files: dict[str, UploadFile] = {}
    if request.method == "POST":
        form = await request.form()
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[key] = value
            else:
                params[key] = value
    return params, files


def _error_body(err: VKError, method: str, params: Params) -> dict[str, Any]:
    shown = [{"key": "method", "value": method}, {"key": "oauth", "value": "1"}]
    shown += [{"key": k, "value": str(v)} for k, v in params.items() if k not in ("access_token", "method")]
    return {"error": {"error_code": err.code, "error_msg": err.msg, "request_params": shown}}


def create_app(*, sandbox: bool = False, lost_response_mode: Literal["raise", "hang"] = "raise") -> FastAPI:
    """The fake VK API; its ``VKState`` is ``app.state.fake``, faults on ``app.state.faults``."""
    state = VKState(sandbox=sandbox)
    faults = FaultInjector(lost_response_mode=lost_response_mode)
    app = FastAPI(title="Fake VK API", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.fake = state
    app.state.faults = faults
    app.include_router(control_router(faults, state.reset, state.published))
    from connectors.vk.fake_oauth import install_oauth  # the authorization dialog and code exchange

    install_oauth(app, state, faults)
    extra = APIRouter(prefix="/_control", include_in_schema=False)

    @extra.post("/seed")
    async def seed(data: dict[str, Any]) -> JSONResponse:
        try:
            state.seed(data)
        except (ValueError, TypeError, KeyError) as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, status_code=422)
        return JSONResponse({"ok": True, "groups": len(state.groups), "tokens": len(state.tokens)})

    app.include_router(extra)

    @app.api_route("/method/{name}", methods=["GET", "POST"])
    async def method(name: str, request: Request) -> JSONResponse:
        fault = await faults.take(name)
        if fault is not None and (early := fault.early_response()) is not None:
            return early
        params, _ = await _read_params(request)
        try:
            handler = HANDLERS.get(name)
            if handler is None:
                raise VKError(3, "Unknown method passed")
            if not params.get("v"):
                raise VKError(8, "Invalid request: v (version) is required")
            token = state.token_for(params.get("access_token"))
            result = await handler(state, token, params, request)
        except VKError as err:
            return JSONResponse(_error_body(err, name, params))
        if fault is not None:
            await fault.after_side_effect()
        return JSONResponse({"response": result})

    @app.post("/upload/photo")
    async def upload(request: Request) -> JSONResponse:
        fault = await faults.take("upload")
        if fault is not None and (early := fault.early_response()) is not None:
            return early
        params, files = await _read_params(request)
        server = str(params.get("server") or "0")
        photo_file = files.get("photo")
        data = await photo_file.read() if photo_file is not None else b""
        if not data:
            return JSONResponse({"server": int(server), "photo": "[]", "hash": ""})
        digest = hashlib.sha1(data).hexdigest()
        photo = json.dumps([{"photo": digest[:12], "sizes": [], "kid": digest[12:20]}])
        upload_hash = hashlib.sha1(f"{server}:{photo}:{UPLOAD_SECRET}".encode()).hexdigest()
        state.uploads[upload_hash] = {"photo": photo, "server": server, "gid": params.get("gid"),
                                      "filename": photo_file.filename if photo_file else None,
                                      "size": len(data)}  # fmt: skip
        if fault is not None:
            await fault.after_side_effect()
        return JSONResponse({"server": int(server), "photo": photo, "hash": upload_hash})

    return app
