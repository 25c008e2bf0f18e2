"""Keeping Instagram Login tokens alive: a long-lived token lasts 60 days and can be refreshed once it is a day old
(``ig_refresh_token``); the job refreshes every one that expires within ``SMM_TOKEN_REFRESH_BEFORE`` (30 days by
default), so a token is renewed about a month before it would stop publishing. It runs every
``SMM_TOKEN_REFRESH_INTERVAL`` in one process of the cluster (``exclusive``: a PostgreSQL advisory lock).

A refresh replaces the sealed credentials only if they are still the ones it read (a conditional ``UPDATE``): a
person re-connecting the channel meanwhile wins. A refusal leaves the channel as it is — its ``token_expiring``
warning says what to do — and is logged without the token.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.connect import repository as repo
from app.connect.oauth import InstagramFlow, SignInError
from app.db import session_scope
from app.security import CredentialBox, CredentialsUnreadable
from app.timeutil import utcnow

log = logging.getLogger("smm.connect.refresh")
MIN_AGE = timedelta(days=1)  # Instagram refuses to refresh a token younger than a day


async def refresh_instagram_tokens(settings: Settings, maker: async_sessionmaker[AsyncSession], box: CredentialBox,
                                   flow: InstagramFlow, now: datetime | None = None) -> int:
    """Refresh every Instagram token that is due; returns how many were refreshed."""
    now = now or utcnow()
    async with session_scope(maker) as session:
        due = [(c.id, c.credentials_sealed) for c in await repo.due_for_refresh(
            session, now, timedelta(seconds=settings.token_refresh_before), MIN_AGE)]
    refreshed = 0
    for channel_id, sealed in due:
        try:
            values = box.open(sealed)
            token, expires = await flow.refresh(values["access_token"])
        except (CredentialsUnreadable, KeyError):
            continue  # the publisher reports unreadable credentials; nothing to refresh with
        except SignInError as exc:
            log.warning("connect.refresh.refused", extra={"channel": channel_id, "reason": exc.message[:200]})
            continue
        async with session_scope(maker) as session:
            refreshed += await repo.replace_token(session, channel_id, sealed,
                                                  box.seal({**values, "access_token": token}), expires, utcnow())
        log.info("connect.refresh.done", extra={"channel": channel_id})
    return refreshed
