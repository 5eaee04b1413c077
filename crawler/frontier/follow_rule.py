"""What a follow rule is, once its `[[follow.rule]]` table is read (`rules`): what it
selects, whether it is a pagination hop, the parsers of the pages it reaches, and
the patterns a URL must pass. Read by the frontier's policy and pagination.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from crawler.page.selectors import Expression

HEADER = "header"  # next = "header": the Link header's rel="next"


class NextPage(NamedTuple):
    """A rule's `next`: the Link header (`param` None), or a query parameter."""

    param: str | None = None
    step: int = 1
    start: int = 1

    @property
    def header(self) -> bool:
        return self.param is None


class FollowRule(NamedTuple):
    links: str | None = None  # selector text; None: a[href] and area[href]
    pagination: bool = False
    parse: tuple[str, ...] = ()
    allow: tuple[re.Pattern[str], ...] = ()
    deny: tuple[re.Pattern[str], ...] = ()
    jmespath: Expression | None = None  # links = { jmespath = ... }: URLs of a JSON page
    next: NextPage | None = None  # the next page of an API (no links then)

    @property
    def selector(self) -> str | None:
        """What the HTML link extraction takes for this rule: its selector, None for
        a[href] and area[href], or "" for nothing (a JMESPath or `next` rule)."""
        return "" if self.jmespath is not None or self.next is not None else self.links

    def matches(self, url: str) -> bool:
        """Whether `url` passes this rule's patterns (its selector is checked apart)."""
        if any(pattern.search(url) for pattern in self.deny):
            return False
        return not self.allow or any(pattern.search(url) for pattern in self.allow)
