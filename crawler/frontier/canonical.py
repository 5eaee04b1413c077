"""The canonical key of a URL: one key for the spellings of one address, for dedupe
only. The URL itself is fetched and recorded as it was found. Pure.

The key is built in this order:

1. scheme and host lower-cased, an internationalised host in punycode (IDNA 2008
   with UTS 46 mapping, as browsers do), `user:password@` dropped, the scheme's
   default port dropped (`:80` for http, `:443` for https), an empty port too;
2. the path: `;jsessionid=...` removed, `%xx` normalised (an escaped unreserved
   character such as `%7E` decoded to `~`, other escapes upper-cased, characters
   that must be escaped, such as a space or non-ASCII, escaped as UTF-8), then dot
   segments removed (RFC 3986 5.2.4); an empty path is `/`;
3. the query: split at `&`, empty pieces dropped, each piece's `%xx` normalised,
   `utm_*` and session parameters (`jsessionid`, `phpsessid`, `sid`, `sessionid`,
   names compared in any case) removed, the rest sorted; blanks are kept (`q=`
   stays, and so does a repeated pair), so `?q=&q=` and `?q=` are two keys;
4. the fragment dropped.

What stays distinct: the path's case, a trailing slash (`/a` and `/a/`), http and
https, `www.` and the bare domain: each can be a different page.

A URL that does not split (a bad port, a broken IPv6 host) is its own key.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import idna

DEFAULT_PORTS = {"http": 80, "https": 443}
SESSION_PARAMETERS = frozenset({"jsessionid", "phpsessid", "sid", "sessionid"})

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = "!$&'()*+,;="
_PATH_SAFE = frozenset(_UNRESERVED | set(_SUB_DELIMS) | set(":@/"))
_QUERY_SAFE = frozenset(_PATH_SAFE | set("?")) - {"&"}  # `&` splits pairs; kept escaped
_HEX = "0123456789ABCDEFabcdef"
_JSESSIONID = re.compile(r";jsessionid=[^/;?]*", re.IGNORECASE)
_PLAIN = re.compile(r"[A-Za-z0-9\-._~/:@!$'()*+,=]*")  # a path or pair needing no work


_SIMPLE = re.compile(r"(https?)://([a-z0-9.\-]+)(?::(\d+))?(/[A-Za-z0-9\-._~/!$'()*+,=:@]*)?")


def canonical_key(url: str) -> str:
    """The dedupe key of `url` (see the module docstring for the steps)."""
    simple = _SIMPLE.fullmatch(url)  # the common case: nothing to normalise but the port
    if simple is not None and "/." not in url:
        scheme, host, port, path = simple.groups()
        if port is None or int(port) == DEFAULT_PORTS[scheme]:
            return f"{scheme}://{host}{path or '/'}"
        return f"{scheme}://{host}:{int(port)}{path or '/'}"
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname or ""
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = ascii_host(host)
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    path = parts.path
    if ";" in path:
        path = _JSESSIONID.sub("", path)
    if not _PLAIN.fullmatch(path):
        path = _normalise(path, _PATH_SAFE)
    if "/." in path or path.startswith("."):
        path = remove_dot_segments(path)
    if not path.startswith("/"):
        path = "/" + path
    key = f"{scheme}://{netloc}{path}"
    if parts.query:
        query = _query(parts.query)
        if query:
            key += "?" + query
    return key


def ascii_host(host: str) -> str:
    """`host` in ASCII: an internationalised name in punycode (unchanged if it cannot be)."""
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        try:
            return host.encode("idna").decode("ascii")
        except UnicodeError:
            return host


def _query(query: str) -> str:
    pairs = []
    for piece in query.split("&"):
        if not piece:
            continue
        if not _PLAIN.fullmatch(piece):
            piece = _normalise(piece, _QUERY_SAFE)
        name, _, value = piece.partition("=")
        lowered = name.lower()
        if lowered in SESSION_PARAMETERS or lowered.startswith("utm_"):
            continue
        pairs.append((name, value, piece))
    pairs.sort()
    return "&".join(piece for _, _, piece in pairs)


def _normalise(text: str, safe: frozenset[str]) -> str:
    """`text` with its escapes normalised and what must be escaped escaped."""
    out: list[str] = []
    index, end = 0, len(text)
    while index < end:
        char = text[index]
        if char == "%":
            pair = text[index + 1 : index + 3]
            if len(pair) == 2 and pair[0] in _HEX and pair[1] in _HEX:
                decoded = chr(int(pair, 16))
                out.append(decoded if decoded in _UNRESERVED else "%" + pair.upper())
                index += 3
                continue
            out.append("%25")
        elif char in safe:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        index += 1
    return "".join(out)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4: `/a/./b/../c` is `/a/c`; a `..` above the root stays at it."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    result = "/".join(output)
    if path.startswith("/") and not result.startswith("/"):
        result = "/" + result
    return result
