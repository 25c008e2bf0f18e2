"""Which addresses a user-supplied URL may reach: the classifier and the deployment's allow list.

Every fetch of a URL a user typed (media by URL, previews, checks) must not become a way into the service's own
network. :func:`refusal` says why an address is refused, or ``None`` when it is a public one; :class:`FetchPolicy`
adds the hosts a deployment allows although they are private (``SMM_FETCH_ALLOW_HOSTS``) and the resolver.

Refused, IPv4 and IPv6 alike: unspecified, loopback, private (RFC 1918, unique-local ``fc00::/7``), link-local,
site-local, carrier-grade NAT (``100.64.0.0/10``), multicast, reserved, documentation and benchmarking ranges,
IPv4-mapped (``::ffff:0:0/96``) and IPv4-compatible (``::/96``) IPv6, and the transition prefixes when the IPv4
address they embed is refused (6to4 ``2002::/16``, NAT64 ``64:ff9b::/96``); Teredo (``2001::/32``) always. Python's
``is_global`` says most of it, but its tables differ between patch releases (3.11.10 fixed several) and call
multicast "global", so the ranges are listed here as well.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

PRIVATE = "points to a private address"

_REFUSED_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    )
)  # fmt: skip
_REFUSED_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/96", "::ffff:0:0/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "3fff::/20",
        "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
)  # fmt: skip
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Names that never leave the machine or the local network, refused without asking DNS (RFC 6761, 6762, 8375).
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".localdomain")


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` may not be fetched from (:data:`PRIVATE`), or ``None`` for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.sixtofour is not None:
            return refusal(address.sixtofour)
        if address in _NAT64:
            return refusal(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if any(address in net for net in _REFUSED_V6):
            return PRIVATE
    elif any(address in net for net in _REFUSED_V4):
        return PRIVATE
    flags = (address.is_private, address.is_loopback, address.is_link_local, address.is_multicast,
             address.is_reserved, address.is_unspecified)  # fmt: skip
    if any(flags) or not address.is_global:
        return PRIVATE
    return None


def parse_address(host: str) -> IPAddress | None:
    """``host`` as an IP address (brackets, an IPv6 zone and the trailing dot of a fully qualified name allowed:
    ``10.0.0.1.`` is ``10.0.0.1`` to resolvers that accept it), ``None`` when it is a name."""
    bare = host.strip("[]").split("%", 1)[0].removesuffix(".")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        return None


def is_local_name(host: str) -> bool:
    """True for ``localhost`` and names under the suffixes that only mean something on a local network."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(_LOCAL_SUFFIXES)


def literal_refusal(host: str) -> str | None:
    """What can be said of ``host`` without DNS: an IP literal or a local name that is refused, else ``None``."""
    address = parse_address(host)
    if address is not None:
        return refusal(address)
    return PRIVATE if not host or is_local_name(host) else None


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, in the resolver's order. Off the event loop (``getaddrinfo`` blocks)."""
    loop = asyncio.get_running_loop()
    infos = await loop.run_in_executor(None, socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = parse_address(str(sockaddr[0]))
        if address is not None and address not in found:
            found.append(address)
    return found


@dataclass(frozen=True)
class HostRule:
    """One allow-list entry: a host name or address, on one port or (``port=None``) on any."""

    host: str
    port: int | None = None

    @classmethod
    def parse(cls, entry: str) -> HostRule:
        """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address; ``ValueError`` otherwise."""
        text = entry.strip().lower()
        host, port = text, ""
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            if rest and not rest.startswith(":"):
                raise ValueError(f"'{entry}' is not host or host:port")
            port = rest[1:]
        elif text.count(":") == 1:
            host, port = text.split(":")
        address = parse_address(host)
        host = str(address) if address is not None else host.rstrip(".")
        if not host or any(c in host for c in "/@ ?#"):
            raise ValueError(f"'{entry}' is not host or host:port")
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(f"'{entry}' has no valid port")
        return cls(host, int(port) if port else None)

    def matches(self, host: str, port: int) -> bool:
        return self.host == host and self.port in (None, port)


def parse_allow_hosts(value: str | Iterable[str]) -> tuple[HostRule, ...]:
    """``SMM_FETCH_ALLOW_HOSTS``: comma-separated entries (see :meth:`HostRule.parse`); empty ones are skipped."""
    entries = value.split(",") if isinstance(value, str) else list(value)
    return tuple(HostRule.parse(e) for e in entries if e.strip())


@dataclass(frozen=True)
class FetchPolicy:
    """What user-supplied URLs may reach: public addresses, plus ``allow`` (hosts a deployment names although they
    are private), found through ``resolver``; ``max_redirects`` redirects, each checked again."""

    allow: tuple[HostRule, ...] = ()
    resolver: Resolver = field(default=system_resolver, compare=False)
    max_redirects: int = 3

    @classmethod
    def allowing(cls, *entries: str, resolver: Resolver = system_resolver) -> FetchPolicy:
        """A policy that also reaches ``entries`` (each ``host`` or ``host:port``)."""
        return cls(allow=parse_allow_hosts(entries), resolver=resolver)

    def allows_name(self, host: str, port: int) -> bool:
        """True when the URL's host (as written) is on the allow list for ``port``."""
        name = _normal(host)
        return any(rule.matches(name, port) for rule in self.allow)

    def address_refusal(self, address: IPAddress, port: int) -> str | None:
        """Why ``address`` may not be reached on ``port``; ``None`` when it is public or allowed."""
        reason = refusal(address)
        if reason is not None and self.allows_name(str(address), port):
            return None
        return reason


def _normal(host: str) -> str:
    address = parse_address(host)
    return str(address) if address is not None else host.lower().rstrip(".")


def static_resolver(table: dict[str, list[str]]) -> Resolver:
    """A resolver answering from ``table`` (name -> addresses) and ``socket.gaierror`` for other names: for tests
    and for deployments that pin names, the way a hosts file does."""

    async def resolve(host: str, port: int) -> list[IPAddress]:
        addresses = table.get(host.lower().rstrip("."))
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ipaddress.ip_address(a) for a in addresses]

    return resolve
