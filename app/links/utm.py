"""UTM tagging of a post's links at publish time (pure functions; the stored text stays as written).

A template is a query string whose values may name the post's facts, e.g.
``utm_source={platform}&utm_medium=social&utm_campaign={rubric}``. The channel's template (else the workspace's)
is the base; the post's own template overrides it key by key. Tagging a link appends the missing keys to its query
(the query and fragment as written are kept, byte for byte) and never changes a ``utm_*`` key the link already has.
Only links to the workspace's domains (and their subdomains) are tagged when it names any; with none, every link.
With short links on, every tagged link is sent as ``{SMM_PUBLIC_BASE_URL}/l/<code>`` instead (app.links.service).
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from urllib.parse import quote, urlsplit, urlunsplit

from app.errors import Invalid
from connectors.base import PostContent

PLACEHOLDERS = ("platform", "channel", "rubric", "post_id", "date")
MAX_TEMPLATE = 1000
MAX_DOMAINS = 100
_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
# what ends a sentence rather than a link: "see https://x.org/a." keeps the full stop out of the link
_TRAILING = ".,;:!?\"'»”’…"
_MDV2_SPECIAL = "_*[]()~`>#+-=|{}.!\\"

Template = tuple[tuple[str, str], ...]


def parse_template(text: str | None, field: str) -> Template:
    """``"a=1&b={platform}"`` (or one pair a line) as pairs; a 422 on ``field`` that names the problem."""
    if text is None or not text.strip():
        return ()
    if len(text) > MAX_TEMPLATE:
        raise Invalid(field, f"the template is longer than {MAX_TEMPLATE} characters")
    pairs: list[tuple[str, str]] = []
    for part in re.split(r"[&\n]", text.strip().lstrip("?")):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not _KEY.match(key):
            raise Invalid(field, f"'{part[:60]}' is not key=value (e.g. utm_source={{platform}}); keys are letters, "
                                 "digits, '_', '-' or '.'")
        if not value:
            raise Invalid(field, f"'{key}' has no value; give one or leave the key out")
        for name in _PLACEHOLDER.findall(value):
            if name not in PLACEHOLDERS:
                raise Invalid(field, f"'{{{name}}}' is not a placeholder; use one of "
                                     f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)}")
        if "{" in _PLACEHOLDER.sub("", value) or "}" in _PLACEHOLDER.sub("", value):
            raise Invalid(field, f"'{key}' has an unmatched brace; placeholders look like {{platform}}")
        if key in (k for k, _ in pairs):
            raise Invalid(field, f"'{key}' is given twice")
        pairs.append((key, value))
    return tuple(pairs)


def format_template(pairs: Template) -> str:
    return "&".join(f"{k}={v}" for k, v in pairs)


def check_domains(values: Sequence[str] | None, field: str) -> list[str]:
    """Domains as stored: lower case, no scheme, path or ``www.``; a 422 naming the first one that is not."""
    if not values:
        return []
    if len(values) > MAX_DOMAINS:
        raise Invalid(field, f"at most {MAX_DOMAINS} domains")
    out: list[str] = []
    for raw in values:
        name = str(raw).strip().lower()
        if "://" in name:
            name = urlsplit(name).hostname or ""
        name = name.split("/")[0].removeprefix("www.").rstrip(".")
        try:
            name = name.encode("idna").decode("ascii") if name and not name.isascii() else name
        except UnicodeError:
            name = "?"
        if not _DOMAIN.match(name):
            raise Invalid(field, f"'{str(raw)[:60]}' is not a domain name such as example.com")
        if name not in out:
            out.append(name)
    return out


def merge(base: Template, own: Template) -> Template:
    """The post's pairs over the channel's, key by key."""
    mine = dict(own)
    return tuple((k, mine.pop(k, v)) for k, v in base) + tuple(mine.items())


def render(pairs: Template, facts: Mapping[str, str | None]) -> Template:
    """Placeholders filled in; a pair whose value comes out empty (a post without rubric) is left out."""
    out = []
    for key, value in pairs:
        filled = _PLACEHOLDER.sub(lambda m: str(facts.get(m.group(1)) or ""), value).strip()
        if filled:
            out.append((key, filled))
    return tuple(out)


def _host_matches(host: str, domains: Sequence[str]) -> bool:
    host = host.lower().rstrip(".").removeprefix("www.")
    return not domains or any(host == d or host.endswith("." + d) for d in domains)


def tag_url(url: str, params: Template, domains: Sequence[str] = ()) -> str:
    """``url`` with the missing ``params`` appended to its query (``url`` itself when out of scope)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:  # e.g. an unbalanced IPv6 bracket: not a link to tag
        return url
    if parts.scheme.lower() not in ("http", "https") or not host or not _host_matches(host, domains):
        return url
    present = {p.split("=", 1)[0].lower() for p in parts.query.split("&") if p}
    added = [f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params
             if k.lower() not in present and not (k.lower().startswith("utm_") and k.lower() in present)]
    if not added:
        return url
    query = "&".join(([parts.query] if parts.query else []) + added)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, parts.fragment))


def split_trailing(found: str) -> tuple[str, str]:
    """A link found in running text, and what follows it that belongs to the sentence (punctuation, a closing
    bracket the link did not open)."""
    url, tail = found, ""
    while url:
        last = url[-1]
        if last in _TRAILING or (last == ")" and url.count("(") < url.count(")")) or (
                last == "]" and url.count("[") < url.count("]")):
            url, tail = url[:-1], last + tail
        else:
            break
    return url, tail


def _mdv2_unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _mdv2_escape(text: str, in_link: bool) -> str:
    special = ")\\" if in_link else _MDV2_SPECIAL
    return "".join("\\" + c if c in special else c for c in text)


def rewrite_links(text: str, text_format: str, change: Callable[[str], str]) -> str:
    """``text`` with every http(s) link passed through ``change`` (the link as a reader sees it: HTML entities
    and MarkdownV2 escapes undone, then redone for what comes back)."""
    def one(m: re.Match[str]) -> str:
        found, tail = split_trailing(m.group(0))
        if not found:
            return m.group(0)
        if text_format == "html":
            new = change(html.unescape(found))
            return (html.escape(new, quote=True) if new != html.unescape(found) else found) + tail
        if text_format == "markdownv2":
            while found.endswith("\\") and not found.endswith("\\\\"):  # "\." at a sentence's end: escaped stop
                found, tail = found[:-1], "\\" + tail
            in_link = text[max(0, m.start() - 2):m.start()] == "]("
            if in_link:  # [label](url): the link runs to the first unescaped ')'
                end = re.search(r"(?<!\\)\)", m.group(0))
                found = m.group(0)[:end.start()] if end else found
                tail = m.group(0)[len(found):]
            plain = _mdv2_unescape(found)
            new = change(plain)
            return (_mdv2_escape(new, in_link) if new != plain else found) + tail
        return change(found) + tail

    return _URL.sub(one, text)


def short_code(post_id: str, channel_id: str, url: str) -> str:
    """The short link's code: derived from the post, the channel and the destination (the post's random id keeps
    it unguessable), so the text sent and the stored link always agree without a lookup."""
    digest = hashlib.sha256(f"{post_id}\n{channel_id}\n{url}".encode()).digest()
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    n = int.from_bytes(digest[:10], "big")
    out = []
    for _ in range(10):
        n, r = divmod(n, len(alphabet))
        out.append(alphabet[r])
    return "".join(out)


@dataclass(frozen=True)
class LinkRules:
    """What a channel's outgoing links get: the UTM pairs (placeholders filled), the domains in scope, and, with
    short links on, the base of the short links and who they belong to."""

    params: Template = ()
    domains: tuple[str, ...] = ()
    short_base: str | None = None  # "{SMM_PUBLIC_BASE_URL}/l/"
    post_id: str = ""
    channel_id: str = ""

    @property
    def active(self) -> bool:
        return bool(self.params) or self.short_base is not None


def rules_for(*, post_id: str, channel_id: str, platform: str, channel_name: str, rubric: str | None,
              date: str | None, channel_template: str | None, workspace_template: str | None,
              post_template: str | None, domains: Sequence[str] | None, short_links: bool,
              public_base: str) -> LinkRules:
    """The rules of one post on one channel from the stored settings (a template that no longer parses is
    skipped rather than stopping a send)."""
    def parsed(text: str | None) -> Template:
        try:
            return parse_template(text, "utm")
        except Invalid:
            return ()

    pairs = merge(parsed(channel_template or workspace_template), parsed(post_template))
    facts = {"platform": platform, "channel": channel_name, "rubric": rubric, "post_id": post_id, "date": date}
    return LinkRules(render(pairs, facts), tuple(domains or ()),
                     f"{public_base.rstrip('/')}/l/" if short_links else None, post_id, channel_id)


def outgoing(content: PostContent, rules: LinkRules | None) -> tuple[PostContent, dict[str, str]]:
    """The content as the platform receives it, and the short links it uses (code → destination)."""
    if rules is None or not rules.active:
        return content, {}
    shorts: dict[str, str] = {}

    def change(url: str) -> str:
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            return url
        if not host or not _host_matches(host, rules.domains):
            return url
        tagged = tag_url(url, rules.params, rules.domains)
        if rules.short_base is None:
            return tagged
        code = short_code(rules.post_id, rules.channel_id, tagged)
        shorts[code] = tagged
        return rules.short_base + code

    text = rewrite_links(content.text, content.text_format, change) if content.text else content.text
    link = change(content.link) if content.link else content.link
    if text == content.text and link == content.link:
        return content, shorts
    return replace(content, text=text, link=link), shorts
