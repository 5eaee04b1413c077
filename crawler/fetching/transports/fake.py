"""A transport that answers from canned responses and records what was asked:
tests pass it to `fetch` instead of patching the network.

    fake = FakeTransport()
    fake.add("http://site.example/", body=b"<p>hi</p>", headers=[("Content-Type", "text/html")])
    fake.add("http://site.example/gone", status=404)
    fetch(fake, "http://site.example/", settings)
    fake.requests[0].headers.get("User-Agent")

Each URL answers with its canned responses in turn, the last one again and again.
A URL with nothing canned fails as `connection refused`, as a port with no server
does. Nothing is sent anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from crawler.fetching.transports.base import BytesResponse, Headers, Request, TransportError


class Canned(NamedTuple):
    """One answer: a status, headers and a body, or an error `send` raises."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    error: TransportError | None = None
    peer: str | None = "127.0.0.1"


class FakeTransport:
    """Canned answers by URL; every request it was sent, in `requests`."""

    def __init__(self) -> None:
        self.answers: dict[str, list[Canned]] = {}
        self.requests: list[Request] = []
        self.closed = False

    def add(
        self,
        url: str,
        status: int = 200,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
        error: TransportError | None = None,
    ) -> FakeTransport:
        """Answer `url` so, after what is already canned for it."""
        canned = Canned(status, body, tuple(headers), error)
        self.answers.setdefault(url, []).append(canned)
        return self

    def redirect(self, url: str, location: str, status: int = 302) -> FakeTransport:
        return self.add(url, status, headers=[("Location", location)])

    def sent(self, url: str) -> int:
        """How many requests for `url` were sent."""
        return sum(request.url == url for request in self.requests)

    def send(self, request: Request) -> BytesResponse:
        self.requests.append(request)
        queue = self.answers.get(request.url)
        if not queue:
            raise TransportError("connection refused", True)
        canned = queue.pop(0) if len(queue) > 1 else queue[0]
        if canned.error is not None:
            raise canned.error
        headers = Headers(canned.headers)
        if "content-length" not in headers:
            headers = Headers((*canned.headers, ("Content-Length", str(len(canned.body)))))
        return BytesResponse(request, canned.status, headers, canned.body, peer=canned.peer)

    def close(self) -> None:
        self.closed = True
