"""The links of a fetched page: a pure function of the page; no I/O. Lexbor
(selectolax) parses it, as the HTML standard says a browser does; lxml when a
follow rule picks links with its own CSS or XPath selector, which lxml runs.

Only HTML pages have links: Content-Type `text/html` or `application/xhtml+xml`,
or no Content-Type at all and text that sniffs as HTML (the tags of the WHATWG
MIME sniffing rules after leading white space). A page served as another type
(`text/plain`, JSON, XML...) has none, whatever it holds; its `X-Robots-Tag`
still says nofollow for the links follow rules take from it (JSON, a Link header).

In this order:

1. the text is parsed once, its entities decoded; a `<template>`'s content is
   no part of the page for Lexbor, as for a browser;
2. the base is the first `<base href>` of the document, anywhere in it (a
   `<base>` inside `<script>` is script text, not an element), resolved against
   the page's final URL; one that is not http(s) is ignored; without one, the
   final URL (where redirects led) is the base;
3. the page says nofollow for all its links with `<meta name="robots">` or
   `<meta name="AGENT">` (our User-Agent's product token, any case) whose content
   holds `nofollow` or `none`, or an `X-Robots-Tag` header saying `nofollow` or
   `none` for every crawler or for `AGENT:` (one for `otherbot:` is not ours);
4. the links are `a[href]` and `area[href]`, plus what each follow rule's own
   selector picks, in document order, each resolved against the base as the
   WHATWG URL standard says (`crawler.page.resolve`), without its fragment. A fragment-only
   href (`#top`), one of another scheme (`mailto:`...) and one a browser rejects
   are kept as written, so the frontier counts them as skipped (`scheme`). `rel`
   tokens are compared in any case (`rel="external NoFollow"`).

The extraction runs in the fetch worker, where the page is
(`crawler.fetching.worker.with_links`), and in the main process only for a page
the worker sent back without its links (see docs/speed.md, What following costs).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import NamedTuple

from crawler.model import Link, Page
from crawler.page import media_type
from crawler.page.resolve import LinkResolver, document_base
from crawler.page.selectors import compile_query

_SNIFF = re.compile(
    r"\s*(?:<!--|<(?:!doctype\s+html|html|head|script|iframe|h1|div|font|table|a|style|title|b"
    r"|body|br|p)[\s>])",
    re.IGNORECASE,
)
# What the page's links and its own say come from, in document order (a <base> or a
# <meta> without the attribute that counts is none).
_DEFAULT_QUERY = "a[href], area[href], base[href], meta[name]"
_DIRECTIVES_WITH_VALUES = ("unavailable_after", "max-snippet", "max-image-preview",
                           "max-video-preview")  # fmt: skip


class PageLinks(NamedTuple):
    nofollow: str | None  # why the page says nofollow for every link (None: it does not)
    links: list[Link]
    # How often each link is on the page, when `unique_links` folded its repeats
    # (None: each link is there once per time the page has it)
    counts: list[int] | None = None


def with_more(found: PageLinks, more: Sequence[Link]) -> PageLinks:
    """`found` and then `more` (each there once)."""
    counts = None if found.counts is None else [*found.counts, *([1] * len(more))]
    return PageLinks(found.nofollow, [*found.links, *more], counts)


def unique_links(found: PageLinks) -> PageLinks:
    """`found` with each link once, in the order of its first time, and how often
    the page has it. A site's navigation makes a page's links mostly repeats (the
    Python docs: 67 distinct of 384 a page); each repeat gets the verdict its first
    time got (taken: then `seen`), so the frontier judges a link once a page."""
    if found.counts is not None:
        return found
    index: dict[Link, int] = {}
    links: list[Link] = []
    counts: list[int] = []
    for link in found.links:
        at = index.get(link)
        if at is None:
            index[link] = len(links)
            links.append(link)
            counts.append(1)
        else:
            counts[at] += 1
    return PageLinks(found.nofollow, links, counts)


NO_LINKS = PageLinks(None, [])


def is_html(page: Page) -> bool:
    if page.text is None:
        return False
    if media_type.essence(page.content_type):
        return media_type.is_html(page.content_type)
    return _SNIFF.match(page.text[:1024]) is not None


def agent_token(user_agent: str) -> str:
    """The product token of a User-Agent (`crawl/0.2.0 (+url)` -> `crawl`), lower-case."""
    return re.split(r"[/\s]", user_agent.strip(), maxsplit=1)[0].lower()


class _PerThread(threading.local):
    """lxml parsers and XPath objects are not to be shared between threads."""

    def __init__(self) -> None:
        self._parser = None
        self.selectors: dict[str, object] = {}

    @property
    def parser(self):
        if self._parser is None:
            from lxml import etree  # only a crawl that follows links needs it

            self._parser = etree.HTMLParser(no_network=True)
        return self._parser

    def selector(self, text: str):
        compiled = self.selectors.get(text)
        if compiled is None:
            query = compile_query(text, smart_strings=True)
            # A query that is no union is its XPath: one call less a page.
            compiled = self.selectors[text] = query if query.members else query.xpath
        return compiled


_local = _PerThread()


def extract_links(
    page: Page, selectors: Sequence[str | None] = (), agent: str = "crawl"
) -> PageLinks:
    """The links of `page` (see the module docstring). `selectors`: one per follow
    rule, its CSS/XPath text, None for a[href], area[href], or "" for none (a
    rule that takes its links from JSON or a header); bit i of a link's
    `rules` says that rule i's selector picked it (no rules: 0)."""
    if not is_html(page):  # no links of its own, but what its header says holds for
        nofollow = _header_nofollow(page, agent)  # those its rules take (JSON, Link)
        return NO_LINKS if nofollow is None else PageLinks(nofollow, [])
    text = page.text or ""
    if not text or text.isspace():
        return NO_LINKS
    if not any(selectors):  # only a[href], area[href] (None) or nothing from HTML ("")
        bits = sum(1 << i for i, selector in enumerate(selectors) if selector is None)
        return lexbor_links(page, text, bits, agent)
    return lxml_links(page, text, selectors, agent)


def lexbor_links(page: Page, text: str, bits: int = 0, agent: str = "crawl") -> PageLinks:
    """The a[href] and area[href] links of an HTML page `text`, each with `bits`
    (those of the follow rules that take them; no rules: 0), by Lexbor's HTML parser:
    the HTML standard's tree, as a browser builds it (a <template>'s content is no
    part of the page), twice as fast as lxml's on the Python docs' pages."""
    from selectolax.lexbor import LexborHTMLParser

    found: list[tuple[str, bool]] = []  # (href, rel says nofollow), in document order
    declared = nofollow = None
    for node in LexborHTMLParser(text).css(_DEFAULT_QUERY):
        # All its attributes at once (one call, half the cost of two lookups); an
        # attribute without a value (<a href>) is None there, an empty one for us.
        attrs = node.attributes
        tag = node.tag
        if tag == "a" or tag == "area":
            rel = attrs.get("rel")
            found.append((attrs["href"] or "", bool(rel) and "nofollow" in rel.lower().split()))
        elif tag == "base":
            if declared is None:
                declared = attrs["href"] or ""
        elif nofollow is None:
            name = (attrs["name"] or "").strip().lower()
            if name in ("robots", agent) and _says_nofollow(attrs.get("content") or ""):
                nofollow = f'<meta name="{name}">'
    base = document_base(page.final_url or page.url, declared)
    nofollow = nofollow or _header_nofollow(page, agent)
    resolve = LinkResolver(base, page.encoding)
    resolved: dict[str, str] = {}  # a page repeats its hrefs: each resolved once
    links = []
    for href, rel in found:
        url = resolved.get(href)
        if url is None:
            url = resolved[href] = resolve(href)
        links.append(Link(url, rel, bits))
    return PageLinks(nofollow, links)


def lxml_links(
    page: Page, text: str, selectors: Sequence[str | None] = (), agent: str = "crawl"
) -> PageLinks:
    """The links of an HTML page `text` by lxml's HTML parser, for follow rules of
    which some pick links by their own CSS or XPath `selectors` (lxml runs them)."""
    local = _local
    doc = _parse(text, local.parser)
    if doc is None:
        return NO_LINKS
    anchors: list[tuple[object, str]] = []  # (element, href) of a[href], area[href]
    declared = nofollow = None
    for element in doc.iter("a", "area", "base", "meta"):  # one pass, in document order
        tag = element.tag
        if tag == "a" or tag == "area":
            href = element.get("href")
            if href is not None:
                anchors.append((element, href))
        elif tag == "base":
            if declared is None:
                declared = element.get("href")
        elif nofollow is None:
            name = (element.get("name") or "").strip().lower()
            if name in ("robots", agent) and _says_nofollow(element.get("content") or ""):
                nofollow = f'<meta name="{name}">'
    base = document_base(page.final_url or page.url, declared)
    nofollow = nofollow or _header_nofollow(page, agent)
    resolver = LinkResolver(base, page.encoding)
    return PageLinks(nofollow, _links(doc, anchors, resolver, selectors, local))


def _parse(text: str, parser):
    from lxml import etree

    try:
        return etree.fromstring(text, parser)
    except ValueError:  # a str with an XML encoding declaration: parse its UTF-8 bytes
        try:
            parser = etree.HTMLParser(encoding="utf-8", no_network=True)
            return etree.fromstring(text.encode("utf-8", "surrogatepass"), parser)
        except (etree.LxmlError, ValueError):
            return None
    except etree.LxmlError:
        return None


def _links(
    doc,
    anchors: list[tuple[object, str]],
    resolve: LinkResolver,
    selectors: Sequence[str | None],
    local: _PerThread,
) -> list[Link]:
    from lxml import etree

    if not any(selector is not None for selector in selectors):
        every = (1 << len(selectors)) - 1  # no rules: 0; rules on the defaults: all bits
        resolved: dict[str, str] = {}  # a page repeats its hrefs: each resolved once
        links = []
        for element, href in anchors:
            url = resolved.get(href)
            if url is None:
                url = resolved[href] = resolve(href)
            links.append(Link(url, _rel_nofollow(element), every))
        return links
    # Candidates by element (or by element and attribute value, for an XPath that
    # picks attributes), each with the bits of the rules that picked it.
    found: dict[object, list] = {}
    default_bits = sum(1 << i for i, selector in enumerate(selectors) if selector is None)
    for element, href in anchors:
        found[element] = [element, href, default_bits]
    for index, selector in enumerate(selectors):
        if not selector:
            continue  # a[href] and area[href] (None), or nothing from HTML ("")
        for item in local.selector(selector)(doc):
            if isinstance(item, etree._Element):
                href = item.get("href")
                if href is None:
                    continue
                key: object = item
                element = item
            elif isinstance(item, str) and hasattr(item, "getparent"):
                element = item.getparent()
                if element is None:
                    continue
                href = str(item)
                key = element if href == element.get("href") else (element, href)
            else:
                continue
            entry = found.get(key)
            if entry is None:
                entry = found[key] = [element, href, 0]
            entry[2] |= 1 << index
    order = {element: n for n, element in enumerate(doc.iter())}
    ranked = sorted(found.values(), key=lambda entry: order.get(entry[0], -1))
    return [Link(resolve(href), _rel_nofollow(element), bits) for element, href, bits in ranked]


def _rel_nofollow(element) -> bool:
    rel = element.get("rel")
    return rel is not None and "nofollow" in rel.lower().split()


def _says_nofollow(directives: str) -> bool:
    return any(part.strip() in ("nofollow", "none") for part in directives.lower().split(","))


def _header_nofollow(page: Page, agent: str) -> str | None:
    """X-Robots-Tag values, read as `[AGENT:] directive, directive, ...`: a directive
    belongs to the last agent named before it in the same value, or to all."""
    for name, value in page.headers:
        if name != "x-robots-tag":
            continue
        current: str | None = None
        for part in value.split(","):
            part = part.strip().lower()
            head, colon, rest = part.partition(":")
            if colon and not head.startswith(_DIRECTIVES_WITH_VALUES) and " " not in head:
                current, part = head.strip(), rest.strip()
            if part in ("nofollow", "none") and current in (None, agent):
                return "X-Robots-Tag"
    return None
