"""Hostile pages through declared parsers: the saved corpus (tests/hostile) and the
generated giants. No exception but a parser's own error line, no time beyond linear
(bounds wide enough for a busy machine: quadratic would be minutes), every line whole."""

from __future__ import annotations

import json
import time

import pytest

from crawler.config import tomllib
from crawler.model import Page
from crawler.page.decode import decode_body
from pipelines import parse_page
from pipelines.parsers import build
from pipelines.records import read_line
from tests.hostile import corpus
from tests.test_hostile_pages import RAW_CONTROL
from tests.test_selectors import QUOTE, readme_board_table

MB = 1024 * 1024
URL = "http://h/p"
SAVED = sorted(corpus.saved_pages())
# The README's board table, the quote table, and one of every kind of field.
EVERY_KIND = """
[parsers.every]
item = "dd, div, body"
[parsers.every.fields]
own = "p::text"
inner = "p"
attr = { css = "a::attr(href)", url = true }
list = { css = "i::text", all = true }
joined = { css = "*::text", join = " " }
group = { css = "p::text, i::text, dd::text", all = true }
found = { xpath = "./descendant::text()", re = '(\\w+)' }
page = "//title/text()"
"""


def registry():
    tables = {}
    for toml in (readme_board_table(), QUOTE, EVERY_KIND):
        tables.update(tomllib.loads(toml)["parsers"])
    return build(tables, "crawl.toml", plugins=list)


REGISTRY = registry()
NAMES = ("film", "quote", "every")


def parsed_lines(body: bytes, content_type: str) -> list[str]:
    text = decode_body(body, content_type)
    page = Page(URL, 200, content_type, text, len(text), len(body), 1)
    return parse_page(page, NAMES, REGISTRY).lines


@pytest.mark.parametrize("name", SAVED)
def test_saved_hostile_page_gives_whole_clean_lines(name: str) -> None:
    body = (corpus.PAGES / name).read_bytes()
    for content_type in (corpus.content_type(name), "", "text/html; charset=gbk"):
        assert_clean(parsed_lines(body, content_type))


def assert_clean(lines: list[str]) -> None:
    """Each line whole, no raw control character, read back to a known kind and the URL;
    a record's rest is JSON."""
    for line in lines:
        assert len(line.splitlines()) == 1, line
        assert not RAW_CONTROL.search(line), line
        record = read_line(line)
        assert record is not None and record.kind in ("url", "error", *NAMES), line
        assert record.key == URL, line
        if record.kind in NAMES:
            assert isinstance(json.loads(record.rest), dict), line


def test_hostile_titles_stay_escaped_in_declared_records() -> None:
    body = (corpus.PAGES / "hostile-titles.html").read_bytes()
    films = [
        line for line in parsed_lines(body, "text/html; charset=utf-8") if line.startswith("film:")
    ]
    assert len(films) == len(corpus.HOSTILE_TITLES)
    assert '"title": "line\\nbreak"' in films[0]  # trimmed, not collapsed: the newline escaped
    assert '"title": "\\u001b[31mred\\u001b[0m"' in films[3]
    assert '"title": "sep\\u2028ara\\u2029tor"' in films[6]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("label", "body"),
    [
        ("adversarial board 4 MB", lambda: corpus.adversarial_board(4 * MB)),
        ("200,000 levels of nesting", lambda: corpus.nested_board(200_000)),
        ("normal board 4 MB", lambda: corpus.normal_board(4 * MB)),
        # 240 levels: under libxml2's 256, so every item is in the tree.
        ("120 nested items over 100,000 nodes", lambda: (
            '<div class="quote"><dd>' * 120
            + '<span class="text">x</span><a class="tag" href="/t">t</a><p>p</p>' * 100_000
            + "</dd></div>" * 120
        ).encode()),
        ("a CSS group over 100,000 matches of each member", lambda: (
            "<title>t</title>" + "<p>a</p><dd>b</dd><i>c</i>" * 100_000
        ).encode()),
        ("100,000 flat items", lambda: (
            '<dd><div class="quote"><small class="author">a</small><p>x</p><i>1</i></div></dd>'
            * 100_000
        ).encode()),
    ],
)  # fmt: skip
def test_giant_pages_parse_in_linear_time(label: str, body) -> None:
    page = body()
    started = time.process_time()
    lines = parsed_lines(page, "text/html; charset=utf-8")
    spent = time.process_time() - started
    # A few seconds per MB at worst on a loaded machine; a quadratic parse is minutes.
    assert spent < 10 * len(page) / MB + 5, f"{label}: {spent:.1f} s"
    assert_clean(lines)
    print(f"{label}: {len(page) / MB:.1f} MB in {spent:.2f} s CPU, {len(lines)} lines")
