"""The query of a link on a page that is not in UTF-8, encoded as a browser encodes it.

The WHATWG URL standard percent-encodes a URL's query in the document's encoding
(only the query: the path and the rest are UTF-8). ada-url, which resolves every
link, knows UTF-8 only, so this step is done here, in this order:

1. nothing changes when the href holds no query of its own (`?` before any `#`):
   the query came from the base, which is already encoded;
2. the href's query is encoded in the page's encoding, each byte outside the
   special-query set kept, the others (C0 controls, space, `"`, `#`, `'`, `<`,
   `>`, and bytes from 0x7F) written `%XX`;
3. a character the encoding cannot hold is written `%26%23NNNN%3B` (`&#NNNN;`);
4. that query replaces the one ada-url gave the URL.

UTF-16 pages encode as UTF-8 (the standard's rule), so do encodings Python does not
know. Pure: no I/O.
"""

from __future__ import annotations

import codecs

_SPECIAL_QUERY = frozenset(b" \"#'<>") | frozenset(range(0x21)) | frozenset(range(0x7F, 0x100))
_BYTE = tuple(f"%{byte:02X}" if byte in _SPECIAL_QUERY else chr(byte) for byte in range(256))


def encode_query(url: str, href: str, encoding: str) -> str:
    """`url` (what `href` resolved to, without fragment) with the query `href` gave
    it encoded in `encoding` (see the module docstring)."""
    _, mark, query = href.partition("#")[0].partition("?")
    if not mark or query.isascii():
        return url
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        return url
    if codec.startswith("utf-") or codec == "utf_8":
        return url
    query = query.replace("\t", "").replace("\n", "").replace("\r", "")
    return url.partition("?")[0] + "?" + "".join(_encode(char, codec) for char in query)


def _encode(char: str, codec: str) -> str:
    try:
        return "".join(_BYTE[byte] for byte in char.encode(codec))
    except UnicodeEncodeError:  # the standard's error mode: `&#NNNN;`, percent-encoded
        return f"%26%23{ord(char)}%3B"
