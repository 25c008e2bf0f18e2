"""A small async pacer: "next allowed time" slots per key, shared by every connector instance of a class.

Each call to :meth:`Pacer.wait` names one or more :class:`Rule` s (``key``, ``count``, ``period``): at most
``count`` events per key in any ``period``-long window, and never earlier than the key's previous event. The
slot is *reserved* before sleeping (no ``await`` between reading and writing the table), so concurrent
callers line up one after another instead of all waking up at once. A rule with ``count=1`` is a plain
minimum spacing, which is how bursts are smoothed: 30 messages/s becomes one every 1/30 s.

Budgets of a whole token (Telegram's ~30 messages/s per bot, VK's requests per second per token, Telegram's 20
messages a minute per chat) are ``shared`` rules: when several worker processes send with one token, each keeps
its share of the budget (the publisher tells the pacer how many workers are alive), so together they stay within
it. Per-chat spacing across processes is the publisher's (``channels.next_send_at``).

The clock and the sleep function are injectable so tests can measure spacing on a fake clock without real
waits. Keys should never contain a secret in clear text: use :func:`token_key`.

The module is platform-neutral (VK uses it too); it lives here only because this folder is where it was
written.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import ClassVar

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Rule:
    """At most ``count`` events for ``key`` in any window of ``period`` seconds. A ``shared`` rule is a budget
    of the whole token (or chat) that several processes spend at once: each keeps ``1 / senders`` of it
    (:meth:`Pacer.set_senders`)."""

    key: Hashable
    count: int
    period: float
    shared: bool = False

    @classmethod
    def every(cls, key: Hashable, seconds: float) -> Rule:
        """One event per ``seconds`` (a minimum spacing)."""
        return cls(key, 1, seconds)

    @classmethod
    def budget(cls, key: Hashable, count: int, period: float) -> Rule:
        """A rule shared between every process that sends with the same token."""
        return cls(key, count, period, shared=True)


def token_key(secret: str) -> str:
    """A stable, non-reversible key for a token (the pacer's table must never hold tokens)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:24]


class Pacer:
    """Reserves the earliest slot that satisfies every rule, then sleeps until it."""

    _PRUNE_AT = 4096
    # processes spending the shared budgets at once (the publisher's live workers): each keeps its share
    senders: ClassVar[int] = 1

    @classmethod
    def set_senders(cls, n: int) -> None:
        """``n`` processes now send (at least 1): every shared rule's period is stretched ``n`` times here."""
        cls.senders = max(1, int(n))

    def __init__(self, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.clock = clock
        self.sleep = sleep
        self._events: dict[Hashable, deque[float]] = {}

    def reserve(self, *rules: Rule) -> float:
        """Book and return the earliest allowed time (on ``clock``) for an event under ``rules``."""
        now = self.clock()
        slot = now
        for rule in rules:
            events = self._events.get(rule.key)
            if not events:
                continue
            slot = max(slot, events[-1])  # first come, first served per key
            if len(events) >= rule.count:
                period = rule.period * self.senders if rule.shared else rule.period
                slot = max(slot, events[-rule.count] + period)
        for rule in rules:
            events = self._events.setdefault(rule.key, deque(maxlen=max(rule.count, 1)))
            events.append(slot)
        if len(self._events) > self._PRUNE_AT:
            self._prune(now, max((r.period for r in rules), default=0.0))
        return slot

    async def wait(self, *rules: Rule) -> float:
        """Wait for a slot under ``rules``; returns the slot time (on ``clock``)."""
        slot = self.reserve(*rules)
        delay = slot - self.clock()
        if delay > 0:
            await self.sleep(delay)
        return slot

    def _prune(self, now: float, horizon: float) -> None:
        stale = [k for k, ev in self._events.items() if not ev or ev[-1] + max(horizon, 60.0) < now]
        for key in stale:
            del self._events[key]
