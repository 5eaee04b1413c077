"""The one reader of a Content-Type: its essence and its parameters. Pure.

`text/HTML; Charset="UTF-8"` -> essence `text/html`, params `{"charset": "UTF-8"}`:
the essence (type/subtype) is stripped and lower-cased; each `name=value`
parameter after it has its name lower-cased and its value unquoted (a quoted
value may hold `;`), the first of a repeated name kept, a parameter without `=`
dropped, as the WHATWG MIME Sniffing standard parses one. No Content-Type at all
is the empty essence, which the callers read as "sniff".
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple

HTML_TYPES = ("text/html", "application/xhtml+xml")
JSON_TYPES = ("application/json", "text/json")
_TEXT_PREFIXES = ("text/", "application/xhtml", "application/xml", "application/json")


class MediaType(NamedTuple):
    essence: str  # lower-case `type/subtype`, "" when there is none
    params: Mapping[str, str]  # read-only: one parse is shared by every caller

    @property
    def charset(self) -> str | None:
        return self.params.get("charset")


@lru_cache(maxsize=256)  # a crawl sees a handful of distinct Content-Types
def parse(content_type: str) -> MediaType:
    """`content_type` read as the module docstring says."""
    essence, _, rest = content_type.partition(";")
    params: dict[str, str] = {}
    index, end = 0, len(rest)
    while index < end:
        stop = _next(rest, index, ";=")
        name = rest[index:stop].strip().lower()
        if stop == end or rest[stop] == ";":  # a parameter without `=`: dropped
            index = stop + 1
            continue
        index = stop + 1
        while index < end and rest[index] in " \t":
            index += 1
        if index < end and rest[index] == '"':
            value, index = _quoted(rest, index + 1)
            index = _next(rest, index, ";") + 1
        else:
            stop = _next(rest, index, ";")
            value, index = rest[index:stop].strip(), stop + 1
        if name and name not in params:
            params[name] = value
    return MediaType(essence.strip().lower(), MappingProxyType(params))


def _next(text: str, index: int, marks: str) -> int:
    """The index of the first of `marks` in `text` from `index`, or len(text)."""
    found = [at for at in (text.find(mark, index) for mark in marks) if at >= 0]
    return min(found, default=len(text))


def _quoted(text: str, index: int) -> tuple[str, int]:
    """The value of the quoted-string whose opening quote is before `index` (`\\`
    escapes the next character), and the index after its closing quote."""
    value: list[str] = []
    while index < len(text):
        char = text[index]
        index += 1
        if char == '"':
            break
        if char == "\\" and index < len(text):
            char = text[index]
            index += 1
        value.append(char)
    return "".join(value), index


def essence(content_type: str) -> str:
    """`text/html; charset=utf-8` -> `text/html`."""
    return parse(content_type).essence


def is_html(content_type: str) -> bool:
    return essence(content_type) in HTML_TYPES


def is_json(content_type: str) -> bool:
    """`application/json`, `text/json` or `*/*+json` (`application/ld+json`)."""
    media = essence(content_type)
    return media in JSON_TYPES or media.endswith("+json")


def is_text(content_type: str) -> bool:
    """A body is text when its media type says so; no Content-Type at all is taken
    as HTML, as browsers sniff most such pages to be."""
    media = essence(content_type)
    return not media or media.startswith(_TEXT_PREFIXES) or media.endswith(("+xml", "+json"))
