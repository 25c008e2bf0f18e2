"""The post page in process: edit everything a post is before it is sent, cancel and delete ask first, a cancel
can be undone, and the notices and status lines say what actually happened."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from tests.conftest import make_channel
from tests.web.conftest import csrf_of

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 100


def future(hours: float = 2) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0).isoformat()


async def make_post(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/posts", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def get_post(client: httpx.AsyncClient, post_id: str) -> dict[str, Any]:
    return dict((await client.get(f"/api/v1/posts/{post_id}")).json())


def form_of(html: str) -> dict[str, Any]:
    """The edit form's fields as the page fills them (text inputs, textareas, checked boxes, selected options)."""
    data: dict[str, Any] = {"csrf_token": csrf_of(html)}
    form = html[html.index('<form method="post" action="/posts/'):]
    form = form[:form.index("</form>")]
    for name, value in re.findall(r'<input[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', form):
        if name in ("media_id", "media_name", "post_id", "media_url", "local_time", "rubric"):
            data[name] = value
    data["local_time"] = (re.search(r'name="local_time" type="datetime-local" step="1" value="([^"]*)"', form)
                          or re.search(r'()', "")).group(1)  # type: ignore[union-attr]
    data["text"] = re.search(r'<textarea id="text" name="text"[^>]*>(.*?)</textarea>', form, re.S).group(1)  # type: ignore[union-attr]
    data["channel_ids"] = re.findall(r'name="channel_ids" value="([^"]+)" id="[^"]+"\s[^>]*checked', form)
    data["when"] = re.search(r'name="when" value="(\w+)" id="when-\w+" checked', form).group(1)  # type: ignore[union-attr]
    zone = re.search(r'<select id="timezone" name="timezone">.*?<option value="([^"]*)" selected', form, re.S)
    data["timezone"] = zone.group(1) if zone else ""
    for cid, text in re.findall(r'name="override_([^"]+)" rows="4"[^>]*>(.*?)</textarea>', form, re.S):
        if text:
            data[f"override_{cid}"] = text
    return data


async def edit(web: httpx.AsyncClient, post_id: str, files: dict[str, Any] | None = None,
               **changes: Any) -> httpx.Response:
    page = await web.get(f"/posts/{post_id}/edit")
    assert page.status_code == 200, page.text
    data = form_of(page.text)
    data.update(changes)
    return await web.post(f"/posts/{post_id}/edit", data=data, files=files)


# --- 1. edit everything a post is ------------------------------------------------------------------------------

async def test_the_post_page_offers_edit_and_the_form_is_filled(web: httpx.AsyncClient,
                                                                client: httpx.AsyncClient) -> None:
    ch = await make_channel(client, name="News")
    post = await make_post(client, text="first words", channel_ids=[ch["id"]], scheduled_at="2030-01-15T20:00",
                           timezone="Europe/Moscow", rubric="Tips", overrides={ch["id"]: {"text": "for news"}},
                           media=[{"url": "https://example.org/a.jpg", "kind": "photo"}])
    page = await web.get(f"/posts/{post['id']}")
    assert f'href="/posts/{post["id"]}/edit">Edit post</a>' in page.text
    page = await web.get(f"/posts/{post['id']}/edit")
    assert page.status_code == 200 and "<h1>Edit post</h1>" in page.text
    assert f'action="/posts/{post["id"]}/edit"' in page.text and "Save changes" in page.text
    data = form_of(page.text)
    assert data["text"] == "first words" and data["channel_ids"] == [ch["id"]] and data["when"] == "at"
    assert data["local_time"] == "2030-01-15T20:00" and data["timezone"] == "Europe/Moscow"
    assert data["rubric"] == "Tips" and data["media_url"] == "https://example.org/a.jpg"
    assert data[f"override_{ch['id']}"] == "for news"


async def test_edit_text_override_rubric_and_time(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    post = await make_post(client, text="v1", channel_ids=[ch["id"]], scheduled_at="2030-01-15T20:00",
                           timezone="Europe/Moscow")
    r = await edit(web, post["id"], text="v2", rubric="News", local_time="2030-02-03T18:00",
                   timezone="Europe/Berlin", **{f"override_{ch['id']}": "v2 for Telegram"})
    assert r.status_code == 303 and r.headers["location"] == f"/posts/{post['id']}?done=saved"
    after = await get_post(client, post["id"])
    assert after["text"] == "v2" and after["rubric"] == "News" and after["timezone"] == "Europe/Berlin"
    assert after["scheduled_at"].startswith("2030-02-03T17:00")
    assert after["overrides"][ch["id"]]["text"] == "v2 for Telegram"
    page = await web.get(r.headers["location"])
    assert "Changes saved. Scheduled for Sun 3 Feb 2030, 18:00 (Europe/Berlin)." in page.text


async def test_edit_channels_adds_and_removes_targets(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    a = await make_channel(client, name="Alpha")
    b = await make_channel(client, "vk", name="Beta")
    post = await make_post(client, text="hello", channel_ids=[a["id"]], scheduled_at=future())
    r = await edit(web, post["id"], channel_ids=[b["id"]])
    assert r.status_code == 303, r.text
    assert [t["channel_id"] for t in (await get_post(client, post["id"]))["targets"]] == [b["id"]]
    r = await edit(web, post["id"], channel_ids=[a["id"], b["id"]])
    assert r.status_code == 303
    targets = (await get_post(client, post["id"]))["targets"]
    assert {t["channel_id"] for t in targets} == {a["id"], b["id"]}
    assert {t["status"] for t in targets} == {"scheduled"}
    r = await edit(web, post["id"], channel_ids=[])
    assert r.status_code == 422 and "Choose at least one channel." in r.text


async def test_edit_media_url_upload_and_remove(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    post = await make_post(client, text="pictures", channel_ids=[ch["id"]], scheduled_at=future())
    r = await edit(web, post["id"], media_url="https://example.org/b.jpg")
    assert r.status_code == 303, r.text
    assert (await get_post(client, post["id"]))["media"][0]["url"] == "https://example.org/b.jpg"
    r = await edit(web, post["id"], media_url="", files={"media_file": ("cat.png", PNG, "image/png")})
    assert r.status_code == 303, r.text
    media = (await get_post(client, post["id"]))["media"]
    assert len(media) == 1 and media[0]["media_id"] and media[0]["url"].endswith("/cat.png")
    page = await web.get(f"/posts/{post['id']}/edit")
    assert f'src="/media/{media[0]["media_id"]}/cat.png"' in page.text
    assert 'name="media_remove"' in page.text and "Remove this file" in page.text
    r = await edit(web, post["id"], media_remove="1")
    assert r.status_code == 303
    assert (await get_post(client, post["id"]))["media"] == []


async def test_upload_without_javascript_stays_on_the_edit_form(web: httpx.AsyncClient,
                                                                client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    post = await make_post(client, text="keep me", channel_ids=[ch["id"]], scheduled_at=future())
    page = await web.get(f"/posts/{post['id']}/edit")
    data = form_of(page.text)
    r = await web.post("/ui/media/upload", data=data, files={"media_file": ("dog.png", PNG, "image/png")})
    assert r.status_code == 200 and "File uploaded" in r.text
    assert f'action="/posts/{post["id"]}/edit"' in r.text and ">keep me</textarea>" in r.text


async def test_edit_is_validated_like_the_api(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    post = await make_post(client, text="short", channel_ids=[ch["id"]], scheduled_at=future(),
                           media=[{"url": "https://example.org/a.jpg", "kind": "photo"}])
    r = await edit(web, post["id"], text="x" * 1100)
    assert r.status_code == 422
    assert "caption" in r.text and 'id="err-text"' in r.text  # beside the text, in the platform's rule
    assert "The changes were not saved" in r.text
    r2 = await edit(web, post["id"], local_time="2030-03-31T02:30", timezone="Europe/Berlin")
    assert r2.status_code == 422 and "Europe/Berlin" in r2.text and 'id="err-when"' in r2.text
    assert (await get_post(client, post["id"]))["text"] == "short"  # nothing of a refused edit is kept


async def test_a_draft_can_be_sent_now(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    post = await make_post(client, text="draft", channel_ids=[ch["id"]])
    assert "Draft — no time set" in (await web.get(f"/posts/{post['id']}")).text
    r = await edit(web, post["id"], when="now")
    assert r.status_code == 303 and r.headers["location"].endswith("?done=now")
    after = await get_post(client, post["id"])
    assert after["status"] == "scheduled" and after["targets"][0]["next_attempt_at"] is not None
    sent_at = datetime.fromisoformat(after["scheduled_at"].replace("Z", "+00:00"))
    assert abs((sent_at - datetime.now(UTC)).total_seconds()) < 30
    assert "Publishing now." in (await web.get(r.headers["location"])).text


async def test_a_draft_can_be_scheduled_or_put_in_the_best_slot(web: httpx.AsyncClient,
                                                                 client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    post = await make_post(client, text="draft", channel_ids=[ch["id"]])
    r = await edit(web, post["id"], when="at", local_time="2030-05-07T09:30", timezone="Europe/Moscow")
    assert r.status_code == 303
    assert (await get_post(client, post["id"]))["scheduled_at"].startswith("2030-05-07T06:30")
    assert "Scheduled for Tue 7 May 2030, 09:30 (Europe/Moscow)." in (await web.get(r.headers["location"])).text
    other = await make_post(client, text="another draft", channel_ids=[ch["id"]])
    r = await edit(web, other["id"], when="auto")
    assert r.status_code == 303 and r.headers["location"].endswith("?done=auto")
    after = await get_post(client, other["id"])
    assert after["status"] == "scheduled" and after["scheduled_at"] is not None
    assert "Scheduled at the best free slot:" in (await web.get(r.headers["location"])).text


async def test_a_scheduled_post_can_go_back_to_draft(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    post = await make_post(client, text="later", channel_ids=[ch["id"]], scheduled_at=future())
    r = await edit(web, post["id"], when="draft")
    assert r.status_code == 303
    assert (await get_post(client, post["id"]))["status"] == "draft"
    page = await web.get(r.headers["location"])
    assert "Changes saved. Draft saved." not in page.text and "Draft saved." in page.text


async def test_a_post_being_sent_cannot_be_edited(web: httpx.AsyncClient, client: httpx.AsyncClient,
                                                  app: Any) -> None:
    from app.models import Target

    ch = await make_channel(client)
    post = await make_post(client, text="soon", channel_ids=[ch["id"]], scheduled_at=future())
    form = form_of((await web.get(f"/posts/{post['id']}/edit")).text)
    async with app.state.sessionmaker() as session:  # a publisher claims it meanwhile
        await session.execute(update(Target).where(Target.post_id == post["id"]).values(status="publishing"))
        await session.commit()
    page = await web.get(f"/posts/{post['id']}")
    assert "Edit post" not in page.text and "Cancel post" not in page.text and "Delete post" not in page.text
    r = await web.get(f"/posts/{post['id']}/edit")
    assert r.status_code == 303 and r.headers["location"] == f"/posts/{post['id']}"
    r = await web.post(f"/posts/{post['id']}/edit", data={**form, "text": "too late"})
    assert r.status_code == 409 and "already being published" in r.text
    assert (await get_post(client, post["id"]))["text"] == "soon"


# --- notices --------------------------------------------------------------------------------------------------

async def test_compose_notices_say_what_happened(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    page = await web.get("/posts/new")
    base = {"csrf_token": csrf_of(page.text), "channel_ids": ch["id"], "timezone": ""}
    r = await web.post("/posts/new", data={**base, "text": "a draft", "when": "draft"})
    text = (await web.get(r.headers["location"])).text
    assert "Draft saved." in text and "queued" not in text
    r = await web.post("/posts/new", data={**base, "text": "right now", "when": "now"})
    assert "Publishing now." in (await web.get(r.headers["location"])).text
    r = await web.post("/posts/new", data={**base, "text": "later", "when": "at", "local_time": "2030-12-03T18:00"})
    assert "Scheduled for Tue 3 Dec 2030, 18:00 (Europe/Moscow)." in (await web.get(r.headers["location"])).text


# --- 4. safe actions --------------------------------------------------------------------------------------------

async def test_cancel_asks_first(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client, name="Morning news")
    post = await make_post(client, text="to cancel", channel_ids=[ch["id"]], scheduled_at=future())
    page = await web.get(f"/posts/{post['id']}")
    assert f'<a class="button danger" href="/posts/{post["id"]}/cancel"' in page.text  # a step, not the action
    assert '<dialog id="confirm-cancel"' in page.text
    page = await web.get(f"/posts/{post['id']}/cancel")
    assert page.status_code == 200 and "Cancel this post?" in page.text and 'role="alertdialog"' in page.text
    assert "Nothing more of it will be sent to Morning news." in page.text and "Yes, cancel the post" in page.text
    assert (await get_post(client, post["id"]))["status"] == "scheduled"  # asking changed nothing


async def test_cancel_then_undo_restores_the_time(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    post = await make_post(client, text="oops", channel_ids=[ch["id"]], scheduled_at="2030-06-01T12:00",
                           timezone="Europe/Moscow")
    token = csrf_of((await web.get(f"/posts/{post['id']}/cancel")).text)
    r = await web.post(f"/posts/{post['id']}/cancel", data={"csrf_token": token})
    assert r.status_code == 303
    page = await web.get(r.headers["location"])
    assert "The post is cancelled: nothing more of it will be sent." in page.text
    assert "Undo cancel" in page.text and "go back to scheduled, at" in page.text
    assert "Edit post" not in page.text and "Cancel post" not in page.text
    r = await web.post(f"/posts/{post['id']}/restore", data={"csrf_token": token, "when": "keep"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=restored")
    after = await get_post(client, post["id"])
    assert after["status"] == "scheduled" and after["scheduled_at"] == post["scheduled_at"]
    page = await web.get(r.headers["location"])
    assert "Cancel undone. Scheduled for Sat 1 Jun 2030, 12:00 (Europe/Moscow)." in page.text
    assert "Undo cancel" not in page.text


async def test_undo_after_the_time_passed_asks_for_a_time_or_draft(web: httpx.AsyncClient,
                                                                   client: httpx.AsyncClient, app: Any) -> None:
    from app.models import Post, Target

    ch = await make_channel(client)
    post = await make_post(client, text="late", channel_ids=[ch["id"]], scheduled_at=future())
    assert (await client.delete(f"/api/v1/posts/{post['id']}")).status_code == 200
    past = datetime.now(UTC) - timedelta(hours=1)
    async with app.state.sessionmaker() as session:  # the clock moved on past the post's time
        await session.execute(update(Post).where(Post.id == post["id"]).values(scheduled_at=past, order_at=past))
        await session.execute(update(Target).where(Target.post_id == post["id"]).values(order_at=past))
        await session.commit()
    page = await web.get(f"/posts/{post['id']}")
    assert "The post's time has passed: choose a new one, or keep it as a draft." in page.text
    assert 'id="restore-local"' in page.text and 'id="restore-draft"' in page.text
    token = csrf_of(page.text)
    r = await web.post(f"/posts/{post['id']}/restore", data={"csrf_token": token, "when": "keep"})
    assert r.status_code == 422 and "has passed" in r.text
    r = await web.post(f"/posts/{post['id']}/restore", data={"csrf_token": token, "when": "at", "local_time": ""})
    assert r.status_code == 422 and "Pick a date and time." in r.text
    r = await web.post(f"/posts/{post['id']}/restore", data={"csrf_token": token, "when": "draft"})
    assert r.status_code == 303
    assert (await get_post(client, post["id"]))["status"] == "draft"
    assert "Cancel undone. The post is a draft again." in (await web.get(r.headers["location"])).text


async def test_delete_asks_then_deletes(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    post = await make_post(client, text="to delete", channel_ids=[ch["id"]])
    page = await web.get(f"/posts/{post['id']}")
    assert f'href="/posts/{post["id"]}/delete"' in page.text
    page = await web.get(f"/posts/{post['id']}/delete")
    assert "Delete this post?" in page.text and "cannot be undone" in page.text
    assert (await client.get(f"/api/v1/posts/{post['id']}")).status_code == 200  # asking changed nothing
    r = await web.post(f"/posts/{post['id']}/delete", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == f"/posts/{post['id']}/deleted"
    assert "The post was deleted" in (await web.get(r.headers["location"])).text
    assert (await client.get(f"/api/v1/posts/{post['id']}")).status_code == 404
    r = await web.post(f"/posts/{post['id']}/delete", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 404 and "Post not found" in r.text


async def test_a_published_post_is_not_deletable(web: httpx.AsyncClient, client: httpx.AsyncClient,
                                                 app: Any) -> None:
    from app.models import Target

    ch = await make_channel(client)
    post = await make_post(client, text="out", channel_ids=[ch["id"]], scheduled_at=future())
    token = csrf_of((await web.get(f"/posts/{post['id']}")).text)
    async with app.state.sessionmaker() as session:  # what the publisher writes once it is out
        await session.execute(update(Target).where(Target.post_id == post["id"]).values(status="published"))
        await session.commit()
    assert "Delete post" not in (await web.get(f"/posts/{post['id']}")).text
    page = await web.get(f"/posts/{post['id']}/delete")
    assert "This post cannot be deleted" in page.text and "Yes, delete the post" not in page.text
    r = await web.post(f"/posts/{post['id']}/delete", data={"csrf_token": token})
    assert r.status_code == 409 and "would not take it down on the platform" in r.text


# --- wording on the post page -----------------------------------------------------------------------------------

async def test_mixed_targets_read_truthfully(web: httpx.AsyncClient, client: httpx.AsyncClient, app: Any) -> None:
    from app.models import Target

    chans = [await make_channel(client, name=f"C{i}") for i in range(4)]
    post = await make_post(client, text="four", channel_ids=[c["id"] for c in chans], scheduled_at=future())
    async with app.state.sessionmaker() as session:  # the publisher got three of them out
        await session.execute(update(Target).where(Target.post_id == post["id"],
                                                   Target.channel_id != chans[3]["id"]).values(status="published"))
        await session.commit()
    assert (await get_post(client, post["id"]))["status"] == "scheduled"  # the API's documented summary
    page = await web.get(f"/posts/{post['id']}")
    assert "3 of 4 published · 1 scheduled" in page.text
    assert '<h1>Post <span class="badge status-scheduled">' not in page.text


async def test_an_instagram_pending_step_is_in_progress_not_an_error(web: httpx.AsyncClient,
                                                                     client: httpx.AsyncClient, app: Any) -> None:
    from app.models import Attempt, Target

    ch = await make_channel(client)  # the page shows the step by its outcome, whichever platform wrote it
    post = await make_post(client, text="pic", channel_ids=[ch["id"]], scheduled_at=future())
    async with app.state.sessionmaker() as session:  # the attempt row the publisher writes for the container step
        target = (await session.execute(Target.__table__.select().where(Target.post_id == post["id"]))).first()
        assert target is not None
        session.add(Attempt(target_id=target.id, outcome="pending", message="container IN_PROGRESS"))
        await session.commit()
    page = (await web.get(f"/posts/{post['id']}")).text
    assert "in progress: the platform is still processing the media" in page
    assert '<div class="progress-text">container IN_PROGRESS</div>' in page
    assert '<div class="error-text">container IN_PROGRESS</div>' not in page


async def test_a_disabled_channel_is_not_dropped_silently(web: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    ch = await make_channel(client, name="Paused")
    post = await make_post(client, text="hello", channel_ids=[ch["id"]], scheduled_at=future())
    assert (await client.patch(f"/api/v1/channels/{ch['id']}", json={"status": "disabled"})).status_code == 200
    page = await web.get(f"/posts/{post['id']}/edit")
    assert f'id="ch-{ch["id"]}"' in page.text and "· disabled" in page.text
    r = await edit(web, post["id"], text="changed")
    assert r.status_code == 422 and "disabled: Paused; enable them first" in r.text
    assert (await get_post(client, post["id"]))["targets"][0]["channel_id"] == ch["id"]


async def test_a_draft_goes_out_now_or_to_the_best_slot_from_its_page(web: httpx.AsyncClient,
                                                                       client: httpx.AsyncClient) -> None:
    ch = await make_channel(client)
    post = await make_post(client, text="draft", channel_ids=[ch["id"]])
    page = await web.get(f"/posts/{post['id']}")
    assert ">Schedule</h2>" in page.text and "Publish now</button>" in page.text
    assert '<option value="Europe/Moscow" selected>' in page.text  # the channel's clock, as on the compose page
    token = csrf_of(page.text)
    r = await web.post(f"/posts/{post['id']}/send", data={"csrf_token": token, "when": "auto"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=auto")
    assert (await get_post(client, post["id"]))["status"] == "scheduled"
    assert "Scheduled at the best free slot:" in (await web.get(r.headers["location"])).text
    other = await make_post(client, text="another", channel_ids=[ch["id"]])
    r = await web.post(f"/posts/{other['id']}/send", data={"csrf_token": token, "when": "now"})
    assert r.status_code == 303
    assert "Publishing now." in (await web.get(r.headers["location"])).text
    r = await web.post(f"/posts/{other['id']}/send", data={"csrf_token": token, "when": "later"})
    assert r.status_code == 422 and "Choose Publish now or Put in the best slot." in r.text
