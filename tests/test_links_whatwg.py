"""Links resolved as a browser resolves them (the WHATWG URL standard), each row a
case of web-platform-tests' URL data or of the comparison with Scrapy (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.frontier.scope import split_url
from crawler.model import Page
from crawler.page.links import extract_links
from crawler.page.query_encoding import encode_query
from crawler.page.resolve import document_base, resolve, resolve_link, without_fragment

BASE = "http://example.org/foo/bar"

# (base, href, the URL a browser requests)
RESOLVED = [
    (BASE, "\\x", "http://example.org/x"),
    (BASE, "\\\\x\\hello", "http://x/hello"),
    (BASE, "http:\\\\foo.com\\", "http://foo.com/"),
    (BASE, "http://%30%78%63%30%2e%30%32%35%30.01", "http://192.168.0.1/"),
    (BASE, "http://1.2.3.4./", "http://1.2.3.4/"),
    (BASE, "https://%e2%98%83", "https://xn--n3h/"),
    (BASE, "http://[::127.0.0.1]", "http://[::7f00:1]/"),
    ("http://host/", "http://host/?'", "http://host/?%27"),
    ("http://example.org/", "https:example.com/", "https://example.com/"),
    ("https://example.org/", "http:/example.com/", "http://example.com/"),
    (BASE, "http://Ｇｏ.com", "http://go.com/"),
    (BASE, "http://www.foo。bar.com", "http://www.foo.bar.com/"),
    (BASE, "http://example.com/foo%", "http://example.com/foo%"),
    (BASE, "/foo/[61:24:74]:98", "http://example.org/foo/[61:24:74]:98"),
    (BASE, "test?", "http://example.org/foo/test?"),
    (BASE, "x y", "http://example.org/foo/x%20y"),
    (BASE, " \t/x\n/y ", "http://example.org/x/y"),
    (BASE, "/x#frag", "http://example.org/x"),  # the page, not the place in it
    (BASE, "?q#", "http://example.org/foo/bar?q"),
    (BASE, "", "http://example.org/foo/bar"),
]

# hrefs a browser rejects: left as written, so the policy counts them `scheme`
REJECTED = [
    "http://192.168.0.257",
    "http://10000000000",
    "http://example example.com",
    "http://a[b/",
    "http://GOO\u00a0\u3000goo.com",
    "https://x:99999/",
]


@pytest.mark.parametrize(("base", "href", "expected"), RESOLVED)
def test_a_link_resolves_to_the_request_a_browser_sends(base, href, expected) -> None:
    assert resolve_link(base, href) == expected
    assert split_url(expected) is not None


@pytest.mark.parametrize("href", REJECTED)
def test_a_link_a_browser_rejects_is_not_followed(href: str) -> None:
    assert split_url(resolve_link(BASE, href)) is None


@pytest.mark.parametrize("href", REJECTED)
def test_the_resolver_says_none_where_a_browser_rejects_the_url(href: str) -> None:
    assert resolve(BASE, href) is None


def test_the_resolver_keeps_the_fragment_and_without_fragment_drops_it() -> None:
    assert resolve(BASE, " ../x?q#frag ") == "http://example.org/x?q#frag"
    assert without_fragment("http://example.org/x?q#frag") == "http://example.org/x?q"
    assert resolve(BASE, "mailto:a@b.test") == "mailto:a@b.test"  # the caller checks schemes


@pytest.mark.parametrize(
    ("declared", "base"),
    [
        (None, BASE),
        ("/dir/", "http://example.org/dir/"),
        ("\\\\other.test\\dir\\", "http://other.test/dir/"),
        ("javascript:void(0)", BASE),  # not http(s): ignored
        ("http://192.168.0.257/", BASE),  # rejected: ignored
    ],
)
def test_the_base_of_a_document(declared: str | None, base: str) -> None:
    assert document_base(BASE, declared) == base


def test_base_href_resolves_by_the_same_rules() -> None:
    html = '<base href="\\\\other.test\\dir\\"><a href="page">x</a>'
    links = extract_links(Page(BASE, 200, "text/html", html, 0, 0, 1)).links
    assert [link.url for link in links] == ["http://other.test/dir/page"]


@pytest.mark.parametrize(
    ("encoding", "href", "expected"),
    [
        # Scrapy's link-extractor pages: only the query takes the page's encoding
        ("iso8859-15", "/\u2665/you?c=\u20ac", "http://example.org/%E2%99%A5/you?c=%A4"),
        (
            "cp1252",
            "sample_ö.html?price=£32&µ=unit",
            "http://example.org/foo/sample_%C3%B6.html?price=%A332&%B5=unit",
        ),
        ("cp1252", "/q?snow=\u2603", "http://example.org/q?snow=%26%239731%3B"),
        ("utf-8", "/q?c=\u20ac", "http://example.org/q?c=%E2%82%AC"),
        ("utf-16-le", "/q?c=\u20ac", "http://example.org/q?c=%E2%82%AC"),
        ("cp1252", "/\u20ac#x?c=\u20ac", "http://example.org/%E2%82%AC"),
    ],
)
def test_the_query_is_encoded_in_the_pages_encoding(encoding, href, expected) -> None:
    page = Page(BASE, 200, "text/html", f'<a href="{href}">x</a>', 0, 0, 1, encoding=encoding)
    assert [link.url for link in extract_links(page).links] == [expected]


def test_a_query_from_the_base_is_left_as_it_is() -> None:
    assert encode_query("http://e.test/a?x=%A4", "a", "iso8859-15") == "http://e.test/a?x=%A4"


def _wpt_cases() -> list:
    corpus = Path(__file__).parent / "corpus" / "wpt_urls.json"
    cases = json.loads(corpus.read_text(encoding="utf-8"))["cases"]
    return [pytest.param(case, id=f"{n}:{case['input'][:40]!r}") for n, case in enumerate(cases)]


@pytest.mark.parametrize("case", _wpt_cases())
def test_web_platform_tests_url_data(case: dict) -> None:
    """Each case of WPT's URL data a crawler meets: the link is followed to the URL
    a browser requests (without its fragment), or not followed where a browser
    fails. A fragment-only href is the page itself: skipped, never fetched again."""
    got = resolve_link(case["base"], case["input"])
    if case["input"].strip(" \t\n\r\f").startswith("#"):
        assert got.startswith("#") and split_url(got) is None
    elif case.get("failure"):
        assert split_url(got) is None
    else:
        assert got == case["href"].partition("#")[0]
        assert split_url(got) is not None
