"""The request's unit of work as a FastAPI dependency (``SessionDep``). Kept out of app/db.py so that what uses
only the engine and :func:`app.db.session_scope` (jobs, the ``smm`` command) does not import FastAPI;
``from app.db import SessionDep`` still works."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ApiError

log = logging.getLogger("smm.db")


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed when the route returns, *before* the response is sent (``scope=
    "function"`` below), so a 2xx always means stored. A commit that fails answers 503 with a sentence."""
    async with request.app.state.sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        try:
            await session.commit()
        except Exception as exc:  # whatever failed, the change is not stored: say so, never 2xx
            log.error("db.commit_failed", extra={"path": request.url.path}, exc_info=True)
            with contextlib.suppress(SQLAlchemyError):
                await session.rollback()
            raise ApiError(503, "The change could not be stored (the database did not accept the commit), so "
                                "nothing was saved; try again in a moment.") from exc


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
