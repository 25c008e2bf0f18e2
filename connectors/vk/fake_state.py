"""State of the fake VK API: tokens, users, communities, walls, uploaded photos and the guid window."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TOKEN_RE = re.compile(r"^[\w.\-]{16,}$")
GUID_WINDOW = 3600.0
DAILY_POST_CAP = 50


class VKError(Exception):
    """A VK API error, answered inside HTTP 200."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


def bad_param(detail: str) -> VKError:
    return VKError(100, f"One of the parameters specified was missing or invalid: {detail}")


@dataclass
class Token:
    user_id: int | None = None  # a user token
    group_id: int | None = None  # a community token
    scopes: list[str] | None = None  # the rights granted in the dialog; None = every right (seeded tokens)

    def lacks(self, right: str) -> bool:
        return self.scopes is not None and right not in self.scopes


@dataclass
class User:
    id: int
    first_name: str = "Fake"
    last_name: str = "User"
    screen_name: str | None = None
    followers_count: int = 0
    wall_open: bool = False  # others may post on this wall


@dataclass
class Group:
    id: int
    name: str = "Fake community"
    screen_name: str | None = None
    members_count: int = 0
    is_closed: int = 0
    admins: dict[int, int] = field(default_factory=dict)  # user id -> admin_level (1 moder, 2 editor, 3 admin)


@dataclass
class Post:
    id: int
    owner_id: int
    from_id: int
    date: int
    text: str = ""
    attachments: list[dict[str, Any]] = field(default_factory=list)
    likes: int = 0
    reposts: int = 0
    comments: int = 0
    views: int | None = 0
    is_pinned: bool = False
    guid: str | None = None
    via_api: bool = False

    def item(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "owner_id": self.owner_id, "from_id": self.from_id, "date": self.date,
            "text": self.text, "post_type": "post", "attachments": self.attachments,
            "likes": {"count": self.likes}, "reposts": {"count": self.reposts},
            "comments": {"count": self.comments},
        }  # fmt: skip
        if self.views is not None:
            out["views"] = {"count": self.views}
        if self.is_pinned:
            out["is_pinned"] = 1
        return out


@dataclass
class VKState:
    sandbox: bool = False
    clock: Callable[[], float] = time.time
    daily_cap: int = DAILY_POST_CAP
    tokens: dict[str, Token] = field(default_factory=dict)
    users: dict[int, User] = field(default_factory=dict)
    groups: dict[int, Group] = field(default_factory=dict)
    walls: dict[int, list[Post]] = field(default_factory=dict)  # owner id -> posts, oldest first
    guids: dict[tuple[int, str], tuple[int, float]] = field(default_factory=dict)
    photos: dict[str, dict[str, Any]] = field(default_factory=dict)  # "photo<owner>_<id>" -> photo
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)  # hash -> upload
    next_photo_id: int = 457239017
    oauth: Any = None  # the login half (fake_oauth.VKLogin), when installed

    def reset(self) -> None:
        for table in (self.tokens, self.users, self.groups, self.walls, self.guids, self.photos, self.uploads):
            table.clear()
        self.daily_cap = DAILY_POST_CAP
        if self.oauth is not None:
            self.oauth.reset()

    # -- seeding -------------------------------------------------------------------------------------

    def add_user(self, user_id: int, **fields: Any) -> User:
        user = User(id=user_id, **fields)
        self.users[user_id] = user
        return user

    def add_token(self, token: str, *, user_id: int | None = None, group_id: int | None = None,
                  scopes: list[str] | None = None) -> Token:
        self.tokens[token] = Token(user_id=user_id, group_id=group_id, scopes=scopes)
        if user_id is not None and user_id not in self.users:
            self.add_user(user_id)
        return self.tokens[token]

    def add_group(self, group_id: int, **fields: Any) -> Group:
        group = Group(id=group_id, **fields)
        self.groups[group_id] = group
        return group

    def add_post(self, owner_id: int, text: str = "", **fields: Any) -> Post:
        wall = self.walls.setdefault(owner_id, [])
        fields.setdefault("date", int(self.clock()))
        fields.setdefault("from_id", owner_id)
        post = Post(id=max((p.id for p in wall), default=0) + 1, owner_id=owner_id, text=text, **fields)
        wall.append(post)
        wall.sort(key=lambda p: (p.date, p.id))
        return post

    def seed(self, data: dict[str, Any]) -> None:
        """``{"users": [{"id", ...}], "tokens": [{"token", "user_id"|"group_id", "scopes"}],
        "groups": [{"id", "name",
        "screen_name", "members_count", "is_closed", "admins": {"<user id>": level}}],
        "posts": [{"owner_id", "text", "date", "likes", ...}], "daily_cap": 50}``."""
        for raw in data.get("users", []):
            raw = dict(raw)
            self.add_user(int(raw.pop("id")), **raw)
        for raw in data.get("tokens", []):
            self.add_token(raw["token"], user_id=raw.get("user_id"), group_id=raw.get("group_id"),
                           scopes=raw.get("scopes"))
        for raw in data.get("groups", []):
            raw = dict(raw)
            admins = {int(k): int(v) for k, v in (raw.pop("admins", None) or {}).items()}
            self.add_group(int(raw.pop("id")), admins=admins, **raw)
        for raw in data.get("posts", []):
            raw = dict(raw)
            self.add_post(int(raw.pop("owner_id")), **raw)
        if "daily_cap" in data:
            self.daily_cap = int(data["daily_cap"])

    # -- lookups -------------------------------------------------------------------------------------

    def token_for(self, token: str | None) -> Token:
        if not token:
            raise VKError(5, "User authorization failed: no access_token passed.")
        known = self.tokens.get(token)
        if known is None and self.sandbox and TOKEN_RE.match(token):
            known = self.add_token(token, user_id=100_000 + int(hashlib.sha256(token.encode()).hexdigest()[:7], 16))
        if known is None:
            raise VKError(5, "User authorization failed: invalid access_token (4).")
        return known

    def group_for(self, ref: str, caller: Token | None = None) -> Group:
        text = ref.strip()
        match = re.fullmatch(r"(?:club|public|event)?(\d+)", text)
        group = self.groups.get(int(match.group(1))) if match else None
        if group is None and not match:
            group = next((g for g in self.groups.values() if (g.screen_name or "").lower() == text.lower()), None)
        if group is None and self.sandbox:
            gid = int(match.group(1)) if match else 10_000 + int(hashlib.sha256(text.encode()).hexdigest()[:6], 16)
            group = self.add_group(gid, name=f"Sandbox community {gid}", screen_name=None if match else text)
        if group is None:
            raise bad_param("group_ids is undefined" if not text else "invalid group id")
        if self.sandbox and caller is not None and caller.user_id is not None and not group.admins:
            group.admins[caller.user_id] = 3
        return group

    def user_for(self, ref: str) -> User:
        text = ref.strip().removeprefix("id")
        user = self.users.get(int(text)) if text.isdigit() else None
        if user is None:
            user = next((u for u in self.users.values() if (u.screen_name or "") == ref.strip()), None)
        if user is None:
            raise VKError(113, "Invalid user id")
        return user

    def posts_today(self, owner_id: int) -> int:
        now = self.clock()
        return sum(1 for p in self.walls.get(owner_id, []) if p.via_api and now - p.date < 86400)

    def published(self) -> list[dict[str, Any]]:
        out = []
        for owner, wall in self.walls.items():
            for post in wall:
                if post.via_api:
                    out.append({
                        "id": post.id, "chat": owner, "external_id": f"{owner}_{post.id}", "text": post.text,
                        "media": post.attachments, "date": post.date, "guid": post.guid,
                    })  # fmt: skip
        return sorted(out, key=lambda p: (p["date"], p["chat"], p["id"]))
