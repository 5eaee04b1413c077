"""The size summary, and what records a fetch result turns into (pipelines.records_for)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.model import Failure, Page
from pipelines import records_for
from pipelines.size import size_summary

PAGES = Path(__file__).parent / "pages"
URL = "http://example.com/board"


def page(text: str | None, size: int | None = None, content_type: str = "text/html") -> Page:
    nbytes = len(text.encode()) if text is not None else (size or 0)
    return Page(URL, 200, content_type, text, len(text) if text is not None else nbytes, nbytes, 1)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("", "url:<http://example.com/board> size:[0]"),
        ("hello", "url:<http://example.com/board> size:[5]"),
        # N is the length of the decoded text, as the tutorial's len(text): characters.
        ("页面 é", "url:<http://example.com/board> size:[4]"),
    ],
)
def test_size_summary_counts_characters(text: str, line: str) -> None:
    assert size_summary(page(text)) == line


def test_size_summary_of_an_image_is_its_byte_count() -> None:
    image = Page(URL, 200, "image/png", None, 1032, 1032, 1)
    assert size_summary(image) == "url:<http://example.com/board> size:[1032]"


def test_size_summary_hides_credentials() -> None:
    secret = page("x")._replace(url="http://user:secret@example.com/")
    assert size_summary(secret) == "url:<http://example.com/> size:[1]"


def test_records_for_a_failure_is_one_error_line() -> None:
    assert records_for(Failure(URL, "HTTP 404", 1), ["board"]) == (
        ["error:<http://example.com/board> HTTP 404"],
        "HTTP 404",
    )


def test_records_for_a_page_without_parsers_is_its_url_line() -> None:
    assert records_for(page("abc"), []) == (["url:<http://example.com/board> size:[3]"], None)


def test_records_for_a_board_page() -> None:
    text = (PAGES / "board.html").read_text(encoding="utf-8")
    lines, failure = records_for(page(text), ["board"])
    assert failure is None
    assert lines[0] == f"url:<{URL}> size:[{len(text)}]"
    assert len(lines) == 6
    assert lines[1] == (
        f'board:<{URL}> {{"index": "1", "title": "霸王别姬", "actor": "张国荣,张丰毅,巩俐", '
        '"time": "1993-01-01", "score": "9.5"}'
    )
    assert all(line.startswith(f"board:<{URL}> {{") for line in lines[1:])


def test_records_for_a_verification_page_asked_as_a_board() -> None:
    text = (PAGES / "verify.html").read_text(encoding="utf-8")
    lines, failure = records_for(page(text), ["board"])
    assert failure == "board: no entries found"
    assert lines == [f"url:<{URL}> size:[{len(text)}]", f"error:<{URL}> board: no entries found"]


def test_records_for_an_image_asked_as_a_board() -> None:
    image = Page(URL, 200, "image/png", None, 10, 10, 1)
    lines, failure = records_for(image, ["board"])
    assert failure == "board: not a text page"
    assert lines == [f"url:<{URL}> size:[10]", f"error:<{URL}> board: not a text page"]
