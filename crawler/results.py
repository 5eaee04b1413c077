"""What a worker sends back: plain, picklable values, never exceptions.

An exception raised in a worker has to be pickled, sent and unpickled by the pool;
one whose class cannot be rebuilt stops the pool's result thread, and the run hangs.
So expected failures come back as `Failure` values.
"""

from __future__ import annotations

from typing import NamedTuple


class Page(NamedTuple):
    """A fetched page. `text` is the decoded text, or None for a body that is not
    text (an image), in which case `size` is its byte count. `cached`: the body came
    from the HTTP cache (a 304, or still fresh), so `nbytes` were not on the wire.
    `throttled`: the host answered 429 or 503 on the way (a retry then succeeded)."""

    url: str
    status: int
    content_type: str
    text: str | None
    size: int
    nbytes: int
    attempts: int
    cached: bool = False
    throttled: bool = False


class Failure(NamedTuple):
    """A URL that was not fetched; `reason` is one line for the `error:` record.
    `throttled`: the host answered 429 or 503 on the way."""

    url: str
    reason: str
    attempts: int
    throttled: bool = False


Result = Page | Failure
