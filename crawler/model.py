"""The plain values that cross between the layers: what a URL file line becomes
(`Job`, `BadLine`) and what a worker sends back (`Page`, `Failure`).

This module is the bottom layer: `crawler` and `pipelines` both import it, and it
imports neither. Every value is a NamedTuple of plain fields, so it pickles.

A worker returns values, never exceptions: an exception has to be pickled, sent
and unpickled by the pool, and one whose class cannot be rebuilt stops the pool's
result delivery, and the run hangs. So expected failures come back as `Failure`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import NamedTuple


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
    response's headers as (name, value) pairs, names lower-cased, sorted by name,
    without `Set-Cookie`; `cookies`: each `Set-Cookie` value received during the
    fetch (any hop) with the URL that sent it, for the run's cookie jar: a secret,
    never written."""

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
    cookies: tuple[tuple[str, str], ...] = ()  # (URL, Set-Cookie value) received on the way
    encoding: str = "utf-8"  # what `text` was decoded from: a link's query is encoded in it
    # (nofollow reason or None, ((url, nofollow, rules), ...)[, (count, ...)]): the
    # page's links, taken in the worker (`crawler.fetching.worker.with_links`), each a
    # Link's fields as a plain tuple (`as_links` makes them Links again: a NamedTuple
    # costs ten times as much to pickle and unpickle, ~0.4 ms a docs page); a str: why
    # the worker could not take them; None when it was not asked to (the run does not
    # follow, a sitemap); a `Judged`: the worker judged them too
    # (`crawler.frontier.link_verdicts`)
    links: tuple | str | None = None
    # (Capture, ...): the WARC records of each request the fetch sent (--warc), for
    # the main process to write; taken off before the page reaches the loop
    archived: tuple = ()
    ttfb: float = 0.0  # seconds from sending the request to the answer's headers; 0: none sent

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case), or None."""
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)


class Failure(NamedTuple):
    """A URL that was not fetched; `reason` is one line for the `error:` record.
    `throttled`: the host answered 429 or 503 on the way. `cookies`: as a Page's.
    `status` and `retry_after`: a 429 or 503 the worker gave back to the frontier
    without retrying it (`crawler.fetching.fetch.fetch`'s `give_back`), with its
    `Retry-After` header as sent ("" for none); 0 and "" otherwise."""

    url: str
    reason: str
    attempts: int
    throttled: bool = False
    cookies: tuple[tuple[str, str], ...] = ()
    archived: tuple = ()  # as a Page's
    status: int = 0
    retry_after: str = ""


Result = Page | Failure


class Capture(NamedTuple):
    """One request that reached a server and its answer, as WARC records
    (`crawler.archive.records.capture`, made in the worker): `request` and
    `response` are whole gzip members (`response` is b"" for a 304, whose revisit
    the main process writes); `head` is the answer's HTTP header block, for a
    revisit; the rest is what the archive's index and revisits name."""

    url: str
    date: str  # WARC-Date
    status: int
    mime: str
    digest: str  # WARC-Payload-Digest of the body as received
    length: int  # the body's bytes as received
    record_id: str  # the response's (or its revisit's) WARC-Record-ID
    request_id: str
    ip: str
    head: bytes
    response: bytes
    request: bytes
    refers_to_date: str = ""  # a 304's: WARC date of the answer it confirms ("" unknown)


class FetchPolicy(NamedTuple):
    """What a worker checks while it fetches a URL it found, not one it was given.

    `scope`: any picklable object with `allows(url: str) -> bool`, asked about each
    redirect hop before it is requested (a hop it refuses ends the fetch as
    `redirected off scope to HOST`); None lets redirects go anywhere.
    `guard_private`: every connection's address must be global, else the fetch ends
    as `refused: private address (ADDR)` before any connection is attempted.
    `exempt_origin`: a `crawler.urls.host_key` origin (`scheme://host[:port]`, the
    listed URL's) whose connections are not checked; "" exempts none.

    No policy at all (None) is a listed URL's fetch: redirects go anywhere and no
    address is checked."""

    scope: object | None = None
    guard_private: bool = False
    exempt_origin: str = ""


class Link(NamedTuple):
    """A link found on a page: its absolute URL (resolved, not yet checked),
    whether its `rel` says `nofollow`, and which follow rules' selectors picked it
    (bit i set: rule i's; 0 when no rules are given)."""

    url: str
    nofollow: bool = False
    rules: int = 0


def as_links(fields: Iterable[tuple[str, bool, int]]) -> list[Link]:
    """Links from their fields, as a worker sends them (`Page.links`)."""
    return list(map(_new_link, fields))


_new_link = partial(tuple.__new__, Link)  # a Link from its fields, without a Python call


class Judged(NamedTuple):
    """A page's links as the worker judged them (`crawler.frontier.link_verdicts`):
    why the page says nofollow (None: it does not; the links the main process
    adds are judged by it), those that passed, each `(url, digest high, digest low,
    origin, rule, count)`, and how many links each check refused, `(reason, count)`."""

    nofollow: str | None
    passed: tuple[tuple[str, int, int, str, int, int], ...]
    dropped: tuple[tuple[str, int], ...]
