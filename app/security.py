"""Secrets: the Fernet key that encrypts channel credentials, and API-key hashing."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from app.config import Settings
from app.errors import ApiError
from app.logs import register_credentials, register_secret

log = logging.getLogger(__name__)

OPENED_CACHE = 4096  # credentials kept opened per box (the channels one worker cycles through)
API_KEY_PREFIX = "smm_"
CREDENTIALS_UNREADABLE = (
    "The channel's credentials cannot be decrypted with the current SMM_SECRET_KEY: the key changed; "
    "set the old key or reconnect the channel."
)


class ConfigError(RuntimeError):
    """A setting makes the service refuse to start; the message says which and why (no traceback)."""


class SecretKeyError(ConfigError):
    """The configured secret key is unusable."""


class CredentialsUnreadable(ApiError):
    """Stored credentials that the current secret key cannot open (it changed since they were sealed).

    An ``ApiError`` (409) so that every route that opens credentials answers with the sentence; the publisher
    fails the target with it and marks the channel ``needs_reauth``.
    """

    def __init__(self) -> None:
        super().__init__(409, CREDENTIALS_UNREADABLE)


def new_secret_key() -> str:
    return Fernet.generate_key().decode()


def load_secret_key(settings: Settings) -> str:
    """``SMM_SECRET_KEY`` if set, else the key generated once into the data dir (with a warning)."""
    if settings.secret_key:
        key = settings.secret_key.strip()
    else:
        path = settings.data_dir / "secret.key"
        if path.exists():
            key = path.read_text().strip()
        else:
            key = new_secret_key()
            _write_private(path, key)
            log.warning(
                "security.secret_key.generated: SMM_SECRET_KEY is not set; generated one into %s. "
                "Back it up: channel credentials cannot be decrypted without it.",
                path,
            )
    return checked_secret_key(key, "SMM_SECRET_KEY")


def checked_secret_key(value: str, name: str) -> str:
    """``value`` stripped, if it is a Fernet key; otherwise ``SecretKeyError`` with a sentence naming ``name``."""
    key = value.strip()
    try:
        Fernet(key.encode())
    except (ValueError, TypeError) as exc:
        raise SecretKeyError(
            f"{name} is not a valid Fernet key (urlsafe base64 of 32 bytes); `smm secret-key` prints a new one."
        ) from exc
    return key


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")


class CredentialBox:
    """Encrypts and decrypts a channel's credentials (a dict of strings) with Fernet."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())
        self._opened: dict[str, dict[str, str]] = {}  # sealed token -> what it opened (bounded, oldest out)
        self._mac_key = hashlib.sha256(b"smm-mac:" + key.encode()).digest()
        register_secret(key)  # neither the key nor what it opens ever reaches a log line

    def seal(self, values: dict[str, str]) -> str:
        register_credentials(values)
        return self._fernet.encrypt(json.dumps(values, sort_keys=True).encode()).decode()

    def open(self, token: str) -> dict[str, str]:
        """The credentials sealed in ``token``; ``CredentialsUnreadable`` if this key did not seal them."""
        data = self._opened.get(token)
        if data is None:
            try:
                data = json.loads(self._fernet.decrypt(token.encode()))
            except InvalidToken as exc:
                raise CredentialsUnreadable() from exc
            # the publisher opens a channel's credentials for every send: decrypting each time was ~5 % of
            # its CPU in a burst. Only what this key did open is kept (an unreadable token is never cached).
            if len(self._opened) >= OPENED_CACHE:
                self._opened.pop(next(iter(self._opened)))
            self._opened[token] = data
        register_credentials(data)
        return dict(data)

    def sign(self, payload: bytes) -> str:
        """A short MAC for tamper-evident values (list cursors, CSRF tokens)."""
        return hmac.new(self._mac_key, payload, hashlib.sha256).hexdigest()[:32]

    def verify(self, payload: bytes, signature: str) -> bool:
        return hmac.compare_digest(self.sign(payload), signature)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
