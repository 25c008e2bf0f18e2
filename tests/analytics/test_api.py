"""Best slots and heatmap over HTTP: the contract's shapes, planted effects found, honesty without history."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import httpx
import numpy as np
import pytest

from app.analytics import service as analytics_service
from app.analytics.synthetic import make_channel as synthetic_channel
from app.db import session_scope
from app.models import Channel, Workspace
from app.workspaces import service as workspaces
from tests.analytics.conftest import planted_rows, to_csv, upload
from tests.conftest import make_channel

SLOT_KEYS = {"weekday", "hour", "score", "low", "high", "posts"}


def synthetic_csv(seed: int, n: int, tz: str, **kw: Any) -> tuple[bytes, np.ndarray]:
    """A synthetic channel (app.analytics.synthetic) as CSV, shifted so its newest post is 4 days old."""
    ch = synthetic_channel(seed, n, tz=tz, **kw)
    h = ch.history
    shift = datetime.now(UTC).timestamp() - ch.now.timestamp()
    shift -= shift % (7 * 86400)  # whole weeks: every post keeps its weekday×hour cell (zone offsets aside)
    out = io.StringIO()
    out.write("posted_at,likes,comments,shares,reach,followers,kind\n")
    for i in range(len(h)):
        at = datetime.fromtimestamp(float(h.posted_at[i]), UTC)  # type: ignore[arg-type]
        at = datetime.fromtimestamp(at.timestamp() + shift, UTC) if abs(shift) > 0 else at
        vals = [h.likes, h.comments, h.shares, h.reach, h.followers]  # type: ignore[list-item]
        out.write(",".join([at.isoformat(), *(str(int(v[i])) for v in vals), str(h.kind[i])]) + "\n")  # type: ignore[index]
    return out.getvalue().encode(), ch.truth


def assert_slot(slot: dict[str, Any]) -> None:
    assert set(slot) == SLOT_KEYS
    assert 0 <= slot["weekday"] <= 6 and 0 <= slot["hour"] <= 23
    assert slot["low"] <= slot["score"] <= slot["high"]
    assert isinstance(slot["posts"], int) and slot["posts"] >= 0


@pytest.mark.parametrize(("tz", "peak", "seed"), [("Europe/Moscow", (1, 18), 1), ("America/New_York", (4, 12), 3)])
async def test_best_slots_find_the_planted_peak(client: httpx.AsyncClient, tz: str, peak: tuple[int, int],
                                                seed: int) -> None:
    ch = await make_channel(client, timezone=tz)
    assert (await upload(client, ch["id"], to_csv(planted_rows(600, tz, peak=peak, seed=seed)))).status_code == 200
    r = await client.get(f"/api/v1/channels/{ch['id']}/best-slots", params={"count": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"timezone", "effect_detected", "posts_used", "slots", "explanation"}
    assert "exploration" not in body
    assert body["timezone"] == tz and body["effect_detected"] is True and body["posts_used"] == 600
    assert len(body["slots"]) == 5
    for slot in body["slots"]:
        assert_slot(slot)
    top = body["slots"][0]
    assert top["weekday"] == peak[0] and abs(top["hour"] - peak[1]) <= 1, body["slots"]
    assert body["explanation"]


async def test_heatmap_has_all_cells_in_order(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    await upload(client, ch["id"], to_csv(planted_rows(300, "Europe/Moscow", peak=(2, 12))))
    r = await client.get(f"/api/v1/channels/{ch['id']}/heatmap")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["timezone"] == "Europe/Moscow"
    cells = body["cells"]
    assert [(c["weekday"], c["hour"]) for c in cells] == [(d, h) for d in range(7) for h in range(24)]
    for c in cells:
        assert_slot(c)
    assert sum(c["posts"] for c in cells) == 300
    assert len(body["slots"]) == 5 and body["posts_used"] == 300


async def test_synthetic_channel_top_slot_is_truly_good(client: httpx.AsyncClient) -> None:
    body, truth = synthetic_csv(1, 400, "Europe/Berlin", peak_to_trough=1.5)
    ch = await make_channel(client, timezone="Europe/Berlin")
    assert (await upload(client, ch["id"], body)).json()["imported"] == 400
    answer = (await client.get(f"/api/v1/channels/{ch['id']}/best-slots?count=3")).json()
    assert answer["effect_detected"] is True
    top = answer["slots"][0]
    assert np.mean(truth <= truth[top["weekday"] * 24 + top["hour"]]) >= 0.8


async def test_flat_history_claims_no_effect(client: httpx.AsyncClient) -> None:
    body, _ = synthetic_csv(2, 400, "Europe/Berlin", flat=True)
    ch = await make_channel(client, timezone="Europe/Berlin")
    await upload(client, ch["id"], body)
    answer = (await client.get(f"/api/v1/channels/{ch['id']}/best-slots")).json()
    assert answer["effect_detected"] is False and answer["posts_used"] == 400
    assert "no reliable" in answer["explanation"].lower() or "not" in answer["explanation"].lower()


async def test_no_history_is_an_honest_answer(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    r = await client.get(f"/api/v1/channels/{ch['id']}/best-slots?explore=true")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["effect_detected"], body["posts_used"], body["slots"], body["exploration"]) == (False, 0, [], [])
    assert body["has_history"] is False
    assert "import a CSV" in body["explanation"] and f"/channels/{ch['id']}/engagement" in body["explanation"]
    heat = (await client.get(f"/api/v1/channels/{ch['id']}/heatmap")).json()
    assert len(heat["cells"]) == 168 and all(c["posts"] == 0 and c["score"] == 0 for c in heat["cells"])
    assert heat["slots"] == []


async def test_count_bounds_and_exploration(client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    await upload(client, ch["id"], to_csv(planted_rows(300, "Europe/Moscow", peak=(2, 12))))
    for bad in (0, 169, -1):
        r = await client.get(f"/api/v1/channels/{ch['id']}/best-slots", params={"count": bad})
        assert r.status_code == 422, bad
    all_cells = (await client.get(f"/api/v1/channels/{ch['id']}/best-slots", params={"count": 168})).json()
    slots = all_cells["slots"]
    assert len(slots) == 168 and len({(s["weekday"], s["hour"]) for s in slots}) == 168
    assert all(a["score"] >= b["score"] for a, b in pairwise(slots))  # ranked by the score shown
    explored = (await client.get(f"/api/v1/channels/{ch['id']}/best-slots?explore=true")).json()
    assert 0 < len(explored["exploration"]) <= 3
    for slot in explored["exploration"]:
        assert_slot(slot)
        assert slot["posts"] <= 2


async def test_other_workspace_gets_404(client: httpx.AsyncClient, anon: httpx.AsyncClient, app: Any) -> None:
    ch = await make_channel(client)
    async with session_scope(app.state.sessionmaker) as session:
        ws = await workspaces.ensure_workspace(session, "other")
        key, _ = await workspaces.add_key(session, ws)
    other = {"Authorization": f"Bearer {key}"}
    for path in ("best-slots", "heatmap"):
        assert (await anon.get(f"/api/v1/channels/{ch['id']}/{path}", headers=other)).status_code == 404
    r = await anon.post(f"/api/v1/channels/{ch['id']}/engagement", headers={**other, "Content-Type": "text/csv"},
                        content=b"posted_at\n1714700000\n")
    assert r.status_code == 404
    assert (await anon.post(f"/api/v1/channels/{ch['id']}/engagement/sync", headers=other)).status_code == 404
    # the web UI's entry point refuses a foreign channel too
    async with session_scope(app.state.sessionmaker) as session:
        channel = await session.get(Channel, ch["id"])
        with pytest.raises(analytics_service.ApiError):
            await analytics_service.heatmap(session, ws, channel)
        own = await session.get(Workspace, channel.workspace_id)
        data = await analytics_service.heatmap(session, own, channel)
        assert len(data["cells"]) == 168 and data["posts_used"] == 0


async def test_sibling_channels_pool_a_prior(client: httpx.AsyncClient) -> None:
    first = await make_channel(client, name="main")
    await upload(client, first["id"], to_csv(planted_rows(400, "Europe/Moscow", peak=(1, 18))))
    fresh = await make_channel(client, name="new")
    body = (await client.get(f"/api/v1/channels/{fresh['id']}/best-slots")).json()
    assert body["posts_used"] == 0 and "pooled from 1 other telegram channel" in body["prior"]
    assert body["slots"] and body["slots"][0]["weekday"] == 1


@pytest.mark.parametrize(("seed", "flat"), [(5, False), (6, True)])
async def test_slots_are_ranked_by_the_score_shown(client: httpx.AsyncClient, seed: int, flat: bool) -> None:
    """A client never sees slot k+1 with a higher score than slot k (best-slots and the heatmap's top slots), and
    the score stays inside its 80% interval."""
    body, _ = synthetic_csv(seed, 300, "Europe/Berlin", flat=flat)
    ch = await make_channel(client, timezone="Europe/Berlin")
    assert (await upload(client, ch["id"], body)).json()["imported"] == 300
    answer = (await client.get(f"/api/v1/channels/{ch['id']}/best-slots", params={"count": 168})).json()
    heat = (await client.get(f"/api/v1/channels/{ch['id']}/heatmap")).json()
    for slots in (answer["slots"], heat["slots"]):
        for slot in slots:
            assert_slot(slot)
        scores = [s["score"] for s in slots]
        assert scores == sorted(scores, reverse=True), scores[:10]
    by_cell = {(c["weekday"], c["hour"]): c["score"] for c in heat["cells"]}
    assert max(by_cell.values()) == answer["slots"][0]["score"]  # the best cell on the map is slot 1
    assert "cautious" in answer["explanation"]


async def test_counts_agree_and_read_right_with_one_usable_post(client: httpx.AsyncClient) -> None:
    """3 rows imported, 2 of them too young: the answer says '1 post', and says why the others were left out."""
    now = datetime.now(UTC)
    rows = [{"posted_at": (now - timedelta(days=d)).isoformat(), "likes": 30, "comments": 2, "shares": 1,
             "reach": 1000, "followers": 5000, "external_id": f"r{d}"} for d in (10, 1, 2)]
    ch = await make_channel(client)
    assert (await upload(client, ch["id"], to_csv(rows))).json()["imported"] == 3
    answer = (await client.get(f"/api/v1/channels/{ch['id']}/best-slots")).json()
    text = answer["explanation"]
    assert answer["posts_used"] == 1
    assert "based on 1 post," in text and "1 posts" not in text, text
    assert "1 post of the 3 stored was analysed; the other 2 are younger than 3 days" in text, text
    heat = (await client.get(f"/api/v1/channels/{ch['id']}/heatmap")).json()
    assert sum(c["posts"] for c in heat["cells"]) == heat["posts_used"] == 1  # cells count the same posts
