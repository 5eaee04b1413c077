"""The address guard: a connection to an address that is not global is never made.

For a URL the crawl found (not one it was given), a link must not make a worker
reach what only the worker's machine can: its loopback, the private network
around it, a cloud's metadata service at 169.254.169.254. So when a fetch asks
for the guard (`Request.guarded`), a transport that opens connections makes each
one through an `AddressGuard` (the HTTP transport's guarded connections,
`crawler.fetching.transports.http`), which

1. resolves the host name once, with the guard's resolver (`socket.getaddrinfo`
   by default, which also turns `2130706433` or `0x7f.1` into 127.0.0.1);
2. checks every address of the answer with `is_global_address`, and refuses the
   whole answer (`PrivateAddress`) if any one is not global, before a socket is
   even made;
3. connects to those same checked addresses, in order, so an answer that changes
   between the check and the connection (DNS rebinding) cannot get around it.

TLS is unchanged by this: the socket is wrapped as usual, with SNI and the
certificate's name check against the host name, not the address.

Through a proxy the proxy makes the connection, so the guard cannot apply: the
worker only ever connects to the proxy. This module only decides (no library of
a transport): which addresses pass.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

AddressInfo = tuple[Any, Any, int, str, tuple]  # one entry of socket.getaddrinfo's answer
Resolver = Callable[[str, int], Sequence[AddressInfo]]

# IPv6 ranges that carry an IPv4 address in their last 32 bits and reach it:
# NAT64's well-known prefix (RFC 6052) and the deprecated IPv4-compatible form.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class PrivateAddress(Exception):
    """The connection would go to `address`, which is not global: refused."""

    def __init__(self, address: str) -> None:
        super().__init__(address)
        self.address = address


def is_global_address(address: str) -> bool:
    """Whether a connection to `address` (as getaddrinfo spells it) may be made.

    Refused: loopback, private (RFC 1918, unique local), link-local (including
    169.254.169.254), shared CGNAT space 100.64.0.0/10, unspecified, multicast,
    reserved and documentation ranges, and anything that is not an address at all
    (failing closed). An IPv6 address that carries an IPv4 one (IPv4-mapped
    `::ffff:127.0.0.1`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`, IPv4-compatible
    `::127.0.0.1`) is judged by that IPv4 address as well."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return _is_global(ip.ipv4_mapped)  # the mapped address is where it goes
        for embedded in _embedded_ipv4(ip):
            if not _is_global(embedded):
                return False
    return _is_global(ip)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = [ip.sixtofour] if ip.sixtofour is not None else []
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _is_global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if ip in _NAT64:  # judged by the IPv4 address it carries (see _embedded_ipv4)
        return True
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_reserved
        or ip.is_link_local
        or ip.is_loopback
        or ip.is_private
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    )


@cache
def address_family() -> int:
    """IPv4 and IPv6 (`AF_UNSPEC`) where this machine can bind an IPv6 socket,
    else IPv4 alone: what urllib3 asks the resolver for."""
    if not socket.has_ipv6:
        return socket.AF_INET
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return socket.AF_INET
    return socket.AF_UNSPEC


def system_resolver(host: str, port: int) -> Sequence[AddressInfo]:
    """The addresses of `host` for a TCP connection, as urllib3 itself asks
    (IPv4 only on a machine without IPv6)."""
    return socket.getaddrinfo(host, port, address_family(), socket.SOCK_STREAM)


class AddressGuard:
    """Resolves a host and checks each address of the answer (see the module's
    docstring). `resolve` and `allowed` are injectable: tests pass a resolver
    that answers differently each time, instead of patching the network."""

    def __init__(
        self,
        resolve: Resolver = system_resolver,
        allowed: Callable[[str], bool] = is_global_address,
    ) -> None:
        self.resolve = resolve
        self.allowed = allowed

    def addresses(self, host: str, port: int) -> list[AddressInfo]:
        """The checked answer for `host`: socket.gaierror if there is none,
        PrivateAddress if any address in it is not allowed."""
        answer = list(self.resolve(host.strip("[]"), port))
        if not answer:
            raise socket.gaierror(socket.EAI_NONAME, "no address for the name")
        for *_, sockaddr in answer:
            if not self.allowed(str(sockaddr[0])):
                raise PrivateAddress(str(sockaddr[0]))
        return answer


def connect_first(
    answer: Sequence[AddressInfo],
    timeout: float | None,
    options: Sequence[tuple[int, int, int | bytes]] = (),
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    """A socket connected to the first address of `answer` (getaddrinfo's, as
    `AddressGuard.addresses` gives it) that accepts, tried in order as
    `socket.create_connection` tries them, without resolving anything again; the
    last error if none does. `options` are set on each socket before it connects."""
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in answer:
        sock = socket.socket(family, kind, proto)
        try:
            for option in options:
                sock.setsockopt(*option)
            sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as failed:
            error = failed
            sock.close()
    raise error if error is not None else OSError("no address to connect to")
