"""Facebook Pages connector (Graph API, Page access token).

Post shapes and the calls they make:

* text (+ link): ``POST /{page-id}/feed`` with ``message`` and ``link``;
* one photo: ``POST /{page-id}/photos`` with ``url`` — or a multipart ``source`` upload when the file is in
  the service's own media store (``MediaItem.path``); external id = the response's ``post_id``;
* several photos: each ``POST /{page-id}/photos`` with ``published=false``, then ``POST /{page-id}/feed`` with
  ``attached_media=[{"media_fbid": …}]``;
* one video: ``POST /{page-id}/videos`` with ``file_url`` and ``description``. The answer holds only the video
  id, so the external id is ``{page_id}_{video_id}`` (the post id Facebook later shows may differ).

A link that cannot be a link attachment (a post with media, or ``link_preview=False``) is appended to the
text.
Facebook has no idempotency key: after an unknown outcome ``find_published`` lists the page's posts since the
attempt and matches the exact message text (see there).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
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
    Problem,
    Published,
    describe,
)
from connectors.errors import AuthError, OutcomeUnknownError, PermanentError
from connectors.facebook.errors import classify_facebook_error
from connectors.graph import GraphApi, compose_message, graph_time, public_media_url
from connectors.prefetch import fetch_photos

REQUIRED_PERMISSIONS = ("pages_manage_posts", "pages_read_engagement")
ENGAGEMENT_FIELDS = (
    "id,created_time,message,permalink_url,shares,"
    "reactions.summary(total_count).limit(0),comments.summary(true).limit(0)"
)
CLOCK_SKEW = timedelta(minutes=2)  # a post's created_time may trail our clock a little
MAX_PAGES = 50

PHOTO_MAX_BYTES = 10 * 1024 * 1024  # Facebook's limit for a photo


class FacebookConnector(BaseConnector):
    """Publishes to one Facebook Page with a Page access token (``page_id``, ``access_token``)."""

    platform: ClassVar[str] = "facebook"
    platform_label: ClassVar[str] = "Facebook"
    credential_fields: ClassVar[tuple[str, ...]] = ("page_id", "access_token")
    limits: ClassVar[PlatformLimits] = PlatformLimits(
        text_max=63206,
        caption_max=63206,
        media_max=10,
        album_min=2,
        media_kinds=frozenset({"photo", "video"}),
        per_chat_per_second=1.0,
        per_token_per_second=10.0,
    )

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        graph_version: str = "v26.0",
        public_base_url: str = "",
        **settings: str,
    ) -> None:
        super().__init__(client, base_url, graph_version=graph_version, public_base_url=public_base_url, **settings)
        self.graph_version = graph_version
        self.public_base_url = public_base_url
        self.api = GraphApi(client, self.base_url, graph_version, classify_facebook_error)

    # ------------------------------------------------------------------ validation
    def validate(self, post: PostContent) -> list[Problem]:
        """The common limits plus Facebook's: feed posts only, one video alone, photos up to 10."""
        problems = super().validate(post)
        if post.kind != "feed":
            problems.append(Problem("kind", f"Facebook Pages cannot publish a {post.kind} here.", "kind"))
        videos = sum(1 for m in post.media if m.kind == "video")
        if videos and len(post.media) > 1:
            problems.append(
                Problem("video_with_media", "Facebook posts a video on its own, not with other media.", "media")
            )
        return problems

    @staticmethod
    def message_for(post: PostContent) -> str:
        """The ``message`` Facebook gets (and ``find_published`` looks for): the text, plus the link when it
        cannot be sent as a link attachment."""
        if post.media or not post.link_preview:
            return compose_message(post.text, post.link)
        return post.text

    # ------------------------------------------------------------------ verify
    async def verify(self, creds: Credentials) -> AccountInfo:
        """Check the token is a valid Page token of ``page_id`` with ``pages_manage_posts`` and
        ``pages_read_engagement``.

        Uses ``GET /debug_token?input_token=<token>`` (authorised by the token itself): ``is_valid``,
        ``type`` (must be ``PAGE``), ``profile_id`` (must be the page) and ``scopes``/``granular_scopes``;
        then reads the page (``id,name,link,followers_count,fan_count``).
        """
        page_id, token = creds["page_id"], creds["access_token"]
        data = (await self.api.get("debug_token", token, {"input_token": token})).get("data") or {}
        if not data.get("is_valid", False):
            raise AuthError("Facebook says this access token is not valid — reconnect the Page.", code=190)
        if str(data.get("type", "")).upper() != "PAGE":
            raise PermanentError(
                f"This is a {data.get('type', 'non-Page')} token, not a Page access token: "
                "get the Page token from GET /me/accounts and connect again."
            )
        if str(data.get("profile_id", page_id)) != page_id:
            raise PermanentError(f"This token belongs to Page {data.get('profile_id')}, not to Page {page_id}.")
        missing = self._missing_permissions(data, page_id)
        if missing:
            raise PermanentError(
                f"The Page token lacks the permission{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                "needed to publish; reconnect the Page and grant it."
            )
        page = await self.api.get(page_id, token, {"fields": "id,name,link,followers_count,fan_count"})
        followers = page.get("followers_count", page.get("fan_count"))
        return AccountInfo(
            name=str(page.get("name") or page_id),
            url=page.get("link") or f"https://www.facebook.com/{page_id}",
            followers=int(followers) if followers is not None else None,
            details={
                "page_id": str(page.get("id", page_id)),
                "permissions": ",".join(data.get("scopes", [])),
            },
        )

    @staticmethod
    def _missing_permissions(data: Mapping[str, Any], page_id: str) -> list[str]:
        scopes = set(data.get("scopes") or [])
        granular = {g.get("scope"): g.get("target_ids") for g in data.get("granular_scopes") or []}
        missing = []
        for perm in REQUIRED_PERMISSIONS:
            targets = granular.get(perm)
            if perm not in scopes or (targets and page_id not in [str(t) for t in targets]):
                missing.append(perm)
        return missing

    # ------------------------------------------------------------------ publish
    async def prepare(self, post: PostContent, creds: Credentials, key: str) -> Prepared:
        """Fetch and check the photos given by URL ahead (guarded fetcher, recognised by content); the bytes
        kept are uploaded at the time (``source``) instead of Facebook fetching the URL then."""
        files = await fetch_photos(self.client, post, policy=self.fetch_policy, max_bytes=PHOTO_MAX_BYTES,
                                   label="Facebook")
        return Prepared(files=files)

    async def publish(
        self,
        post: PostContent,
        creds: Credentials,
        key: str,
        checkpoint: Mapping[str, str] | None = None,
    ) -> Published:
        """Publish ``post`` on the page; ``connectors.errors`` types (506: ``OutcomeUnknownError``)."""
        problems = self.validate(post)
        if problems:
            raise PermanentError(describe(problems))
        page_id, token = creds["page_id"], creds["access_token"]
        message = self.message_for(post)
        if not post.media:
            data: dict[str, Any] = {"message": message}
            if post.link and post.link_preview:
                data["link"] = post.link
            post_id = str((await self.api.post(f"{page_id}/feed", token, data))["id"])
        elif post.media[0].kind == "video":
            video = post.media[0]
            url = self._media_url(video)
            body = await self.api.post(f"{page_id}/videos", token, {"file_url": url, "description": message})
            post_id = f"{page_id}_{body['id']}"
        elif len(post.media) == 1:
            body = await self._upload_photo(page_id, token, post.media[0], caption=message, published=True)
            post_id = str(body.get("post_id") or f"{page_id}_{body['id']}")
        else:
            fbids = [
                str((await self._upload_photo(page_id, token, item, caption="", published=False))["id"])
                for item in post.media
            ]
            attached = json.dumps([{"media_fbid": fbid} for fbid in fbids])
            data = {"message": message, "attached_media": attached}
            post_id = str((await self.api.post(f"{page_id}/feed", token, data))["id"])
        return Published(post_id, f"https://www.facebook.com/{post_id}", datetime.now(UTC))

    def _media_url(self, item: MediaItem) -> str:
        return public_media_url(
            item.url, base_url=self.base_url, public_base_url=self.public_base_url, label="Facebook"
        )

    async def _upload_photo(
        self, page_id: str, token: str, item: MediaItem, *, caption: str, published: bool
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"published": "true" if published else "false"}
        if caption:
            data["caption"] = caption
        if item.alt_text:
            data["alt_text_custom"] = item.alt_text
        if item.path is not None:
            try:
                content = await asyncio.to_thread(item.path.read_bytes)
            except OSError as exc:
                raise PermanentError(f"Cannot read the media file {item.path.name}: {exc.strerror}") from exc
            files = {"source": (item.path.name, content, item.mime_type or "image/jpeg")}
            return await self.api.post(f"{page_id}/photos", token, data, files)
        data["url"] = self._media_url(item)
        return await self.api.post(f"{page_id}/photos", token, data)

    # ------------------------------------------------------------------ reconciliation
    async def find_published(
        self,
        creds: Credentials,
        key: str,
        since: datetime,
        post: PostContent,
        checkpoint: Mapping[str, str] | None = None,
    ) -> Published | None:
        """The page's post with exactly ``post``'s message, created at or after ``since`` (minus 2 min skew).

        Lists ``GET /{page-id}/posts?since=…&fields=id,message,created_time`` through every page of results,
        so ``None`` means Facebook showed the whole window and the post is not in it. A post without text
        cannot be told apart from any other, so that case raises ``OutcomeUnknownError`` (a person checks).
        """
        message = self.message_for(post)
        if not message.strip():
            raise OutcomeUnknownError("A Facebook post without text cannot be matched; check the Page by hand.")
        page_id, token = creds["page_id"], creds["access_token"]
        floor = since.astimezone(UTC) - CLOCK_SKEW
        found: Published | None = None
        async for item in self._posts(page_id, token, floor, "id,message,created_time"):
            created = graph_time(item.get("created_time"))
            if item.get("message", "") == message and created is not None and created >= floor:
                post_id = str(item["id"])
                found = Published(post_id, f"https://www.facebook.com/{post_id}", created)  # keep the oldest
        return found

    async def _posts(self, page_id: str, token: str, floor: datetime, fields: str) -> Any:
        """Yield the page's posts newest first down to ``floor``, following the ``after`` cursors."""
        params: dict[str, Any] = {"since": int(floor.timestamp()), "fields": fields, "limit": 100}
        for _ in range(MAX_PAGES):
            body = await self.api.get(f"{page_id}/posts", token, params)
            for item in body.get("data") or []:
                created = graph_time(item.get("created_time"))
                if created is not None and created < floor:
                    return
                yield item
            paging = body.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after:
                return
            params["after"] = after
        raise OutcomeUnknownError("Facebook listed too many posts to finish the check.")

    # ------------------------------------------------------------------ engagement
    async def fetch_engagement(self, creds: Credentials, since: datetime) -> list[EngagementRecord]:
        """The page's posts since ``since`` with reactions (as likes), comments and shares, newest first."""
        page_id, token = creds["page_id"], creds["access_token"]
        page = await self.api.get(page_id, token, {"fields": "followers_count,fan_count"})
        raw_followers = page.get("followers_count", page.get("fan_count"))
        followers = int(raw_followers) if raw_followers is not None else None
        records: list[EngagementRecord] = []
        async for item in self._posts(page_id, token, since.astimezone(UTC), ENGAGEMENT_FIELDS):
            created = graph_time(item.get("created_time"))
            if created is None:
                continue
            records.append(
                EngagementRecord(
                    posted_at=created,
                    external_id=str(item.get("id")),
                    likes=_summary_total(item.get("reactions")),
                    comments=_summary_total(item.get("comments")),
                    shares=int((item.get("shares") or {}).get("count", 0)),
                    followers=followers,
                    kind="feed",
                )
            )
        records.sort(key=lambda r: r.posted_at, reverse=True)
        return records


def _summary_total(edge: Any) -> int | None:
    if not isinstance(edge, dict):
        return None
    total = (edge.get("summary") or {}).get("total_count")
    return int(total) if total is not None else None
