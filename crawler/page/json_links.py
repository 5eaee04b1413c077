"""The links of a JSON page: what a follow rule's `links = { jmespath = ... }` selects.

    [[follow.rule]]
    links = { jmespath = "data.next" }   # or "items[*].url", "links[?rel=='next'].href"
    pagination = true

The JMESPath result, flattened one level (a list gives its elements), keeps its
strings (anything else is passed over); each is a URL, absolute or relative to the
page, resolved as an HTML link is (`crawler.page.resolve.resolve_link`, against where
the page was served from). A result that JMESPath cannot compute on the page's data
(a function given the wrong type) gives no link. Pure: the page's JSON is parsed by
the caller, once, with the parsers' (`ParserPage.json`), and each expression was
compiled when the config loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from crawler.model import Link
from crawler.page.resolve import resolve_link
from crawler.page.selectors import Expression, SearchFailure


class JsonRule(Protocol):
    """A follow rule as read here: its compiled JMESPath, or None."""

    @property
    def jmespath(self) -> Expression | None: ...


def json_links(rules: Sequence[JsonRule], document: Any, base: str) -> list[Link]:
    """The links the JMESPath rules select in `document`, rule by rule, in order
    (bit i of a link's `rules`: rule i's); a URL selected twice is two links, as
    two `<a>` are (the second is counted `seen`)."""
    links: list[Link] = []
    for index, rule in enumerate(rules):
        if rule.jmespath is None:
            continue
        try:
            result = rule.jmespath.search(document)
        except SearchFailure:
            continue
        for value in result if isinstance(result, list) else [result]:
            if isinstance(value, str) and value.strip():
                links.append(Link(resolve_link(base, value), False, 1 << index))
    return links
