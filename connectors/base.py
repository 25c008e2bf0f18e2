"""The connector protocol and the frozen dataclasses that cross it.

A connector turns one post into one platform publication. It is given an ``httpx.AsyncClient`` and a base
URL, never touches the database and imports nothing from ``app``. Errors are raised as the types of
``connectors.errors``; the publisher decides retries from the type alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import ClassVar, Literal, Protocol, runtime_checkable

import httpx

from connectors.addresses import FetchPolicy

MediaKind = Literal["photo", "video", "document", "audio", "animation"]
TextFormat = Literal["plain", "html", "markdownv2"]
PostKind = Literal["feed", "reel", "story"]


@dataclass(frozen=True)
class MediaItem:
    """One attachment. ``url`` is where the platform (or we) can fetch it; ``path`` is set when the file
    lives in the service's own media store, so a connector may upload the bytes instead of a URL."""

    url: str
    kind: MediaKind = "photo"
    path: Path | None = None
    mime_type: str | None = None
    alt_text: str | None = None


@dataclass(frozen=True)
class PostContent:
    """What to publish on one channel (overrides already applied)."""

    text: str = ""
    media: tuple[MediaItem, ...] = ()
    text_format: TextFormat = "plain"
    link: str | None = None
    link_preview: bool = True
    silent: bool = False
    kind: PostKind = "feed"


@dataclass(frozen=True)
class Credentials:
    """A channel's decrypted credentials, by the platform's own field names
    (telegram: bot_token, chat_id; vk: access_token, owner_id; facebook: page_id, access_token;
    instagram: ig_user_id, access_token)."""

    values: Mapping[str, str]

    def __getitem__(self, key: str) -> str:
        return self.values[key]

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)

    def __repr__(self) -> str:  # never leak a token into a log or a traceback
        return f"Credentials(fields={sorted(self.values)})"


@dataclass(frozen=True)
class Problem:
    """One reason a post cannot be published on a platform: ``rule`` is a stable slug
    (``caption_too_long``), ``message`` a sentence for a person, ``field`` the path in the post."""

    rule: str
    message: str
    field: str = "text"


@dataclass(frozen=True)
class PlatformLimits:
    """What a platform accepts, as published in its documentation."""

    text_max: int  # text-only post
    caption_max: int  # text that goes with media
    media_max: int  # attachments per post
    needs_media: bool = False
    media_kinds: frozenset[str] = frozenset({"photo", "video"})
    album_min: int = 2  # a multi-media post needs at least this many items
    length_unit: Literal["chars", "utf16"] = "chars"
    hashtags_max: int | None = None
    mentions_max: int | None = None
    per_chat_per_second: float = 1.0  # steady publishing rate to one chat / wall / page
    per_token_per_second: float = 30.0  # requests per second one token may make
    image_mime_types: frozenset[str] | None = None  # None = any image type


@dataclass(frozen=True)
class AccountInfo:
    """What ``verify`` learned about the account the credentials reach."""

    name: str
    username: str | None = None
    url: str | None = None
    followers: int | None = None
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Published:
    """The platform accepted the post. ``external_id`` is the platform's id, ``url`` the public link."""

    external_id: str
    url: str | None
    published_at: datetime | None = None


@dataclass(frozen=True)
class EngagementRecord:
    """One past post and what it earned. ``None`` means unknown, not zero."""

    posted_at: datetime
    external_id: str | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    views: int | None = None
    reach: int | None = None
    followers: int | None = None
    kind: str | None = None


@dataclass(frozen=True)
class AudienceOnline:
    """An audience-online curve: share of followers online per hour of day (UTC), summing to 1."""

    by_hour_utc: tuple[float, ...]


@dataclass(frozen=True)
class PreparedFile:
    """Bytes fetched and checked ahead for ``post.media[index]``: the service keeps them in its media store
    and hands them back at the time as that item's ``path``, so nothing is fetched at the time."""

    index: int
    name: str
    data: bytes
    mime_type: str

    def __repr__(self) -> str:
        return f"PreparedFile(index={self.index}, name={self.name!r}, bytes={len(self.data)})"


@dataclass(frozen=True)
class Prepared:
    """What a connector did ahead of a post's time (see :class:`Preparing`).

    ``checkpoint`` is handed back to ``publish`` as its checkpoint (strings only, no secrets: it is stored and
    shown to nobody but the connector); ``files`` are media bytes to keep until the time; ``expires_at`` is when
    the platform drops what was made (an Instagram container after 24 h), ``None`` if it keeps it.
    """

    checkpoint: Mapping[str, str] = field(default_factory=dict)
    files: tuple[PreparedFile, ...] = ()
    expires_at: datetime | None = None


@runtime_checkable
class Preparing(Protocol):
    """An optional capability: work a connector can do before the post's time so that, at the time, only the
    visible call is left (VK: photos uploaded and saved; Instagram: containers made and processed; Telegram:
    media fetched and checked).

    ``prepare`` must not make anything visible to the audience. Its errors are the usual ``ConnectorError``
    types; the service shows them on the target before the time and still tries the send at the time. The
    result reaches ``publish`` as ``checkpoint`` (when the target has none of its own yet), so a connector's
    ``publish`` and ``find_published`` read it like any checkpoint: exactly-once and reconciliation are the
    same with or without preparation.
    """

    async def prepare(self, post: PostContent, creds: Credentials, key: str) -> Prepared: ...


@runtime_checkable
class Connector(Protocol):
    """One platform's client. Construct with ``(client: httpx.AsyncClient, base_url: str, **settings)``."""

    platform: ClassVar[str]
    limits: ClassVar[PlatformLimits]
    credential_fields: ClassVar[tuple[str, ...]]

    def validate(self, post: PostContent) -> list[Problem]:
        """Pure check of ``post`` against the platform's rules; an empty list means it can be sent."""
        ...

    async def verify(self, creds: Credentials) -> AccountInfo:
        """Check the credentials can publish; ``AuthError``/``PermanentError`` saying what is missing if not."""
        ...

    async def publish(
        self,
        post: PostContent,
        creds: Credentials,
        key: str,
        checkpoint: Mapping[str, str] | None = None,
    ) -> Published:
        """Publish ``post``. ``key`` is a stable idempotency key of the target (the same on every retry);
        ``checkpoint`` is what a previous call stored through ``PublishPending``."""
        ...

    async def find_published(
        self,
        creds: Credentials,
        key: str,
        since: datetime,
        post: PostContent,
        checkpoint: Mapping[str, str] | None = None,
    ) -> Published | None:
        """After an unknown outcome: the publication made for ``key`` since ``since`` if the platform shows
        one, ``None`` if the platform proves there is none. Raise ``OutcomeUnknownError`` when the platform
        cannot tell (Telegram)."""
        ...

    async def fetch_engagement(self, creds: Credentials, since: datetime) -> list[EngagementRecord]:
        """Past posts since ``since`` with their engagement, newest first."""
        ...


class BaseConnector:
    """Shared plumbing: keeps the client and base URL, and the common content checks.

    ``fetch_policy`` is what URLs a user supplied (media by URL) may reach when the connector fetches them itself
    (:mod:`connectors.fetch`): public addresses only unless the service sets the deployment's policy on the
    instance (``SMM_FETCH_ALLOW_HOSTS``).
    """

    platform: ClassVar[str] = ""
    limits: ClassVar[PlatformLimits]
    credential_fields: ClassVar[tuple[str, ...]] = ()
    platform_label: ClassVar[str] = ""
    fetch_policy: FetchPolicy = FetchPolicy()

    def __init__(self, client: httpx.AsyncClient, base_url: str, **settings: str) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.settings = settings

    def text_length(self, text: str) -> int:
        return text_length(text, self.limits.length_unit)

    def validate(self, post: PostContent) -> list[Problem]:
        return check_common_limits(post, self.limits, self.platform_label or self.platform.title())

    async def verify(self, creds: Credentials) -> AccountInfo:
        raise NotImplementedError

    async def publish(
        self,
        post: PostContent,
        creds: Credentials,
        key: str,
        checkpoint: Mapping[str, str] | None = None,
    ) -> Published:
        raise NotImplementedError

    async def find_published(
        self,
        creds: Credentials,
        key: str,
        since: datetime,
        post: PostContent,
        checkpoint: Mapping[str, str] | None = None,
    ) -> Published | None:
        from connectors.errors import OutcomeUnknownError

        raise OutcomeUnknownError(f"{self.platform_label or self.platform} cannot tell whether it was published")

    async def fetch_engagement(self, creds: Credentials, since: datetime) -> list[EngagementRecord]:
        return []


def text_length(text: str, unit: Literal["chars", "utf16"] = "chars") -> int:
    """Length as the platform counts it: Telegram counts UTF-16 code units, the others characters."""
    if unit == "utf16":
        return len(text.encode("utf-16-le")) // 2
    return len(text)


_HASHTAG = re.compile(r"(?<![\w#])#\w+", re.UNICODE)
_MENTION = re.compile(r"(?<![\w@])@[\w.]+", re.UNICODE)


def count_hashtags(text: str) -> int:
    return len(_HASHTAG.findall(text))


def count_mentions(text: str) -> int:
    return len(_MENTION.findall(text))


def check_common_limits(post: PostContent, limits: PlatformLimits, label: str) -> list[Problem]:
    """The checks every platform shares: length, media count, media kinds, hashtags, mentions."""
    problems: list[Problem] = []
    n = len(post.media)
    length = text_length(post.text, limits.length_unit)
    if n == 0:
        if limits.needs_media:
            problems.append(Problem("media_required", f"{label} posts need at least one photo or video.", "media"))
        elif not post.text.strip() and not post.link:
            problems.append(Problem("empty", f"{label} posts need text or media.", "text"))
        if length > limits.text_max:
            problems.append(
                Problem(
                    "text_too_long",
                    f"{label} allows at most {limits.text_max} characters of text; this text has {length}.",
                )
            )
    else:
        if length > limits.caption_max:
            problems.append(
                Problem(
                    "caption_too_long",
                    f"{label} allows at most {limits.caption_max} characters in a caption with media; "
                    f"this text has {length}.",
                )
            )
        if n > limits.media_max:
            problems.append(
                Problem("too_many_media", f"{label} allows at most {limits.media_max} media items; got {n}.", "media")
            )
        if 1 < n < limits.album_min:
            problems.append(
                Problem("too_few_media", f"{label} albums need at least {limits.album_min} items.", "media")
            )
        for i, item in enumerate(post.media):
            if item.kind not in limits.media_kinds:
                kinds = ", ".join(sorted(limits.media_kinds))
                problems.append(
                    Problem(
                        "media_kind",
                        f"{label} does not accept media of kind '{item.kind}' here (accepted: {kinds}).",
                        f"media[{i}].kind",
                    )
                )
    if limits.hashtags_max is not None and (h := count_hashtags(post.text)) > limits.hashtags_max:
        problems.append(
            Problem("too_many_hashtags", f"{label} allows at most {limits.hashtags_max} hashtags; got {h}.")
        )
    if limits.mentions_max is not None and (m := count_mentions(post.text)) > limits.mentions_max:
        problems.append(
            Problem("too_many_mentions", f"{label} allows at most {limits.mentions_max} @mentions; got {m}.")
        )
    return problems


def describe(problems: Sequence[Problem]) -> str:
    return "; ".join(p.message for p in problems)
