"""The error tree every connector maps its platform's errors into.

Retry behaviour is the error's *type*; the publisher never looks at platform codes::

    ConnectorError
    ├── TransientError          network error, 5xx, platform "try later"   -> retry with backoff + jitter
    │   └── RateLimitedError    429, VK 6/9/29, Graph 4/17/32/613/80001     -> retry at retry_after, never earlier
    ├── PublishPending          work started on the platform, not done yet -> come back at retry_after
    ├── OutcomeUnknownError     timeout after the request was sent          -> reconcile, else needs_check
    ├── PermanentError          content rejected, chat not found, ...       -> failed, with the platform's words
    │   └── AuthError           401, VK 5/27/28, Graph 102/190              -> failed; channel needs_reauth
    └── ChannelMovedError       Telegram migrate_to_chat_id                 -> update the channel, resend

Every error carries ``message`` (a sentence a person understands, in the platform's own words where the
platform refused), and optionally the platform's ``code`` and a short ``response`` excerpt for the attempts log.
"""

from __future__ import annotations

from collections.abc import Mapping


class ConnectorError(Exception):
    """Base of every error a connector raises."""

    def __init__(
        self,
        message: str,
        *,
        code: str | int | None = None,
        response: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.response = response[:500] if response else None

    def __str__(self) -> str:
        return self.message


class TransientError(ConnectorError):
    """Worth retrying after a back-off: network failure, 5xx, the platform asks to try later.

    ``maybe_sent`` is true when the request may have reached the platform (a 5xx after the body was sent):
    the publisher then reconciles before it resends where the platform can tell.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | int | None = None,
        response: str | None = None,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(message, code=code, response=response)
        self.maybe_sent = maybe_sent


class RateLimitedError(TransientError):
    """The platform said "too many": retry no earlier than ``retry_after`` seconds from now.

    ``needs_attention`` marks long blocks a person should hear about (Facebook 368).
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        code: str | int | None = None,
        response: str | None = None,
        needs_attention: bool = False,
    ) -> None:
        super().__init__(message, code=code, response=response)
        self.retry_after = max(0.0, float(retry_after))
        self.needs_attention = needs_attention


class PublishPending(ConnectorError):
    """The platform accepted the work but has not finished it (an Instagram container still processing).

    ``checkpoint`` is state the publisher must store on the target and hand back on the next call
    (``publish(..., checkpoint=...)``); ``retry_after`` says when to come back. Not a failure and not
    counted as a failed attempt.
    """

    def __init__(
        self,
        message: str,
        *,
        checkpoint: Mapping[str, str],
        retry_after: float = 10.0,
    ) -> None:
        super().__init__(message)
        self.checkpoint = dict(checkpoint)
        self.retry_after = max(0.0, float(retry_after))


class OutcomeUnknownError(ConnectorError):
    """The request was sent but no answer came (timeout, dropped connection after the send).

    The post may exist. The publisher asks ``find_published`` before anything else.
    """


class PermanentError(ConnectorError):
    """The platform refused for a reason a retry will not fix; ``message`` holds its words."""


class AuthError(PermanentError):
    """The credentials are unusable (revoked, expired, wrong): the channel needs re-authorisation."""


class ChannelMovedError(ConnectorError):
    """The chat moved (Telegram group upgraded to a supergroup): store ``new_chat_id`` and resend."""

    def __init__(self, message: str, *, new_chat_id: str, code: str | int | None = None) -> None:
        super().__init__(message, code=code)
        self.new_chat_id = str(new_chat_id)
