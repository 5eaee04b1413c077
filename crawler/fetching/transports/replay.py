"""The replay transport: answers from WARC archives (`--replay`), never from the
network. It opens no connection at all, so there is no address to guard.

A request is answered with what the archives hold for its exact URL
(`crawler.archive.replay.Index`): the status line, the headers in order and the
body as it came over the wire, so the layers above decode it, bound it and judge
it exactly as in the live run. A URL the archives do not hold fails with
`not in the archive` (final: another attempt would find nothing more).
"""

from __future__ import annotations

from crawler.archive.replay import Index
from crawler.fetching.transports.base import BytesResponse, Headers, Request, TransportError

NOT_IN_ARCHIVE = "not in the archive"


class ReplayTransport:
    """Answers from `index` (see the module's docstring)."""

    def __init__(self, index: Index) -> None:
        self.index = index

    def send(self, request: Request) -> BytesResponse:
        try:
            stored = self.index.load(request.url)
        except OSError as error:  # the file went away or cannot be read since indexing
            raise TransportError(f"archive unreadable: {error.strerror or error}", False) from None
        if stored is None:
            raise TransportError(NOT_IN_ARCHIVE, False)
        return BytesResponse(
            request,
            stored.status,
            Headers(stored.headers),
            stored.body,
            reason=stored.reason,
            version=stored.http_version,
            peer=stored.ip or None,
        )

    def close(self) -> None:
        pass
