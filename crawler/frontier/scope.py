"""Where a found link may lead: the scope of the listed URL it descends from, and the
checks on the URL's own shape. Pure; the public-suffix list ships with its package.

A `Scope` is anchored to one listed URL and fails closed: a URL it cannot read is
outside it. Every kind takes http and https alike, and the listed URL's host and
every host its own redirects went through (a seed that redirects http to https, or
`example.com` to `www.example.com`, keeps crawling there):

- `host`: the same host and port; 80 and 443 count as the schemes' defaults, so
  `http://a/` and `https://a/` are one host, `http://a:8080/` another;
- `domain`: the same registrable domain (`docs.python.org` and `www.python.org`
  are both `python.org`; `a.github.io` and `b.github.io` are two), from the
  public-suffix list of `publicsuffixlist`, whose list ships in the package, so
  nothing is downloaded at run time; any port. An IP address is its own domain;
- `prefix`: the same host and port, and a path under the listed URL's directory,
  like `wget --no-parent`: the directory is the path up to its last `/`, so
  `/docs/` covers `/docs/...` while `/docs` (a file in `/`) covers the whole host;
- `any`: everywhere.

A Scope pickles (a NamedTuple of plain values): the worker checks each redirect
hop of a found link with `allows`. In the frontier it also says which origins
are exempt from the private-address check: the listed URL's and those of its
redirect chain (`exempt`).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import socket
from typing import NamedTuple

from ada_url import check_url

from crawler.frontier.canonical import ascii_host
from crawler.urls import host_key

KINDS = ("host", "domain", "prefix", "any")
DEFAULT_PORTS = {"http": 80, "https": 443}

# Links to these are not followed: files a crawl for pages has no use for.
_IGNORED_BY_KIND = {
    "image": "bmp gif ico jpe jpeg jpg png psd svg svgz tif tiff webp avif heic cdr ai eps raw",
    "audio": "aac aiff au flac m4a mid midi mp3 oga ogg opus ra wav wma",
    "video": "3gp asf asx avi flv m4v mkv mov mp4 mpeg mpg ogv qt rm swf vob webm wmv",
    "archive": "7z apk bz2 cab deb dmg gz iso jar lz lzma rar rpm tar tbz tgz txz xz z zip zst",
    "office": "doc docx dot odg odp ods odt pdf pps ppt pptx ps rtf xls xlsx",
    "other": "bin css dll exe img js msi woff woff2 ttf otf eot",
}
IGNORED_EXTENSIONS = frozenset(" ".join(_IGNORED_BY_KIND.values()).split())


class HostPort(NamedTuple):
    host: str
    port: int | None  # None: the scheme's default (80 for http, 443 for https)


class Split(NamedTuple):
    """An http(s) URL in the parts the checks look at, split once."""

    scheme: str  # lower-case
    host: str  # lower-case, no brackets, no trailing dot
    port: int | None  # None: the scheme's default
    path: str  # "/" when empty

    @property
    def where(self) -> HostPort:
        return HostPort(self.host, self.port)

    @property
    def origin(self) -> str:
        """`crawler.urls.host_key` of the URL: `scheme://host[:port]`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return (
            f"{self.scheme}://{host}"
            if self.port is None
            else f"{self.scheme}://{host}:{self.port}"
        )


_UNFETCHABLE = re.compile(r"[\x00-\x20\x7f]")  # what crawler.urls.check_url refuses too
_AUTHORITY_END = re.compile(r"[/?#]")


def split_url(url: str) -> Split | None:
    """`url` split as `urllib.parse.urlsplit` splits it, if it is an http(s) URL with
    a host and a valid port, no space or control character, that the WHATWG URL
    parser accepts; else None."""
    scheme, slashes, rest = url.partition("://")
    scheme = scheme.lower()
    if not slashes or scheme not in DEFAULT_PORTS or _UNFETCHABLE.search(url):
        return None
    if not check_url(url):  # what a browser rejects (`http://192.168.0.257`) is broken
        return None
    end = _AUTHORITY_END.search(rest)
    authority, tail = (rest[: end.start()], rest[end.start() :]) if end else (rest, "")
    hostport = authority.rpartition("@")[2]
    if hostport.startswith("["):
        close = hostport.find("]")
        host, after = hostport[1:close].lower(), hostport[close + 1 :]
        if close < 0 or _ip(host) is None or (after and not after.startswith(":")):
            return None
        port_text = after[1:]
    else:
        host, _, port_text = hostport.partition(":")
        host = host.lower()
        if ":" in port_text:
            return None
    host = host.rstrip(".") or host
    if not host:
        return None
    port = None
    if port_text:
        if not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
            return None
        port = int(port_text)
        if port == DEFAULT_PORTS[scheme]:
            port = None
    path = tail
    if "?" in path or "#" in path:
        path = re.split(r"[?#]", path, maxsplit=1)[0]
    return Split(scheme, host, port, path or "/")


def host_port(url: str) -> HostPort | None:
    """The host (lower-case, no brackets) and port of an http(s) `url`; None if it
    is not one."""
    split = split_url(url)
    return split.where if split is not None else None


@functools.lru_cache(maxsize=1)
def _suffixes():
    from publicsuffixlist import PublicSuffixList  # its list ships with it: no download

    return PublicSuffixList()


@functools.lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str:
    """`host`'s registrable domain (`www.example.co.uk` -> `example.co.uk`); an IP
    address, a public suffix or a single label is its own."""
    if _ip(host) is not None:
        return host
    return _suffixes().privatesuffix(ascii_host(host)) or host


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class Scope(NamedTuple):
    kind: str  # host | domain | prefix | any
    origin: str  # host_key of the listed URL
    hosts: frozenset[HostPort]  # the listed URL's and its redirect chain's
    prefix: str = "/"  # prefix: the listed URL's directory
    domains: frozenset[str] = frozenset()  # domain: the registrable domains of `hosts`

    def allows(self, url: str) -> bool:
        """Whether `url` is inside this scope; False for anything not http(s)."""
        split = split_url(url)
        return split is not None and self.allows_split(split)

    def allows_split(self, split: Split) -> bool:
        if self.kind == "any":
            return True
        if self.kind == "domain":
            return registrable_domain(split.host) in self.domains
        if split.where not in self.hosts:
            return False
        return self.kind != "prefix" or split.path.startswith(self.prefix)

    def with_redirects(self, urls: tuple[str, ...] | list[str]) -> Scope:
        """This scope widened by the hosts a listed URL's redirects went through."""
        added = {where for url in urls if (where := host_port(url)) is not None}
        if added <= self.hosts:
            return self
        hosts = self.hosts | added
        domains = frozenset(registrable_domain(where.host) for where in hosts)
        return self._replace(hosts=hosts, domains=domains if self.kind == "domain" else frozenset())

    def exempt(self, url: str) -> str | None:
        """The origin to exempt from the private-address check when fetching `url`:
        `url`'s own if it is on the host and port of the listed URL or of its
        redirect chain, else None."""
        split = split_url(url)
        return split.origin if split is not None and split.where in self.hosts else None

    def spec(self) -> str:
        """One line of plain text that `from_spec` reads back (for the spill)."""
        hosts = sorted([where.host, where.port] for where in self.hosts)
        return json.dumps([self.kind, self.origin, hosts, self.prefix], separators=(",", ":"))

    @staticmethod
    @functools.lru_cache(maxsize=256)
    def from_spec(spec: str) -> Scope:
        """The scope `spec()` wrote (the entries of one listed URL share one object)."""
        kind, origin, hosts, prefix = json.loads(spec)
        where = frozenset(HostPort(host, port) for host, port in hosts)
        domains = frozenset(registrable_domain(host) for host, _ in where)
        return Scope(kind, origin, where, prefix, domains if kind == "domain" else frozenset())


def make_scope(kind: str, url: str) -> Scope:
    """The scope of kind `kind` anchored to the listed `url`."""
    if kind not in KINDS:
        raise ValueError(f"unknown scope {kind!r} (known: {', '.join(KINDS)})")
    where = host_port(url)
    hosts = frozenset([where]) if where is not None else frozenset()
    domains = frozenset(registrable_domain(w.host) for w in hosts) if kind == "domain" else None
    split = split_url(url)
    path = split.path if split is not None else "/"
    prefix = path[: path.rfind("/") + 1] or "/"
    return Scope(kind, host_key(url), hosts, prefix, domains or frozenset())


@functools.lru_cache(maxsize=4096)
def private_literal(host: str) -> str | None:
    """The address, if `host` is written as one that is not global (an IP literal in
    any spelling the resolver takes: `127.1`, `0x7f.1`, `2130706433`,
    `[::ffff:127.0.0.1]`), or `localhost` and its subdomains (RFC 6761); else None.
    A name is left to the worker, which resolves it and checks each address."""
    name = host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return name
    address = _ip(name)
    if address is None and name and all(c in "0123456789abcdefx." for c in name):
        try:  # the legacy forms inet_aton (and so getaddrinfo) accepts
            address = ipaddress.IPv4Address(socket.inet_aton(name))
        except (OSError, ValueError):
            address = None
    if address is None:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return None if is_global(address) else str(address)


def is_global(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a connection to `address` leaves this machine's networks: not
    loopback, private, link-local, CGNAT (100.64/10), unspecified, multicast or
    reserved."""
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified
    )


def ignored_extension(path: str) -> str | None:
    """The extension of a URL path's last segment if links to it are not followed."""
    last = path.rpartition("/")[2]
    dot = last.rfind(".")
    if dot < 0:
        return None
    extension = last[dot + 1 :].lower()
    return extension if extension in IGNORED_EXTENSIONS else None


def repeated_segment(path: str, times: int = 3) -> str | None:
    """A segment that occurs `times` times or more in a URL path (`/a/b/a/b/a/`: `a`),
    the mark of a relative link that appends itself; else None."""
    if path.count("/") <= times:
        return None
    counts: dict[str, int] = {}
    for segment in path.split("/"):
        if segment:
            counts[segment] = counts.get(segment, 0) + 1
            if counts[segment] >= times:
                return segment
    return None
