"""Telegram connector against the fake Bot API, in-process and over real TCP."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from connectors.base import Credentials, MediaItem, PostContent
from connectors.errors import (
    AuthError,
    ChannelMovedError,
    OutcomeUnknownError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from connectors.fakekit import serve_in_thread
from connectors.pacing import Pacer, Rule
from connectors.telegram.connector import TelegramConnector
from connectors.telegram.fake import create_app
from connectors.telegram.fake_state import Member

TOKEN = "123456789:AAH_fake-token-for-tests-0123456789"
BOT_ID = 123456789
CHANNEL = -1001234567890
PRIVATE = -1009876543210
GROUP = -4242
BASE = "http://fake.test"


def seed(app: FastAPI) -> None:
    state = app.state.fake
    state.add_bot(TOKEN, "poster_bot")
    state.add_chat(
        CHANNEL,
        type="channel",
        title="Chan",
        username="chan",
        member_count=321,
        bots={BOT_ID: Member("administrator", can_post_messages=True)},
    )
    state.add_chat(PRIVATE, type="channel", title="Secret", bots={BOT_ID: Member("administrator")})
    state.add_chat(GROUP, type="group", title="Group", bots={BOT_ID: Member("member")}, member_count=5)
    state.add_chat(-1005555, type="channel", title="NoRights", bots={BOT_ID: Member("member")})
    state.add_chat(
        -1006666,
        type="channel",
        title="NoPost",
        bots={BOT_ID: Member("administrator", can_post_messages=False)},
    )
    state.add_chat(-777, type="group", title="Old", upgraded_to=-1007777, bots={BOT_ID: Member("member")})


def creds(chat: int | str = CHANNEL, token: str = TOKEN) -> Credentials:
    return Credentials({"bot_token": token, "chat_id": str(chat)})


@pytest.fixture
def app() -> FastAPI:
    fake = create_app()
    seed(fake)
    return fake


@pytest.fixture
def tg(app: FastAPI, fake_client: Any, fake_pacer: Pacer) -> TelegramConnector:
    return TelegramConnector(fake_client(app), BASE, pacer=fake_pacer)


def published(app: FastAPI) -> list[dict[str, Any]]:
    return list(app.state.fake.published)


# -- post shapes ---------------------------------------------------------------------------------


async def test_plain_text_is_sent_without_parse_mode_and_keeps_special_characters(
    tg: TelegramConnector, app: FastAPI
) -> None:
    text = "Sale <b>today</b> only: a_b *c* [d] (e) 1.5! #tag"
    result = await tg.publish(PostContent(text=text), creds(), "k1")
    assert result.external_id == "1"
    assert result.url == "https://t.me/chan/1"
    assert result.published_at == datetime.fromtimestamp(published(app)[0]["date"], UTC)
    [msg] = published(app)
    assert msg["text"] == text and msg["parse_mode"] is None
    second = await tg.publish(PostContent(text="again"), creds(), "k2")
    assert second.external_id == "2" and second.url == "https://t.me/chan/2"


async def test_html_and_markdownv2_formatting(tg: TelegramConnector, app: FastAPI) -> None:
    await tg.publish(PostContent(text="<b>Bold</b> &amp; <i>it</i>", text_format="html"), creds(), "k")
    await tg.publish(PostContent(text="*bold* \\_x\\_ 1\\.5\\!", text_format="markdownv2"), creds(), "k")
    first, second = published(app)
    assert (first["text"], first["parse_mode"]) == ("Bold & it", "HTML")
    assert (second["text"], second["parse_mode"]) == ("bold _x_ 1.5!", "MarkdownV2")
    with pytest.raises(PermanentError) as err:
        await tg.publish(PostContent(text="price 1.5 *off", text_format="markdownv2"), creds(), "k")
    assert err.value.message.startswith("Bad Request: can't parse entities: Character '.' is reserved")


async def test_link_preview_off_silent_and_link_appended(tg: TelegramConnector, app: FastAPI) -> None:
    post = PostContent(text="Read this", link="https://example.com/a?b=1&c=2", link_preview=False, silent=True)
    await tg.publish(post, creds(), "k")
    [msg] = published(app)
    assert msg["link_preview_disabled"] is True and msg["silent"] is True
    assert msg["text"] == "Read this\n\nhttps://example.com/a?b=1&c=2"
    await tg.publish(PostContent(text="<b>x</b>", text_format="html", link="https://e.com/?a=1&b=2"), creds(), "k")
    assert published(app)[1]["text"] == "x\n\nhttps://e.com/?a=1&b=2"
    assert published(app)[1]["link_preview_options"] == {"url": "https://e.com/?a=1&b=2"}


async def test_photo_by_url_upload_from_path_video_and_document(
    tg: TelegramConnector, app: FastAPI, tmp_path: Path
) -> None:
    image = tmp_path / "pic.jpg"
    image.write_bytes(b"\xff\xd8\xff" + b"x" * 2000)
    await tg.publish(PostContent(text="by url", media=(MediaItem("https://cdn.example/p.jpg"),)), creds(), "k")
    await tg.publish(
        PostContent(text="<i>up</i>", text_format="html", media=(MediaItem("https://ignored", path=image),)),
        creds(),
        "k",
    )
    await tg.publish(PostContent(media=(MediaItem("https://cdn.example/v.mp4", kind="video"),)), creds(), "k")
    await tg.publish(PostContent(text="doc", media=(MediaItem("https://cdn.example/f.pdf", "document"),)), creds(), "k")
    by_url, upload, video, doc = published(app)
    assert by_url["media"][0]["source"] == "url" and by_url["text"] == "by url"
    assert upload["media"][0] | {"file_id": None} == {
        "kind": "photo",
        "source": "upload",
        "filename": "pic.jpg",
        "size": 2003,
        "file_id": None,
    }
    assert upload["text"] == "up" and upload["parse_mode"] == "HTML"
    assert video["media"][0]["kind"] == "video" and video["text"] == ""
    assert doc["media"][0]["kind"] == "document"


async def test_album_caption_on_first_item_and_ids_joined(tg: TelegramConnector, app: FastAPI, tmp_path: Path) -> None:
    local = tmp_path / "b.png"
    local.write_bytes(b"png" * 10)
    media = (
        MediaItem("https://cdn.example/a.jpg"),
        MediaItem("x", path=local),
        MediaItem("https://cdn.example/c.mp4", kind="video"),
    )
    await tg.publish(PostContent(text="first"), creds(), "k")
    result = await tg.publish(PostContent(text="album caption", media=media), creds(), "k")
    assert result.external_id == "2,3,4"
    assert result.url == "https://t.me/chan/2"
    album = published(app)[1:]
    assert [m["text"] for m in album] == ["album caption", "", ""]
    assert [m["media"][0]["source"] for m in album] == ["url", "upload", "url"]
    assert len({m["media_group_id"] for m in album}) == 1


async def test_url_shapes_private_channel_and_basic_group(tg: TelegramConnector) -> None:
    private = await tg.publish(PostContent(text="hi"), creds(PRIVATE), "k")
    assert private.url == "https://t.me/c/9876543210/1"
    group = await tg.publish(PostContent(text="hi"), creds(GROUP), "k")
    assert group.url is None and group.external_id == "1"
    by_name = await tg.publish(PostContent(text="hi"), creds("@chan"), "k")
    assert by_name.url == "https://t.me/chan/1"


def test_validate_counts_utf16_and_album_rules(tg: TelegramConnector) -> None:
    def rules(post: PostContent) -> list[str]:
        return [p.rule for p in tg.validate(post)]

    assert rules(PostContent(text="ok")) == []
    assert rules(PostContent(text="😀" * 2048)) == []  # 4096 UTF-16 units
    assert rules(PostContent(text="😀" * 2049)) == ["text_too_long"]
    photo = MediaItem("https://x/p.jpg")
    assert rules(PostContent(text="é" * 1025, media=(photo,))) == ["caption_too_long"]
    assert rules(PostContent(text="x", media=(photo,) * 11)) == ["too_many_media"]
    doc = MediaItem("https://x/f.pdf", kind="document")
    assert rules(PostContent(media=(doc, doc))) == []
    assert rules(PostContent(media=(doc, photo))) == ["album_mixed"]
    assert rules(PostContent(media=(photo, MediaItem("https://x/a.gif", kind="animation")))) == ["album_kind"]
    assert rules(PostContent(text="<b>open", text_format="html")) == ["html_invalid"]
    assert rules(PostContent(text="a < b", text_format="html")) == ["html_invalid"]
    assert rules(PostContent(text="a < b")) == []
    assert rules(PostContent(text="x" * 4090, link="https://example.com/long")) == ["text_too_long"]


# -- errors --------------------------------------------------------------------------------------

ERROR_CASES = [
    (
        429,
        {"description": "Too Many Requests: retry after 35", "parameters": {"retry_after": 35}},
        RateLimitedError,
        "Too Many Requests: retry after 35",
    ),
    (
        400,
        {
            "description": "Bad Request: group chat was upgraded to a supergroup chat",
            "parameters": {"migrate_to_chat_id": -1001112223334},
        },
        ChannelMovedError,
        "upgraded to a supergroup",
    ),
    (401, {"description": "Unauthorized"}, AuthError, "Unauthorized"),
    (404, {"description": "Not Found"}, AuthError, "Not Found"),
    (
        403,
        {"description": "Forbidden: bot was kicked from the channel chat"},
        PermanentError,
        "Forbidden: bot was kicked from the channel chat",
    ),
    (400, {"description": "Bad Request: chat not found"}, PermanentError, "Bad Request: chat not found"),
    (
        400,
        {"description": "Bad Request: wrong file identifier/HTTP URL specified"},
        PermanentError,
        "Bad Request: wrong file identifier/HTTP URL specified",
    ),
    (413, {"description": "Request Entity Too Large"}, PermanentError, "Request Entity Too Large"),
    (502, {"description": "Bad Gateway"}, TransientError, "Bad Gateway"),
]


@pytest.mark.parametrize(("status", "extra", "error_type", "message"), ERROR_CASES)
async def test_platform_errors_are_mapped(
    tg: TelegramConnector,
    app: FastAPI,
    arm_fault: Any,
    status: int,
    extra: dict[str, Any],
    error_type: type,
    message: str,
) -> None:
    body = {"ok": False, "error_code": status, **extra}
    await arm_fault(tg.client, "sendMessage", status=status, body=body)
    with pytest.raises(error_type) as err:
        await tg.publish(PostContent(text="x"), creds(), "k")
    assert type(err.value) is error_type
    assert message in err.value.message and TOKEN not in str(err.value)
    assert err.value.code == status
    if isinstance(err.value, RateLimitedError):
        assert err.value.retry_after == 35
    if isinstance(err.value, ChannelMovedError):
        assert err.value.new_chat_id == "-1001112223334"
    if error_type is TransientError:
        assert err.value.maybe_sent is True
    assert published(app) == []


async def test_fake_refusals_in_platform_words(tg: TelegramConnector) -> None:
    cases: list[tuple[PostContent, Credentials, type, str]] = [
        (PostContent(text="x"), creds(-100999), PermanentError, "Bad Request: chat not found"),
        (PostContent(text="x" * 4097), creds(), PermanentError, "Bad Request: message is too long"),
        (
            PostContent(text="é" * 1025, media=(MediaItem("https://x/p.jpg"),)),
            creds(),
            PermanentError,
            "Bad Request: message caption is too long",
        ),
        (
            PostContent(text="x"),
            creds(-1005555),
            PermanentError,
            "need administrator rights in the channel chat",
        ),
        (
            PostContent(text="x", media=(MediaItem("not-a-url"),)),
            creds(),
            PermanentError,
            "Bad Request: wrong file identifier/HTTP URL specified",
        ),
        (
            PostContent(text="x"),
            creds(token="987654321:AAnother-token-unknown-xx"),
            AuthError,
            "Unauthorized",
        ),
        (PostContent(text="x"), creds(token="garbage"), AuthError, "Not Found"),
    ]
    for post, cred, error_type, message in cases:
        with pytest.raises(error_type) as err:
            await tg.publish(post, cred, "k")
        assert message in err.value.message
        assert cred["bot_token"] not in str(err.value)


async def test_upgraded_group_raises_channel_moved(tg: TelegramConnector) -> None:
    with pytest.raises(ChannelMovedError) as err:
        await tg.publish(PostContent(text="x"), creds(-777), "k")
    assert err.value.new_chat_id == "-1007777"


async def test_lost_response_and_drop_are_outcome_unknown(tg: TelegramConnector, app: FastAPI, arm_fault: Any) -> None:
    await arm_fault(tg.client, "sendMessage", kind="lost_response")
    with pytest.raises(OutcomeUnknownError) as err:
        await tg.publish(PostContent(text="lost"), creds(), "k")
    assert TOKEN not in str(err.value)
    assert [m["text"] for m in published(app)] == ["lost"]  # it was sent; the answer was lost
    await arm_fault(tg.client, "sendMessage", kind="drop")
    with pytest.raises(OutcomeUnknownError):
        await tg.publish(PostContent(text="dropped"), creds(), "k")
    assert len(published(app)) == 1
    with pytest.raises(OutcomeUnknownError, match="cannot tell"):
        await tg.find_published(creds(), "k", datetime.now(UTC), PostContent(text="lost"))


async def test_connection_refused_is_transient_and_scrubbed(fake_pacer: Pacer) -> None:
    async with httpx.AsyncClient(timeout=2) as client:
        tg = TelegramConnector(client, "http://127.0.0.1:9", pacer=fake_pacer)
        with pytest.raises(TransientError) as err:
            await tg.publish(PostContent(text="x"), creds(), "k")
    assert type(err.value) is TransientError and err.value.maybe_sent is False
    assert TOKEN not in str(err.value) and TOKEN.split(":")[1] not in str(err.value)


async def test_edit_text_not_modified_counts_as_success(tg: TelegramConnector, app: FastAPI) -> None:
    result = await tg.publish(PostContent(text="v1"), creds(), "k")
    await tg.edit_text(creds(), result.external_id, PostContent(text="v1"))  # "message is not modified"
    await tg.edit_text(creds(), result.external_id, PostContent(text="v2"))
    assert published(app)[0]["text"] == "v2"


# -- verify --------------------------------------------------------------------------------------


async def test_verify_ok_reports_followers(tg: TelegramConnector) -> None:
    info = await tg.verify(creds())
    assert (info.name, info.username, info.url, info.followers) == ("Chan", "chan", "https://t.me/chan", 321)
    assert info.details["bot"] == "@poster_bot" and info.details["bot_status"] == "administrator"
    group = await tg.verify(creds(GROUP))
    assert group.followers == 5 and group.url is None


@pytest.mark.parametrize(
    ("chat", "needle"),
    [
        (-1005555, "is not an administrator of the channel “NoRights”"),
        (-1006666, "lacks the “Post messages” right"),
    ],
)
async def test_verify_explains_missing_rights(tg: TelegramConnector, chat: int, needle: str) -> None:
    with pytest.raises(PermanentError) as err:
        await tg.verify(creds(chat))
    assert needle in err.value.message and "@poster_bot" in err.value.message


async def test_verify_bad_token_is_auth_error(tg: TelegramConnector) -> None:
    with pytest.raises(AuthError):
        await tg.verify(creds(token="111111:AAbsolutely-wrong-token"))
    with pytest.raises(PermanentError) as err:
        await tg.verify(creds(-100404))
    assert err.value.message.startswith("Bad Request: chat not found: the bot @poster_bot cannot see the chat")


async def test_fetch_engagement_is_empty(tg: TelegramConnector) -> None:
    assert await tg.fetch_engagement(creds(), datetime(2026, 1, 1, tzinfo=UTC)) == []


# -- pacing --------------------------------------------------------------------------------------


async def test_pacing_spaces_sends_to_one_chat_and_never_trips_the_flood_control(
    tg: TelegramConnector, app: FastAPI, fake_clock: Any
) -> None:
    app.state.fake.clock = fake_clock
    await tg.client.post("/_control/rate_limit", json={"min_interval": 1.0, "per_minute": 20})
    for i in range(4):
        await tg.publish(PostContent(text=f"m{i}"), creds(), "k")
    await tg.publish(PostContent(text="other chat"), creds(PRIVATE), "k")
    times = [m["at"] for m in published(app) if m["chat"] == CHANNEL]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 4 and all(g >= 1.0 for g in gaps), gaps
    other = published(app)[-1]["at"]
    assert other - times[-1] < 0.1  # another chat only waits for the per-token spacing (1/30 s)


async def test_per_minute_cap_and_concurrent_reservations(fake_clock: Any) -> None:
    pacer = Pacer(clock=fake_clock, sleep=fake_clock.sleep)
    rules = (Rule.every("chat", 1.0), Rule("chat-min", 20, 60.0))
    slots = [pacer.reserve(*rules) for _ in range(21)]
    assert slots[:3] == [fake_clock.now, fake_clock.now + 1, fake_clock.now + 2]
    assert slots[20] - slots[0] == pytest.approx(60.0)
    shared = TelegramConnector.pacer
    assert TelegramConnector(httpx.AsyncClient(), BASE)._pacer is shared  # one budget per process


async def test_fake_flood_control_answers_429_when_not_paced(app: FastAPI, fake_client: Any, fake_clock: Any) -> None:
    app.state.fake.clock = fake_clock  # the fake's time does not move while the connector "waits"
    other_clock = type(fake_clock)()
    tg = TelegramConnector(fake_client(app), BASE, pacer=Pacer(clock=other_clock, sleep=other_clock.sleep))
    await tg.client.post("/_control/rate_limit", json={"min_interval": 1.0, "per_minute": 20})
    await tg.publish(PostContent(text="one"), creds(), "k")
    with pytest.raises(RateLimitedError) as err:
        await tg.publish(PostContent(text="two"), creds(), "k")
    assert err.value.retry_after == 1 and err.value.message == "Too Many Requests: retry after 1"
    fake_clock.advance(1.0)
    for i in range(19):
        await tg.publish(PostContent(text=f"n{i}"), creds(), "k")
        fake_clock.advance(1.0)
    with pytest.raises(RateLimitedError) as err:  # 20 in the last minute
        await tg.publish(PostContent(text="21st"), creds(), "k")
    assert err.value.retry_after >= 1
    await tg.client.post("/_control/rate_limit", json={"enabled": False})
    await tg.publish(PostContent(text="free"), creds(), "k")


# -- sandbox, mounting and real TCP --------------------------------------------------------------


async def test_sandbox_mounted_under_prefix_accepts_invented_credentials(fake_client: Any, fake_pacer: Pacer) -> None:
    parent = FastAPI()
    parent.mount("/sandbox/telegram", create_app(sandbox=True))
    tg = TelegramConnector(fake_client(parent), f"{BASE}/sandbox/telegram", pacer=fake_pacer)
    invented = Credentials({"bot_token": "42424242:made-up-token-for-sandbox", "chat_id": "@my_new_channel"})
    result = await tg.publish(PostContent(text="hello"), invented, "k")
    assert result.url == "https://t.me/my_new_channel/1"
    info = await tg.verify(invented)
    assert info.username == "my_new_channel"
    listed = (await tg.client.get("/sandbox/telegram/_control/published")).json()
    assert [(m["id"], m["text"]) for m in listed] == [(1, "hello")]
    with pytest.raises(AuthError):
        await tg.publish(PostContent(text="x"), Credentials({"bot_token": "bad", "chat_id": "1"}), "k")


async def test_real_tcp_publish_and_hanging_answer(fake_pacer: Pacer) -> None:
    app = create_app(lost_response_mode="hang")
    seed(app)
    with serve_in_thread(app) as url:
        async with httpx.AsyncClient(timeout=0.5) as client:
            tg = TelegramConnector(client, url, pacer=fake_pacer)
            seeded = await client.post(
                f"{url}/_control/seed",
                json={
                    "chats": [
                        {
                            "id": -1003,
                            "type": "channel",
                            "title": "T",
                            "username": "tcp",
                            "bots": {str(BOT_ID): {}},
                        }
                    ]
                },
            )
            assert seeded.status_code == 200
            result = await tg.publish(PostContent(text="over tcp"), creds(-1003), "k")
            assert result.url == "https://t.me/tcp/1"
            await client.post(
                f"{url}/_control/faults",
                json={"method": "sendMessage", "kind": "lost_response", "delay": 1.0},
            )
            with pytest.raises(OutcomeUnknownError) as err:
                await tg.publish(PostContent(text="hang"), creds(-1003), "k")
            assert "ReadTimeout" in err.value.message and TOKEN not in err.value.message
            texts = [m["text"] for m in (await client.get(f"{url}/_control/published")).json()]
            assert texts == ["over tcp", "hang"]


async def test_fake_accepts_query_string_form_and_any_method_case(app: FastAPI, fake_client: Any) -> None:
    client = fake_client(app)
    me = await client.get(f"/bot{TOKEN}/getme")
    assert me.json()["result"]["username"] == "poster_bot"
    form = await client.post(f"/bot{TOKEN}/SENDMESSAGE", data={"chat_id": "@chan", "text": "form <i>x</i>",
                                                              "parse_mode": "HTML"})  # fmt: skip
    assert form.json()["result"]["text"] == "form x"
    query = await client.get(f"/bot{TOKEN}/sendMessage", params={"chat_id": str(CHANNEL), "text": "q"})
    assert query.json()["result"]["message_id"] == 2
    unknown = await client.post(f"/bot{TOKEN}/sendTelepathy", json={})
    assert (unknown.status_code, unknown.json()["description"]) == (404, "Not Found")
    bad = await client.post(f"/bot{TOKEN}/sendMessage", json={"chat_id": CHANNEL, "text": "<x>", "parse_mode": "HTML"})
    assert bad.status_code == 400 and bad.json() == {
        "ok": False,
        "error_code": 400,
        "description": 'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0',
    }
