"""Media fetched and checked ahead of a post's time (the ``prepare`` step of :class:`connectors.base.Preparing`).

Every URL goes through the one guarded fetcher (:func:`connectors.fetch.fetch`): its address checks, size and
time caps apply ahead exactly as at the time. What comes back is recognised by its bytes
(:mod:`connectors.mediatypes`): a photo that is not an image is refused now, with a sentence, rather than at
the time. Only photos are fetched ahead: videos can be hundreds of megabytes and stay with today's path.
"""

from __future__ import annotations

import asyncio

import httpx

from connectors.base import MediaItem, PostContent, PreparedFile
from connectors.errors import PermanentError
from connectors.fetch import FetchPolicy, fetch
from connectors.mediatypes import recognise

PREFETCH_TIMEOUT = 60.0


async def fetch_photo(
    client: httpx.AsyncClient,
    item: MediaItem,
    index: int,
    *,
    policy: FetchPolicy,
    max_bytes: int,
    label: str,
    accept: frozenset[str] | None = None,
) -> PreparedFile:
    """The bytes of one photo: read from the media store (``item.path``) or fetched from its URL; checked by
    content (and against ``accept``, the MIME types the platform takes). ``PermanentError`` with a sentence when
    it is not a usable image; :class:`connectors.fetch.FetchError` when it cannot be fetched."""
    if item.path is not None:
        try:
            data = await asyncio.to_thread(item.path.read_bytes)
        except OSError as exc:
            raise PermanentError(f"The media file could not be read: {exc.strerror or exc}") from exc
        name = item.path.name
    else:
        fetched = await fetch(client, item.url, policy=policy, max_bytes=max_bytes, timeout=PREFETCH_TIMEOUT)
        data, name = fetched.content, fetched.name or f"photo{index}"
    kind = recognise(data)
    if kind is None or kind.kind != "photo":
        raise PermanentError(f"media[{index}] is not an image {label} can publish (JPEG, PNG, GIF or WebP).",
                             code="media_type")
    if accept is not None and kind.mime not in accept:
        raise PermanentError(f"media[{index}] is a {kind.mime} image; {label} accepts only "
                             f"{', '.join(sorted(accept))}.", code="media_type")
    return PreparedFile(index, kind.filename(name), data, kind.mime)


async def fetch_photos(
    client: httpx.AsyncClient,
    post: PostContent,
    *,
    policy: FetchPolicy,
    max_bytes: int,
    label: str,
    accept: frozenset[str] | None = None,
) -> tuple[PreparedFile, ...]:
    """:func:`fetch_photo` for every photo of ``post`` given by URL (media-store files are at hand already)."""
    return tuple(
        [
            await fetch_photo(client, item, i, policy=policy, max_bytes=max_bytes, label=label, accept=accept)
            for i, item in enumerate(post.media)
            if item.kind == "photo" and item.path is None
        ]
    )
