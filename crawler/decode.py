"""Turn a response body into text the way a browser would. Pure: bytes in, text out.

Decision order (the first that names a usable encoding wins):

1. a byte-order mark (UTF-8, UTF-16 LE/BE);
2. the `charset` parameter of the Content-Type header;
3. a `<meta charset>` or `<meta http-equiv="Content-Type" content="...charset=...">`
   within the first 4096 bytes;
4. detection: strict UTF-8 if the bytes are valid UTF-8, else charset-normalizer's guess;
5. UTF-8 with replacement characters.

As in the WHATWG Encoding Standard, GBK and GB2312 are read as GB18030 (a superset
that browsers use for both) and ISO-8859-1/ASCII as windows-1252. Bytes that do not
fit the chosen encoding become U+FFFD: decoding never fails.
"""

from __future__ import annotations

import codecs
import re

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_ALIASES = {
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "gb_2312-80": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "ascii": "cp1252",
    "us-ascii": "cp1252",
}
_META_PRESCAN = 4096
_CHARSET_PARAM = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.I)
_META = re.compile(rb"<meta\b[^>]*>", re.I)
_TEXT_TYPES = ("text/", "application/xhtml", "application/xml", "application/json")


def is_text(content_type: str) -> bool:
    """A body is text when its media type says so; no Content-Type at all is taken
    as HTML, as browsers sniff most such pages to be."""
    media = content_type.split(";", 1)[0].strip().lower()
    return not media or media.startswith(_TEXT_TYPES) or media.endswith(("+xml", "+json"))


def normalize_encoding(label: str) -> str | None:
    """Python's codec name for an encoding label, or None if the label is unknown."""
    label = label.strip().strip("\"'").lower()
    label = _ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name
    except (LookupError, ValueError):
        return None
    return _ALIASES.get(name, name)


def header_charset(content_type: str) -> str | None:
    match = _CHARSET_PARAM.search(content_type.encode("latin-1", "replace"))
    return normalize_encoding(match.group(1).decode("ascii")) if match else None


def meta_charset(body: bytes) -> str | None:
    """The charset that a page's own `<meta>` declares near its start."""
    for meta in _META.finditer(body, 0, _META_PRESCAN):
        match = _CHARSET_PARAM.search(meta.group(0))
        if match:
            encoding = normalize_encoding(match.group(1).decode("ascii"))
            # A page whose bytes we are reading as ASCII cannot really be UTF-16.
            if encoding and not encoding.startswith("utf-16"):
                return encoding
    return None


def detect_encoding(body: bytes) -> str:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    from charset_normalizer import from_bytes  # slow to import; rarely needed

    best = from_bytes(body[:65536]).best()
    guess = normalize_encoding(best.encoding) if best else None
    return guess or "utf-8"


def choose_encoding(body: bytes, content_type: str = "") -> tuple[str, int]:
    """The encoding to read `body` with, and how many leading bytes (a BOM) to skip."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return encoding, len(bom)
    encoding = header_charset(content_type) or meta_charset(body) or detect_encoding(body)
    return encoding, 0


def decode_body(body: bytes, content_type: str = "") -> str:
    """The text of `body`, decoded as a browser would (see the module's docstring)."""
    encoding, skip = choose_encoding(body, content_type)
    return body[skip:].decode(encoding, errors="replace")
