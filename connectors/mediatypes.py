"""The media the platforms publish, recognised by their bytes (``filetype``), never by a name or a header.

JPEG, PNG, GIF and WebP images; MP4 and MOV (QuickTime) video. Uploads are accepted only when their first bytes
are one of these, and ``/media/`` serves only these types inline; the publisher can check fetched media the same
way before a post's time.
"""

from __future__ import annotations

from dataclasses import dataclass

import filetype

SNIFF_BYTES = 8192  # filetype looks at most this far into a file


@dataclass(frozen=True)
class MediaType:
    """One accepted type: its MIME type, the post's media ``kind`` it makes, and its file extensions."""

    mime: str
    kind: str
    extensions: tuple[str, ...]

    def filename(self, name: str) -> str:
        """``name`` with an extension of this type (``evil.html`` -> ``evil.png``), keeping a right one."""
        stem, dot, ext = name.rpartition(".")
        if dot and stem and f".{ext.lower()}" in self.extensions:
            return name
        return f"{stem if dot and stem else name}{self.extensions[0]}"


MEDIA_TYPES: dict[str, MediaType] = {
    t.mime: t
    for t in (
        MediaType("image/jpeg", "photo", (".jpg", ".jpeg", ".jpe")),
        MediaType("image/png", "photo", (".png",)),
        MediaType("image/gif", "animation", (".gif",)),
        MediaType("image/webp", "photo", (".webp",)),
        MediaType("video/mp4", "video", (".mp4",)),
        MediaType("video/quicktime", "video", (".mov", ".qt")),
    )
}
ACCEPTED_DESCRIPTION = "a JPEG, PNG, GIF or WebP image or an MP4 or MOV video"
_ALIASES = {"image/apng": "image/png"}  # an animated PNG is a PNG to every platform


def recognise(head: bytes) -> MediaType | None:
    """The accepted type the bytes ``head`` (the first :data:`SNIFF_BYTES` of a file) begin, or ``None``."""
    guess = filetype.guess(head[:SNIFF_BYTES])
    if guess is None:
        return None
    return MEDIA_TYPES.get(_ALIASES.get(guess.mime, guess.mime))
