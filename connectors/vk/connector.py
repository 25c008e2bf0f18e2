"""VK API connector: posts on a community or user wall, uploads photos, reads walls for engagement.

Calls ``{base_url}/method/{name}`` with form parameters ``access_token`` and ``v`` (setting ``api_version``,
default 5.199). Errors are translated in :mod:`connectors.vk.errors`.

Idempotency: ``wall.post`` gets ``guid=key``, so a retry within VK's one-hour guid window returns the first post.
After that window, or after an unknown outcome, :meth:`VKConnector.find_published` reads the newest wall posts
(``wall.get``, 100 per page, paging until posts are older than ``since``) and matches them by the rule of
:func:`connectors.vk.walls.matches` (exact text, date ≥ since, photo count, link).

Pacing: a class-level :class:`Pacer` allows 3 API calls/s per token, smoothed (VK's limit for user tokens), or
20/s when the connector is built with ``token_kind="community"`` (VK cannot be asked which kind a token is), and
one ``wall.post`` per second per wall. Uploads to VK's upload server are not API calls and are not paced.

Publishing takes a user token of a community editor/administrator (VK's schema lists ``wall.post`` and the photo
upload methods as user-token only) or the community's own key (what the sign-in flow hands out; docs/platform-apis.md
§6 says a community key is what publishing on a community wall needs). ``verify`` tells them apart by the answer:
no admin fields and error 27 to ``account.getAppPermissions`` mean a community key.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from connectors.base import (
    AccountInfo,
    BaseConnector,
    Credentials,
    EngagementRecord,
    MediaItem,
    PlatformLimits,
    PostContent,
    Prepared,
    Published,
)
from connectors.errors import AuthError, OutcomeUnknownError, PermanentError, TransientError
from connectors.fetch import FetchPolicy, fetch
from connectors.mediatypes import recognise
from connectors.pacing import Pacer, Rule, token_key
from connectors.prefetch import fetch_photo
from connectors.vk.errors import error_from_http, error_from_transport, error_from_vk
from connectors.vk.walls import (
    as_published,
    community_ref,
    matches,
    owner_numbers,
    plain_text,
    post_url,
    to_record,
)

PAGE_SIZE = 100
MAX_PAGES = 50  # 5,000 posts: beyond that a wall is read no further
MAX_PHOTO_BYTES = 50 * 1024 * 1024  # VK's limit for one photo
PHOTO_FETCH_TIMEOUT = 60.0


# bits of account.getAppPermissions (VK's access rights table)
VK_RIGHT_BITS = {"photos": 4, "wall": 8192}

class VKConnector(BaseConnector):
    """Publishes to a VK wall. Credentials: ``access_token``, ``owner_id`` (negative for a community)."""

    platform: ClassVar[str] = "vk"
    platform_label: ClassVar[str] = "VK"
    credential_fields: ClassVar[tuple[str, ...]] = ("access_token", "owner_id")
    limits: ClassVar[PlatformLimits] = PlatformLimits(
        text_max=16384,
        caption_max=16384,
        media_max=10,
        album_min=1,
        media_kinds=frozenset({"photo"}),
        per_chat_per_second=1.0,
        per_token_per_second=3.0,
    )
    community_token_per_second: ClassVar[float] = 20.0
    pacer: ClassVar[Pacer] = Pacer()

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        *,
        api_version: str = "5.199",
        token_kind: str = "user",
        pacer: Pacer | None = None,
        fetch_policy: FetchPolicy | None = None,
        **settings: str,
    ) -> None:
        super().__init__(client, base_url, api_version=api_version, token_kind=token_kind, **settings)
        if fetch_policy is not None:
            self.fetch_policy = fetch_policy
        self.api_version = api_version
        self.token_kind = token_kind
        self._pacer = pacer or type(self).pacer

    # -- publishing ----------------------------------------------------------------------------------

    async def prepare(self, post: PostContent, creds: Credentials, key: str) -> Prepared:
        """The upload flow ahead for every photo (fetched through the guarded fetcher, uploaded, saved with
        ``photos.saveWallPhoto``): ``publish`` then only calls ``wall.post``. Checkpoint: ``attachments``
        (comma-separated ``photo<owner>_<id>``), ``photos`` (how many). Saved wall photos do not expire and
        are not shown until a post attaches them."""
        token = creds["access_token"]
        _, group_id = owner_numbers(creds["owner_id"])
        photos = self._photos(post)
        if not photos:
            return Prepared()
        # every photo fetched and checked first: a dead link costs no upload
        files = [
            await fetch_photo(self.client, item, i, policy=self.fetch_policy, max_bytes=MAX_PHOTO_BYTES, label="VK")
            for i, item in enumerate(photos)
        ]
        attachments = [await self._upload_bytes(token, group_id, f.name, f.data, f.mime_type) for f in files]
        return Prepared({"attachments": ",".join(attachments), "photos": str(len(attachments))})

    async def publish(
        self,
        post: PostContent,
        creds: Credentials,
        key: str,
        checkpoint: Mapping[str, str] | None = None,
    ) -> Published:
        """Upload the photos (unless ``checkpoint`` holds the ``attachments`` saved ahead by :meth:`prepare`),
        then ``wall.post`` with ``guid=key``; the post's id is ``<owner_id>_<post_id>``."""
        token = creds["access_token"]
        owner, group_id = owner_numbers(creds["owner_id"])
        photos = self._photos(post)
        saved = (checkpoint or {}).get("attachments", "")
        if saved and len(saved.split(",")) == len(photos):
            attachments = saved.split(",")
        else:
            attachments = [await self._upload(token, owner, group_id, item) for item in photos]
        if post.link:
            attachments.append(post.link)
        params: dict[str, Any] = {"owner_id": owner, "message": plain_text(post), "guid": key}
        if group_id is not None:
            params["from_group"] = 1
        if attachments:
            params["attachments"] = ",".join(attachments)
        if post.silent:
            params["mute_notifications"] = 1
        wall_rule = Rule.every(("vk-wall", token_key(token), owner), 1.0 / self.limits.per_chat_per_second)
        response = await self._call(token, "wall.post", params, wall_rule)
        post_id = response.get("post_id") if isinstance(response, dict) else None
        if post_id is None:
            raise PermanentError(f"VK answered wall.post without a post id: {str(response)[:200]}")
        return Published(f"{owner}_{post_id}", post_url(owner, post_id), datetime.now(UTC))

    async def find_published(
        self,
        creds: Credentials,
        key: str,
        since: datetime,
        post: PostContent,
        checkpoint: Mapping[str, str] | None = None,
    ) -> Published | None:
        """The wall post matching ``post`` made since ``since`` (the oldest if several), ``None`` if none is."""
        owner, _ = owner_numbers(creds["owner_id"])
        items, complete = await self._wall(creds["access_token"], {"owner_id": owner}, since)
        found = [item for item in items if matches(item, post, since)]
        if found:
            return as_published(min(found, key=lambda item: (int(item.get("date") or 0), int(item["id"]))))
        if not complete:
            raise OutcomeUnknownError(f"VK: the wall has more than {MAX_PAGES * PAGE_SIZE} posts since then.")
        return None

    # -- accounts and statistics -------------------------------------------------------------------

    async def verify(self, creds: Credentials) -> AccountInfo:
        """The token works and may post on the wall: a community editor/admin, or a user wall it may post on.

        Uses ``groups.getById(fields=members_count,can_post)``: ``is_admin``/``admin_level`` (2 = editor,
        3 = administrator) decide; a moderator (1) cannot post as the community. With ``token_kind="community"``
        VK returns no admin fields, so only the community itself is checked.
        """
        token = creds["access_token"]
        owner, group_id = owner_numbers(creds["owner_id"])
        await self._check_rights(token)
        if group_id is not None:
            group = await self._group(token, str(group_id), "members_count,can_post")
            level = int(group.get("admin_level") or 0) if group.get("is_admin") else 0
            name = group.get("name") or f"club{group_id}"
            community_key = self.token_kind == "community" or "is_admin" not in group  # no admin fields for one
            if not community_key and level < 2:
                role = "only a moderator of" if level == 1 else "not an administrator of"
                raise PermanentError(
                    f"The VK account behind this token is {role} the community “{name}”: make it an editor or "
                    "administrator (Manage → Members → Managers), then authorise again.",
                    code="not_admin",
                )
            screen = group.get("screen_name")
            return AccountInfo(
                name=str(name),
                username=screen,
                url=f"https://vk.com/{screen or f'club{group_id}'}",
                followers=group.get("members_count"),
                details={"owner_id": str(owner), "type": "community", "admin_level": str(level)},
            )
        me = (await self._call(token, "users.get", {}) or [{}])[0]
        user = me
        if int(me.get("id") or 0) != owner:
            user = (await self._call(token, "users.get", {"user_ids": owner, "fields": "can_post"}) or [{}])[0]
            if not user.get("can_post"):
                raise PermanentError(f"This VK token cannot post on the wall of user {owner}.", code="can_post")
        [info] = await self._call(token, "users.get", {"user_ids": owner, "fields": "followers_count,screen_name"})
        screen = info.get("screen_name")
        return AccountInfo(
            name=f"{info.get('first_name', '')} {info.get('last_name', '')}".strip() or str(owner),
            username=screen,
            url=f"https://vk.com/{screen or f'id{owner}'}",
            followers=info.get("followers_count"),
            details={"owner_id": str(owner), "type": "user"},
        )

    async def _check_rights(self, token: str) -> None:
        """The key must carry the ``wall`` and ``photos`` rights: ``account.getAppPermissions`` (a user key's
        bit mask) or ``groups.getTokenPermissions`` (a community key's named rights)."""
        answer: Any = None
        mask = 0
        if self.token_kind == "community":
            try:
                answer = await self._call(token, "groups.getTokenPermissions", {}) or {}
            except AuthError as exc:
                if exc.code != 27:  # 27: not a community key after all — ask as for a user key
                    raise
                mask = int(await self._call(token, "account.getAppPermissions", {}) or 0)
        else:
            try:
                mask = int(await self._call(token, "account.getAppPermissions", {}) or 0)
            except AuthError as exc:
                if exc.code != 27:  # 27: a community key (what VK's sign-in hands out) — ask as for one
                    raise
                answer = await self._call(token, "groups.getTokenPermissions", {}) or {}
        if answer is not None:
            names = {str(p.get("name")) for p in answer.get("permissions", [])}
            where = f"groups.getTokenPermissions lists {', '.join(sorted(names)) or 'no rights'}"
        else:
            names = {name for name, bit in VK_RIGHT_BITS.items() if mask & bit}
            where = f"account.getAppPermissions answers {mask}"
        missing = [r for r in ("wall", "photos") if r not in names]
        if missing:
            rights = " and ".join(f"“{r}”" for r in missing)
            raise PermanentError(
                f"This VK key lacks the {rights} right{'s' if len(missing) > 1 else ''} ({where}): create a key "
                f"with {rights} (or sign in again and allow {'them' if len(missing) > 1 else 'it'}).",
                code="missing_right",
            )

    async def fetch_engagement(self, creds: Credentials, since: datetime) -> list[EngagementRecord]:
        """Wall posts since ``since`` with likes, shares (reposts), comments and views, newest first."""
        token = creds["access_token"]
        owner, group_id = owner_numbers(creds["owner_id"])
        if group_id is not None:
            followers = (await self._group(token, str(group_id), "members_count")).get("members_count")
        else:
            user = await self._call(token, "users.get", {"user_ids": owner, "fields": "followers_count"})
            followers = (user or [{}])[0].get("followers_count")
        items, _ = await self._wall(token, {"owner_id": owner}, since)
        return [to_record(item, followers) for item in items]

    async def fetch_public_wall(self, creds: Credentials, community: str, since: datetime) -> list[EngagementRecord]:
        """Posts of a public community (``https://vk.com/name``, ``name``, ``club123``, ``-123``) since ``since``.

        Falls back to a user page when the reference is not a community. ``followers`` is the member count.
        """
        token = creds["access_token"]
        ref = community_ref(community)
        try:
            group = await self._group(token, ref, "members_count")
        except PermanentError as exc:
            if exc.code not in (100, 113):
                raise
            user = await self._call(token, "users.get", {"user_ids": ref, "fields": "followers_count"})
            if not user:
                raise
            items, _ = await self._wall(token, {"owner_id": user[0]["id"]}, since)
            return [to_record(item, user[0].get("followers_count")) for item in items]
        items, _ = await self._wall(token, {"owner_id": -int(group["id"])}, since)
        return [to_record(item, group.get("members_count")) for item in items]

    # -- plumbing --------------------------------------------------------------------------------

    async def _call(self, token: str, method: str, params: dict[str, Any], *rules: Rule) -> Any:
        """One API call, paced by the token's rule and ``rules``; returns ``response`` or raises."""
        rate = self.community_token_per_second if self.token_kind == "community" else self.limits.per_token_per_second
        await self._pacer.wait(Rule.budget(("vk-token", token_key(token)), 1, 1.0 / rate), *rules)
        data = {k: str(v) for k, v in params.items() if v is not None}
        data.update(access_token=token, v=self.api_version)
        try:
            response = await self.client.post(f"{self.base_url}/method/{method}", data=data)
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, token) from exc
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            raise error_from_http(response.status_code, response.text)
        if "error" in body:
            raise error_from_vk(body["error"])
        return body.get("response")

    async def _group(self, token: str, ref: str, fields: str) -> dict[str, Any]:
        response = await self._call(token, "groups.getById", {"group_id": ref, "fields": fields})
        groups = response.get("groups") if isinstance(response, dict) else response
        if not groups:
            raise PermanentError(f"VK error 100: community {ref} not found", code=100)
        return dict(groups[0])

    async def _wall(self, token: str, owner: dict[str, Any], since: datetime) -> tuple[list[dict[str, Any]], bool]:
        """Wall items dated ``since`` or later, newest first; ``complete`` is false when paging stopped early."""
        since_ts = since.timestamp()
        found: list[dict[str, Any]] = []
        for page in range(MAX_PAGES):
            response = await self._call(token, "wall.get", {**owner, "count": PAGE_SIZE, "offset": page * PAGE_SIZE})
            items = [i for i in (response or {}).get("items", []) if isinstance(i, dict)]
            found.extend(i for i in items if int(i.get("date") or 0) >= since_ts)
            regular = [i for i in items if not i.get("is_pinned")]
            total = int((response or {}).get("count") or 0)
            if not items or (page + 1) * PAGE_SIZE >= total or any(int(i.get("date") or 0) < since_ts for i in regular):
                found.sort(key=lambda i: int(i.get("date") or 0), reverse=True)
                return found, True
        return found, False

    @staticmethod
    def _photos(post: PostContent) -> list[MediaItem]:
        return [item for item in post.media if item.kind == "photo"]

    async def _upload(self, token: str, owner: int, group_id: int | None, item: MediaItem) -> str:
        """The upload flow for one photo; returns the attachment ``photo<owner_id>_<id>``."""
        target = {"group_id": group_id} if group_id is not None else {}
        server = await self._call(token, "photos.getWallUploadServer", target)
        name, data, mime = await self._image_bytes(item)
        return await self._upload_bytes(token, group_id, name, data, mime, server)

    async def _upload_bytes(
        self, token: str, group_id: int | None, name: str, data: bytes, mime: str, server: Any = None
    ) -> str:
        """Upload and save one photo's bytes (asking for the upload server unless given)."""
        target = {"group_id": group_id} if group_id is not None else {}
        if server is None:
            server = await self._call(token, "photos.getWallUploadServer", target)
        try:
            uploaded = await self.client.post(str(server["upload_url"]), files={"photo": (name, data, mime)})
            result = uploaded.json()
        except httpx.HTTPError as exc:  # nothing is visible before wall.post: safe to retry
            raise TransientError(f"The photo upload to VK failed ({type(exc).__name__}).") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TransientError(f"VK's upload server answered HTTP {uploaded.status_code} without JSON.") from exc
        if not isinstance(result, dict) or result.get("error") or result.get("photo") in (None, "", "[]"):
            raise PermanentError(f"VK did not accept the image {name}: {json.dumps(result)[:200]}")
        saved = await self._call(
            token,
            "photos.saveWallPhoto",
            {**target, "server": result.get("server"), "photo": result["photo"], "hash": result.get("hash")},
        )
        photo = saved[0]
        return f"photo{photo['owner_id']}_{photo['id']}"

    async def _image_bytes(self, item: MediaItem) -> tuple[str, bytes, str]:
        if item.path is not None:
            try:
                data = await asyncio.to_thread(item.path.read_bytes)
            except OSError as exc:
                raise PermanentError(f"The media file could not be read: {exc.strerror or exc}") from exc
            name = item.path.name
        else:  # a URL the user gave: through the guarded fetcher (its errors are Permanent/TransientError)
            fetched = await fetch(
                self.client, item.url, policy=self.fetch_policy, max_bytes=MAX_PHOTO_BYTES, timeout=PHOTO_FETCH_TIMEOUT
            )
            data, name = fetched.content, fetched.name or "image.jpg"
        recognised = recognise(data)
        mime = recognised.mime if recognised else item.mime_type or mimetypes.guess_type(name)[0] or "image/jpeg"
        return name, data, mime
