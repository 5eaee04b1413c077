"""`url = true` fields and the links parsers return are resolved as found links are:
one resolver (`crawler.page.resolve`), one `<base>` rule. Each row is a case of
web-platform-tests' URL data (tests/corpus/wpt_urls.json) put in a page's `<a href>`."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from crawler.config import tomllib
from crawler.frontier.scope import split_url
from crawler.model import Page
from crawler.page.links import extract_links
from crawler.page.resolve import resolve, without_fragment
from crawler.urls import redact_url
from pipelines import parse_page
from pipelines.parsers import ParserPage, build
from pipelines.records import read_line

FIELD = """
[parsers.link]
[parsers.link.fields]
href = { css = "a::attr(href)", url = true }
"""
REGISTRY = build(tomllib.loads(FIELD)["parsers"], "crawl.toml", plugins=list)
_C0_AND_SPACE = "".join(map(chr, range(0x21)))


def _wpt_cases() -> list:
    corpus = Path(__file__).parent / "corpus" / "wpt_urls.json"
    cases = json.loads(corpus.read_text(encoding="utf-8"))["cases"]
    return [pytest.param(case, id=f"{n}:{case['input'][:40]!r}") for n, case in enumerate(cases)]


def page_linking(base: str, href: str, head: str = "") -> Page:
    text = f'<html><head>{head}</head><body><a href="{html.escape(href)}">x</a></body></html>'
    return Page(base, 200, "text/html", text, len(text), len(text), 1)


def field_value(page: Page) -> str | None:
    """The `url = true` field's value, None when it found nothing."""
    lines = parse_page(page, ("link",), REGISTRY).lines[1:]
    line = read_line(lines[0])
    assert line is not None, lines
    if line.kind == "error":
        assert line.rest == "link: no entries found", lines
        return None
    return json.loads(line.rest)["href"]


@pytest.mark.parametrize("case", _wpt_cases())
def test_a_parser_s_url_is_the_url_a_found_link_gives(case: dict) -> None:
    """A plugin's link is the string a found link gives; a `url = true` field is the
    absolute URL with its fragment, or, where a browser rejects it, the value as
    written (the frontier skips it as `scheme`). Parsers see the page's URL without
    its credentials: their URLs are those of links found on the page so served."""
    written = case["input"]
    if "\x00" in written:
        pytest.skip("NUL in HTML: lxml reads U+FFFD, parsel's tree drops it (html_root)")
    page = page_linking(case["base"], written)
    base = redact_url(case["base"])
    [found] = extract_links(page_linking(base, written)).links
    assert ParserPage(page).link(written) == found.url
    value = field_value(page)
    if not written.strip():
        assert value is None  # a blank value is left out (a field's step 4)
    elif written.strip() != written.strip(_C0_AND_SPACE):
        pass  # a field trims Unicode white space first (its step 2), a browser does not
    elif split_url(found.url) is not None:
        assert value is not None and without_fragment(value) == found.url
        assert value == resolve(base, written)
    elif case.get("failure"):
        assert value == written.strip() and resolve(case["base"], written) is None


@pytest.mark.parametrize(
    ("head", "href", "expected"),
    [
        ("", "page", "http://h.test/dir/page"),
        ('<base href="/other/">', "page", "http://h.test/other/page"),
        ('<base href="\\\\b.test\\x\\">', "page", "http://b.test/x/page"),
        ('<base target="_top"><base href="/second/">', "p", "http://h.test/second/p"),
        ('<base href="javascript:void(0)">', "page", "http://h.test/dir/page"),
        ('<base href="http://192.168.0.257/">', "page", "http://h.test/dir/page"),
    ],
)
def test_the_base_of_a_parser_s_page_is_the_base_of_its_links(
    head: str, href: str, expected: str
) -> None:
    page = page_linking("http://h.test/dir/index.html", href, head)
    [found] = extract_links(page).links
    assert found.url == expected
    assert ParserPage(page).urljoin(href) == expected
    assert field_value(page) == expected
