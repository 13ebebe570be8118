"""Which network addresses a fetch may reach: the guard against being aimed at the operator's
own network (server-side request forgery) by a host name a page announced or a redirect named.

Hosts the operator wrote in the config (canonical origins, mirrors) are reached at whatever
address they resolve to: their own mirrors may well be on a LAN. Any other host (a discovered
or adopted mirror, the target of a redirect to an unknown host) is reached only at a public
address, unless the source says `allow_private_discovered: true`. Loopback, private, shared,
link-local, multicast, unspecified and reserved addresses are refused, with the IPv4 address
inside an IPv6 one (mapped, NAT64, 6to4, Teredo) judged as IPv4, and the cloud metadata
endpoints by name.

The check is made on the addresses the connection is made to: `GuardedResolver` keeps only
allowed addresses of a lookup (the connector connects to nothing else), and `guarded_socket`,
the connector's socket factory, refuses any other address before a socket exists, IP literals
included. A host whose name resolves to a public address once and to 127.0.0.1 the next time
(DNS rebinding) is judged on the answer actually used.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata services answer credentials to anyone who can reach them. Most sit at a
# link-local or private address (refused anyway); Azure's wire server and Alibaba's and
# Oracle's endpoints do not look private, so they are named here.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task credentials
        "168.63.129.16",  # Azure wire server
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS over IPv6
        "fd00:ec2::23",  # AWS time sync / DNS over IPv6
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_v4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (and reaches, through the right gateway)."""
    found: list[ipaddress.IPv4Address] = []
    if addr.ipv4_mapped is not None:
        found.append(addr.ipv4_mapped)
    if addr in _NAT64:
        found.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    if addr.sixtofour is not None:
        found.append(addr.sixtofour)
    if addr.teredo is not None:
        found.extend(addr.teredo)
    return found


def _judge(addr: IPAddress) -> str | None:
    if addr in METADATA:
        return "cloud metadata"
    if addr.is_loopback:
        return "loopback"
    if addr.is_unspecified:
        return "unspecified"
    if addr.is_link_local:
        return "link-local"
    if addr.is_multicast:
        return "multicast"
    if addr.is_private:
        return "private"
    if addr.is_reserved:
        return "reserved"
    if not addr.is_global:
        return "not public"
    return None


def refusal(address: str) -> str | None:
    """Why a fetch of a discovered host must not connect to `address` ("loopback",
    "private", "cloud metadata"...), or None for a public address."""
    try:
        addr = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    except ValueError:
        return "not an IP address"
    if isinstance(addr, ipaddress.IPv6Address):
        inner = _embedded_v4(addr)
        if inner:
            # ::ffff:8.8.8.8 is as public as 8.8.8.8; ::ffff:127.0.0.1 is loopback.
            for v4 in inner:
                reason = _judge(v4)
                if reason is not None:
                    return reason
            return None
    return _judge(addr)


class BlockedAddress(OSError):
    """A connection to a refused address was not made."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        self.host = host
        self.address = address
        self.reason = reason
        shown = address
        with contextlib.suppress(ValueError):
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if isinstance(ip, ipaddress.IPv6Address) and _embedded_v4(ip):
                shown += f" (IPv4 {', '.join(map(str, _embedded_v4(ip)))})"
        where = f"{shown} is" if host == address else f"{host} resolves to {shown},"
        super().__init__(f"{where} a {reason} address: not connected")


class GuardedResolver(AbstractResolver):
    """Resolves with `inner` and keeps only the addresses a discovered host may be reached at;
    none left is a `BlockedAddress` naming the first one refused."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._owned = inner is None
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        allowed = [r for r in found if refusal(r["host"]) is None]
        if not allowed:
            first = found[0]["host"] if found else "no address"
            raise BlockedAddress(host, first, refusal(first) or "unknown")
        return allowed

    async def close(self) -> None:
        if self._owned:
            await self._inner.close()


def guarded_socket(addr_info: tuple[Any, ...]) -> socket.socket:
    """The connector's socket factory for discovered hosts: refuses, before any socket
    exists, an address the resolver should not have given (an IP literal in a URL comes here
    without a lookup)."""
    family, type_, proto, _, sockaddr = addr_info
    address = str(sockaddr[0])
    reason = refusal(address)
    if reason is not None:
        raise BlockedAddress(address, address, reason)
    return socket.socket(family=family, type=type_, proto=proto)


def host_port(url: str) -> tuple[str, int] | None:
    """(host, port) of an http(s) URL, the port defaulted from the scheme; None otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return parts.hostname.rstrip(".").lower(), port or (443 if parts.scheme == "https" else 80)


@dataclass(frozen=True)
class AddressPolicy:
    """How one pull may reach hosts: those in `trusted` ((host, port) pairs the operator
    wrote in the config) at any address; any other host only at a public one, unless
    `allow_private` (the source's `allow_private_discovered`)."""

    trusted: frozenset[tuple[str, int]]
    allow_private: bool = False

    @classmethod
    def trusting(cls, origins: Iterable[str], *, allow_private: bool = False) -> AddressPolicy:
        pairs = {hp for o in origins if (hp := host_port(o)) is not None}
        return cls(frozenset(pairs), allow_private)

    def guards(self, url: str) -> bool:
        """Whether a fetch of `url` may reach public addresses only."""
        return not self.allow_private and host_port(url) not in self.trusted
