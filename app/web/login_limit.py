"""Sign-in attempts limited per client address and per key prefix.

Refused attempts are rows in ``login_failures`` (the database, not process memory), so every ``smm serve``
behind one load balancer shares the count and a restart does not reset it. A bucket is a hash of the address or
of the key's first characters (the part ``smm keys list`` shows): guesses from many addresses at one key's
prefix are limited as well as many guesses from one address. Rows older than the window are deleted as new
failures arrive.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import LoginFailure

KEY_PREFIX_LENGTH = 8  # as ``ApiKey.prefix``


@dataclass(frozen=True)
class Refusal:
    """Too many refused attempts: the seconds until the next one is allowed, and what was counted."""

    retry_after: int
    counted: str  # "address" | "key"

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after / 60))
        source = "from your address" if self.counted == "address" else "with this key"
        unit = "minute" if minutes == 1 else "minutes"
        return f"Too many sign-in attempts {source}. Try again in {minutes} {unit}."


def client_network(address: str) -> str:
    """What counts as one client: the IPv4 address, or the IPv6 /64 (one host can pick any address in it)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)


def _buckets(address: str, key: str) -> dict[str, str]:
    def digest(value: str) -> str:
        return hashlib.sha256(value.encode()).hexdigest()

    return {"address": digest(f"address:{client_network(address)}"),
            "key": digest(f"prefix:{key[:KEY_PREFIX_LENGTH]}")}


async def refusal(session: AsyncSession, settings: Settings, address: str, key: str,
                  now: datetime) -> Refusal | None:
    """Whether a sign-in from ``address`` with ``key`` must wait, and how long (the longer wait of the two)."""
    since = now - timedelta(seconds=settings.login_window)
    worst: Refusal | None = None
    for counted, bucket in _buckets(address, key).items():
        stmt = select(func.count(), func.min(LoginFailure.failed_at)).where(
            LoginFailure.bucket == bucket, LoginFailure.failed_at > since)
        count, oldest = (await session.execute(stmt)).one()
        if count < settings.login_max_failures or oldest is None:
            continue
        wait = max(1, math.ceil((oldest - since).total_seconds()))
        if worst is None or wait > worst.retry_after:
            worst = Refusal(wait, counted)
    return worst


async def record_failure(session: AsyncSession, settings: Settings, address: str, key: str,
                         now: datetime) -> None:
    """Count a refused sign-in in both buckets (and drop what left the window)."""
    await session.execute(delete(LoginFailure).where(
        LoginFailure.failed_at <= now - timedelta(seconds=settings.login_window)))
    await session.execute(insert(LoginFailure), [{"bucket": b, "failed_at": now}
                                                 for b in _buckets(address, key).values()])
