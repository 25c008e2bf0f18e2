"""Property tests (hypothesis): the time parser and the text-length counters used for the platform limits.

* any string gives an aware UTC instant within the supported years, or a ``TimeInputError`` — never another
  exception (the 500s of issue 12 were an ``OverflowError`` and a ``ValueError`` from ``int('²')``);
* Telegram counts UTF-16 code units of the text *after entity parsing*: markup and escapes do not count, and the
  HTML check is total (a sentence or ``None`` for any text).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.timeutil import (
    MAX_INSTANT,
    MIN_INSTANT,
    OutOfRangeError,
    TimeInputError,
    parse_date,
    parse_instant,
    parse_month,
    parse_unix,
)
from connectors.base import MediaItem, PostContent, text_length
from connectors.telegram.connector import TelegramConnector
from connectors.telegram.payloads import check_html, escape_markdown_v2, visible_text

TELEGRAM = TelegramConnector(httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(500))),
                             "http://telegram.invalid")  # validate() is pure: the client is never used
PROFILE = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow])
ZONES = st.sampled_from([None, "UTC", "Europe/Berlin", "Asia/Kolkata", "Pacific/Kiritimati", "America/St_Johns"])
ANY_ZONE = st.one_of(ZONES, st.text(max_size=40))

# strings near the format, so that the parser's later stages (offsets, ranges, zones) are reached, not only its
# first refusal
_DIGITS = st.text(alphabet="0123456789²٣", min_size=1, max_size=5)
NEAR_ISO = st.builds(
    lambda y, mo, d, h, mi, sep, off: f"{y}-{mo}-{d}{sep}{h}:{mi}:00{off}",
    st.one_of(st.integers(1, 9999).map(lambda y: f"{y:04d}"), _DIGITS), st.integers(0, 13).map(lambda m: f"{m:02d}"),
    st.integers(0, 32).map(lambda d: f"{d:02d}"), st.integers(0, 24).map(lambda h: f"{h:02d}"),
    st.integers(0, 60).map(lambda m: f"{m:02d}"), st.sampled_from(["T", " ", "t"]),
    st.sampled_from(["", "Z", "z", "+01:00", "-05:00", "+14:00", "-23:59", "+24:00", "+0530"]),
)
TIME_TEXT = st.one_of(st.text(max_size=60), NEAR_ISO, st.from_regex(r"\A[0-9.]{1,25}\Z"))


def _within(at: datetime) -> bool:
    return at.tzinfo is not None and at.utcoffset() == timedelta(0) and MIN_INSTANT <= at < MAX_INSTANT


@PROFILE
@given(TIME_TEXT, ANY_ZONE)
@example("0001-01-01T00:00:00+01:00", None)
@example("9999-12-31T23:59:59-05:00", None)
@example("9999-12-31T23:59:59", "Pacific/Kiritimati")
@example("²", None)
def test_parse_instant_gives_an_instant_or_a_time_input_error(text: str, zone: str | None) -> None:
    try:
        at = parse_instant(text, zone)
    except TimeInputError as exc:
        assert str(exc)  # a sentence, shown to the user
        return
    assert _within(at)


@PROFILE
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()))
def test_well_formed_instants_parse_exactly_or_are_out_of_range(when: datetime) -> None:
    text = when.isoformat()
    try:
        expected = when.astimezone(UTC)
    except OverflowError:
        expected = None
    if expected is None or not MIN_INSTANT <= expected < MAX_INSTANT:
        with pytest.raises(OutOfRangeError):
            parse_instant(text, None)
        return
    assert parse_instant(text, None) == expected


@PROFILE
@given(TIME_TEXT)
@example("²")
@example("1" * 30)
def test_parse_unix_date_month_are_total(text: str) -> None:
    for parse in (parse_unix, parse_date, parse_month):
        try:
            value = parse(text)
        except TimeInputError:
            continue
        if isinstance(value, datetime):
            assert _within(value)
        else:
            assert MIN_INSTANT.year <= value.year < MAX_INSTANT.year


# ---------------------------------------------------------------- text length as the platforms count it

TEXT = st.text(max_size=300)


@PROFILE
@given(TEXT, TEXT)
def test_utf16_length_counts_code_units(a: str, b: str) -> None:
    units = text_length(a, "utf16")
    assert units == sum(2 if ord(ch) > 0xFFFF else 1 for ch in a)
    assert len(a) <= units <= 2 * len(a)
    assert text_length(a + b, "utf16") == units + text_length(b, "utf16")  # additive: no hidden joins
    assert text_length(a, "chars") == len(a)


@PROFILE
@given(TEXT, st.sampled_from(["b", "i", "u", "s", "code", "tg-spoiler", "blockquote"]), st.booleans())
def test_escaped_text_is_valid_html_and_counts_as_its_visible_text(plain: str, tag: str, quote: bool) -> None:
    marked = f"<{tag}>{html.escape(plain, quote=quote)}</{tag}>"
    assert check_html(marked) is None
    assert visible_text(marked, "html") == plain
    assert visible_text(escape_markdown_v2(plain), "markdownv2") == plain


@PROFILE
@given(st.text(max_size=400))
@example("<a" + "b" * 5000)
@example("&" * 100 + "<" * 100)
def test_html_check_is_total(text: str) -> None:
    issue = check_html(text)
    assert issue is None or (isinstance(issue, str) and issue)
    visible_text(text, "html")


@PROFILE
@given(st.integers(0, 5000), st.sampled_from(["\U0001f600", "a", "я", "&amp;"]), st.booleans())
def test_telegram_limit_counts_after_entity_parsing(n: int, unit: str, with_media: bool) -> None:
    """``<b>`` + n units + ``</b>`` is too long exactly when its *visible* UTF-16 length exceeds the limit."""
    body = unit * n
    post = PostContent(text=f"<b>{body}</b>", text_format="html",
                       media=(MediaItem("https://example.org/a.jpg"),) if with_media else ())
    visible = text_length(html.unescape(body), "utf16")
    limit, rule = (1024, "caption_too_long") if with_media else (4096, "text_too_long")
    rules = {p.rule for p in TELEGRAM.validate(post)}
    assert (rule in rules) == (visible > limit)
    assert "html_invalid" not in rules
