"""Which found links to follow: the decision for one link, in a fixed order. Pure.

A link found on a page is checked in this order; the first check it fails is the
reason it is not followed, and is counted under that name:

1. `nofollow`: the page says nofollow (meta robots, X-Robots-Tag), or the link's
   `rel` does (unless `--ignore-nofollow`);
2. `scheme`: not an http(s) URL we can fetch (`mailto:`, `javascript:`, `tel:`,
   `data:`, `file:`, `ftp:`, a fragment-only `#...`, a broken URL);
3. `length`: longer than 2,083 characters;
4. `offsite`: outside the scope of the listed URL it descends from;
5. `private-address`: its host is written as an address that is not global, or
   is `localhost` (names are resolved and checked in the worker), and it is not on
   the host and port of that listed URL (or of its redirect chain), unless
   `--allow-private-network`;
6. `pattern`: refused by `--deny` (or not matched by any `--allow`), a path that
   repeats one segment three times (`/a/b/a/b/a/`), or, with follow rules, a
   link no rule matches;
7. `extension`: a file a crawl for pages has no use for (`.jpg`, `.zip`, `.pdf`...);
8. `depth`: one hop past `--depth`, or a pagination chain past its cap.

Then the frontier checks `seen` (the canonical key was taken already) and `budget`
(`--max-pages`, 1,000 links taken from one page), and at dispatch `robots`. A chain
of API pages (`next = { param }`) that ends on a page without items counts its
would-be next page `last-page` (`crawler.frontier.pagination`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from crawler.frontier.rules import (
    PAGINATION_CAP,
    FollowRule,
    FollowTable,
    RulesError,
    compile_patterns,
    read_follow_table,
)
from crawler.frontier.scope import (
    Scope,
    Split,
    ignored_extension,
    private_literal,
    repeated_segment,
    split_url,
)
from crawler.model import Link

REASONS = ("offsite", "depth", "nofollow", "pattern", "extension", "scheme", "length",
           "budget", "private-address", "robots", "seen", "last-page")  # fmt: skip
DEFAULT_MAX_PAGES = 10_000
MAX_URL_LENGTH = 2083
MAX_LINKS_PER_PAGE = 1000
REPEATED_SEGMENT = 3
_NOT_SPLIT = Split("", "", None, "/")


class Verdict(NamedTuple):
    reason: str | None  # why not followed; None: follow it
    depth: int = 0
    chain: int = 0
    parsers: tuple[str, ...] = ()
    origin: str = ""  # the link's host_key, for the frontier
    rule: int = -1  # the follow rule that took it (-1: none, no rules)


class Checked(NamedTuple):
    reason: str | None  # checks 2 to 6
    split: Split
    extension: bool  # an ignored extension (check 7)


class FollowPolicy(NamedTuple):
    """What the run follows. `depth` 0 follows nothing (math.inf: no limit)."""

    depth: float = 0
    scope: str = "host"
    allow: tuple[re.Pattern[str], ...] = ()
    deny: tuple[re.Pattern[str], ...] = ()
    rules: tuple[FollowRule, ...] = ()
    max_pages: float = DEFAULT_MAX_PAGES
    obey_nofollow: bool = True
    guard_private: bool = True
    max_links: int = MAX_LINKS_PER_PAGE

    @property
    def follows(self) -> bool:
        """Whether links are followed: with a depth, or a pagination rule (whose hops
        cost no depth, so that `--depth 0` follows them alone)."""
        return self.depth > 0 or any(rule.pagination for rule in self.rules)

    def leads_on(self, depth: int) -> bool:
        """Whether a page at `depth` can lead to a page to fetch: not at the depth
        limit, where every link it has would be dropped for its depth, unless a
        rule may take a link there (a pagination hop costs no depth; a rule may
        page on or select links by its own means). A page that leads nowhere needs
        no link extraction, and its links are not counted as dropped."""
        return depth < self.depth or bool(self.rules)

    @property
    def selectors(self) -> tuple[str | None, ...]:
        """What the HTML extraction takes for each rule (`FollowRule.selector`)."""
        return tuple(rule.selector for rule in self.rules)

    @property
    def pages_next(self) -> bool:
        """Whether a rule gives next pages (`next`): the frontier asks each page."""
        return any(rule.next is not None for rule in self.rules)

    def ends_quietly(self, rule: int) -> bool:
        """Whether a page the rule `rule` reached may be empty: the last page of an
        API paged by a query parameter is, and gets no `no entries found` line."""
        if not 0 <= rule < len(self.rules):
            return False
        paged = self.rules[rule].next
        return paged is not None and not paged.header

    def judge(
        self,
        link: Link,
        depth: int,
        chain: int,
        scope: Scope,
        page_nofollow: bool,
        checked: Checked | None = None,
    ) -> Verdict:
        """The verdict on a link found on a page at `depth` (`chain` pagination hops
        in a row) that descends from the listed URL of `scope`. `checked`: what
        `check_link(link.url, scope)` says, if the caller has it already."""
        if self.obey_nofollow and (page_nofollow or link.nofollow):
            return Verdict("nofollow")
        reason, split, extension = checked or self.check_link(link.url, scope)
        if reason is not None:
            return Verdict(reason)
        parsers: tuple[str, ...] = ()
        pagination = False
        index = -1
        if self.rules:
            index = self._rule(link)
            if index < 0:
                return Verdict("pattern")
            rule = self.rules[index]
            parsers, pagination = rule.parse, rule.pagination
        if extension:
            return Verdict("extension")
        if pagination:
            if chain + 1 > PAGINATION_CAP:
                return Verdict("depth")
            return Verdict(None, depth, chain + 1, parsers, split.origin, index)
        if depth + 1 > self.depth:
            return Verdict("depth")
        return Verdict(None, depth + 1, 0, parsers, split.origin, index)

    def check_link(self, url: str, scope: Scope | None) -> Checked:
        """What depends on the URL and the scope alone (checks 2 to 6, and whether the
        extension is ignored): the same answer every time, so it can be kept."""
        reason, split = self.check_url(url, scope)
        return Checked(reason, split, reason is None and ignored_extension(split.path) is not None)

    def check_url(
        self, url: str, scope: Scope | None, *, offsite: bool = True, patterns: bool = True
    ) -> tuple[str | None, Split]:
        """Checks 2 to 6 (scheme, length, offsite, private-address, pattern) for one
        URL, the follow rules aside, and the URL split; a sitemap's entries pass
        these too, a sitemap file all but `offsite` and `pattern`."""
        split = split_url(url)
        if split is None:
            return "scheme", _NOT_SPLIT
        if len(url) > MAX_URL_LENGTH:
            return "length", split
        if offsite and scope is not None and not scope.allows_split(split):
            return "offsite", split
        if (
            self.guard_private
            and private_literal(split.host)
            and (scope is None or split.where not in scope.hosts)
        ):
            return "private-address", split
        if patterns:
            if any(pattern.search(url) for pattern in self.deny):
                return "pattern", split
            if self.allow and not any(pattern.search(url) for pattern in self.allow):
                return "pattern", split
            if repeated_segment(split.path, REPEATED_SEGMENT):
                return "pattern", split
        return None, split

    def _rule(self, link: Link) -> int:
        """The index of the first rule that picked the link and passes it; -1: none."""
        for index, rule in enumerate(self.rules):
            if link.rules >> index & 1 and rule.matches(link.url):
                return index
        return -1


def make_policy(
    depth: float = 0,
    scope: str = "host",
    allow: Sequence[str] = (),
    deny: Sequence[str] = (),
    rules: Sequence[FollowRule] = (),
    max_pages: int = DEFAULT_MAX_PAGES,
    obey_nofollow: bool = True,
    guard_private: bool = True,
    max_links: int = MAX_LINKS_PER_PAGE,
) -> FollowPolicy:
    """A policy from the run's settings; RulesError names a bad regex."""
    return FollowPolicy(
        depth=depth,
        scope=scope,
        allow=compile_patterns(allow, "--allow"),
        deny=compile_patterns(deny, "--deny"),
        rules=tuple(rules),
        max_pages=max_pages,
        obey_nofollow=obey_nofollow,
        guard_private=guard_private,
        max_links=max_links,
    )


def policy_for(settings: Any, check_parsers: Callable[[Sequence[str]], str | None]) -> FollowPolicy:
    """The run's policy from its settings (`crawler.settings.RunSettings`) and the
    `[follow]` table of `--config`; RulesError says in one line what is unusable.
    `--depth` (command line, or the file's top level) wins over `[follow] depth`;
    `--allow` and `--deny` add to the table's."""
    table = FollowTable()
    if "follow" in settings.config_tables:
        table = read_follow_table(settings.config_tables["follow"], check_parsers)
    depth = settings.depth if settings.depth is not None else table.depth or 0
    following = depth > 0 or settings.sitemaps
    if following and settings.scope == "any" and settings.max_pages is None:
        raise RulesError("--scope any needs --max-pages (how many URLs at most)")
    return make_policy(
        depth=depth,
        scope=settings.scope,
        allow=[*table.allow, *settings.allow],
        deny=[*table.deny, *settings.deny],
        rules=table.rules,
        max_pages=settings.max_pages if settings.max_pages is not None else DEFAULT_MAX_PAGES,
        obey_nofollow=not settings.ignore_nofollow,
        guard_private=not settings.allow_private_network,
    )
