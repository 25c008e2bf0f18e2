"""Instagram connector (Graph API content publishing for professional accounts).

Publishing is a container flow and never blocks::

    publish(no checkpoint)       POST /{ig}/media (carousel: children first)   -> PublishPending({container_id,…})
    publish(checkpoint)          GET /{container}?fields=status_code,status
        IN_PROGRESS              -> PublishPending (same checkpoint)
        FINISHED                 -> quota check, POST /{ig}/media_publish, GET /{media}?fields=permalink,timestamp
        PUBLISHED                -> already done: the media is located, never published twice
        ERROR                    -> PermanentError with the status subcode explained
        EXPIRED                  -> a new container once (checkpoint ``recreated=1``), then PermanentError

Feed videos are published as reels (``media_type=REELS``, ``share_to_feed=true``): Meta retired feed VIDEO.
The container status does not name the media it became, so a ``PUBLISHED`` container is matched to the newest
``/{ig}/media`` (``/stories`` for a story) item with its caption created after the container; when none
matches, the container id stands in as the external id (the post exists; only its link is unknown).
Checkpoints hold strings only: ``container_id``, ``created_at`` (ISO UTC), ``recreated`` (``0``/``1``) and, while
a carousel's children are still processing, ``children`` (comma-separated ids).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from connectors.base import (
    AccountInfo,
    AudienceOnline,
    BaseConnector,
    Credentials,
    EngagementRecord,
    MediaItem,
    PlatformLimits,
    PostContent,
    Prepared,
    Problem,
    Published,
    check_common_limits,
    describe,
)
from connectors.errors import PermanentError, PublishPending, RateLimitedError, TransientError
from connectors.graph import GraphApi, compose_message, graph_time, public_media_url
from connectors.instagram.errors import (
    QUOTA_WAIT,
    ContainerGone,
    MediaNotReady,
    classify_instagram_error,
    explain_subcode,
    subcode_in,
)
from connectors.prefetch import fetch_photos

MEDIA_FIELDS = "id,timestamp,caption,media_type,media_product_type,permalink,like_count,comments_count"
JPEG_EXTENSIONS = (".jpg", ".jpeg", ".jpe")
CLOCK_SKEW = timedelta(minutes=2)
MAX_PAGES = 40
PHOTO_MAX_BYTES = 8 * 1024 * 1024  # Instagram's limit for an image
CONTAINER_LIFETIME = timedelta(hours=24)
PREPARE_POLL_MAX_S = 90.0  # a container still processing after this is left for publish() to poll
_USERNAME = re.compile(r"^[A-Za-z0-9._]{1,30}$")
_KINDS = {"REELS": "reel", "STORY": "story", "FEED": "feed"}


class InstagramConnector(BaseConnector):
    """Publishes to one Instagram professional account (``ig_user_id``, ``access_token``)."""

    platform: ClassVar[str] = "instagram"
    platform_label: ClassVar[str] = "Instagram"
    credential_fields: ClassVar[tuple[str, ...]] = ("ig_user_id", "access_token")
    limits: ClassVar[PlatformLimits] = PlatformLimits(
        text_max=2200,
        caption_max=2200,
        media_max=10,
        album_min=2,
        needs_media=True,
        media_kinds=frozenset({"photo", "video"}),
        hashtags_max=30,
        mentions_max=20,
        image_mime_types=frozenset({"image/jpeg"}),
        per_chat_per_second=1.0,
        per_token_per_second=10.0,
    )

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        graph_version: str = "v26.0",
        public_base_url: str = "",
        login_base_url: str = "",
        **settings: str,
    ) -> None:
        super().__init__(client, base_url, graph_version=graph_version, public_base_url=public_base_url, **settings)
        self.graph_version = graph_version
        self.public_base_url = public_base_url
        # tokens of Instagram Login (they begin with "IG"; Facebook Login's with "EAA") publish through
        # graph.instagram.com, the same container flow on another host
        roots = {"IG": login_base_url} if login_base_url else None
        self.api = GraphApi(client, self.base_url, graph_version, classify_instagram_error, roots)

    # ------------------------------------------------------------------ validation
    @staticmethod
    def caption_for(post: PostContent) -> str:
        """The caption Instagram gets: the text, plus the link (not clickable on Instagram) when given."""
        return compose_message(post.text, post.link)

    def validate(self, post: PostContent) -> list[Problem]:
        """Media required, JPEG photos, caption ≤ 2200 with ≤ 30 hashtags and ≤ 20 @mentions, carousel 2–10,
        a reel is exactly one video, a story exactly one photo or video."""
        problems = check_common_limits(replace(post, text=self.caption_for(post)), self.limits, "Instagram")
        n = len(post.media)
        if post.kind == "reel" and (n != 1 or post.media[0].kind != "video"):
            problems.append(Problem("reel_media", "An Instagram reel needs exactly one video.", "media"))
        if post.kind == "story" and n != 1:
            problems.append(Problem("story_media", "An Instagram story is exactly one photo or video.", "media"))
        for i, item in enumerate(post.media):
            try:  # refuse now, not at publishing time, a media URL Meta cannot reach
                self._url(item)
            except PermanentError as exc:
                problems.append(Problem("media_not_public", exc.message, f"media[{i}].url"))
            if item.kind == "photo" and not _is_jpeg(item):
                problems.append(Problem("image_format", _not_jpeg_message(item), f"media[{i}]"))
        return problems

    # ------------------------------------------------------------------ verify
    async def verify(self, creds: Credentials) -> AccountInfo:
        """``GET /{ig-user-id}?fields=id,username,followers_count`` plus the publishing quota (which needs the
        content-publish permission); ``AuthError`` on a bad token."""
        ig, token = creds["ig_user_id"], creds["access_token"]
        user = await self.api.get(ig, token, {"fields": "id,username,name,followers_count"})
        try:
            usage, total = await self._quota(ig, token)
        except PermanentError as exc:
            if type(exc) is not PermanentError:
                raise
            raise PermanentError(
                f"{exc.message} — the token cannot publish: grant instagram_content_publish "
                "(or instagram_business_content_publish) and reconnect.",
                code=exc.code,
            ) from exc
        username = user.get("username")
        followers = user.get("followers_count")
        return AccountInfo(
            name=str(user.get("name") or username or ig),
            username=username,
            url=f"https://www.instagram.com/{username}/" if username else None,
            followers=int(followers) if followers is not None else None,
            details={"ig_user_id": str(user.get("id", ig)), "quota": f"{usage}/{total}"},
        )

    # ------------------------------------------------------------------ publish
    async def publish(
        self,
        post: PostContent,
        creds: Credentials,
        key: str,
        checkpoint: Mapping[str, str] | None = None,
    ) -> Published:
        """Advance the container flow one step (see the module docstring); ``PublishPending`` between steps."""
        ig, token = creds["ig_user_id"], creds["access_token"]
        if not checkpoint:
            problems = self.validate(post)
            if problems:
                raise PermanentError(describe(problems))
            new = await self._create(post, ig, token, recreated="0")
            raise PublishPending("Instagram is processing the media.", checkpoint=new, retry_after=_first_wait(post))
        if not checkpoint.get("container_id"):
            new = await self._create(post, ig, token, recreated=checkpoint.get("recreated", "0"), resume=checkpoint)
            raise PublishPending("Instagram is processing the media.", checkpoint=new, retry_after=_first_wait(post))
        container_id = checkpoint["container_id"]
        status, detail = await self._status(container_id, token)
        if status == "IN_PROGRESS":
            raise PublishPending(
                "Instagram is still processing the media.", checkpoint=checkpoint, retry_after=_wait(checkpoint)
            )
        if status == "PUBLISHED":
            return await self._locate(ig, token, checkpoint, post)
        if status == "ERROR":
            subcode = subcode_in(detail)
            why = explain_subcode(subcode) or "Instagram could not process the media."
            raise PermanentError(f"{detail or 'ERROR'} — {why}", code=subcode or "ERROR")
        if status == "EXPIRED":
            raise await self._recreate(post, ig, token, checkpoint, "The container expired before publishing.")
        if status != "FINISHED":
            raise TransientError(f"Instagram reported an unknown container status '{status}'.")
        usage, total = await self._quota(ig, token)
        if usage >= total:
            raise RateLimitedError(
                f"Instagram's publishing limit is used up ({usage} of {total} posts in 24 hours); waiting for "
                "the window to free a slot.",
                retry_after=QUOTA_WAIT,
                code="quota",
            )
        try:
            body = await self.api.post(f"{ig}/media_publish", token, {"creation_id": container_id})
        except MediaNotReady:
            raise PublishPending(
                "Instagram is still processing the media.", checkpoint=checkpoint, retry_after=_wait(checkpoint)
            ) from None
        except ContainerGone as exc:
            raise await self._recreate(post, ig, token, checkpoint, exc.message) from exc
        return await self._describe_media(str(body["id"]), token)

    async def prepare(self, post: PostContent, creds: Credentials, key: str) -> Prepared:
        """The container(s) ahead: photos fetched and checked first (guarded fetcher, JPEG by content; Meta
        fetches the URL itself), then created and polled until ``FINISHED``, so that at the time only
        ``media_publish`` is left. The checkpoint is the one ``publish`` stores for its own containers; it
        expires with the container (24 h). An unpublished container cannot be deleted: it simply expires."""
        ig, token = creds["ig_user_id"], creds["access_token"]
        problems = self.validate(post)
        if problems:
            raise PermanentError(describe(problems))
        await fetch_photos(self.client, post, policy=self.fetch_policy, max_bytes=PHOTO_MAX_BYTES,
                           label="Instagram", accept=self.limits.image_mime_types)
        checkpoint: dict[str, str] = {}
        waited = 0.0
        while waited <= PREPARE_POLL_MAX_S:
            try:
                checkpoint = await self._create(post, ig, token, recreated="0", resume=checkpoint or None)
            except PublishPending as exc:  # carousel items still processing
                checkpoint = {k: str(v) for k, v in (exc.checkpoint or {}).items()}
                waited += await _pause(waited)
                continue
            break
        while checkpoint.get("container_id") and waited <= PREPARE_POLL_MAX_S:
            status, detail = await self._status(checkpoint["container_id"], token)
            if status == "FINISHED":
                break
            if status == "ERROR":
                subcode = subcode_in(detail)
                why = explain_subcode(subcode) or "Instagram could not process the media."
                raise PermanentError(f"{detail or 'ERROR'} — {why}", code=subcode or "ERROR")
            if status not in ("IN_PROGRESS", ""):
                raise TransientError(f"Instagram reported the container as {status} while preparing.")
            waited += await _pause(waited)
        return Prepared(checkpoint, expires_at=_created_at(checkpoint) + CONTAINER_LIFETIME)

    async def _create(
        self, post: PostContent, ig: str, token: str, *, recreated: str, resume: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """Create the container(s) for ``post``; the checkpoint that names them."""
        now = datetime.now(UTC).isoformat()
        caption = self.caption_for(post)
        base: dict[str, str] = {"created_at": now, "recreated": recreated}
        if len(post.media) == 1:
            params = self._single_params(post, post.media[0], caption)
            container = await self.api.post(f"{ig}/media", token, params, writes=False)
            return {**base, "container_id": str(container["id"])}
        children = (resume or {}).get("children", "")
        if not children:
            ids = []
            for item in post.media:
                params = {"is_carousel_item": "true", **self._item_params(item)}
                ids.append(str((await self.api.post(f"{ig}/media", token, params, writes=False))["id"]))
            children = ",".join(ids)
        params = {"media_type": "CAROUSEL", "children": children, "caption": caption}
        try:
            container = await self.api.post(f"{ig}/media", token, params, writes=False)
        except MediaNotReady:  # children still processing: come back and create the parent then
            raise PublishPending(
                "Instagram is processing the carousel items.",
                checkpoint={**base, "children": children},
                retry_after=30.0,
            ) from None
        return {**base, "container_id": str(container["id"])}

    def _url(self, item: MediaItem) -> str:
        return public_media_url(
            item.url, base_url=self.base_url, public_base_url=self.public_base_url, label="Instagram"
        )

    def _item_params(self, item: MediaItem) -> dict[str, str]:
        if item.kind == "video":
            return {"media_type": "VIDEO", "video_url": self._url(item)}
        return {"image_url": self._url(item)}

    def _single_params(self, post: PostContent, item: MediaItem, caption: str) -> dict[str, str]:
        media_key = "video_url" if item.kind == "video" else "image_url"
        if post.kind == "story":
            return {"media_type": "STORIES", media_key: self._url(item)}
        if item.kind == "video":
            return {"media_type": "REELS", "video_url": self._url(item), "caption": caption, "share_to_feed": "true"}
        params = {"image_url": self._url(item), "caption": caption}
        if item.alt_text:
            params["alt_text"] = item.alt_text
        return params

    async def _recreate(
        self, post: PostContent, ig: str, token: str, checkpoint: Mapping[str, str], why: str
    ) -> PublishPending | PermanentError:
        """The error to raise for a dead container: a new container once, then a ``PermanentError``."""
        if checkpoint.get("recreated") == "1":
            return PermanentError(f"{why} A new container expired too; the post was not published.", code="EXPIRED")
        new = await self._create(post, ig, token, recreated="1")
        return PublishPending(f"{why} A new container was created.", checkpoint=new, retry_after=_first_wait(post))

    async def _status(self, container_id: str, token: str) -> tuple[str, str]:
        body = await self.api.get(container_id, token, {"fields": "status_code,status"})
        return str(body.get("status_code") or "").upper(), str(body.get("status") or "")

    async def _quota(self, ig: str, token: str) -> tuple[int, int]:
        body = await self.api.get(f"{ig}/content_publishing_limit", token, {"fields": "quota_usage,config"})
        entry = (body.get("data") or [{}])[0]
        return int(entry.get("quota_usage") or 0), int((entry.get("config") or {}).get("quota_total") or 50)

    async def _describe_media(self, media_id: str, token: str) -> Published:
        """``Published`` for a fresh media id; its permalink is best effort (the post exists either way)."""
        try:
            body = await self.api.get(media_id, token, {"fields": "permalink,timestamp"})
        except (TransientError, PermanentError):
            return Published(media_id, None, datetime.now(UTC))
        return Published(media_id, body.get("permalink"), graph_time(body.get("timestamp")) or datetime.now(UTC))

    async def _locate(self, ig: str, token: str, checkpoint: Mapping[str, str], post: PostContent) -> Published:
        """The media a ``PUBLISHED`` container became (see the module docstring)."""
        created = _created_at(checkpoint) - CLOCK_SKEW
        edge = "stories" if post.kind == "story" else "media"
        body = await self.api.get(f"{ig}/{edge}", token, {"fields": "id,caption,timestamp,permalink", "limit": 50})
        caption = self.caption_for(post)
        matches = [
            (ts, item)
            for item in body.get("data") or []
            if (ts := graph_time(item.get("timestamp"))) is not None and ts >= created
            if edge == "stories" or (item.get("caption") or "") == caption
        ]
        if not matches:
            return Published(checkpoint["container_id"], None, None)
        ts, item = min(matches, key=lambda m: m[0])
        return Published(str(item["id"]), item.get("permalink"), ts)

    # ------------------------------------------------------------------ reconciliation
    async def find_published(
        self,
        creds: Credentials,
        key: str,
        since: datetime,
        post: PostContent,
        checkpoint: Mapping[str, str] | None = None,
    ) -> Published | None:
        """With a container in ``checkpoint``: its ``PUBLISHED`` status proves publication, any other status
        proves there is none. Without one, ``None``: only a call holding a checkpoint ever runs
        ``media_publish``, so no checkpoint means nothing was published (orphan containers just expire)."""
        if not checkpoint or not checkpoint.get("container_id"):
            return None
        status, _ = await self._status(checkpoint["container_id"], creds["access_token"])
        if status == "PUBLISHED":
            return await self._locate(creds["ig_user_id"], creds["access_token"], checkpoint, post)
        if status in {"FINISHED", "IN_PROGRESS", "ERROR", "EXPIRED"}:
            return None
        raise TransientError(f"Instagram reported an unknown container status '{status}'.")

    # ------------------------------------------------------------------ engagement and audience
    async def fetch_engagement(self, creds: Credentials, since: datetime) -> list[EngagementRecord]:
        """The account's media since ``since`` (likes, comments), newest first; stories are not listed."""
        ig, token = creds["ig_user_id"], creds["access_token"]
        raw = (await self.api.get(ig, token, {"fields": "followers_count"})).get("followers_count")
        followers = int(raw) if raw is not None else None
        floor = since.astimezone(UTC)
        params: dict[str, Any] = {"fields": MEDIA_FIELDS, "since": int(floor.timestamp()), "limit": 100}
        records: list[EngagementRecord] = []
        for _ in range(MAX_PAGES):
            body = await self.api.get(f"{ig}/media", token, params)
            for item in body.get("data") or []:
                ts = graph_time(item.get("timestamp"))
                if ts is None or ts < floor:
                    continue
                kind = _KINDS.get(str(item.get("media_product_type")), "feed")
                records.append(
                    EngagementRecord(
                        ts,
                        str(item["id"]),
                        _int(item.get("like_count")),
                        _int(item.get("comments_count")),
                        followers=followers,
                        kind=kind,
                    )
                )
            after = ((body.get("paging") or {}).get("cursors") or {}).get("after")
            if not (body.get("paging") or {}).get("next") or not after:
                break
            params["after"] = after
        records.sort(key=lambda r: r.posted_at, reverse=True)
        return records

    async def fetch_audience_online(self, creds: Credentials) -> AudienceOnline | None:
        """Followers online per UTC hour from ``online_followers`` (the per-day hour maps averaged and
        normalised); ``None`` when Instagram has no data (under 100 followers, empty days, no permission).

        Meta's hour keys count from the day's start; ``end_time`` (e.g. ``…T07:00:00+0000``) marks where that
        day ends in UTC, so hour ``h`` is UTC hour ``(h + end_time.hour) % 24``.
        """
        ig, token = creds["ig_user_id"], creds["access_token"]
        try:
            body = await self.api.get(f"{ig}/insights", token, {"metric": "online_followers", "period": "lifetime"})
        except PermanentError as exc:
            if type(exc) is not PermanentError:
                raise
            return None
        totals, days = [0.0] * 24, 0
        for metric in body.get("data") or []:
            for day in metric.get("values") or []:
                value = day.get("value")
                if not isinstance(value, dict) or not value:
                    continue
                end = graph_time(day.get("end_time"))
                shift = end.hour if end else 0
                for hour, count in value.items():
                    totals[(int(hour) + shift) % 24] += float(count or 0)
                days += 1
        grand = sum(totals)
        if not days or grand <= 0:
            return None
        return AudienceOnline(tuple(t / grand for t in totals))

    async def fetch_business_discovery(self, creds: Credentials, username: str) -> list[EngagementRecord]:
        """Another business/creator account's recent media via Business Discovery, newest first
        (``followers`` is that account's follower count). ``PermanentError`` when it cannot be read."""
        if not _USERNAME.match(username):
            raise PermanentError(f"'{username}' is not a valid Instagram username.")
        ig, token = creds["ig_user_id"], creds["access_token"]
        records: list[EngagementRecord] = []
        after = ""
        for _ in range(4):
            media = "media" + (f".after({after})" if after else "")
            fields = (
                f"business_discovery.username({username}){{followers_count,media_count,"
                f"{media}{{id,timestamp,like_count,comments_count,media_type}}}}"
            )
            found = (await self.api.get(ig, token, {"fields": fields})).get("business_discovery") or {}
            followers = _int(found.get("followers_count"))
            page = found.get("media") or {}
            for item in page.get("data") or []:
                ts = graph_time(item.get("timestamp"))
                if ts is not None:
                    kind = "reel" if item.get("media_type") == "VIDEO" else "feed"
                    records.append(
                        EngagementRecord(
                            ts,
                            item.get("id"),
                            _int(item.get("like_count")),
                            _int(item.get("comments_count")),
                            followers=followers,
                            kind=kind,
                        )
                    )
            after = ((page.get("paging") or {}).get("cursors") or {}).get("after") or ""
            if not (page.get("paging") or {}).get("next") or not after:
                break
        records.sort(key=lambda r: r.posted_at, reverse=True)
        return records


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


IMAGE_NAMES = {"png": "a PNG image", "gif": "a GIF image", "webp": "a WebP image", "heic": "a HEIC image",
               "heif": "a HEIF image", "bmp": "a BMP image", "tif": "a TIFF image", "tiff": "a TIFF image",
               "svg": "an SVG drawing"}


def _not_jpeg_message(item: MediaItem) -> str:
    """Says what the file is and what Instagram takes: an image in another format can be converted, anything
    else (a text file, a PDF…) is not a photo at all."""
    name = item.path.name if item.path is not None else urlsplit(item.url).path.rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    mime = (item.mime_type or "").lower()
    sub = mime.split("/", 1)[1] if mime.startswith("image/") else ""
    kind = IMAGE_NAMES.get(sub or ext)
    takes = "Instagram takes only JPEG photos (.jpg or .jpeg)"
    shown = f" ({name})" if name else ""
    if kind:
        return f"This file{shown} is {kind}; {takes}: save or convert it as JPEG."
    what = f"a {mime} file" if mime else (f"a .{ext} file" if ext else "a file of unknown type")
    return f"This file{shown} is {what}, not a photo; {takes}: attach a JPEG image instead."


def _is_jpeg(item: MediaItem) -> bool:
    if item.mime_type:
        return item.mime_type.lower() in {"image/jpeg", "image/jpg", "image/pjpeg"}
    name = item.path.name if item.path is not None else urlsplit(item.url).path
    return name.lower().endswith(JPEG_EXTENSIONS)


def _created_at(checkpoint: Mapping[str, str]) -> datetime:
    try:
        return datetime.fromisoformat(checkpoint.get("created_at", "")).astimezone(UTC)
    except ValueError:
        return datetime.now(UTC) - timedelta(hours=24)


async def _pause(waited: float) -> float:
    """Wait before polling a container again while preparing: soon at first, then every few seconds."""
    delay = min(5.0, 0.5 + waited / 4)
    await asyncio.sleep(delay)
    return delay


def _first_wait(post: PostContent) -> float:
    return 30.0 if any(m.kind == "video" for m in post.media) else 10.0


def _wait(checkpoint: Mapping[str, str]) -> float:
    """Poll sooner while young, about once a minute later (Meta's advice)."""
    age = (datetime.now(UTC) - _created_at(checkpoint)).total_seconds()
    return min(60.0, max(10.0, age / 4))
