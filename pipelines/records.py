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

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_BREAKERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Everything up to the end of the authority (`//` is optional; see redact_url).
_AUTHORITY = re.compile(r"(?P<head>(?:[^/?#]*//)?)(?P<authority>[^/?#]*)")
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

    The authority is what follows the first `//` up to the next `/`, `?` or `#`;
    in text with no `//` before those (`user:pw@host/x`, a line that is not a
    URL), it is the text up to them, so a mistyped URL shows no password either.
    The rest of the text is kept exactly as it was written."""
    if "@" not in url:
        return url
    match = _AUTHORITY.match(url)
    assert match is not None  # every group can match the empty string
    head, authority = match.group("head"), match.group("authority")
    if "@" not in authority:
        return url
    return head + authority.rpartition("@")[2] + url[match.end() :]


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
