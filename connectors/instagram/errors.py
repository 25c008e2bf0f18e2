"""Instagram content-publishing errors -> our error tree, in one place.

The ``error_subcode`` decides first (Meta reuses codes: 4/2207051 is spam, plain 4 a rate limit), then the
code, then the Graph-wide table of ``connectors.graph.classify_common``. Meta's message is kept verbatim and an
explanation is appended. Two Instagram-only signals are subclasses the connector acts on:

* ``MediaNotReady`` (9007/2207027, a ``TransientError``): the container is still processing — the connector
  turns it into ``PublishPending`` with the same checkpoint;
* ``ContainerGone`` (2207020 expired, 2207006 not found, 2207008 missing, a ``PermanentError``): the connector
  re-creates the container once, then gives up with this error.
"""

from __future__ import annotations

import re
from typing import Any

from connectors.errors import ConnectorError, PermanentError, RateLimitedError, TransientError
from connectors.graph import GraphErrorInfo, classify_common

QUOTA_WAIT = 3600.0  # Meta does not say when the moving 24 h window frees a slot: look again in an hour


class MediaNotReady(TransientError):
    """The container has not finished processing (9007/2207027)."""


class ContainerGone(PermanentError):
    """The container expired or is unknown; a new one is needed (2207020, 2207006, 2207008)."""


# subcode -> (class, explanation)
SUBCODES: dict[int, tuple[str, str]] = {
    2207001: ("transient", "Instagram had a server error; it will be retried."),
    2207003: ("transient", "Instagram timed out downloading the media; it will be retried."),
    2207032: ("transient", "Instagram could not create the media container; it will be retried."),
    2207027: ("not_ready", "the media is still being processed."),
    2207020: ("gone", "the media container expired (containers last 24 hours); a new one is needed."),
    2207006: ("gone", "Instagram cannot find the media container; a new one is needed."),
    2207008: ("gone", "the media container is missing or expired; a new one is needed."),
    2207042: ("quota", "the account reached Instagram's limit of API-published posts per 24 hours."),
    2207051: ("permanent", "Instagram restricted this action as suspected spam; review the account."),
    2207050: ("permanent", "the Instagram account is restricted or inactive; open the app to resolve it."),
    2207023: ("permanent", "Instagram does not know this media type."),
    2207028: ("permanent", "a carousel needs 2 to 10 photos or videos."),
    2207040: ("permanent", "a post may tag at most 20 accounts (@mentions)."),
    2207026: ("permanent", "the video format is not supported (use MP4/MOV, H.264, AAC)."),
    2207052: (
        "permanent",
        "Instagram could not fetch the media from its URL: make sure the URL is public (not localhost or a "
        "private network), answers without a login and serves the file itself.",
    ),
    2207004: ("permanent", "the image is larger than 8 MB."),
    2207005: ("permanent", "the image format is not supported: Instagram accepts only JPEG."),
    2207009: ("permanent", "the aspect ratio is out of range: photos must be between 4:5 and 1.91:1."),
    2207010: ("permanent", "the caption is too long: at most 2200 characters."),
    2207013: ("permanent", "the other account is not a business or creator account, or does not exist."),
}

# code -> subcode that explains it, for envelopes that come without a subcode
CODES: dict[int, int] = {
    -1: 2207001,
    -2: 2207003,
    9: 2207042,
    9004: 2207052,
    9007: 2207027,
    24: 2207008,
    25: 2207050,
    352: 2207026,
    36000: 2207004,
    36001: 2207005,
    36003: 2207009,
    36004: 2207010,
}


def explain_subcode(subcode: int | None) -> str | None:
    """A sentence explaining an Instagram error subcode, or ``None`` when it is not in the table."""
    entry = SUBCODES.get(subcode or 0)
    return entry[1] if entry else None


def subcode_in(text: str) -> int | None:
    """The 22070xx subcode mentioned in a container ``status`` text (``Error: … 2207026``), if any."""
    match = re.search(r"\b(2207\d{3})\b", text or "")
    return int(match.group(1)) if match else None


def classify_instagram_error(info: GraphErrorInfo, writes: bool) -> ConnectorError:
    """Map one Instagram Graph error envelope to the error the publisher (or the connector) acts on."""
    subcode = info.subcode if info.subcode in SUBCODES else None
    if subcode is None and info.code in CODES and not (info.code == 24 and info.subcode):
        subcode = CODES[info.code or 0]
    if subcode is None:
        return classify_common(info, writes=writes, label="Instagram")
    kind, why = SUBCODES[subcode]
    text = f"{info.text} — {why}"
    kw: dict[str, Any] = {"code": f"{info.code}/{subcode}", "response": info.excerpt}
    if kind == "transient":
        return TransientError(text, maybe_sent=writes, **kw)
    if kind == "not_ready":
        return MediaNotReady(text, **kw)
    if kind == "gone":
        return ContainerGone(text, **kw)
    if kind == "quota":
        return RateLimitedError(text, retry_after=info.buc_wait or QUOTA_WAIT, **kw)
    return PermanentError(text, **kw)
