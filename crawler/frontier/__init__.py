"""The frontier: which URL the run fetches next, and which found links it takes.

Pure and driven by a clock passed in, like the per-host bookkeeping it holds: no
I/O but the spill of queued URLs to a temporary file. `Frontier` (core.py) is the
interface the dispatch loop uses: `add_listed`, `add_links`, `add_sitemap`,
`next_ready(now)`, `done`.
"""

from crawler.frontier.core import (
    FOUND,
    LISTED,
    MAPPED,
    ROBOTS,
    SITEMAP,
    Entry,
    Fetch,
    Frontier,
    Refused,
)
from crawler.frontier.policy import REASONS, FollowPolicy, make_policy

__all__ = [
    "FOUND",
    "LISTED",
    "MAPPED",
    "REASONS",
    "ROBOTS",
    "SITEMAP",
    "Entry",
    "Fetch",
    "FollowPolicy",
    "Frontier",
    "Refused",
    "make_policy",
]
