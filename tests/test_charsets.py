"""crawler.page.charsets: the WHATWG Encoding Standard's labels, a row per label.

A label the standard lists names its encoding, read as browsers read it; any
other, even one Python knows as an alias (`latin-1`, `utf_8`, `cp936`), is
skipped, as a browser skips it, and the page is sniffed."""

from __future__ import annotations

import pytest

from crawler.model import Page
from crawler.page.charsets import codec_for_detected, codec_for_label
from crawler.page.decode import choose_encoding, decode_body
from crawler.page.links import extract_links

LABELS = [
    # (label, codec): the standard's labels, any case, white space around them
    ("utf-8", "utf-8"),
    ("UTF8", "utf-8"),
    ("unicode-1-1-utf-8", "utf-8"),
    (" utf-8\t", "utf-8"),
    ("latin1", "cp1252"),
    ("ISO-8859-1", "cp1252"),
    ("iso_8859-1:1987", "cp1252"),
    ("l1", "cp1252"),
    ("ascii", "cp1252"),
    ("us-ascii", "cp1252"),
    ("windows-1252", "cp1252"),
    ("gbk", "gb18030"),
    ("GB2312", "gb18030"),
    ("x-gbk", "gb18030"),
    ("gb18030", "gb18030"),
    ("x-sjis", "cp932"),
    ("Shift_JIS", "cp932"),
    ("euc-kr", "cp949"),
    ("big5", "big5hkscs"),
    ("koi8-r", "koi8-r"),
    ("x-mac-cyrillic", "mac-cyrillic"),
    ("latin5", "cp1254"),
    ("tis-620", "cp874"),
    ("iso-8859-2", "iso8859-2"),
    ("utf-16", "utf-16-le"),
    ("utf-16be", "utf-16-be"),
    # Python aliases the standard does not list: skipped
    ("latin-1", None),
    ("latin_1", None),
    ("iso8859_1", None),
    ("utf_8", None),
    ("cp936", None),
    ("koi8_u", None),
    ("8859", None),
    # standard encodings no Python codec reads as a browser does: unknown
    ("replacement", None),
    ("iso-2022-kr", None),
    ("x-user-defined", None),
    # text encodings no browser reads, and nonsense
    ("utf-7", None),
    ("utf-32", None),
    ("base64", None),
    ("no-such-charset", None),
    ("", None),
]


@pytest.mark.parametrize(("label", "codec"), LABELS, ids=[repr(row[0]) for row in LABELS])
def test_a_label_names_its_codec_only_when_the_standard_lists_it(
    label: str, codec: str | None
) -> None:
    assert codec_for_label(label) == codec


@pytest.mark.parametrize(("label", "codec"), [row for row in LABELS if row[1] is None and row[0]])
def test_a_header_naming_an_unlisted_label_is_sniffed(label: str, codec: None) -> None:
    body = "<p>sample_ñ</p>".encode()  # UTF-8 bytes: detection reads them as UTF-8
    assert choose_encoding(body, f"text/html; charset={label}") == ("utf-8", 0)
    assert decode_body(body, f"text/html; charset={label}") == "<p>sample_ñ</p>"


@pytest.mark.parametrize(
    ("detected", "codec"),
    [("utf_8", "utf-8"), ("latin_1", "cp1252"), ("gbk", "gb18030"), ("big5", "big5hkscs"),
     ("shift_jis", "cp932"), ("euc_kr", "cp949"), ("cp1251", "cp1251"), ("utf_32", None),
     ("base64", None), ("nonsense", None)],
)  # fmt: skip
def test_a_detector_s_codec_name_maps_onto_the_table(detected: str, codec: str | None) -> None:
    assert codec_for_detected(detected) == codec


def test_scrapys_latin1_page_holding_utf8_gives_the_link_a_browser_requests() -> None:
    """Scrapy's linkextractor_latin1.html: served `charset=latin-1` (no WHATWG label),
    its bytes are UTF-8, so a browser sniffs UTF-8 and requests `sample_%C3%B1.html`."""
    body = '<html><body><a href="sample_ñ.html">ñ</a></body></html>'.encode()
    content_type = "text/html; charset=latin-1"
    encoding, skip = choose_encoding(body, content_type)
    text = body[skip:].decode(encoding)
    page = Page("http://127.0.0.1/", 200, content_type, text, len(body), len(body), 1,
                headers=(("content-type", content_type),), encoding=encoding)  # fmt: skip
    links = extract_links(page).links
    assert [link.url for link in links] == ["http://127.0.0.1/sample_%C3%B1.html"]
