"""Turn a response body into text the way a browser would. Pure: bytes in, text out.

Decision order (the first that names a usable encoding wins):

1. a byte-order mark (UTF-8, UTF-16 LE/BE);
2. the `charset` parameter of the Content-Type header;
3. a `<meta charset>` or `<meta http-equiv="Content-Type" content="...charset=...">`
   within the first 4096 bytes;
4. detection: strict UTF-8 if the bytes are valid UTF-8, else charset-normalizer's guess;
5. UTF-8 with replacement characters.

A label counts only when the WHATWG Encoding Standard lists it (`crawler.page.charsets`):
one it does not list (`latin-1`, `utf_8`, `base64`, `undefined`) is skipped, as a
browser skips it, and the next step decides. As in that standard, GBK and GB2312 are
read as GB18030 (a superset that browsers use for both) and ISO-8859-1/ASCII as
windows-1252. Bytes that do not fit the chosen encoding become U+FFFD: decoding never
fails.
"""

from __future__ import annotations

import codecs
import re

from crawler.page import media_type
from crawler.page.charsets import codec_for_detected, codec_for_label

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_PRESCAN = 4096
_CHARSET_PARAM = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.I)
_META = re.compile(rb"<meta\b[^>]*>", re.I)


def header_charset(content_type: str) -> str | None:
    """The codec the Content-Type's `charset` parameter names, if a WHATWG label."""
    label = media_type.parse(content_type).charset
    return codec_for_label(label) if label else None


def meta_charset(body: bytes) -> str | None:
    """The charset that a page's own `<meta>` declares near its start."""
    for meta in _META.finditer(body, 0, _META_PRESCAN):
        match = _CHARSET_PARAM.search(meta.group(0))
        if match:
            encoding = codec_for_label(match.group(1).decode("ascii"))
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
    guess = codec_for_detected(best.encoding) if best else None
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


def page_text(body: bytes, content_type: str = "") -> tuple[str | None, str]:
    """A page's text and the encoding it was read with (a link's query is encoded in
    it): None and UTF-8 for a body whose media type is no text (`media_type.is_text`)."""
    if not media_type.is_text(content_type):
        return None, "utf-8"
    encoding, skip = choose_encoding(body, content_type)
    return body[skip:].decode(encoding, errors="replace"), encoding
