"""Acknowledged means stored: the request's unit of work commits before the answer, so a commit the database
refuses answers an error (503 with a sentence), never a 2xx for data that was not stored.

The commit is made to fail on the real engine (an engine ``commit`` event that raises, on SQLite and PostgreSQL
alike); the routes themselves are not touched. Channel create/update/delete rely on the session dependency's commit
(they do not commit themselves), which FastAPI used to run after the response was sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from tests.conftest import TG_TOKEN, make_channel


class Refuse:
    """While armed, every commit on the engine fails (as a database that lost the transaction would)."""

    def __init__(self, app: Any) -> None:
        self.engine = app.state.engine.sync_engine
        self.armed = False
        event.listen(self.engine, "commit", self._commit)

    def _commit(self, _conn: Any) -> None:
        if self.armed:
            raise OperationalError("COMMIT", {}, Exception("the database refused the commit (test)"))

    def close(self) -> None:
        event.remove(self.engine, "commit", self._commit)


@pytest.fixture
def refuse(app: Any) -> Iterator[Refuse]:
    r = Refuse(app)
    yield r
    r.close()


def _is_refusal(r: httpx.Response) -> None:
    assert r.status_code == 503, (r.status_code, r.text)
    assert "could not be stored" in r.json()["detail"]


async def test_channel_create_whose_commit_fails_answers_503_and_stores_nothing(
    client: httpx.AsyncClient, refuse: Refuse
) -> None:
    refuse.armed = True
    r = await client.post("/api/v1/channels", json={"platform": "telegram", "name": "never stored",
                                                    "timezone": "UTC",
                                                    "credentials": {"bot_token": TG_TOKEN, "chat_id": "@neverstored"}})
    _is_refusal(r)
    refuse.armed = False
    listed = await client.get("/api/v1/channels")
    assert listed.status_code == 200
    assert [c["name"] for c in listed.json()["items"]] == []


async def test_channel_update_and_delete_whose_commit_fails_answer_503(
    client: httpx.AsyncClient, refuse: Refuse
) -> None:
    ch = await make_channel(client)
    refuse.armed = True
    _is_refusal(await client.patch(f"/api/v1/channels/{ch['id']}", json={"name": "renamed"}))
    _is_refusal(await client.delete(f"/api/v1/channels/{ch['id']}"))
    refuse.armed = False
    got = (await client.get(f"/api/v1/channels/{ch['id']}")).json()
    assert (got["name"], got["status"]) == (ch["name"], "active")


async def test_a_route_that_commits_itself_never_answers_2xx_when_its_commit_fails(
    client: httpx.AsyncClient, refuse: Refuse
) -> None:
    ch = await make_channel(client)
    refuse.armed = True
    try:
        r = await client.post("/api/v1/posts", json={"text": "x", "channel_ids": [ch["id"]],
                                                     "scheduled_at": "2099-01-01T10:00:00Z"})
    except OperationalError:  # the in-process transport re-raises what the server logged as a 500
        r = None
    refuse.armed = False
    if r is not None:
        assert r.status_code >= 500 and r.json()["detail"], r.text
    assert (await client.get("/api/v1/posts")).json()["items"] == []
