"""The one URL resolver: every URL the crawl derives from a page goes through here.

WHATWG URL parsing (ada-url, the parser Node.js uses): HTML links and `<base>`,
`url = true` fields, links returned by parsers and plugins, JSON links, `Link`
headers, sitemap `<loc>`s, robots.txt `Sitemap:` lines and redirect `Location`s.

- `resolve(base, href, encoding="utf-8")`: the absolute URL a browser builds
  (fragment kept), or None when a browser rejects it (`http://192.168.0.257`,
  `http://a b/`). The href is first stripped of C0 controls and spaces at both
  ends, as the standard says; on a page that is not in UTF-8, the query is
  percent-encoded in the page's encoding (`query_encoding`).
- `document_base(url, declared)`: a page's base: its first `<base href>` resolved
  against the page's final URL when that gives http(s), else the final URL.
- `LinkResolver(base, encoding)`: what the frontier is handed for a found link: the
  URL without its fragment, its query percent-encoded in the page's encoding on a
  page that is not UTF-8 (`query_encoding`); a fragment-only href (`#top`), one of
  another scheme (`mailto:`) and one a browser rejects come back as written, which
  the frontier counts as skipped (`scheme`).
"""

from __future__ import annotations

from ada_url import join_url

from crawler.page.query_encoding import encode_query

_C0_AND_SPACE = "".join(map(chr, range(0x21)))  # what WHATWG strips from both ends
_HTTP = ("http:", "https:")


def resolve(base: str, href: str, encoding: str = "utf-8") -> str | None:
    """`href` resolved against `base` as a browser resolves it, fragment kept; None
    when a browser rejects the result (an invalid host, an unparsable base). On a
    page in another `encoding` than UTF-8, an http(s) URL's query is encoded in it."""
    href = href.strip(_C0_AND_SPACE)
    try:
        url = join_url(base, href)
    except ValueError:
        return None
    if encoding != "utf-8" and not href.isascii() and url.startswith(_HTTP):
        url, mark, fragment = url.partition("#")
        url = encode_query(url, href, encoding) + mark + fragment
    return url


def without_fragment(url: str) -> str:
    """`url` without its `#fragment` (what a browser sends)."""
    return url.partition("#")[0]


def is_http(url: str) -> bool:
    """Whether a resolved URL (lower-case scheme, as ada-url writes it) is http(s)."""
    return url.startswith(_HTTP)


def document_base(url: str, declared: str | None) -> str:
    """The base of a page whose final URL is `url` and whose first `<base href>` is
    `declared` (None: no `<base>`): `declared` resolved against `url` when that is
    an http(s) URL, else `url` (a `<base>` of another scheme is ignored)."""
    if declared is not None:
        joined = resolve(url, declared)
        if joined is not None and is_http(joined):
            return joined
    return url


class LinkResolver:
    """hrefs of one page resolved against its base into what the frontier is handed
    (see the module docstring). Each distinct href without its fragment is resolved
    once: `x.html#a` and `x.html#b` are the same page (the Python docs: 44 distinct
    pages a page for 188 distinct hrefs); a fragment can neither make a URL valid
    or invalid nor change its scheme, so they share the verdict too."""

    __slots__ = ("_pages", "base", "encoding")

    def __init__(self, base: str, encoding: str = "utf-8") -> None:
        self.base = base
        self.encoding = encoding
        self._pages: dict[str, str | None] = {}  # href without fragment -> URL, None: skipped

    def __call__(self, raw: str) -> str:
        href = raw.strip(_C0_AND_SPACE)
        if href.startswith("#"):
            return href  # fragment-only: the page itself, skipped
        # Up to its first `#` and that `#` (which keeps `a #x`'s space in the path):
        page, mark, _ = href.partition("#")
        page += mark
        try:
            url = self._pages[page]
        except KeyError:
            url = self._pages[page] = self._page(page)
        return href if url is None else url  # skipped ones as written, fragment and all

    def _page(self, href: str) -> str | None:
        """The URL of `href` without its fragment, or None for one a browser rejects
        or of another scheme (mailto:, javascript:...)."""
        try:
            url = join_url(self.base, href)
        except ValueError:
            return None
        if not url.startswith(_HTTP):
            return None
        url = url.partition("#")[0]
        if self.encoding != "utf-8" and not href.isascii():
            url = encode_query(url, href, self.encoding)
        return url


def resolve_link(base: str, href: str) -> str:
    """`href` resolved against `base` exactly as a link of a UTF-8 HTML page is (JSON
    links, Link headers, sitemap `<loc>`s, robots.txt `Sitemap:` lines)."""
    return LinkResolver(base)(href)
