"""A URL waiting in the frontier (`Entry`), and the kinds of URL a run has. Shared by
the frontier (`crawler.frontier.core`), which queues and spills entries, and its
journal (`crawler.frontier.journal`), which writes them for a resume: both import
it, neither imports the other's reader."""

from __future__ import annotations

import functools
from typing import NamedTuple

from crawler.frontier.scope import Scope

LISTED = "listed"  # a line of the URL file
FOUND = "found"  # a link found on a page
MAPPED = "mapped"  # an entry of a sitemap
SITEMAP = "sitemap"  # a sitemap file
ROBOTS = "robots"  # a host's robots.txt


class Entry(NamedTuple):
    """A URL waiting in the frontier."""

    url: str
    parsers: tuple[str, ...] = ()
    kind: str = LISTED
    line: int = 0  # its line in the URL file (listed only)
    depth: int = 0  # hops from the listed URL it descends from
    chain: int = 0  # pagination hops in a row
    level: int = 0  # a sitemap's nesting: 1 for one robots.txt names
    scope: Scope | None = None  # that of the listed URL it descends from
    rule: int = -1  # the follow rule that took it (-1: none)

    def to_line(self) -> str:
        """One line of text (for the spill); URLs hold no tab or line break."""
        spec = _spec(self.scope) if self.scope is not None else ""
        fields = (self.kind, self.line, self.depth, self.chain, self.level, self.rule, self.url)
        return "\t".join(map(str, fields)) + "\t" + ",".join(self.parsers) + "\t" + spec

    @staticmethod
    def from_line(text: str) -> Entry:
        kind, line, depth, chain, level, rule, url, parsers, spec = text.split("\t", 8)
        scope = Scope.from_spec(spec) if spec else None
        names = tuple(name for name in parsers.split(",") if name)
        return Entry(url, names, kind, int(line), int(depth), int(chain), int(level), scope,
                     int(rule))  # fmt: skip


@functools.lru_cache(maxsize=256)
def _spec(scope: Scope) -> str:
    """`scope.spec()`, written once for the many entries of one listed URL."""
    return scope.spec()
