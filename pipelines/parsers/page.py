"""The page a parser is given: one fetched page, its text parsed at most once.

    page.url          the URL as listed or found (where the records are filed)
    page.final_url    where redirects led (`url` when none did)
    page.status       the HTTP status (2xx: failures never reach a parser)
    page.headers      the final response's headers, a read-only mapping; any case
    page.text         the decoded text (decoded as a browser would)
    page.is_json      whether the page is JSON (its Content-Type, else its text parses)
    page.json         the page's JSON value (raises NotJSON: `not JSON (line L column C)`)
    page.selector     a parsel Selector: over lxml's HTML tree (.css(), .xpath()), or,
                      for a JSON page, over its value (.jmespath())
    page.soup()       a BeautifulSoup tree over lxml, built on the first call
    page.base_url     what its links are relative to: its first <base href>, if any
    page.urljoin(u)   `u` resolved against `base_url` as a browser resolves a link

The selector and the JSON value are built on first use and shared by every parser
the page is given to, so a page asked for three declared parsers is parsed by lxml
(or by `json`) once; so is each JSON text embedded in it (`embedded(text)`). The soup
is a second, slower tree (BeautifulSoup builds Python objects for every node);
it costs only the plugins that call `soup()`. parsel and bs4 are imported on
first use, so a run that never needs them does not pay their import.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from crawler.model import Page
from crawler.page import media_type
from crawler.page.jsondoc import NotJSON, load
from crawler.urls import redact_url

if TYPE_CHECKING:
    import parsel


def html_root(text: str) -> Any:
    """lxml's HTML tree of `text`, as parsel builds it (NUL characters dropped; a page
    without markup is an empty `<html>`), but with libxml2's default limits: markup
    nested deeper than 256 levels is cut there. parsel lifts them (`huge_tree`), and
    then a crafted page of unclosed tags nested 2,000 deep makes every selector that
    searches below each of its elements cost 2,000 times the page."""
    from lxml import etree, html

    body = text.strip().replace("\x00", "").encode("utf-8", "replace") or b"<html/>"
    parser = html.HTMLParser(recover=True, encoding="utf-8", huge_tree=False)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError:
        root = None
    return root if root is not None else etree.fromstring(b"<html/>", parser=parser)


class Headers(Mapping[str, str]):
    """Response headers by name, in any case; a repeated header's values are
    joined with ", " (as requests does). `.pairs` keeps them apart."""

    __slots__ = ("_joined", "pairs")

    def __init__(self, pairs: tuple[tuple[str, str], ...]) -> None:
        self.pairs = pairs
        joined: dict[str, str] = {}
        for name, value in pairs:
            name = name.lower()
            joined[name] = f"{joined[name]}, {value}" if name in joined else value
        self._joined = joined

    def __getitem__(self, name: str) -> str:
        return self._joined[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._joined

    def __iter__(self) -> Iterator[str]:
        return iter(self._joined)

    def __len__(self) -> int:
        return len(self._joined)

    def __repr__(self) -> str:
        return f"Headers({self._joined!r})"


class ParserPage:
    """A fetched text page, as parsers see it (see the module's docstring)."""

    def __init__(self, page: Page) -> None:
        if page.text is None:
            raise ValueError("not a text page")
        self.url = page.url
        self.final_url = page.final_url or page.url
        self.status = page.status
        self.content_type = page.content_type
        self.headers = Headers(page.headers)
        self.text: str = page.text
        self.encoding = page.encoding  # a link's query is encoded in it, as a browser does
        self.media_type = media_type.essence(page.content_type)
        self._selector: parsel.Selector | None = None
        self._soup: Any = None
        self._base: str | None = None
        self._json: Any = None
        self._json_error: NotJSON | None = None
        self._json_read = False
        self._embedded: dict[str, Any] = {}

    @property
    def is_json(self) -> bool:
        """JSON by its Content-Type; with none, when its text parses as JSON."""
        if self.media_type:
            return media_type.is_json(self.media_type)
        self._read_json()
        return self._json_error is None

    @property
    def json(self) -> Any:
        """The page's text as JSON, parsed once (`jsondoc.load`); raises NotJSON."""
        self._read_json()
        if self._json_error is not None:
            raise self._json_error
        return self._json

    def _read_json(self) -> None:
        if not self._json_read:
            self._json_read = True
            try:
                self._json = load(self.text)
            except NotJSON as error:
                self._json_error = error

    def embedded(self, text: str) -> Any:
        """`text` (a script's, say) as JSON, parsed once a page; raises NotJSON."""
        if text not in self._embedded:
            try:
                self._embedded[text] = load(text)
            except NotJSON as error:
                self._embedded[text] = error
        value = self._embedded[text]
        if isinstance(value, NotJSON):
            raise value
        return value

    @property
    def selector(self) -> parsel.Selector:
        """parsel's Selector over the page's HTML tree (`html_root`), parsed once; for
        a JSON page, parsel's JSON Selector over its value (raises NotJSON)."""
        if self._selector is None:
            from parsel import Selector

            if self.is_json:
                self._selector = Selector(root=self.json, type="json")
            else:
                self._selector = Selector(root=html_root(self.text), type="html")
        return self._selector

    def soup(self) -> Any:
        """A BeautifulSoup tree of the page (the lxml tree builder), built on the
        first call and kept for the next ones."""
        if self._soup is None:
            from bs4 import BeautifulSoup

            self._soup = BeautifulSoup(self.text, "lxml")
        return self._soup

    @property
    def base_url(self) -> str:
        """What relative links on the page are relative to, by the rule found links
        follow (`crawler.page.resolve.document_base`): the page's first `<base href>`,
        resolved against where the page was served from (credentials removed) when
        that gives an http(s) URL, else where the page was served from."""
        if self._base is None:
            served = redact_url(self.final_url)
            declared = None
            if self.text and not self.is_json:
                found = self.selector.root.xpath("(//base[@href])[1]/@href")
                declared = str(found[0]) if found else None
            from crawler.page.resolve import document_base  # ada-url: a run imports it

            self._base = document_base(served, declared)
        return self._base

    def urljoin(self, link: str) -> str:
        """`link` resolved against `base_url` as a browser resolves it (WHATWG, the
        query in the page's encoding, the fragment kept), or `link` trimmed when a
        browser rejects it (`http://192.168.0.257`)."""
        from crawler.page.resolve import resolve

        resolved = resolve(self.base_url, link, self.encoding)
        return link.strip() if resolved is None else resolved

    def link(self, link: str) -> str:
        """`link` as a link the page gives the follow rules: resolved exactly as a
        found link is (`crawler.page.resolve.LinkResolver`: no fragment; one a
        browser rejects, or of another scheme, as written, so it is skipped)."""
        from crawler.page.resolve import LinkResolver

        return LinkResolver(self.base_url, self.encoding)(link)

    def __repr__(self) -> str:
        return f"<ParserPage {self.url} {self.status} {len(self.text)} chars>"
