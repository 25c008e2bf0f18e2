"""A changed SMM_SECRET_KEY, through real `smm serve` processes: the post fails with a sentence that says so, the
channel needs re-auth, every route that needs the credentials answers 409 with it; `smm secret-key rotate` moves
the credentials to the new key (all or nothing) and the channel publishes again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.security import CREDENTIALS_UNREADABLE, new_secret_key
from tests.served import Served, serve, smm, smm_env, wait_for

pytestmark = pytest.mark.slow

KEY_A, KEY_B = new_secret_key(), new_secret_key()


def _post_now(served: Served, channel_id: str, text: str) -> str:
    r = served.api.post("/api/v1/posts", json={"text": text, "channel_ids": [channel_id], "scheduled_at": "now"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _settled(served: Served, post_id: str) -> dict[str, Any] | None:
    post: dict[str, Any] = served.api.get(f"/api/v1/posts/{post_id}").json()
    return post if post["targets"][0]["status"] in ("published", "failed", "needs_check") else None


def test_a_changed_secret_key_fails_the_post_with_a_sentence_and_rotate_recovers(settings: Settings,
                                                                                tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    first = serve(smm_env(settings, SMM_SECRET_KEY=KEY_A, SMM_SANDBOX="1"), log)
    try:
        r = first.api.post("/api/v1/channels", json={"platform": "vk", "name": "Sandbox VK", "timezone": "UTC",
                                                     "sandbox": True})
        assert r.status_code == 201, r.text
        channel_id = r.json()["id"]
    finally:
        first.stop()

    second = serve(smm_env(settings, SMM_SECRET_KEY=KEY_B, SMM_SANDBOX="1"), log)
    try:
        for path, body in ((f"/api/v1/channels/{channel_id}/verify", None),
                           (f"/api/v1/channels/{channel_id}/engagement/sync", None),
                           ("/api/v1/analyze/community", {"platform": "vk", "community": "club1"})):
            r = second.api.post(path, json=body)
            assert r.status_code == 409, (path, r.status_code, r.text)
            assert r.json()["detail"] == CREDENTIALS_UNREADABLE, path

        post_id = _post_now(second, channel_id, "under the wrong key")
        post = wait_for(lambda: _settled(second, post_id), timeout=60)
        target = post["targets"][0]
        assert target["status"] == "failed" and target["last_error"] == CREDENTIALS_UNREADABLE, target
        attempts = second.api.get(f"/api/v1/posts/{post_id}/attempts").json()
        assert [(a["outcome"], a["message"]) for a in attempts] == [("failed", CREDENTIALS_UNREADABLE)]
        channel = second.api.get(f"/api/v1/channels/{channel_id}").json()
        assert channel["status"] == "needs_reauth" and channel["status_reason"] == CREDENTIALS_UNREADABLE
        keys_in = f"{KEY_A}\n{KEY_B}\n{KEY_B}\n"
        busy = smm(smm_env(settings, SMM_SECRET_KEY=KEY_B), "secret-key", "rotate", input=keys_in)
        assert busy.returncode == 2 and "stop every `smm serve`" in busy.stderr, busy.stderr  # it would seal with A
    finally:
        second.stop()
    assert "Traceback" not in log.read_text()

    env = smm_env(settings, SMM_SECRET_KEY=KEY_B)
    wrong = smm(env, "secret-key", "rotate", input=f"{new_secret_key()}\n{KEY_B}\n{KEY_B}\n")
    assert wrong.returncode == 2 and "cannot be decrypted with the old key" in wrong.stderr, wrong.stderr
    assert "nothing was changed" in wrong.stderr

    rotated = smm(env, "secret-key", "rotate", input=f"{KEY_A}\n{KEY_B}\n{KEY_B}\n")
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted 1 channel credentials" in rotated.stderr
    assert KEY_A not in rotated.stdout + rotated.stderr and KEY_B not in rotated.stdout + rotated.stderr

    third = serve(smm_env(settings, SMM_SECRET_KEY=KEY_B, SMM_SANDBOX="1"), log)
    try:
        channel = third.api.get(f"/api/v1/channels/{channel_id}").json()
        assert channel["status"] == "active", channel  # held only for the unreadable credentials
        assert third.api.post(f"/api/v1/channels/{channel_id}/verify").status_code == 200
        post_id = _post_now(third, channel_id, "after the rotation")
        post = wait_for(lambda: _settled(third, post_id), timeout=60)
        assert post["targets"][0]["status"] == "published", post
    finally:
        third.stop()


def test_rotate_reads_the_keys_from_the_environment_and_refuses_bad_ones(settings: Settings) -> None:
    env = smm_env(settings, SMM_OLD_SECRET_KEY=KEY_A, SMM_NEW_SECRET_KEY="not a key")
    bad = smm(env, "secret-key", "rotate")
    assert bad.returncode == 2 and "the new key is not a valid Fernet key" in bad.stderr, bad.stderr
    same = smm({**env, "SMM_NEW_SECRET_KEY": KEY_A}, "secret-key", "rotate")
    assert same.returncode == 2 and "the same" in same.stderr
    empty = smm({**env, "SMM_NEW_SECRET_KEY": KEY_B}, "secret-key", "rotate")
    assert empty.returncode == 0 and "re-encrypted 0 channel credentials" in empty.stderr, empty.stderr
    printed = smm(env, "secret-key")
    assert printed.returncode == 0 and len(printed.stdout.strip()) == 44  # `smm secret-key` still prints one
