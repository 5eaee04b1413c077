"""The decoding order of crawler.page.decode, pinned case by case (see its docstring)."""

from __future__ import annotations

import codecs

import pytest

from crawler.page.charsets import TEXT_ENCODINGS, codec_for_label
from crawler.page.decode import choose_encoding, decode_body
from crawler.page.media_type import is_text

CHINESE = "中文页面，用 GBK 编码。这是一个没有声明字符集的页面，浏览器需要猜测它的编码方式。"
GBK_NO_DECLARATION = f"<html><body><p>{CHINESE}</p></body></html>".encode("gbk")


def meta(charset: str) -> bytes:
    return f'<html><head><meta charset="{charset}"></head><body>'.encode()


def http_equiv(charset: str) -> bytes:
    return (
        '<html><head><meta http-equiv="Content-Type" '
        f'content="text/html; charset={charset}"></head><body>'
    ).encode()


# (why, body, Content-Type, expected encoding, bytes skipped)
ORDER = [
    (
        "UTF-8 BOM beats a header",
        codecs.BOM_UTF8 + b"abc",
        "text/html; charset=iso-8859-1",
        "utf-8",
        3,
    ),
    ("UTF-16 LE BOM", codecs.BOM_UTF16_LE + "hi".encode("utf-16-le"), "", "utf-16-le", 2),
    ("UTF-16 BE BOM", codecs.BOM_UTF16_BE + "hi".encode("utf-16-be"), "text/plain", "utf-16-be", 2),
    ("header charset", b"abc", "text/html; charset=utf-8", "utf-8", 0),
    ("header charset, quoted, upper case", b"abc", 'text/html; CHARSET="UTF-8"', "utf-8", 0),
    ("header beats meta", meta("utf-8"), "text/html; charset=koi8-r", "koi8-r", 0),
    (
        "unknown header charset falls to meta",
        meta("koi8-r"),
        "text/html; charset=bogus",
        "koi8-r",
        0,
    ),
    ("meta charset", meta("koi8-r"), "text/html", "koi8-r", 0),
    ("meta http-equiv", http_equiv("koi8-r"), "text/html", "koi8-r", 0),
    ("meta naming UTF-16 is not believed", meta("utf-16") + b"abc", "", "utf-8", 0),
    ("meta past the first 4096 bytes is not seen", b" " * 5000 + meta("koi8-r"), "", "utf-8", 0),
    ("detection: valid UTF-8", "页面".encode(), "text/html", "utf-8", 0),
    ("detection: GBK without declaration", GBK_NO_DECLARATION, "text/html", "gb18030", 0),
    ("nothing at all: UTF-8", b"", "", "utf-8", 0),
    ("GBK header is read as GB18030", b"abc", "text/html; charset=GBK", "gb18030", 0),
    ("GB2312 header is read as GB18030", b"abc", "text/html; charset=gb2312", "gb18030", 0),
    ("GB2312 meta is read as GB18030", http_equiv("gb2312"), "text/html", "gb18030", 0),
    ("latin1 header is read as cp1252", b"abc", "text/plain; charset=iso-8859-1", "cp1252", 0),
    ("us-ascii header is read as cp1252", b"abc", "text/plain; charset=us-ascii", "cp1252", 0),
    (
        "latin-1 is no WHATWG label: detection",
        "ñ".encode(),
        "text/html; charset=latin-1",
        "utf-8",
        0,
    ),
    ("utf_8 is no WHATWG label: meta", meta("koi8-r"), "text/html; charset=utf_8", "koi8-r", 0),
]


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "skip"),
    [case[1:] for case in ORDER],
    ids=[case[0] for case in ORDER],
)
def test_decision_order(body: bytes, content_type: str, encoding: str, skip: int) -> None:
    assert choose_encoding(body, content_type) == (encoding, skip)


# Codecs Python finds by these names that are not text encodings (bytes to bytes,
# or text to text), or that cannot decode arbitrary bytes at all: a page naming one
# is read as if it named none (detection). `undefined` raises on any input.
NOT_TEXT = [
    "base64",
    "rot13",
    "zlib",
    "hex",
    "undefined",
    "bz2",
    "uu",
    "quopri",
    "base64_codec",
    "zip",
    "idna",
    "punycode",
    "unicode_escape",
    "raw_unicode_escape",
    "charmap",
]


@pytest.mark.parametrize("label", NOT_TEXT)
def test_a_label_that_is_no_text_encoding_is_unknown(label: str) -> None:
    assert codec_for_label(label) is None


@pytest.mark.parametrize("label", NOT_TEXT)
@pytest.mark.parametrize("place", ["header", "meta", "http-equiv"])
def test_a_page_naming_no_text_encoding_falls_through_to_detection(label: str, place: str) -> None:
    text = "<p>页面</p>"
    declaration = {"header": b"", "meta": meta(label), "http-equiv": http_equiv(label)}[place]
    content_type = f"text/html; charset={label}" if place == "header" else "text/html"
    body = declaration + text.encode()
    assert choose_encoding(body, content_type) == ("utf-8", 0)
    assert decode_body(body, content_type).endswith(text)


@pytest.mark.parametrize("encoding", sorted(TEXT_ENCODINGS))
def test_every_accepted_encoding_decodes_any_bytes(encoding: str) -> None:
    every_byte = bytes(range(256)) * 2 + b"\x1b$B\x1b(J\xff\xfe"  # escapes for ISO-2022-JP
    assert isinstance(every_byte.decode(encoding, errors="replace"), str)


def test_bom_is_not_part_of_the_text() -> None:
    assert decode_body(codecs.BOM_UTF8 + "页面".encode()) == "页面"


def test_gbk_page_whose_charset_only_its_meta_names() -> None:
    body = (http_equiv("gb2312").decode() + "<p>中文页面</p>").encode("gbk")
    assert decode_body(body, "text/html").endswith("<p>中文页面</p>")


def test_gb18030_reads_what_gbk_cannot() -> None:
    # A character outside GBK, declared as GBK: browsers (and we) still read it.
    body = "𠀀".encode("gb18030")
    assert decode_body(body, "text/html; charset=gbk") == "𠀀"


def test_latin1_label_gets_the_cp1252_quotes() -> None:
    assert decode_body(b"\x93hi\x94", "text/plain; charset=iso-8859-1") == "\u201chi\u201d"


def test_a_lying_header_wins_and_decoding_never_fails() -> None:
    # The header says UTF-8, the bytes are GBK: the header wins, as in a browser,
    # and what does not fit becomes U+FFFD instead of an exception.
    body = (meta("gbk").decode() + CHINESE).encode("gbk")
    text = decode_body(body, "text/html; charset=utf-8")
    assert "\ufffd" in text
    assert CHINESE not in text


def test_a_lying_header_over_a_truthful_meta() -> None:
    body = meta("utf-8") + "é".encode()
    assert decode_body(body, "text/html; charset=iso-8859-1").endswith("Ã©")


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("", True),  # no Content-Type: sniffed as HTML, like most browsers would
        ("text/html", True),
        ("TEXT/HTML; charset=utf-8", True),
        ("text/plain", True),
        ("application/xhtml+xml", True),
        ("application/xml", True),
        ("application/json", True),
        ("application/ld+json", True),
        ("image/svg+xml", True),
        ("image/png", False),
        ("image/jpeg", False),
        ("application/octet-stream", False),
        ("application/pdf", False),
        ("video/mp4", False),
    ],
)
def test_is_text(content_type: str, text: bool) -> None:
    assert is_text(content_type) is text
