"""The archive layer (`--warc`): a transport around the one that reaches the
network, which turns each request it sends and the answer it gets into WARC
records (`crawler.archive.records.capture`), in the worker, as they happen:
redirect hops, retries, robots.txt and sitemaps included, each one a `Capture`.

- What is recorded is what went over the wire: the request as the transport sent
  it (its exact target; a `Host` header first when the transport added it), the
  status line and headers as received, and the body bytes as `read1` gave them,
  Content-Encoding still on. So the layer sits under the HTTP cache: it sees the
  server's 304 to a revalidation, not the cache's stored page.
- An answer is recorded when its body has been read to the end, or, when it is
  closed before (a body over the size cap, a deadline), with what was read, marked
  truncated when more was to come. An
  answer from a cache (`from_cache`) did not reach a server and is not recorded.
- A 304 to the cache's revalidation carries the stored answer's `Date`
  (`Response.confirms_date`, set by the cache above before it reads the 304's
  body): its revisit record names it as `WARC-Refers-To-Date`.
- The captures of the thread's fetch wait until `take()` (per thread: each of a
  worker's fetching threads has its own transport): the worker sends them back
  with the fetch's result, and the main process writes them
  (`crawler.archive.writer`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from crawler.archive.records import Exchange, capture
from crawler.fetching.transports.base import Request, Response, Transport
from crawler.model import Capture

_local = threading.local()  # .captures: this thread's, since its last take()


def take() -> tuple[Capture, ...]:
    """The captures this thread made since the last call."""
    taken = tuple(getattr(_local, "captures", ()))
    _local.captures = []
    return taken


class ArchivingTransport:
    """Records what `inner` sends and receives (see the module's docstring).
    `secret_names`: the lower-case names of the headers the run binds to sites,
    whose values the records hold as `redacted`."""

    def __init__(
        self,
        inner: Transport,
        secret_names: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.inner = inner
        self.secret_names = secret_names
        self.clock = clock

    def send(self, request: Request) -> Response:
        started = self.clock()
        response = self.inner.send(request)
        if response.from_cache:
            return response
        chunks: list[bytes] = []
        done = False
        read1, close = response.read1, response.close

        def finish(ended: bool) -> None:
            nonlocal done
            if not done:
                done = True
                body = b"".join(chunks)
                self._keep(response, body, started, not ended and _more_expected(response, body))

        def reading(size: int) -> bytes:
            chunk = read1(size)
            if chunk:
                chunks.append(chunk)
            else:
                finish(True)
            return chunk

        def closing() -> None:
            finish(False)
            close()

        response.read1 = reading  # type: ignore[method-assign]
        response.close = closing  # type: ignore[method-assign]
        return response

    def _keep(self, response: Response, body: bytes, started: float, truncated: bool) -> None:
        sent = response.request
        parts = urlsplit(sent.url)
        target = sent.target or (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = tuple(sent.headers)
        if not any(name.lower() == "host" for name, _ in headers):
            headers = (("Host", parts.netloc.rpartition("@")[2]), *headers)
        exchange = Exchange(
            sent.url, sent.method, target, headers, response.version, response.status,
            response.reason, tuple(response.headers), body, response.peer or "", started,
            truncated, response.confirms_date,
        )  # fmt: skip
        captures = getattr(_local, "captures", None)
        if captures is None:
            captures = _local.captures = []
        captures.append(capture(exchange, self.secret_names))

    def close(self) -> None:
        self.inner.close()


def _more_expected(response: Response, body: bytes) -> bool:
    """Whether an answer closed before its end had more body than `body` to send."""
    if response.status in (204, 304) or response.status < 200 or response.request.method == "HEAD":
        return False
    declared = response.headers.get("Content-Length") or ""
    return not declared.strip().isdigit() or int(declared) > len(body)
