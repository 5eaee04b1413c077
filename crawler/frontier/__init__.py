"""The frontier: which URL the run fetches next, and which found links it takes.

Pure and driven by a clock passed in, like the per-host bookkeeping it holds: no
I/O but the spill of queued URLs to a temporary file. `Frontier` (core.py) is the
interface the dispatch loop uses: `add_listed`, `add_links`, `add_sitemap`,
`next_ready(now)`, `done`.

The names below are imported when first asked for: a worker unpickling a found
link's `Scope` (scope.py) imports that module alone, not lxml and the rest.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    **dict.fromkeys(
        ["FOUND", "LISTED", "MAPPED", "ROBOTS", "SITEMAP", "Entry"], "crawler.frontier.entry"
    ),
    **dict.fromkeys(["Fetch", "Frontier", "Refused"], "crawler.frontier.core"),
    **dict.fromkeys(["REASONS", "FollowPolicy", "make_policy"], "crawler.frontier.policy"),
}  # fmt: skip
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
