"""The db.txt line formats of DESIGN.md, letter by letter, and what keeps a record
on one line whatever a page or a server puts in it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.urls import redact_url
from pipelines.records import board_line, error_line, escape, run_line, url_line

URL = "https://www.maoyan.com/board/7"
ENTRY = {
    "index": "1",
    "title": "霸王别姬",
    "actor": "张国荣,张丰毅,巩俐",
    "time": "1993-01-01",
    "score": "9.5",
}


def test_url_line() -> None:
    assert url_line(URL, 1234) == "url:<https://www.maoyan.com/board/7> size:[1234]"


def test_board_line_is_json_with_keys_in_order_and_non_ascii_as_is() -> None:
    assert board_line(URL, ENTRY) == (
        'board:<https://www.maoyan.com/board/7> {"index": "1", "title": "霸王别姬", '
        '"actor": "张国荣,张丰毅,巩俐", "time": "1993-01-01", "score": "9.5"}'
    )


def test_error_line() -> None:
    assert error_line(URL, "HTTP 404") == "error:<https://www.maoyan.com/board/7> HTTP 404"


def test_run_line() -> None:
    line = run_line("20261126T120000Z-abcdef", "end", {"status": "finished", "ok": 3})
    assert line == "run:<20261126T120000Z-abcdef> end status=finished ok=3"


def test_lines_show_no_credentials() -> None:
    assert url_line("http://user:secret@example.com/a", 1) == "url:<http://example.com/a> size:[1]"
    assert error_line("http://user:secret@example.com/a", "HTTP 500").startswith(
        "error:<http://example.com/a> "
    )


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain text", "plain text"),
        ("a\nb", "a\\nb"),
        ("a\rb", "a\\rb"),
        ("a\r\nb", "a\\r\\nb"),
        ("a\tb", "a\\tb"),
        ("nul\x00", "nul\\u0000"),
        ("esc\x1b[31mred", "esc\\u001b[31mred"),
        ("vt\x0bff\x0c", "vt\\u000bff\\u000c"),
        ("fs\x1cgs\x1drs\x1e", "fs\\u001cgs\\u001drs\\u001e"),
        ("del\x7f", "del\\u007f"),
        ("nel\x85", "nel\\u0085"),
        ("c1\x9b", "c1\\u009b"),
        ("ls\u2028ps\u2029", "ls\\u2028ps\\u2029"),
        ("back\\slash", "back\\slash"),  # left alone: the escapes are for the eye
        ("中文 é \u00a0", "中文 é \u00a0"),  # printable non-ASCII stays
    ],
)
def test_escape(raw: str, escaped: str) -> None:
    assert escape(raw) == escaped


@given(st.text())
def test_no_text_can_break_a_line(text: str) -> None:
    for line in (
        error_line(URL, text),
        board_line(URL, {"title": text}),
        run_line("id", "end", {"status": text}),
        escape(text),
    ):
        assert (line + "\n").splitlines() == [line]


@given(st.dictionaries(st.sampled_from(list(ENTRY)), st.text()))
def test_board_json_reads_back_to_the_entry(entry: dict[str, str]) -> None:
    head = f"board:<{URL}> "
    line = board_line(URL, entry)
    assert line.startswith(head)
    assert json.loads(line[len(head) :]) == entry


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:secret@example.com/a", "http://example.com/a"),
        ("http://user@example.com/", "http://example.com/"),
        ("http://:secret@example.com/", "http://example.com/"),
        ("https://u:p%40ss@example.com:8443/x?q=1#f", "https://example.com:8443/x?q=1#f"),
        ("http://u:p@ss@example.com/", "http://example.com/"),
        ("http://u:secret@[::1]:8080/x", "http://[::1]:8080/x"),
        # Nothing else about the URL changes.
        ("HTTP://user:secret@Example.COM/A?", "HTTP://Example.COM/A?"),
        ("http://example.com/a", "http://example.com/a"),
        ("http://example.com/?mail=a@b.example", "http://example.com/?mail=a@b.example"),
        ("http://example.com/path/x:y@z", "http://example.com/path/x:y@z"),
        ("http://example.com/#a:b@c", "http://example.com/#a:b@c"),
        # Not URLs we could fetch, but shown in `error:` lines and on stderr all the same.
        ("user:secret@example.com/x", "example.com/x"),
        ("http//user:secret@example.com/", "http//example.com/"),
        ("ftp://user:secret@example.com/", "ftp://example.com/"),
        ("http://user:secret@[bad/x", "http://[bad/x"),
        ("", ""),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert "secret" not in redact_url(url)
