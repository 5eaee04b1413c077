"""The lines of `db.txt`: how each kind is spelled, how nothing scraped can break
one, and how a line is read back.

Every line is `KIND:<KEY> REST`, with literal angle brackets, exactly as the
tutorial's callback writes `'url:<%s> size:[%s]\n'`:

    url:<https://www.baidu.com> size:[2443]
    error:<https://example.com/missing> HTTP 404
    run:<20261201T192957Z-5865b6> start version=0.2.0 ...
    quote:<https://quotes.example/page/1> {"text": "...", "author": "Albert Einstein"}

- KEY is a URL (as listed or as found, `user:password@` removed) or a run id. It
  never holds `<`, `>`, whitespace or a control character: those are
  percent-encoded (`?q=a>b` is written `?q=a%3Eb`), so `read_line` can always split
  at the first `:<` and the first `> ` after it.
- REST holds no line break, whatever a page or a server put in it: control
  characters are escaped, and so are U+0085, U+2028 and U+2029, which
  `str.splitlines()` also breaks on.
- Lines written before the brackets (`url:https://... size:[N]`) are read too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from crawler.urls import record_key as record_key  # URL grammar; the lines' key, read here too

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_BREAKERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Everything up to the end of the authority (`//` is optional; see redact_url).
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_KIND = re.compile("[a-z_][a-z0-9_]*")
# The kinds the crawl itself writes: no parser may be named like them.
RESERVED_KINDS = frozenset({"url", "error", "run"})
# A lone surrogate (JSON's `"\ud800"` reads as one) cannot be written as UTF-8.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def is_kind(name: str) -> bool:
    """Whether `name` can be the KIND of a line: a lowercase identifier."""
    return _KIND.fullmatch(name) is not None


def _escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    return _SHORT_ESCAPES.get(char) or f"\\u{ord(char):04x}"


def escape(text: str) -> str:
    """`text` on one line, printable: breaks and controls become `\\n`, `\\uXXXX`...

    Backslashes are left alone: the escapes are for a reader's eye and for keeping
    one record on one line, not for a round trip."""
    return _BREAKERS.sub(_escape_char, text)


def _head(kind: str, key: str) -> str:
    return f"{kind}:<{record_key(key)}>"


def url_line(url: str, size: int) -> str:
    return f"{_head('url', url)} size:[{size}]"


def record_line(kind: str, url: str, record: Mapping[str, object]) -> str:
    """`KIND:<URL> {json}`: one record of the parser `kind`, as JSON with the
    record's keys in their order and non-ASCII kept as is.

    `json.dumps` escapes C0 controls; the C1 controls and line separators it leaves
    are escaped here, still as valid JSON; a lone surrogate (from a JSON page's
    `"\\ud800"`) becomes U+FFFD, as a decoder makes of bytes it cannot read. A
    value JSON cannot hold raises TypeError (or ValueError), before anything is
    written."""
    return record_lines(kind, url, (record,))[0]


def record_lines(kind: str, url: str, records: Iterable[Mapping[str, object]]) -> list[str]:
    """`record_line` for each of a page's records, its key made once (a 5,000-item
    API page would otherwise check its URL 5,000 times)."""
    head = _head(kind, url)
    lines = []
    for record in records:
        text = json.dumps(record, ensure_ascii=False)
        if _LONE_SURROGATE.search(text):
            text = _LONE_SURROGATE.sub("\ufffd", text)
        lines.append(f"{head} {escape(text)}")
    return lines


def board_line(url: str, entry: Mapping[str, str]) -> str:
    """One entry of the built-in `board` parser."""
    return record_line("board", url, entry)


def error_line(url: str, reason: str) -> str:
    return f"{_head('error', url)} {escape(reason)}"


def run_line(run_id: str, event: str, fields: Mapping[str, object]) -> str:
    rest = " ".join(f"{key}={value}" for key, value in fields.items())
    return f"{_head('run', run_id)} {escape(f'{event} {rest}'.rstrip())}"


class Line(NamedTuple):
    """A line of `db.txt`, read back: `kind` (`url`, `board`, `error`, `run`, or a
    declared parser's name), `key` (a URL or a run id, as written) and `rest`."""

    kind: str
    key: str
    rest: str


def read_line(text: str) -> Line | None:
    """Split one line of `db.txt` into kind, key and rest; None if it is not a record
    line (a torn last line, a stray line).

    The order: a trailing line break is dropped; the kind runs to the first `:`
    and must be a lowercase identifier; when `<` follows, the key runs to the first
    `> ` after it (or to a final `>`), else (a line written before the brackets)
    to the first space."""
    text = text.rstrip("\r\n")
    kind, colon, after = text.partition(":")
    if not colon or not _KIND.fullmatch(kind):
        return None
    if after.startswith("<"):
        key, space, rest = after[1:].partition("> ")
        if not space:
            if not after.endswith(">"):
                return None
            key, rest = after[1:-1], ""
    else:
        key, _, rest = after.partition(" ")
    return Line(kind, key, rest)
