"""crawler.page.media_type: the one reader of a Content-Type, a row per spelling."""

from __future__ import annotations

import pytest

from crawler.page import media_type

ROWS = [
    # (Content-Type, essence, parameters)
    ("text/html", "text/html", {}),
    ("Text/HTML; Charset=UTF-8", "text/html", {"charset": "UTF-8"}),
    ('text/html; charset="utf-8"', "text/html", {"charset": "utf-8"}),
    ("text/html;charset=latin-1", "text/html", {"charset": "latin-1"}),
    ("  application/json ; charset = gbk ", "application/json", {"charset": "gbk"}),
    ('a/b; q="x;y\\"z"; charset=koi8-r', "a/b", {"q": 'x;y"z', "charset": "koi8-r"}),
    ("text/html; charset=a; charset=b", "text/html", {"charset": "a"}),  # the first wins
    ("text/html; bare; charset=koi8-r", "text/html", {"charset": "koi8-r"}),
    ('text/html; charset="unclosed', "text/html", {"charset": "unclosed"}),
    ("", "", {}),
]


@pytest.mark.parametrize(("content_type", "essence", "params"), ROWS)
def test_a_content_type_reads_as_essence_and_parameters(
    content_type: str, essence: str, params: dict[str, str]
) -> None:
    parsed = media_type.parse(content_type)
    assert (parsed.essence, dict(parsed.params)) == (essence, params)
    assert parsed.charset == params.get("charset")


@pytest.mark.parametrize(
    ("content_type", "html", "json", "text"),
    [
        ("text/html; charset=utf-8", True, False, True),
        ("application/xhtml+xml", True, False, True),
        ("application/ld+json", False, True, True),
        ("text/json", False, True, True),
        ("application/jsonp", False, False, True),  # JavaScript: text, not JSON
        ("image/png", False, False, False),
        ("image/svg+xml", False, False, True),
        ("", False, False, True),  # none: sniffed, as browsers do
    ],
)
def test_what_a_media_type_says(content_type: str, html: bool, json: bool, text: bool) -> None:
    assert media_type.is_html(content_type) is html
    assert media_type.is_json(content_type) is json
    assert media_type.is_text(content_type) is text
