"""A fake of Instagram's Graph API content publishing (what ``InstagramConnector`` uses), with a control API.

Routes (relative, any ``{version}``) and their fault-injection method names::

    POST /{version}/{ig}/media                     "POST /media:image" | ":item" | ":reels" | ":stories" |
                                                   ":carousel"   (arm "POST /media*" for all)
    POST /{version}/{ig}/media_publish             "POST /media_publish"   creation_id
    GET  /{version}/{ig}/media | /stories          "GET /media" | "GET /stories"   since/until, after, fields
    GET  /{version}/{ig}/content_publishing_limit  "GET /content_publishing_limit"
    GET  /{version}/{ig}/insights                  "GET /insights"   metric=online_followers
    GET  /{version}/{id}                           "GET /container" | "GET /media_node" | "GET /user" |
                                                   "GET /business_discovery"
    POST /_control/seed    users (id, username, followers_count, business, online_followers, media),
                           tokens (token, ig_user_ids, scopes, expired), quota_total, bad_urls {url: subcode}
    POST /_control/clock   {"advance": seconds}      (+ fakekit's /_control/faults, /calls, /reset, /published:
                           the media published through the API, not the seeded history)

Containers go ``IN_PROGRESS`` → ``FINISHED`` after ``processing_delay`` seconds of the state's clock, ``ERROR``
for a media URL marked bad (``/bad/`` in it, or ``bad_urls``), ``EXPIRED`` 24 h after creation, ``PUBLISHED``
once published. A URL with ``/unreachable/`` fails creation with 9004/2207052. ``media_publish`` answers
9007/2207027 before ``FINISHED`` and 9/2207042 at the quota (``quota_total`` per moving 24 h, default 50).
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from connectors import fakekit
from connectors.facebook.fake import (
    INVALID_TOKEN,
    FakeClock,
    answer,
    graph_error,
    graph_timestamp,
    in_window,
    page_of,
    read_params,
    top_fields,
    unknown_object,
)

DAY = 86400.0
ALL_SCOPES = ["instagram_basic", "instagram_content_publish", "instagram_manage_insights", "pages_read_engagement"]
STATUS_TEXT = {
    "FINISHED": "Finished: Media has been uploaded and it is complete.",
    "IN_PROGRESS": "In Progress: Media is still being processed.",
    "EXPIRED": "Expired: The media container was not published within 24 hours.",
    "PUBLISHED": "Published: Media has been successfully published.",
}
NO_PERMISSION = "(#10) Application does not have permission for this action"
_DISCOVERY = re.compile(r"business_discovery\.username\(([^)]*)\)")


@dataclass
class InstagramFakeState:
    """Everything the fake holds (``app.state.fake``); tests may read and change it directly."""

    sandbox: bool = False
    processing_delay: float = 0.0
    clock: FakeClock = field(default_factory=FakeClock)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)
    media: list[dict[str, Any]] = field(default_factory=list)
    quota_total: int = 50
    bad_urls: dict[str, int] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(17900000000000001))

    api_calls: int = 0
    oauth: Any = None  # the login half (fake_oauth.InstagramLogin), when installed

    def usage_headers(self) -> dict[str, str]:
        """``X-App-Usage`` (percent of an assumed 2000-call budget); Instagram has no page BUC header."""
        self.api_calls += 1
        pct = min(100, self.api_calls // 20)
        return {"X-App-Usage": json.dumps({"call_count": pct, "total_time": 1, "total_cputime": 1})}

    def reset(self) -> None:
        self.api_calls = 0
        for table in (self.users, self.tokens, self.containers, self.bad_urls):
            table.clear()
        self.media.clear()
        self.quota_total = 50
        if self.oauth is not None:
            self.oauth.reset()

    def new_id(self, media: bool = False) -> str:
        n = next(self.ids)
        return str(n + 162100000000000000) if media else str(n)

    def user(self, ig: str) -> dict[str, Any] | None:
        if ig not in self.users and self.sandbox and ig.isdigit():
            self.add_user({"id": ig})
        return self.users.get(ig)

    def add_user(self, spec: dict[str, Any]) -> None:
        ig = str(spec["id"])
        self.users[ig] = {
            "id": ig,
            "username": spec.get("username", f"account{ig[-4:]}"),
            "name": spec.get("name", spec.get("username", f"Account {ig[-4:]}")),
            "followers_count": int(spec.get("followers_count", 0)),
            "business": bool(spec.get("business", True)),
            "online_followers": spec.get("online_followers"),
        }
        for m in spec.get("media", []):
            kind = m.get("media_product_type", "FEED")
            self.add_media(
                ig,
                m.get("caption", ""),
                m.get("media_type", "IMAGE"),
                kind,
                float(m["timestamp"]),
                like_count=m.get("like_count", 0),
                comments_count=m.get("comments_count", 0),
                api=False,
            )

    def add_media(self, ig: str, caption: str, media_type: str, product: str, ts: float, **extra: Any) -> dict:
        media_id = self.new_id(media=True)
        code = base64.urlsafe_b64encode(media_id[-9:].encode()).decode().rstrip("=")
        path = "reel" if product == "REELS" else "stories" if product == "STORY" else "p"
        item = {
            "id": media_id,
            "user": ig,
            "caption": caption,
            "media_type": media_type,
            "media_product_type": product,
            "timestamp": ts,
            "like_count": 0,
            "comments_count": 0,
            "permalink": f"https://www.instagram.com/{path}/{code}/",
            "api": True,
            **extra,
        }
        self.media.append(item)
        return item

    def auth(self, params: dict[str, Any], ig: str, scope: str = "instagram_basic") -> JSONResponse | None:
        """``None`` when the token may act for ``ig`` with ``scope``; otherwise Meta's error."""
        raw = str(params.get("access_token") or "")
        if not raw:
            return graph_error(104, "An access token is required to request this resource.")
        tok = self.tokens.get(raw) or ({"ig_user_ids": [], "scopes": ALL_SCOPES} if self.sandbox else None)
        if tok is None:
            return graph_error(190, INVALID_TOKEN)
        if tok.get("expired") or (tok.get("expires_at") and tok["expires_at"] < self.clock.now()):
            return graph_error(190, "Error validating access token: Session has expired.", 463)
        if self.user(ig) is None or (tok["ig_user_ids"] and ig not in tok["ig_user_ids"]):
            return unknown_object(ig)
        return None if scope in tok["scopes"] else graph_error(10, NO_PERMISSION)

    def status(self, c: dict[str, Any]) -> tuple[str, int | None]:
        now = self.clock.now()
        if c.get("published"):
            return "PUBLISHED", None
        if now - c["created"] >= DAY:
            return "EXPIRED", None
        for child_id in c["children"]:
            child = self.status(self.containers[child_id])
            if child[0] in {"ERROR", "IN_PROGRESS"}:
                return child
        if now - c["created"] < self.processing_delay:
            return "IN_PROGRESS", None
        return ("ERROR", c["bad"]) if c["bad"] else ("FINISHED", None)

    def quota_usage(self, ig: str) -> int:
        return sum(1 for m in self.media if m["user"] == ig and m["api"] and m["timestamp"] > self.clock.now() - DAY)

    def online_followers(self, user: dict[str, Any]) -> list[dict[str, Any]]:
        if user["online_followers"] is not None:
            return list(user["online_followers"])
        midnight = math.floor(self.clock.now() / DAY) * DAY + 7 * 3600  # days end at midnight Pacific
        if user["followers_count"] < 100:
            return [{"value": {}, "end_time": graph_timestamp(midnight - d * DAY)} for d in (2, 1)]
        curve = {
            str(h): round(user["followers_count"] * (0.05 + 0.3 * math.exp(-((h - 19) ** 2) / 8))) for h in range(24)
        }
        return [{"value": curve, "end_time": graph_timestamp(midnight - d * DAY)} for d in (2, 1)]

    def published(self) -> list[dict[str, Any]]:
        return [
            {
                "id": m["id"],
                "chat": m["user"],
                "text": m["caption"],
                "media": m.get("items", []),
                "date": int(m["timestamp"]),
                "kind": m["media_product_type"],
                "container": m.get("container"),
            }
            for m in self.media
            if m["api"]
        ]

    def seed(self, spec: dict[str, Any]) -> None:
        for user in spec.get("users", []):
            self.add_user(user)
        for tok in spec.get("tokens", []):
            self.tokens[tok["token"]] = {
                "ig_user_ids": [str(i) for i in tok.get("ig_user_ids", [])],
                "scopes": list(tok.get("scopes", ALL_SCOPES)),
                "expired": bool(tok.get("expired")),
            }
        self.quota_total = int(spec.get("quota_total", self.quota_total))
        self.bad_urls.update(spec.get("bad_urls", {}))


def render_media(m: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    out = {k: m[k] for k in fields if k in m and k not in {"timestamp", "caption"}}
    out["id"] = m["id"]
    if "timestamp" in fields:
        out["timestamp"] = graph_timestamp(m["timestamp"])
    if "caption" in fields and m["caption"]:
        out["caption"] = m["caption"]
    return out


def create_app(*, sandbox: bool = False, lost_response_mode: str = "raise", processing_delay: float = 0.0) -> FastAPI:
    """The fake Instagram Graph API; state on ``app.state.fake``, faults on ``app.state.faults``."""
    app = FastAPI(title="Fake Instagram Graph API")
    state = InstagramFakeState(sandbox=sandbox, processing_delay=processing_delay)
    faults = fakekit.FaultInjector(lost_response_mode="hang" if lost_response_mode == "hang" else "raise")
    app.state.fake, app.state.faults = state, faults
    app.include_router(fakekit.control_router(faults, state.reset, state.published))
    from connectors.instagram.fake_oauth import install_oauth  # Instagram Login, on the same fake

    install_oauth(app, state, faults)

    @app.post("/_control/seed", include_in_schema=False)
    async def seed(request: Request) -> dict[str, Any]:
        state.seed(await request.json())
        return {"ok": True}

    @app.post("/_control/clock", include_in_schema=False)
    async def clock(request: Request) -> dict[str, Any]:
        state.clock.advance(float((await request.json()).get("advance", 0)))
        return {"ok": True, "now": state.clock.now()}

    @app.post("/{version}/{ig}/media")
    async def create_container(version: str, ig: str, request: Request) -> Any:
        params = await read_params(request)
        media_type = str(params.get("media_type") or "").upper()
        is_item = str(params.get("is_carousel_item", "")).lower() == "true"
        label = "item" if is_item else (media_type.lower() or "image")
        fault = await faults.take(f"POST /media:{label}")
        if fault is not None and (early := fault.early_response()) is not None:
            return early
        if err := state.auth(params, ig, "instagram_content_publish"):
            return err
        children = [c for c in str(params.get("children") or "").split(",") if c]
        urls = [str(params[k]) for k in ("image_url", "video_url") if params.get(k)]
        if media_type == "CAROUSEL":
            if not 2 <= len(children) <= 10:
                return graph_error(100, "(#100) The carousel must contain between 2 and 10 items.", 2207028)
            if any(state.containers.get(c, {}).get("user") != ig or not state.containers[c]["item"] for c in children):
                return graph_error(24, "(#24) The requested resource does not exist", 2207006)
        elif not urls:
            needed = "video_url" if media_type in {"REELS", "VIDEO"} else "image_url"
            return graph_error(100, f"(#100) The parameter {needed} is required.")
        for url in urls:
            if "/unreachable/" in url:
                return graph_error(
                    9004, "(#9004) Media download has failed. The media URI doesn't meet our requirements.", 2207052
                )
            if re.search(r"\.(png|gif|webp|heic|bmp|tiff?)$", url.split("?")[0].lower()) and "image_url" in params:
                return graph_error(36001, "(#36001) The image format is not supported.", 2207005)
        if len(str(params.get("caption") or "")) > 2200:
            return graph_error(36004, "(#36004) The caption is too long.", 2207010)
        bad = next((state.bad_urls.get(u) or (2207026 if "/bad/" in u else 0) for u in urls), 0)
        cid = state.new_id()
        state.containers[cid] = {
            "id": cid,
            "user": ig,
            "created": state.clock.now(),
            "type": media_type or "IMAGE",
            "urls": urls,
            "items": [
                {"type": "video" if k == "video_url" else "photo", "url": str(params[k])}
                for k in ("image_url", "video_url")
                if params.get(k)
            ],
            "caption": str(params.get("caption") or ""),
            "children": children,
            "item": is_item,
            "bad": bad,
        }
        return await answer(fault, {"id": cid}, state.usage_headers())

    @app.post("/{version}/{ig}/media_publish")
    async def media_publish(version: str, ig: str, request: Request) -> Any:
        fault = await faults.take("POST /media_publish")
        if fault is not None and (early := fault.early_response()) is not None:
            return early
        params = await read_params(request)
        if err := state.auth(params, ig, "instagram_content_publish"):
            return err
        c = state.containers.get(str(params.get("creation_id") or ""))
        if c is None or c["user"] != ig or c["item"]:
            return graph_error(24, "(#24) The requested resource does not exist", 2207006)
        status, _ = state.status(c)
        if status == "IN_PROGRESS":
            return graph_error(
                9007,
                "(#9007) Media ID is not available",
                2207027,
                is_transient=False,
                error_user_msg="The media is not ready for publishing, please wait for a moment.",
            )
        if status == "EXPIRED":
            return graph_error(
                -2, "The media you are trying to access has expired. Please try to upload again.", 2207020
            )
        if status in {"ERROR", "PUBLISHED"}:
            return graph_error(100, f"(#100) The media container cannot be published: it is {status}.")
        if state.quota_usage(ig) >= state.quota_total:
            return graph_error(
                9,
                "Application request limit reached",
                2207042,
                is_transient=False,
                error_user_title="Maximum number of posts reached",
                error_user_msg="You reached maximum number of posts that is allowed to be "
                "published by Content Publish API.",
            )
        product = {"REELS": "REELS", "STORIES": "STORY"}.get(c["type"], "FEED")
        media_type = {"CAROUSEL": "CAROUSEL_ALBUM", "REELS": "VIDEO", "STORIES": "IMAGE"}.get(c["type"], "IMAGE")
        items = [i for child in c["children"] for i in state.containers[child]["items"]] or c["items"]
        m = state.add_media(ig, c["caption"], media_type, product, state.clock.now(), container=c["id"], items=items)
        c["published"] = m["id"]
        return await answer(fault, {"id": m["id"]}, state.usage_headers())

    @app.get("/{version}/{ig}/{edge}")
    async def list_edge(version: str, ig: str, edge: str, request: Request) -> Any:
        fault = await faults.take(f"GET /{edge}")
        if fault is not None and (early := fault.early_response()) is not None:
            return early
        params = await read_params(request)
        if edge not in {"media", "stories", "content_publishing_limit", "insights"}:
            return unknown_object(f"{ig}/{edge}")
        scope = {"content_publishing_limit": "instagram_content_publish", "insights": "instagram_manage_insights"}.get(
            edge, "instagram_basic"
        )
        if err := state.auth(params, ig, scope):
            return err
        body: dict[str, Any]
        if edge == "content_publishing_limit":
            body = {
                "data": [
                    {
                        "quota_usage": state.quota_usage(ig),
                        "config": {"quota_total": state.quota_total, "quota_duration": int(DAY)},
                    }
                ]
            }
        elif edge == "insights":
            if params.get("metric") != "online_followers":
                return graph_error(100, "(#100) metric[0] must be one of the following values: online_followers")
            values = state.online_followers(state.users[ig])
            body = {
                "data": [
                    {
                        "name": "online_followers",
                        "period": "lifetime",
                        "values": values,
                        "title": "Online followers",
                        "id": f"{ig}/insights/online_followers/lifetime",
                    }
                ]
            }
        else:
            fields = top_fields(params.get("fields"), "id")
            now = state.clock.now()
            items = sorted(
                (
                    m
                    for m in state.media
                    if m["user"] == ig
                    and in_window(m["timestamp"], params)
                    and (m["media_product_type"] == "STORY") == (edge == "stories")
                    and (edge == "media" or m["timestamp"] > now - DAY)
                ),
                key=lambda m: m["timestamp"],
                reverse=True,
            )
            body = page_of([render_media(m, fields) for m in items], params, request)
        return await answer(fault, body, state.usage_headers())

    @app.get("/{version}/{node_id}")
    async def get_node(version: str, node_id: str, request: Request) -> Any:
        params = await read_params(request)
        container = state.containers.get(node_id)
        media = next((m for m in state.media if m["id"] == node_id), None)
        discovery = _DISCOVERY.search(str(params.get("fields") or ""))
        name = "container" if container else "media_node" if media else "business_discovery" if discovery else "user"
        fault = await faults.take(f"GET /{name}")
        if fault is not None and (early := fault.early_response()) is not None:
            return early
        owner = container["user"] if container else media["user"] if media else node_id
        if err := state.auth(params, owner):
            return err
        fields = top_fields(params.get("fields"), "id")
        if container:
            status, sub = state.status(container)
            text = f"Error: Media upload has failed with error code {sub}" if status == "ERROR" else STATUS_TEXT[status]
            return await answer(fault, {"status_code": status, "status": text, "id": node_id}, state.usage_headers())
        if media:
            return await answer(fault, render_media(media, fields), state.usage_headers())
        user = state.users[node_id]
        body = {k: v for k, v in user.items() if k in fields and k not in {"online_followers", "business"}}
        body["id"] = node_id
        if "media_count" in fields:
            body["media_count"] = sum(1 for m in state.media if m["user"] == node_id)
        if discovery:
            other = next((u for u in state.users.values() if u["username"] == discovery.group(1)), None)
            if other is None or not other["business"]:
                return graph_error(
                    110,
                    "Invalid user id",
                    2207013,
                    error_user_title="Cannot find User",
                    error_user_msg=f"The user with username: {discovery.group(1)} cannot be found.",
                )
            body["business_discovery"] = _discover(state, other, str(params["fields"]), request)
        return await answer(fault, body, state.usage_headers())

    return app


def _discover(state: InstagramFakeState, other: dict[str, Any], fields: str, request: Request) -> dict[str, Any]:
    after = re.search(r"media\.after\(([^)]*)\)", fields)
    limit = re.search(r"media\.limit\((\d+)\)", fields)
    items = sorted(
        (m for m in state.media if m["user"] == other["id"] and m["media_product_type"] != "STORY"),
        key=lambda m: m["timestamp"],
        reverse=True,
    )
    rendered = [render_media(m, {"id", "timestamp", "like_count", "comments_count", "media_type"}) for m in items]
    page = page_of(
        rendered, {"after": after.group(1) if after else "", "limit": limit.group(1) if limit else 25}, request
    )
    return {
        "id": other["id"],
        "username": other["username"],
        "followers_count": other["followers_count"],
        "media_count": len(items),
        "media": page,
    }
