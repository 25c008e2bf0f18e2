"""A fake of the Facebook Pages Graph API (the calls ``FacebookConnector`` makes), with a control API.

Routes (relative, any ``{version}``) and their fault-injection method names::

    GET  /{version}/debug_token          "GET /debug_token"
    GET  /{version}/{page-id}            "GET /page"
    GET  /{version}/{page-id}/posts      "GET /posts"     since/until, limit, after cursors, fields
    POST /{version}/{page-id}/feed       "POST /feed"     message, link, attached_media; 506 on a repeat
    POST /{version}/{page-id}/photos     "POST /photos"   url or multipart source, caption, published
    POST /{version}/{page-id}/videos     "POST /videos"   file_url (or source), description
    POST /_control/seed                  pages, tokens (type, page_id, scopes, expired), posts, buc_call_limit
    POST /_control/clock                 {"advance": seconds}
    (+ fakekit's /_control/faults, /calls, /reset, /published: posts made through the API, not seeded history)

Parameters are read from the query string, an urlencoded or multipart form, or a JSON body; the token from
``access_token`` or ``Authorization: Bearer``. Errors are Meta's envelopes with HTTP 400. Every answer carries
``X-App-Usage`` and ``X-Business-Use-Case-Usage``; past ``buc_call_limit`` calls per page and hour the fake
answers ``(#80001)`` with ``estimated_time_to_regain_access``. ``sandbox=True`` accepts any non-empty token as
a Page token with every permission and creates unknown pages on first use.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from connectors import fakekit
from connectors.graph import error_envelope

ALL_SCOPES = ["pages_manage_posts", "pages_read_engagement", "pages_show_list"]
INVALID_TOKEN = "Invalid OAuth access token - Cannot parse access token"


# ---------------------------------------------------------------------------- shared Graph-fake helpers
@dataclass
class FakeClock:
    """Wall-clock time plus an offset tests can ``advance`` without sleeping."""

    offset: float = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def graph_error(
    code: int,
    message: str,
    subcode: int | None = None,
    status: int = 400,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A Graph error response."""
    return JSONResponse(error_envelope(code, message, subcode, **extra), status_code=status, headers=headers)


async def read_params(request: Request) -> dict[str, Any]:
    """Query string, then a JSON, urlencoded or multipart body, merged (body wins); the bearer token too."""
    params: dict[str, Any] = dict(request.query_params)
    ctype = request.headers.get("content-type", "")
    if "application/json" in ctype:
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
    elif "form" in ctype:
        form = await request.form()
        for k, v in form.multi_items():
            params[k] = v
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and not params.get("access_token"):
        params["access_token"] = auth[7:].strip()
    return params


def graph_timestamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def top_fields(spec: str | None, default: str) -> set[str]:
    """Top-level names of a Graph ``fields`` expression (``reactions.summary(…).limit(0)`` -> reactions)."""
    names, depth, current = set(), 0, ""
    for ch in (spec or default) + ",":
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        if ch == "," and depth == 0:
            names.add(re.split(r"[.({]", current.strip(), maxsplit=1)[0])
            current = ""
        else:
            current += ch
    return names - {""}


def page_of(items: list[dict[str, Any]], params: dict[str, Any], request: Request) -> dict[str, Any]:
    """One page of ``items`` with Graph ``paging`` (``after`` cursor is the offset, base64)."""
    limit = max(1, min(100, int(params.get("limit") or 25)))
    start = int(base64.b64decode(params["after"]).decode()) if params.get("after") else 0
    chunk = items[start : start + limit]
    body: dict[str, Any] = {"data": chunk}
    if chunk:
        before = base64.b64encode(str(start).encode()).decode()
        after = base64.b64encode(str(start + len(chunk)).encode()).decode()
        body["paging"] = {"cursors": {"before": before, "after": after}}
        if start + len(chunk) < len(items):
            body["paging"]["next"] = str(request.url.include_query_params(after=after))
    return body


def in_window(ts: float, params: dict[str, Any]) -> bool:
    since, until = params.get("since"), params.get("until")
    return (not since or ts >= float(since)) and (not until or ts <= float(until))


# ---------------------------------------------------------------------------- state
@dataclass
class FakeToken:
    token: str
    type: Literal["PAGE", "USER"] = "PAGE"
    page_id: str = ""
    scopes: list[str] = field(default_factory=lambda: list(ALL_SCOPES))
    expired: bool = False
    expires_at: float = 0.0  # unix time; 0 = never (Page tokens from a long-lived user token)
    data_access_expires_at: float = 0.0
    user_id: str = "100000000000001"
    declined: list[str] = field(default_factory=list)


@dataclass
class FacebookFakeState:
    """Everything the fake holds; tests may read and change it directly (``app.state.fake``)."""

    sandbox: bool = False
    clock: FakeClock = field(default_factory=FakeClock)
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, FakeToken] = field(default_factory=dict)
    posts: list[dict[str, Any]] = field(default_factory=list)
    photos: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_feed: dict[str, tuple[str, str]] = field(default_factory=dict)
    buc_call_limit: int | None = None
    page_calls: dict[str, list[float]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(122100000000000001))
    oauth: Any = None  # the login half (fake_oauth.FacebookLogin), when installed

    def reset(self) -> None:
        for table in (self.pages, self.tokens, self.photos, self.last_feed, self.page_calls):
            table.clear()
        self.posts.clear()
        self.buc_call_limit = None
        if self.oauth is not None:
            self.oauth.reset()

    def new_id(self) -> str:
        return str(next(self.ids))

    def page(self, page_id: str) -> dict[str, Any] | None:
        if page_id not in self.pages and self.sandbox and page_id.isdigit():
            self.add_page({"id": page_id})
        return self.pages.get(page_id)

    def add_page(self, spec: dict[str, Any]) -> None:
        pid = str(spec["id"])
        self.pages[pid] = {
            "id": pid,
            "name": spec.get("name", f"Page {pid}"),
            "followers_count": int(spec.get("followers_count", 0)),
            "fan_count": int(spec.get("fan_count", spec.get("followers_count", 0))),
            "link": spec.get("link", f"https://www.facebook.com/{pid}"),
        }
        if spec.get("instagram_business_account"):  # the linked Instagram professional account
            self.pages[pid]["instagram_business_account"] = {"id": str(spec["instagram_business_account"])}

    def token(self, params: dict[str, Any]) -> FakeToken | JSONResponse:
        raw = str(params.get("access_token") or "")
        if not raw:
            return graph_error(104, "An access token is required to request this resource.")
        tok = self.tokens.get(raw)
        if tok is None and self.sandbox:
            tok = FakeToken(raw)
        if tok is None:
            return graph_error(190, INVALID_TOKEN)
        if tok.expired or (tok.expires_at and tok.expires_at < self.clock.now()):
            return graph_error(
                190,
                "Error validating access token: Session has expired on Tuesday, "
                "01-Sep-26 10:00:00 PDT. The current time is later.",
                463,
            )
        return tok

    def usage_headers(self, page_id: str | None) -> dict[str, str]:
        now = self.clock.now()
        calls = [t for t in self.page_calls.get(page_id or "", []) if t > now - 3600]
        limit = self.buc_call_limit or 4800
        pct = min(100, math.ceil(100 * len(calls) / limit))
        wait = math.ceil((calls[0] + 3600 - now) / 60) if calls and len(calls) > limit else 0
        buc = {
            page_id or "0": [
                {
                    "type": "pages",
                    "call_count": pct,
                    "total_cputime": pct // 4,
                    "total_time": pct // 4,
                    "estimated_time_to_regain_access": wait,
                }
            ]
        }
        return {
            "X-App-Usage": json.dumps({"call_count": pct // 2, "total_time": 1, "total_cputime": 1}),
            "X-Business-Use-Case-Usage": json.dumps(buc),
        }

    def count_call(self, page_id: str) -> JSONResponse | None:
        """Record one call against the page's BUC budget; ``(#80001)`` past it."""
        now = self.clock.now()
        calls = [t for t in self.page_calls.get(page_id, []) if t > now - 3600] + [now]
        self.page_calls[page_id] = calls
        if self.buc_call_limit is not None and len(calls) > self.buc_call_limit:
            return graph_error(
                80001,
                "(#80001) There have been too many calls to this Page account. Wait a bit and try again.",
                headers=self.usage_headers(page_id),
            )
        return None

    def publisher(self, params: dict[str, Any], page_id: str) -> FakeToken | JSONResponse:
        """The token if it may post on ``page_id``, else the error Graph gives."""
        tok = self.token(params)
        if isinstance(tok, JSONResponse):
            return tok
        if self.page(page_id) is None:
            return unknown_object(page_id)
        if tok.type != "PAGE" or (tok.page_id and tok.page_id != page_id) or "pages_manage_posts" not in tok.scopes:
            return graph_error(
                200,
                "(#200) If posting to a page, requires both pages_read_engagement and "
                "pages_manage_posts as an admin with sufficient administrative permission",
            )
        return self.count_call(page_id) or tok

    def add_post(
        self,
        page_id: str,
        message: str,
        *,
        post_id: str | None = None,
        link: str = "",
        media: list[dict[str, Any]] | None = None,
        created: float | None = None,
        **counts: int,
    ) -> dict[str, Any]:
        post = {
            "id": post_id or f"{page_id}_{self.new_id()}",
            "page_id": page_id,
            "message": message,
            "link": link,
            "media": media or [],
            "created": created or self.clock.now(),
            "reactions": counts.get("reactions", 0),
            "comments": counts.get("comments", 0),
            "shares": counts.get("shares", 0),
        }
        self.posts.append(post)
        return post

    def published(self) -> list[dict[str, Any]]:
        return [
            {
                "id": p["id"],
                "chat": p["page_id"],
                "text": p["message"],
                "media": p["media"],
                "date": int(p["created"]),
                "link": p["link"],
            }
            for p in self.posts
            if not p.get("seeded")
        ]

    def seed(self, spec: dict[str, Any]) -> None:
        for page in spec.get("pages", []):
            self.add_page(page)
        for tok in spec.get("tokens", []):
            self.tokens[tok["token"]] = FakeToken(
                tok["token"],
                tok.get("type", "PAGE"),
                str(tok.get("page_id", "")),
                list(tok.get("scopes", ALL_SCOPES)),
                bool(tok.get("expired")),
            )
        for p in spec.get("posts", []):
            post = self.add_post(
                str(p["page_id"]),
                p.get("message", ""),
                created=float(p["created_time"]),
                reactions=p.get("reactions", 0),
                comments=p.get("comments", 0),
                shares=p.get("shares", 0),
            )
            post["seeded"] = True
        if "buc_call_limit" in spec:
            self.buc_call_limit = spec["buc_call_limit"]


def unknown_object(node_id: str) -> JSONResponse:
    return graph_error(
        100,
        f"Unsupported get request. Object with ID '{node_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation.",
        33,
    )


def render_post(post: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": post["id"]}
    if "created_time" in fields:
        out["created_time"] = graph_timestamp(post["created"])
    if "message" in fields and post["message"]:
        out["message"] = post["message"]
    if "permalink_url" in fields:
        out["permalink_url"] = f"https://www.facebook.com/{post['id']}"
    if "shares" in fields and post["shares"]:
        out["shares"] = {"count": post["shares"]}
    for edge in ("reactions", "comments"):
        if edge in fields:
            out[edge] = {"data": [], "summary": {"total_count": post[edge]}}
    return out


# ---------------------------------------------------------------------------- app
def create_app(*, sandbox: bool = False, lost_response_mode: str = "raise", processing_delay: float = 0.0) -> FastAPI:
    """The fake Graph API for Facebook Pages; state on ``app.state.fake``, faults on ``app.state.faults``.

    ``processing_delay`` is accepted for symmetry with the Instagram fake and unused.
    """
    app = FastAPI(title="Fake Facebook Graph API")
    state = FacebookFakeState(sandbox=sandbox)
    faults = fakekit.FaultInjector(lost_response_mode="hang" if lost_response_mode == "hang" else "raise")
    app.state.fake, app.state.faults = state, faults
    app.include_router(fakekit.control_router(faults, state.reset, state.published))
    from connectors.facebook.fake_oauth import install_oauth  # the login half of the same Graph fake

    install_oauth(app, state, faults)

    @app.post("/_control/seed", include_in_schema=False)
    async def seed(request: Request) -> dict[str, Any]:
        state.seed(await request.json())
        return {"ok": True}

    @app.post("/_control/clock", include_in_schema=False)
    async def clock(request: Request) -> dict[str, Any]:
        state.clock.advance(float((await request.json()).get("advance", 0)))
        return {"ok": True, "now": state.clock.now()}

    @app.get("/{version}/debug_token")
    async def debug_token(version: str, request: Request) -> Any:
        fault = await faults.take("GET /debug_token")
        if fault is not None and (early := fault.early_response()) is not None:
            return early
        params = await read_params(request)
        app_id, _, app_secret = str(params.get("access_token") or "").partition("|")
        app_token = bool(app_secret) and state.oauth is not None and state.oauth.server.secret_ok(app_id, app_secret)
        if not app_token and isinstance(err := state.token(params), JSONResponse):
            return err
        tok = state.tokens.get(str(params.get("input_token", ""))) or (
            FakeToken(str(params.get("input_token"))) if sandbox and params.get("input_token") else None
        )
        if tok is None or tok.expired or (tok.expires_at and tok.expires_at < state.clock.now()):
            return {"data": {"is_valid": False, "error": {"code": 190, "message": INVALID_TOKEN}}}
        data = {
            "app_id": "1234567890",
            "type": tok.type,
            "application": "smm-scheduler",
            "is_valid": True,
            "expires_at": int(tok.expires_at),
            "data_access_expires_at": int(tok.data_access_expires_at),
            "scopes": tok.scopes,
            "user_id": tok.user_id,
            "granular_scopes": [
                {"scope": s, "target_ids": [tok.page_id]} if tok.page_id and s.startswith("pages_") else {"scope": s}
                for s in tok.scopes
            ],
        }
        if tok.type == "PAGE" and tok.page_id:
            data["profile_id"] = tok.page_id
        return await answer(fault, {"data": data})

    @app.get("/{version}/{page_id}")
    async def get_page(version: str, page_id: str, request: Request) -> Any:
        fault = await faults.take("GET /page")
        if fault is not None and (early := fault.early_response()) is not None:
            return early
        params = await read_params(request)
        if isinstance(err := state.token(params), JSONResponse):
            return err
        page = state.page(page_id)
        if page is None:
            return unknown_object(page_id)
        wanted = top_fields(params.get("fields"), "id,name")
        body = {k: v for k, v in page.items() if k in wanted | {"id"}}
        return await answer(fault, body, state.usage_headers(page_id))

    @app.get("/{version}/{page_id}/posts")
    async def list_posts(version: str, page_id: str, request: Request) -> Any:
        fault = await faults.take("GET /posts")
        if fault is not None and (early := fault.early_response()) is not None:
            return early
        params = await read_params(request)
        if isinstance(err := state.token(params), JSONResponse):
            return err
        if state.page(page_id) is None:
            return unknown_object(page_id)
        if limited := state.count_call(page_id):
            return limited
        fields = top_fields(params.get("fields"), "id,created_time,message")
        posts = sorted(
            (p for p in state.posts if p["page_id"] == page_id and in_window(p["created"], params)),
            key=lambda p: p["created"],
            reverse=True,
        )
        body = page_of([render_post(p, fields) for p in posts], params, request)
        return await answer(fault, body, state.usage_headers(page_id))

    @app.post("/{version}/{page_id}/feed")
    async def feed(version: str, page_id: str, request: Request) -> Any:
        fault = await faults.take("POST /feed")
        if fault is not None and (early := fault.early_response()) is not None:
            return early
        params = await read_params(request)
        if isinstance(err := state.publisher(params, page_id), JSONResponse):
            return err
        message, link = str(params.get("message") or ""), str(params.get("link") or "")
        attached = params.get("attached_media") or []
        if isinstance(attached, str):
            attached = json.loads(attached)
        attached += [json.loads(v) for k, v in sorted(params.items()) if k.startswith("attached_media[")]
        media = []
        for item in attached:
            photo = state.photos.get(str(item.get("media_fbid")))
            if photo is None or photo["page_id"] != page_id or photo["published"]:
                return graph_error(
                    100,
                    "(#100) param attached_media must be an array of unpublished photo ids of this Page (media_fbid)",
                )
            media.append({"type": "photo", "id": photo["id"], "url": photo.get("url")})
        if not message and not link and not media:
            return graph_error(100, "(#100) Missing message or attachment")
        if message and state.last_feed.get(page_id) == (message, link) and not media:
            return graph_error(506, "(#506) Duplicate status message")
        state.last_feed[page_id] = (message, link)
        post = state.add_post(page_id, message, link=link, media=media)
        return await answer(fault, {"id": post["id"]}, state.usage_headers(page_id))

    @app.post("/{version}/{page_id}/photos")
    async def photos(version: str, page_id: str, request: Request) -> Any:
        fault = await faults.take("POST /photos")
        if fault is not None and (early := fault.early_response()) is not None:
            return early
        params = await read_params(request)
        if isinstance(err := state.publisher(params, page_id), JSONResponse):
            return err
        source = params.get("source")
        if isinstance(source, UploadFile):
            item = {"type": "photo", "filename": source.filename, "size": len(await source.read())}
        elif params.get("url"):
            item = {"type": "photo", "url": str(params["url"])}
        else:
            return graph_error(324, "(#324) Requires upload file")
        photo_id = state.new_id()
        published = str(params.get("published", "true")).lower() != "false"
        state.photos[photo_id] = {"id": photo_id, "page_id": page_id, "published": published, **item}
        body: dict[str, Any] = {"id": photo_id}
        if published:
            caption = str(params.get("caption") or params.get("message") or "")
            body["post_id"] = state.add_post(page_id, caption, media=[{**item, "id": photo_id}])["id"]
        return await answer(fault, body, state.usage_headers(page_id))

    @app.post("/{version}/{page_id}/videos")
    async def videos(version: str, page_id: str, request: Request) -> Any:
        fault = await faults.take("POST /videos")
        if fault is not None and (early := fault.early_response()) is not None:
            return early
        params = await read_params(request)
        if isinstance(err := state.publisher(params, page_id), JSONResponse):
            return err
        if not params.get("file_url") and not isinstance(params.get("source"), UploadFile):
            return graph_error(100, "(#100) Either file_url or source must be specified")
        video_id = state.new_id()
        state.add_post(
            page_id,
            str(params.get("description") or ""),
            post_id=f"{page_id}_{video_id}",
            media=[{"type": "video", "id": video_id, "url": params.get("file_url")}],
        )
        return await answer(fault, {"id": video_id}, state.usage_headers(page_id))

    return app


async def answer(fault: fakekit.Fault | None, body: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    """Build the answer, then let an armed ``lost_response`` fault swallow it (the side effect stays)."""
    response = JSONResponse(body, headers=headers)
    if fault is not None:
        await fault.after_side_effect()
    return response
