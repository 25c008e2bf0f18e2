"""One wake-up path: every change that makes a post due sooner wakes every publisher that could send it.

A change calls :func:`schedule_changed` with its session, *inside* the transaction that makes the change (the
domain services do it: posts created, moved or retried; series occurrences made; a channel active again). Then:

- **PostgreSQL**: ``SELECT pg_notify('smm_schedule', '')`` runs in that transaction, so PostgreSQL delivers it at
  commit, and only if the change committed, to every runner that listens (``smm serve``, ``smm worker``).
- **In-process**: after the commit (a session ``after_commit`` hook) the runners of this process on the same
  database are woken directly.
- **SQLite between processes** (``smm posts add`` beside ``smm serve``): each runner binds a Unix datagram socket
  and registers it in the directory ``<database file>.wake/``; after the commit the committer sends one byte to
  every socket registered there and removes the entries of processes that are gone. On Linux the socket lives in
  the abstract namespace (no path-length limit) and the directory holds an empty marker file of the same name;
  elsewhere the directory entry is the socket itself.

A lost wake-up costs at most the safety tick (``SMM_SAFETY_TICK``): the database stays the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

log = logging.getLogger("smm.wakeup")

NOTIFY_CHANNEL = "smm_schedule"
_PENDING = "smm.wake"  # session.info key: the database to wake after this transaction commits
_ABSTRACT = sys.platform.startswith("linux")

# database key -> wake callbacks of the runners of this process
_local: dict[str, set[Callable[[], None]]] = {}


def database_key(url: str | URL) -> str:
    """Which database a URL names (runners and committers of one process compare these)."""
    return make_url(url).render_as_string(hide_password=True)


def wake_dir(url: str | URL) -> Path | None:
    """``<database file>.wake`` for a SQLite file, else None (PostgreSQL uses NOTIFY; memory has no neighbours)."""
    u = make_url(url)
    if not u.drivername.startswith("sqlite") or not u.database or u.database == ":memory:":
        return None
    db = Path(u.database).resolve()
    return db.with_name(db.name + ".wake")


async def schedule_changed(session: AsyncSession) -> None:
    """Due times changed in this transaction (sooner, or perhaps sooner): wake every publisher once it commits.

    Call it inside the transaction of the change; nothing is sent if the transaction rolls back."""
    if _PENDING in session.info:
        return  # once per transaction is enough
    bind = session.bind
    if bind is None:
        return
    if bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_notify(:c, '')"), {"c": NOTIFY_CHANNEL})
    session.info[_PENDING] = bind.sync_engine.url


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the change is not stored until the outer transaction commits
    url = session.info.pop(_PENDING, None)
    if url is not None:
        wake_all(url)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    if session.in_nested_transaction():
        return  # call schedule_changed outside savepoints (a NOTIFY inside one is lost with it)
    session.info.pop(_PENDING, None)


def wake_all(url: str | URL) -> None:
    """Wake the runners of this process on that database, and (SQLite) those of other processes."""
    for wake in list(_local.get(database_key(url), ())):
        try:
            wake()
        except Exception:
            log.warning("wakeup.local_failed", exc_info=True)
    folder = wake_dir(url)
    if folder is not None:
        poke(folder)


def _address(folder: Path, name: str) -> str:
    if _ABSTRACT:
        digest = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
        return f"\0smm-wake-{digest}-{name}"
    return str(folder / name)


def poke(folder: Path) -> int:
    """Send one byte to every runner registered in ``folder``; remove the entries of processes that are gone.
    Returns how many were reached."""
    try:
        names = [e.name for e in os.scandir(folder) if not e.name.startswith(".")]
    except FileNotFoundError:
        return 0
    reached = 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for name in names:
            try:
                sock.sendto(b"!", _address(folder, name))
                reached += 1
            except BlockingIOError:  # its queue is full: it has wake-ups enough to read
                reached += 1
            except (ConnectionRefusedError, FileNotFoundError):  # the process is gone
                with contextlib.suppress(FileNotFoundError):
                    (folder / name).unlink()
            except OSError:
                log.debug("wakeup.poke_failed", extra={"entry": name}, exc_info=True)
    return reached


class Receiver:
    """A runner's end: registered for in-process wake-ups and (SQLite) bound to its socket in ``<db>.wake/``."""

    def __init__(self, url: str | URL, wake: Callable[[], None]) -> None:
        self.key, self.wake = database_key(url), wake
        self.folder = wake_dir(url)
        self.name = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._sock: socket.socket | None = None

    def start(self) -> None:
        _local.setdefault(self.key, set()).add(self.wake)
        if self.folder is None:
            return
        try:
            self.folder.mkdir(exist_ok=True)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.bind(_address(self.folder, self.name))
            if _ABSTRACT:
                (self.folder / self.name).touch()
            asyncio.get_running_loop().add_reader(sock.fileno(), self._drain)
            self._sock = sock
        except OSError:  # without it, commits of other processes wait for the safety tick
            log.warning("wakeup.socket_unavailable", extra={"folder": str(self.folder)}, exc_info=True)

    @property
    def bound(self) -> bool:
        """Whether other processes can reach this runner (a socket in ``<db>.wake/``)."""
        return self._sock is not None

    def _drain(self) -> None:
        assert self._sock is not None
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while self._sock.recv(64):
                pass
        self.wake()

    def close(self) -> None:
        callbacks: Any = _local.get(self.key, set())
        callbacks.discard(self.wake)
        if not callbacks:
            _local.pop(self.key, None)
        sock, self._sock = self._sock, None
        if sock is None or self.folder is None:
            return
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(sock.fileno())
        sock.close()
        with contextlib.suppress(FileNotFoundError):
            (self.folder / self.name).unlink()
