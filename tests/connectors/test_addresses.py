"""The address classifier every user-supplied URL goes through, over every range it refuses, and the allow list."""

from __future__ import annotations

import pytest

from connectors.addresses import (
    PRIVATE,
    FetchPolicy,
    HostRule,
    literal_refusal,
    parse_address,
    parse_allow_hosts,
    refusal,
)
from connectors.graph import is_private_url

REFUSED = [
    # IPv4
    "0.0.0.0", "0.1.2.3",                      # unspecified, "this network"
    "10.0.0.1", "10.255.255.255",              # RFC 1918
    "172.16.0.1", "172.31.255.254",
    "192.168.0.1", "192.168.255.255",
    "127.0.0.1", "127.255.0.9",                # loopback
    "169.254.169.254", "169.254.0.1",          # link-local (cloud metadata)
    "100.64.0.1", "100.127.255.254",           # carrier-grade NAT
    "192.0.0.8", "192.0.2.1", "198.51.100.7", "203.0.113.9",  # IETF assignments, documentation
    "198.18.0.1", "198.19.255.255",            # benchmarking
    "192.88.99.1",                             # 6to4 relay anycast
    "224.0.0.1", "239.255.255.250",            # multicast
    "240.0.0.1", "255.255.255.255",            # reserved, broadcast
    # IPv6
    "::", "::1",                               # unspecified, loopback
    "fe80::1", "fe80::abcd%eth0",              # link-local (with a zone)
    "fec0::1",                                 # site-local (deprecated)
    "fc00::1", "fd12:3456:789a::1",            # unique local
    "ff02::1", "ff0e::1",                      # multicast, global scope too
    "2001:db8::1", "3fff::1",                  # documentation
    "100::1",                                  # discard
    "2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "5f00::1",                                 # SRv6 SIDs
    "::ffff:127.0.0.1", "::ffff:8.8.8.8", "::ffff:10.0.0.1",  # IPv4-mapped: refused whatever they embed
    "::127.0.0.1", "::8.8.8.8",                # IPv4-compatible (deprecated)
    "2002:7f00:1::1", "2002:a00:1::", "2002:a9fe:a9fe::",  # 6to4 embedding 127.0.0.1, 10.0.0.1, 169.254.169.254
    "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",   # NAT64 embedding loopback, link-local
    "64:ff9b:1::1",                            # local-use NAT64
]  # fmt: skip

PUBLIC = [
    "8.8.8.8", "1.1.1.1", "93.184.215.14", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0",
    "192.167.255.255", "223.255.255.255", "2606:4700:4700::1111", "2a00:1450:4001:82a::200e",
    "2002:808:808::1",                         # 6to4 embedding 8.8.8.8
    "64:ff9b::808:808",                        # NAT64 embedding 8.8.8.8
]  # fmt: skip


@pytest.mark.parametrize("text", REFUSED)
def test_refused_ranges(text: str) -> None:
    address = parse_address(text)
    assert address is not None
    assert refusal(address) == PRIVATE
    assert literal_refusal(text) == PRIVATE
    assert literal_refusal(f"[{text}]" if ":" in text else text) == PRIVATE


@pytest.mark.parametrize("text", PUBLIC)
def test_public_addresses(text: str) -> None:
    address = parse_address(text)
    assert address is not None and refusal(address) is None and literal_refusal(text) is None


LOCAL_NAMES = ["localhost", "LOCALHOST.", "db.localhost", "printer.local", "metadata.google.internal", "nas.lan",
               "router.home.arpa", "box.localdomain", ""]  # fmt: skip


@pytest.mark.parametrize("name", LOCAL_NAMES)
def test_local_names_are_refused_without_dns(name: str) -> None:
    assert literal_refusal(name) == PRIVATE


@pytest.mark.parametrize("name", ["example.com", "cdn.example.org", "local.example.com", "internal-cdn.com"])
def test_ordinary_names_need_dns(name: str) -> None:
    assert literal_refusal(name) is None


def test_graph_reachability_uses_the_same_classifier() -> None:
    assert is_private_url("http://100.64.0.9/a.jpg") and is_private_url("http://[::ffff:127.0.0.1]/a.jpg")
    assert is_private_url("http://metadata.google.internal/") and not is_private_url("https://example.com/a.jpg")


def test_allow_list_entries() -> None:
    rules = parse_allow_hosts(" media.intranet , 127.0.0.1:8081,[::1]:9000, fd00::5 ,MEDIA2.Example.:80,")
    assert rules == (
        HostRule("media.intranet"),
        HostRule("127.0.0.1", 8081),
        HostRule("::1", 9000),
        HostRule("fd00::5"),
        HostRule("media2.example", 80),
    )
    for bad in ("host:port", "host:0", "host:70000", "http://host", "[::1]x", "a b"):
        with pytest.raises(ValueError):
            parse_allow_hosts(bad)


def test_policy_allows_named_hosts_and_addresses_on_their_port() -> None:
    policy = FetchPolicy.allowing("media.intranet", "127.0.0.1:8081", "[::1]:9000")
    assert policy.allows_name("MEDIA.intranet", 443) and policy.allows_name("127.0.0.1", 8081)
    assert not policy.allows_name("127.0.0.1", 8082) and not policy.allows_name("other.intranet", 80)
    loopback, v6 = parse_address("127.0.0.1"), parse_address("::1")
    assert loopback is not None and v6 is not None
    assert policy.address_refusal(loopback, 8081) is None and policy.address_refusal(loopback, 22) == PRIVATE
    assert policy.address_refusal(v6, 9000) is None and policy.address_refusal(v6, 9001) == PRIVATE
    assert FetchPolicy().address_refusal(loopback, 8081) == PRIVATE
