"""What a worker sends back: plain, picklable values, never exceptions.

An exception raised in a worker has to be pickled, sent and unpickled by the pool;
one whose class cannot be rebuilt stops the pool's result thread, and the run hangs.
So expected failures come back as `Failure` values.
"""

from __future__ import annotations

from typing import NamedTuple


class Page(NamedTuple):
    """A fetched page. `text` is the decoded text, or None for a body that is not
    text (an image), in which case `size` is its byte count."""

    url: str
    status: int
    content_type: str
    text: str | None
    size: int
    nbytes: int
    attempts: int


class Failure(NamedTuple):
    """A URL that was not fetched; `reason` is one line for the `error:` record."""

    url: str
    reason: str
    attempts: int


Result = Page | Failure
