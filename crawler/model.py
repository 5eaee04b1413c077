"""The plain values that cross between the layers: what a URL file line becomes
(`Job`, `BadLine`) and what a worker sends back (`Page`, `Failure`).

This module is the bottom layer: `crawler` and `pipelines` both import it, and it
imports neither. Every value is a NamedTuple of plain fields, so it pickles.

A worker returns values, never exceptions: an exception has to be pickled, sent
and unpickled by the pool, and one whose class cannot be rebuilt stops the pool's
result delivery, and the run hangs. So expected failures come back as `Failure`.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Job(NamedTuple):
    """A URL to fetch, its 1-based line in the URL file, and the parsers it names."""

    line: int
    url: str
    parsers: tuple[str, ...]


class BadLine(NamedTuple):
    """A line that cannot be fetched. `text` is its first field, credentials removed:
    it is shown on the terminal and written to `db.txt`."""

    line: int
    text: str
    reason: str


class Page(NamedTuple):
    """A fetched page. `text` is the decoded text, or None for a body that is not
    text (an image), in which case `size` is its byte count. `cached`: the body came
    from the HTTP cache (a 304, or still fresh), so `nbytes` were not on the wire.
    `throttled`: the host answered 429 or 503 on the way (a retry then succeeded).
    `final_url`: where the redirects led ("" when none did); `redirects`: each URL
    the fetch was sent to after the first, in order; `headers`: the final
    response's headers as (name, value) pairs, names lower-cased, sorted by name."""

    url: str
    status: int
    content_type: str
    text: str | None
    size: int
    nbytes: int
    attempts: int
    cached: bool = False
    throttled: bool = False
    final_url: str = ""
    redirects: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case), or None."""
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)


class Failure(NamedTuple):
    """A URL that was not fetched; `reason` is one line for the `error:` record.
    `throttled`: the host answered 429 or 503 on the way."""

    url: str
    reason: str
    attempts: int
    throttled: bool = False


Result = Page | Failure


class FetchPolicy(NamedTuple):
    """What the worker checks while fetching a found link (none for a listed URL):
    each redirect hop inside `scope` (None: any), and with `guard_private` every
    address it connects to global, except on `exempt_origin` (a
    `crawler.urls.host_key` origin: the listed URL's the link descends from)."""

    scope: Any  # picklable, with `allows(url) -> bool` (crawler.frontier.scope.Scope), or None
    guard_private: bool
    exempt_origin: str


class Link(NamedTuple):
    """A link found on a page: its absolute URL (resolved, not yet checked),
    whether its `rel` says `nofollow`, and which follow rules' selectors picked it
    (bit i set: rule i's; 0 when no rules are given)."""

    url: str
    nofollow: bool = False
    rules: int = 0
