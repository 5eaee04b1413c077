"""The lines of `db.txt`: how each kind is spelled, and how nothing scraped can break one.

Every line is `KIND:<URL> ...` and stands alone. Whatever a page or a server put in
it, a line holds no line break: control characters are escaped, and so are U+0085,
U+2028 and U+2029, which `str.splitlines()` also breaks on. The URL is the one the
URL file listed, with any `user:password@` removed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_BREAKERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Everything up to the end of the authority (`//` is optional; see redact_url).
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    return _SHORT_ESCAPES.get(char) or f"\\u{ord(char):04x}"


def escape(text: str) -> str:
    """`text` on one line, printable: breaks and controls become `\\n`, `\\uXXXX`...

    Backslashes are left alone: the escapes are for a reader's eye and for keeping
    one record on one line, not for a round trip."""
    return _BREAKERS.sub(_escape_char, text)


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


def _head(kind: str, url: str) -> str:
    return f"{kind}:{escape(redact_url(url))}"


def url_line(url: str, size: int) -> str:
    return f"{_head('url', url)} size:[{size}]"


def board_line(url: str, entry: Mapping[str, str]) -> str:
    """JSON with the entry's keys in their order and non-ASCII kept as is.

    `json.dumps` escapes C0 controls; the C1 controls and line separators it leaves
    are escaped here, still as valid JSON."""
    return f"{_head('board', url)} {escape(json.dumps(entry, ensure_ascii=False))}"


def error_line(url: str, reason: str) -> str:
    return f"{_head('error', url)} {escape(reason)}"


def run_line(run_id: str, event: str, fields: Mapping[str, object]) -> str:
    rest = " ".join(f"{key}={value}" for key, value in fields.items())
    return escape(f"run:{run_id} {event} {rest}".rstrip())
