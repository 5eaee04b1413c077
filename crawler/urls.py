"""URL hygiene, pure and shared by both packages: whether a URL can be fetched
(`check_url`), the origin a host's politeness and robots.txt are keyed by
(`host_key`), a URL fit to be shown or written (`redact_url`), and a URL as the key
of a line of `db.txt` (`record_key`).

Part of the bottom layer with `crawler.model`: it imports nothing of the project.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
# What a key may not hold, beyond what str.isprintable() already refuses.
_KEY_BREAKERS = frozenset("<> ")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})


def check_url(url: str) -> str | None:
    """Why `url` cannot be fetched, or None if it can."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as error:
        return f"not a valid URL ({error})"
    if parts.scheme.lower() not in ("http", "https"):
        return "not an http(s) URL"
    if not host:
        return "no host in URL"
    if parts.netloc.endswith("]") or ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return "not a valid URL (bad IPv6 host)"
    if any(ord(char) <= 32 or ord(char) == 127 for char in url):
        return "not a valid URL (control character or space)"
    return None


def host_key(url: str) -> str:
    """The politeness and robots.txt key of `url`: `scheme://host[:port]`, the port
    left out when it is the scheme's default (so the key + `/robots.txt` is a URL
    that sends the same Host header as the pages)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None or port == DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def redact_url(url: str) -> str:
    """`url` without its `user:password@` part, for anything a person or file sees.

    Whatever the text, no password shows: in a URL that parses as http(s), only
    the authority's userinfo goes and the rest stays exactly as written (an `@` in
    the path or the query stays too). Anything else (a line of the URL file that is
    not a URL we can fetch: no scheme, one slash, a port that is not a number...)
    may hold a password where a parser would not look for one, so everything from
    its `//` (or its start) up to its last `@` goes."""
    if "@" not in url:
        return url
    head, slashes, rest = url.partition("//")
    if not slashes:
        return url.rpartition("@")[2]
    netloc = _http_netloc(url)
    if netloc is not None and rest.startswith(netloc):
        return head + slashes + netloc.rpartition("@")[2] + rest[len(netloc) :]
    return head + slashes + rest.rpartition("@")[2]


def _http_netloc(url: str) -> str | None:
    """The authority of an http(s) URL whose host and port parse, else None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError when the authority is not host:port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return parts.netloc


def _percent(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))


def _unsafe_in_key(char: str) -> bool:
    return char in "<>" or char.isspace() or unicodedata.category(char) in _UNSAFE_CATEGORIES


def record_key(url: str) -> str:
    """`url` as the key of a line: credentials removed, then `<`, `>`, whitespace and
    control or format characters percent-encoded (as UTF-8)."""
    url = redact_url(url)
    if url.isprintable() and _KEY_BREAKERS.isdisjoint(url):
        return url  # the usual case, without a look at each character
    return "".join(_percent(char) if _unsafe_in_key(char) else char for char in url)
