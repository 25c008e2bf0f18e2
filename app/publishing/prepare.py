"""Prepare ahead, publish on time: the work of a send that can happen before the post's time does.

Today's send of a photo post fetches the media and runs the platform's upload steps after the post falls due,
so the visible call (VK ``wall.post``, Telegram ``sendPhoto``, Instagram ``media_publish``) came seconds late.
A periodic job (every :data:`PREPARE_TICK_S`, one process at a time across workers) looks at the targets due
within ``SMM_PREPARE_AHEAD`` seconds and asks their connector to ``prepare`` (the optional
:class:`connectors.base.Preparing` step):

    VK          photos fetched (guarded fetcher), uploaded and saved (photos.saveWallPhoto): the attachments
    Instagram   photos fetched and checked, containers created and polled until FINISHED (they expire in 24 h)
    Telegram,   photos fetched and checked; their bytes are kept under ``<data dir>/prepared/<target id>/`` and
    Facebook    uploaded at the time (nothing left to fetch then)

What was prepared is recorded on the target (``prepared_at``, ``prepared_payload``: the content's fingerprint,
the connector's checkpoint, the kept files, the expiry; no secrets). At the time the send uses it only if the
fingerprint still matches the target's content and credentials and it has not expired (:func:`apply`);
otherwise it sends as it always did. A failed preparation is shown on the target before the time
(``prepare_error`` and ``last_error``, e.g. "The media from img.example.com could not be fetched (HTTP 404).")
and tried again every :data:`RETRY_FAILED_S`; the send at the time still tries.

An edit shows as a changed fingerprint (and a newer ``updated_at``): the target is prepared again and the old
files are deleted. A cancelled (or otherwise finished) target's preparation is discarded by the same job. What
the platform made is left to the platform: an unpublished Instagram container simply expires after 24 h, and
saved VK wall photos stay in the community's hidden wall album (VK offers ``photos.delete``; it is not called,
the photo is invisible and deleting it would be one more token call per edit).

Exactly-once is unchanged: the prepared checkpoint reaches ``publish`` and ``find_published`` as the target's
checkpoint when it has none of its own, so an unknown outcome is reconciled exactly as without preparation
(the Instagram container's status, the VK wall), and a ``publishing`` target's preparation is never touched.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import session_scope
from app.links import service as links
from app.platforms import ConnectorHub
from app.posts.content import build_content
from app.publishing import prepared as store
from app.publishing import repository as repo
from app.publishing.repository import Job
from app.security import CredentialBox, CredentialsUnreadable
from connectors.base import Credentials, PostContent, Prepared, Preparing
from connectors.errors import ConnectorError

log = logging.getLogger("smm.prepare")

PREPARE_TICK_S = 2.0
PREPARE_MIN_LEAD_S = 1.0  # a target due sooner than this is left to the send (it would race the claim)
PREPARE_BATCH = 200
PREPARE_CONCURRENCY = 20
PREPARE_TIMEOUT_S = 120.0  # one target's preparation; beyond it the send at the time does the work
RETRY_FAILED_S = 30.0
STALE_AFTER_H = 12.0  # look again at what was prepared this long ago (expiry is checked exactly in Python)
EXPIRY_MARGIN = timedelta(minutes=10)  # what expires this close to the send is prepared again


def fingerprint(job: Job) -> str:
    """What the preparation depends on: the content as the channel gets it and the channel's credentials
    (a hash of the sealed value: no secret is stored)."""
    parts = {
        "platform": job.platform, "sandbox": job.sandbox, "text": job.text, "media": job.media,
        "options": job.options, "overrides": job.overrides,
        "creds": hashlib.sha256(job.credentials_sealed.encode()).hexdigest(),
    }
    rules = links.job_rules(job, "")  # the UTM tags the caption gets (only when there are any: older
    if rules.active:                  # fingerprints stay valid)
        parts["links"] = [list(rules.params), list(rules.domains), rules.short_base is not None]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def prepared_dir(settings: Settings, target_id: str) -> Path:
    return settings.data_dir / "prepared" / target_id


def _expires_at(payload: dict[str, Any]) -> datetime | None:
    raw = payload.get("expires_at")
    return datetime.fromisoformat(raw) if isinstance(raw, str) else None


def usable(job: Job, at: datetime) -> dict[str, Any] | None:
    """The target's prepared payload if it still fits its content and lives past ``at``, else ``None``."""
    payload = job.prepared
    if not payload or payload.get("fingerprint") != fingerprint(job):
        return None
    expires = _expires_at(payload)
    if expires is not None and expires <= at + timedelta(seconds=60):
        return None
    return payload


def apply(
    job: Job, content: PostContent, checkpoint: dict[str, Any], settings: Settings, now: datetime
) -> tuple[PostContent, dict[str, Any]]:
    """The content and checkpoint a send uses: the target's own checkpoint wins (a send already under way);
    without one, what was prepared (kept files stand in for the media URLs they were fetched from)."""
    payload = usable(job, now)
    if payload is None:
        return content, checkpoint
    files = payload.get("files") or []
    if files:
        media = list(content.media)
        for f in files:
            path = settings.data_dir / f["file"]
            index = int(f["index"])
            if index >= len(media) or not path.is_file():
                return content, checkpoint  # another machine's data dir: send as without preparation
            media[index] = replace(media[index], path=path, mime_type=f["mime_type"])
        content = replace(content, media=tuple(media))
    if not checkpoint and payload.get("checkpoint"):
        checkpoint = dict(payload["checkpoint"])
    return content, checkpoint


class Preparer:
    """The periodic preparation job of one runner (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        maker: async_sessionmaker[AsyncSession],
        hub: ConnectorHub,
        box: CredentialBox,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings, self.maker, self.hub, self.box, self.clock = settings, maker, hub, box, clock

    async def run_once(self) -> int:
        """Discard what will not be used, then prepare what falls due soon; returns how many were prepared
        (or failed to be)."""
        if self.settings.prepare_ahead <= 0:
            return 0
        await self.discard_leftovers()
        now = self.clock()
        async with session_scope(self.maker) as s:
            ids = await store.due_for_preparing(
                s, after=now + timedelta(seconds=PREPARE_MIN_LEAD_S),
                until=now + timedelta(seconds=self.settings.prepare_ahead),
                retry_before=now - timedelta(seconds=RETRY_FAILED_S),
                stale_before=now - timedelta(hours=STALE_AFTER_H), limit=PREPARE_BATCH,
            )
            jobs = await repo.load_jobs(s, ids)
        good = [job for job in jobs if self._still_good(job)]
        kept = {job.target_id for job in good}
        todo = [job for job in jobs if job.target_id not in kept]
        if good:
            async with session_scope(self.maker) as s:
                for job in good:
                    await store.confirm_prepared(s, job.target_id, now)
        gate = asyncio.Semaphore(PREPARE_CONCURRENCY)

        async def one(job: Job) -> None:
            async with gate:
                await self.prepare_one(job)

        await asyncio.gather(*(one(j) for j in todo))
        return len(todo)

    def _still_good(self, job: Job) -> bool:
        if job.checkpoint:  # a multi-step send is under way: its own checkpoint rules
            return True
        payload = usable(job, (job.next_attempt_at or self.clock()) + EXPIRY_MARGIN)
        return payload is not None

    async def prepare_one(self, job: Job) -> str:
        """Prepare one target and record the outcome; returns ``prepared``, ``nothing`` or ``failed``."""
        started = self.clock()
        connector = self.hub.get(job.platform, job.sandbox)
        fp = fingerprint(job)
        content = links.outgoing(build_content(job.text, job.media, job.options, job.overrides,
                                               self.settings.media_dir),
                                 links.job_rules(job, self.settings.effective_public_base_url))[0]
        if not isinstance(connector, Preparing) or not content.media:
            async with session_scope(self.maker) as s:
                await store.store_prepared(s, job.target_id, at=started, payload={"fingerprint": fp})
            self._delete_files(job.target_id)
            return "nothing"
        try:
            creds = Credentials(self.box.open(job.credentials_sealed))
        except CredentialsUnreadable as exc:
            return await self._failed(job, started, exc.detail)
        try:
            async with asyncio.timeout(PREPARE_TIMEOUT_S):
                done = await connector.prepare(content, creds, f"smm-{job.target_id}")
        except ConnectorError as exc:
            return await self._failed(job, started, exc.message)
        except TimeoutError:
            return await self._failed(job, started, f"preparing took longer than {PREPARE_TIMEOUT_S:g} s")
        except Exception as exc:  # a connector's bug must not stop the job; the send at the time still tries
            log.exception("prepare.target.crashed", extra={"target": job.target_id})
            return await self._failed(job, started, f"internal error while preparing: {type(exc).__name__}")
        payload = await self._payload(job.target_id, fp, done)
        async with session_scope(self.maker) as s:
            kept = await store.store_prepared(s, job.target_id, at=started, payload=payload)
        # files of an earlier preparation go now (a send only ever reads the folder of the fingerprint it has);
        # when a publisher claimed the target meanwhile, nothing of this preparation will be used
        self._delete_files(job.target_id, keep=fp if kept else None)
        log.info("prepare.target.prepared", extra={"target": job.target_id, "platform": job.platform})
        return "prepared"

    async def _payload(self, target_id: str, fp: str, done: Prepared) -> dict[str, Any]:
        payload: dict[str, Any] = {"fingerprint": fp, "checkpoint": {k: str(v) for k, v in done.checkpoint.items()}}
        if done.expires_at is not None:
            payload["expires_at"] = done.expires_at.isoformat()
        if done.files:
            folder = prepared_dir(self.settings, target_id) / fp
            files = []
            for f in done.files:
                path = folder / f"{f.index}-{Path(f.name).name or 'media'}"
                await asyncio.to_thread(_write, path, f.data)
                files.append({"index": f.index, "file": str(path.relative_to(self.settings.data_dir)),
                              "mime_type": f.mime_type, "bytes": len(f.data)})
            payload["files"] = files
        return payload

    async def _failed(self, job: Job, started: datetime, message: str) -> str:
        async with session_scope(self.maker) as s:
            await store.store_prepare_error(s, job.target_id, at=started, message=message)
        log.warning("prepare.target.failed", extra={"target": job.target_id, "platform": job.platform})
        return "failed"

    async def discard_leftovers(self) -> int:
        """Forget (and delete the kept files of) the preparations of cancelled and finished targets."""
        async with session_scope(self.maker) as s:
            ids = await store.leftovers(s)
            await store.discard(s, ids)
        for target_id in ids:
            self._delete_files(target_id)
        return len(ids)

    def _delete_files(self, target_id: str, keep: str | None = None) -> None:
        folder = prepared_dir(self.settings, target_id)
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
            return
        for child in folder.glob("*"):
            if child.name != keep:
                shutil.rmtree(child, ignore_errors=True)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
