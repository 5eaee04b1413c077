"""crawler.page.links: the links of a page, as a browser resolves them, and its nofollow."""

from __future__ import annotations

import pytest

from crawler.model import Link, Page
from crawler.page.links import agent_token, extract_links, is_html

URL = "http://a.test/dir/page.html"


def page(html: str, content_type: str = "text/html; charset=utf-8", **fields) -> Page:
    return Page(URL, 200, content_type, html, len(html), len(html), 1, **fields)


def urls(html: str, **fields) -> list[str]:
    return [link.url for link in extract_links(page(html, **fields)).links]


def test_a_and_area_links_resolved_against_the_page_in_document_order() -> None:
    html = (
        '<p><a href="b.html">b</a><map><area href="/c"></map><a name="x">no href</a>'
        '<a href="https://other.test/d">d</a><link href="/style.css"><img src="/i.png">'
    )
    assert urls(html) == ["http://a.test/dir/b.html", "http://a.test/c", "https://other.test/d"]


def test_the_final_url_is_the_base_after_a_redirect() -> None:
    html = '<a href="next">n</a>'
    assert urls(html, final_url="http://b.test/moved/here") == ["http://b.test/moved/next"]


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ('<base href="http://cdn.test/root/">', "http://cdn.test/root/x"),  # absolute
        ('<base href="/other/">', "http://a.test/other/x"),  # relative, to the page
        ('<base href="sub/">', "http://a.test/dir/sub/x"),
        ('<base href="javascript:alert(1)">', "http://a.test/dir/x"),  # not http(s): ignored
        ('<base target="_top">', "http://a.test/dir/x"),  # no href
        ('<base href="/first/"><base href="/second/">', "http://a.test/first/x"),  # the first
    ],
)
def test_base_href(head: str, expected: str) -> None:
    assert urls(f"<html><head>{head}</head><body><a href='x'>x</a></body></html>") == [expected]


def test_a_base_after_4_kib_counts_and_one_inside_a_script_does_not() -> None:
    script = "<script>document.write('<base href=\"http://evil.test/\">')</script>"
    filler = "<p>" + "x" * 5000 + "</p>"
    html = f"<html><head>{script}</head><body><a href='x'>x</a>{filler}<base href='/late/'>"
    assert urls(html) == ["http://a.test/late/x"]  # a base applies to the whole document


def test_entities_are_decoded_once() -> None:
    assert urls('<a href="p?a=1&amp;b=2&amp;amp;c=3">x</a>') == [
        "http://a.test/dir/p?a=1&b=2&amp;c=3"
    ]


def test_hrefs_are_cleaned_as_browsers_do() -> None:
    html = '<a href="  /a\n/b\t ">x</a><a href="/with space">y</a><a href="">self</a>'
    assert urls(html) == ["http://a.test/a/b", "http://a.test/with%20space", URL]


@pytest.mark.parametrize(
    "href",
    ["javascript:void(0)", "mailto:a@b.test", "tel:+100", "data:text/html,<p>", "file:///etc/passwd",
     "ftp://a.test/f", "#top", "JavaScript:go()"],
)  # fmt: skip
def test_skipped_schemes_stay_as_written(href: str) -> None:
    (found,) = urls(f'<a href="{href}">x</a>')
    assert found[:4] == href[:4]  # unresolved, so the frontier counts it as `scheme`


@pytest.mark.parametrize(
    ("rel", "nofollow"),
    [("nofollow", True), ("external NoFollow", True), ("NOFOLLOW noopener", True),
     ("nofollower", False), ("ugc", False), (None, False)],
)  # fmt: skip
def test_rel_tokens(rel: str | None, nofollow: bool) -> None:
    attribute = f' rel="{rel}"' if rel is not None else ""
    (link,) = extract_links(page(f'<a href="x"{attribute}>x</a>')).links
    assert link.nofollow is nofollow


@pytest.mark.parametrize(
    ("meta", "nofollow"),
    [
        ('<meta name="robots" content="nofollow">', True),
        ('<meta name="ROBOTS" content="noindex, NoFollow">', True),
        ('<meta name="robots" content="none">', True),
        ('<meta name="crawl" content="nofollow">', True),  # our User-Agent's token
        ('<meta name="Crawl" content="none">', True),
        ('<meta name="googlebot" content="nofollow">', False),  # another crawler's
        ('<meta name="robots" content="noindex">', False),
        ('<meta name="robots" content="follow">', False),
    ],
)
def test_meta_robots(meta: str, nofollow: bool) -> None:
    found = extract_links(page(f"<html><head>{meta}</head><body><a href='x'>x</a>"))
    assert (found.nofollow is not None) is nofollow
    assert len(found.links) == 1  # still listed, so that each is counted


@pytest.mark.parametrize(
    ("value", "nofollow"),
    [
        ("nofollow", True),
        ("NONE", True),
        ("noindex, nofollow", True),
        ("crawl: nofollow", True),
        ("Crawl: noindex, none", True),
        ("otherbot: nofollow", False),  # a value for another crawler is not ours
        ("otherbot: noindex, nofollow", False),
        ("otherbot: noindex, crawl: nofollow", True),
        ("unavailable_after: 25 Jun 2030 15:00:00 PST", False),
        ("noindex", False),
    ],
)
def test_x_robots_tag(value: str, nofollow: bool) -> None:
    found = extract_links(page("<a href='x'>x</a>", headers=(("x-robots-tag", value),)))
    assert (found.nofollow is not None) is nofollow


@pytest.mark.parametrize(
    ("content_type", "text", "html"),
    [
        ("text/html", "<p>x", True),
        ("TEXT/HTML; charset=gbk", "<p>x", True),
        ("application/xhtml+xml", "<html/>", True),
        ("text/plain", "<html><a href='x'>x</a></html>", False),  # HTML served as another type
        ("application/json", "<a href='x'>", False),
        ("text/xml", "<html><a href='x'>", False),
        ("", "  <!DOCTYPE html><html>", True),  # no type at all: sniffed
        ("", "<!-- a comment --><p>", True),
        ("", "<A HREF='x'>", True),
        ("", "just some text <a href='x'>", False),
        ("", '{"json": "<a href=x>"}', False),
    ],
)
def test_which_pages_are_html(content_type: str, text: str, html: bool) -> None:
    assert is_html(page(text, content_type)) is html
    assert bool(extract_links(page(text, content_type)).links) is (html and "href" in text.lower())


def test_a_page_that_is_not_text_has_no_links() -> None:
    image = Page(URL, 200, "image/png", None, 100, 100, 1)
    assert extract_links(image).links == []


def test_odd_documents_do_not_raise() -> None:
    for text in ["", "   ", "<", "\x00\x00", '<?xml version="1.0" encoding="utf-8"?><a href="x">',
                 "<a href='x'>" * 3 + "\ud800", "<" * 10000]:  # fmt: skip
        extract_links(page(text))


def test_follow_rules_mark_which_rule_picked_each_link() -> None:
    html = (
        "<ul class='list-pager'><li><a href='?offset=10'>2</a></li></ul>"
        "<dl><dd><a href='/films/1'>film</a></dd></dl>"
        "<div data-next='/next-by-attribute'></div>"
    )
    selectors = ("ul.list-pager a", None, "//div/@data-next")
    found = extract_links(page(html), selectors).links
    assert found == [
        Link("http://a.test/dir/page.html?offset=10", False, 0b011),
        Link("http://a.test/films/1", False, 0b010),
        Link("http://a.test/next-by-attribute", False, 0b100),
    ]


def test_links_no_rule_picked_are_kept_for_counting() -> None:
    found = extract_links(page("<a href='/a'>a</a><p class='x'><a href='/b'>b</a></p>"), ("p.x a",))
    assert [(link.url, link.rules) for link in found.links] == [
        ("http://a.test/a", 0),
        ("http://a.test/b", 1),
    ]


def test_agent_token() -> None:
    assert agent_token("crawl/0.2.0 (+https://example.test)") == "crawl"
    assert agent_token("MyBot") == "mybot"


def test_links_as_a_browser_builds_the_page() -> None:
    # The HTML standard's tree: an attribute without a value is empty (the page
    # itself), `&copy=` in a URL is no entity (no semicolon, then `=`); a rule with
    # its own selector (parsed by lxml) finds the same.
    html = '<a href>self</a><a href="?a=1&copy=2&amp;b=3">q</a><a href="x" rel>x</a>'
    expected = ["http://a.test/dir/page.html", "http://a.test/dir/page.html?a=1&copy=2&b=3",
                "http://a.test/dir/x"]  # fmt: skip
    assert urls(html) == expected
    assert [link.url for link in extract_links(page(html), ("a[href]",)).links] == expected


def test_a_template_holds_no_link_of_the_page() -> None:
    html = '<template><a href="/hidden">t</a></template><a href="shown">s</a>'
    assert urls(html) == ["http://a.test/dir/shown"]


@pytest.mark.parametrize(
    ("selectors", "bits"),
    [((), 0), ((None,), 1), (("",), 0), (("", None), 2), ((None, "", None), 5)],
)
def test_a_rule_that_takes_no_links_from_html_has_no_bit_on_them(selectors, bits) -> None:
    # "": a rule taking its links from JSON or a header; None: from a[href], area[href]
    found = extract_links(page('<a href="a">a</a><area href="b">'), selectors).links
    assert [(link.url, link.rules) for link in found] == [
        ("http://a.test/dir/a", bits),
        ("http://a.test/dir/b", bits),
    ]
