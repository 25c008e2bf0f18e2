"""The one guarded fetcher for URLs a user supplies (media by URL, previews, checks, anything added later).

``await fetch(client, url, policy=..., max_bytes=..., timeout=...)`` returns a :class:`Fetched` or raises a
:class:`FetchError` whose ``message`` is one sentence a person can read. The rules, per hop::

    scheme http or https                       else FetchRefused "is not an http or https URL"
    host resolved (policy.resolver), every     any refused -> FetchRefused "points to a private address"
      address checked (connectors.addresses)     (nothing is sent: no oracle of what listens where)
    connect to the checked address itself      the URL carries the IP, ``Host`` keeps the name, https sends the
                                                 name as SNI (httpcore's ``sni_hostname``) and checks the
                                                 certificate against it: nothing resolves the name a second time
    redirect (301/302/303/307/308)             the next hop is checked again; more than policy.max_redirects ->
                                                 FetchRefused
    body                                       read as it streams, refused once over ``max_bytes`` (a larger
                                                 Content-Length is refused before reading)
    the whole fetch                            capped at ``timeout`` seconds

Errors, by what a retry can change (both are :class:`FetchError`; the publisher's retry rule is their type)::

    FetchError
    ├── FetchRefused (PermanentError)   private address, bad URL, HTTP 4xx, too large, too many redirects
    └── FetchFailed  (TransientError)   name does not resolve, unreachable, HTTP 5xx/429, too slow

Status codes and connection failures are only ever reported for hosts that were allowed to be reached.
A host on the allow list (``SMM_FETCH_ALLOW_HOSTS``) is fetched by name as usual.

At post creation :func:`check_url` says, fast, whether a URL is refused: an IP literal without DNS, a name
resolved with a short timeout; a name that does not resolve then is accepted (DNS may be down) and checked
again when it is fetched.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from connectors.addresses import PRIVATE, FetchPolicy, IPAddress, literal_refusal, parse_address
from connectors.errors import ConnectorError, PermanentError, TransientError

__all__ = ["FetchError", "FetchFailed", "FetchPolicy", "FetchRefused", "Fetched", "check_url", "fetch"]

REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHECK_TIMEOUT = 1.0  # how long post creation waits for DNS before it accepts the URL unchecked
RESOLVE_TIMEOUT = 5.0
CHUNK = 64 * 1024


class FetchError(ConnectorError):
    """A user-supplied URL could not be fetched. ``reason`` is the short cause (``points to a private address``,
    ``HTTP 404``), ``message`` the sentence with the host; ``status`` the HTTP status when one was received."""

    def __init__(self, url: str, reason: str, *, status: int | None = None) -> None:
        host = urlsplit(url).hostname or "the URL"
        cause = f" ({reason})" if status is not None else f": {reason}"
        super().__init__(f"The media from {host} could not be fetched{cause}.")
        self.reason, self.status, self.url = reason, status, url


class FetchRefused(FetchError, PermanentError):
    """Retrying will not help: the URL is refused, or the server refused it."""


class FetchFailed(FetchError, TransientError):
    """It may work later: DNS, network, a 5xx, or the time cap."""


@dataclass(frozen=True)
class Fetched:
    """A fetched body: ``url`` is the last hop's (after redirects), ``content_type`` the server's header."""

    url: str
    content: bytes
    content_type: str | None

    @property
    def name(self) -> str:
        """The last segment of the URL's path (``photo.jpg``), or ``""``."""
        return urlsplit(self.url).path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class _Hop:
    url: httpx.URL
    host: str
    port: int
    addresses: tuple[IPAddress, ...]  # empty: an allowed host, fetched by name


def _split(url: str) -> tuple[httpx.URL, str, int]:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchRefused(url, "the URL is not valid") from exc
    if parsed.scheme not in ("http", "https"):
        raise FetchRefused(url, "it is not an http or https URL")
    if not parsed.host:
        raise FetchRefused(url, "the URL is not valid")
    return parsed, parsed.raw_host.decode("ascii"), parsed.port or (443 if parsed.scheme == "https" else 80)


async def _resolve(policy: FetchPolicy, url: str, host: str, port: int, wait: float) -> list[IPAddress]:
    address = parse_address(host)
    if address is not None:
        return [address]
    try:
        found = await asyncio.wait_for(policy.resolver(host, port), wait)
    except (OSError, TimeoutError, UnicodeError) as exc:
        raise FetchFailed(url, "the host name does not resolve") from exc
    if not found:
        raise FetchFailed(url, "the host name does not resolve")
    return found


async def _hop(url: str, policy: FetchPolicy, resolve_timeout: float = RESOLVE_TIMEOUT) -> _Hop:
    """Check one hop: the URL's form, then every address its host resolves to."""
    parsed, host, port = _split(url)
    if policy.allows_name(host, port):
        return _Hop(parsed, host, port, ())
    if literal_refusal(host) is not None and parse_address(host) is None:
        raise FetchRefused(url, PRIVATE)  # localhost, *.internal, ...: no need to ask DNS
    addresses = await _resolve(policy, url, host, port, resolve_timeout)
    for address in addresses:
        if (reason := policy.address_refusal(address, port)) is not None:
            raise FetchRefused(url, reason)
    return _Hop(parsed, host, port, tuple(addresses))


async def check_url(url: str, *, policy: FetchPolicy, timeout: float = CHECK_TIMEOUT) -> None:  # noqa: ASYNC109
    """Raise :class:`FetchRefused` when ``url`` is refused already; a host that does not resolve within
    ``timeout`` seconds passes (it is checked again when fetched)."""
    try:
        await _hop(url, policy, timeout)
    except FetchFailed:
        return


def _request(hop: _Hop, address: IPAddress | None, timeout: float) -> httpx.Request:
    """The request for one hop, made to ``address`` when given (the name stays in ``Host`` and SNI)."""
    headers = {"Accept": "*/*", "Accept-Encoding": "identity", "Connection": "close", "User-Agent": "smm-scheduler"}
    extensions: dict[str, object] = {"timeout": httpx.Timeout(timeout).as_dict()}
    url = hop.url
    if address is not None:
        default = 443 if url.scheme == "https" else 80
        headers["Host"] = hop.host if hop.port == default else f"{hop.host}:{hop.port}"
        if url.scheme == "https" and parse_address(hop.host) is None:
            extensions["sni_hostname"] = hop.host
        url = url.copy_with(host=str(address))
    # Connection: close — a connection opened for one name is never reused for another name on the same address
    return httpx.Request("GET", url, headers=headers, extensions=extensions)


async def _send(client: httpx.AsyncClient, hop: _Hop, url: str, wait: float) -> httpx.Response:
    """Send one hop, trying each checked address in turn; one sentence if none answers."""
    last: Exception | None = None
    for address in hop.addresses or (None,):
        try:
            return await client.send(_request(hop, address, wait), stream=True, follow_redirects=False)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # nothing was sent: the next address may answer
            last = exc
        except httpx.TimeoutException as exc:
            raise FetchFailed(url, "the server did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise FetchFailed(url, "the server could not be reached") from exc
    raise FetchFailed(url, "the server could not be reached") from last


async def _read(response: httpx.Response, url: str, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchRefused(url, f"it is larger than the limit of {_size(max_bytes)}")
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes(CHUNK):
            body += chunk
            if len(body) > max_bytes:
                raise FetchRefused(url, f"it is larger than the limit of {_size(max_bytes)}")
    except httpx.TimeoutException as exc:
        raise FetchFailed(url, "the server did not answer in time") from exc
    except httpx.HTTPError as exc:
        raise FetchFailed(url, "the connection broke off") from exc
    return bytes(body)


async def _fetch(client: httpx.AsyncClient, url: str, policy: FetchPolicy, max_bytes: int,
                 wait: float) -> Fetched:  # fmt: skip
    current = url
    for hops in range(policy.max_redirects + 1):
        try:
            hop = await _hop(current, policy)
        except FetchError as exc:
            if hops == 0:
                raise
            # said of the URL the user gave (its server sent us on)
            reason = "it redirects to a private address" if exc.reason == PRIVATE else f"after a redirect, {exc.reason}"
            raise type(exc)(url, reason) from exc
        response = await _send(client, hop, url, wait)
        try:
            status = response.status_code
            location = response.headers.get("location")
            if status in REDIRECTS and location:
                current = urljoin(current, location)
                continue
            if status != 200:
                error = FetchFailed if status >= 500 or status == 429 else FetchRefused
                raise error(url, f"HTTP {status}", status=status)
            content = await _read(response, url, max_bytes)
            kind = response.headers.get("content-type")
            return Fetched(current, content, kind.split(";", 1)[0].strip().lower() if kind else None)
        finally:
            await response.aclose()
    raise FetchRefused(url, f"it redirects more than {policy.max_redirects} times")


# the time cap is part of the fetcher's contract (no caller can forget it), hence a `timeout` parameter
async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    policy: FetchPolicy,
    max_bytes: int,
    timeout: float = 60.0,  # noqa: ASYNC109
) -> Fetched:
    """GET ``url`` under the module's rules (see the module docstring) with ``client``'s transport.

    ``max_bytes`` caps the body, ``timeout`` the whole fetch (redirects included). Raises :class:`FetchRefused`
    or :class:`FetchFailed`; catch :class:`FetchError` for both. The client's own headers, cookies and
    redirect setting are not used.
    """
    try:
        async with asyncio.timeout(timeout):
            return await _fetch(client, url, policy, max_bytes, timeout)
    except TimeoutError as exc:
        raise FetchFailed(url, f"it took longer than {timeout:g} s") from exc


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n} bytes"
