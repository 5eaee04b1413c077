"""The benchmark's site: an asyncio HTTP/1.1 server on 127.0.0.1, run as its own process.

It answers every `/page/N` with the same ~20 KB HTML page and every `/board/N` with a
Maoyan-style board page (crawler/demo_site/board-1.html padded to the same size),
from bytes built once, over keep-alive connections, so it is never the bottleneck.
An optional latency delays each answer (a timer, not a sleep: the server keeps
serving other connections meanwhile).

`/site/N` (N below the linked site's size) is a page of the same weight that links,
as a site's pages do, to a navigation bar (pages 0 to 29), to its neighbours N-1
and N+1, to its children 2N+1 and 2N+2, and to a few things a crawl does not follow
(two other sites, a fragment, a mail address): every page of the linked site is
reached from /site/0 by following links, at most about log2(size) hops away.

Control routes, not counted as pages:
- `/__reset?latency_ms=L&pages=P` zeroes the counters, sets the latency and the
  linked site's size (default 2000 pages);
- `/__stats` returns JSON: pages served, monotonic time of the first request and of
  the last answer (CLOCK_MONOTONIC is system-wide, so the caller can compare).

Run: `python benchmarks/site.py [--port 0]`; it prints its port on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
PAGE_SIZE = 20_000


def _padded(html: str, size: int) -> bytes:
    """`html` grown to about `size` bytes with filler paragraphs before `</body>`."""
    body = html.encode()
    filler = "<p>填充 filler text so the page weighs what a real one does.</p>\n".encode()
    need = max(0, size - len(body)) // len(filler) + 1
    head, _, tail = body.rpartition(b"</body>")
    return head + filler * need + b"</body>" + tail


def page_bodies() -> dict[str, bytes]:
    board = (ROOT / "crawler" / "demo_site" / "board-1.html").read_text(encoding="utf-8")
    plain = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>page</title></head>\n'
        "<body><h1>A page</h1>\n</body></html>\n"
    )
    return {"page": _padded(plain, PAGE_SIZE), "board": _padded(board, PAGE_SIZE)}


def response(status: str, body: bytes, content_type: str) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode("ascii") + body


NAV_LINKS = 30


def linked_page(number: int, pages: int, filler: bytes) -> bytes:
    """`/site/N` of a linked site of `pages` pages (see the module docstring)."""
    targets = [*range(NAV_LINKS), number - 1, number + 1, 2 * number + 1, 2 * number + 2]
    hrefs = [f"/site/{n}" for n in targets if 0 <= n < pages]
    hrefs += ["http://offsite.invalid/a", "https://other.invalid/b", "#top", "mailto:a@b.invalid"]
    items = "".join(f'<li><a href="{href}">link {n}</a></li>\n' for n, href in enumerate(hrefs))
    head = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>page</title></head>\n'
        f"<body><h1>Page {number}</h1><ul>\n{items}</ul>\n"
    ).encode()
    return head + filler + b"</body></html>\n"


class Site:
    def __init__(self) -> None:
        self.answers = {
            kind: response("200 OK", body, "text/html; charset=utf-8")
            for kind, body in page_bodies().items()
        }
        self.not_found = response("404 Not Found", b"not found\n", "text/plain")
        self.latency = 0.0
        self.linked_pages = 2000
        self._linked: dict[int, bytes] = {}
        self._filler = b""
        self.reset()

    def _linked_answer(self, number: int) -> bytes:
        answer = self._linked.get(number)
        if answer is None:
            if not self._filler:
                page = _padded("<html><body></body></html>", PAGE_SIZE - 2500)
                self._filler = page[len(b"<html><body>") : -len(b"</body></html>")]
            body = linked_page(number, self.linked_pages, self._filler)
            answer = self._linked[number] = response("200 OK", body, "text/html; charset=utf-8")
        return answer

    def reset(self) -> None:
        self._linked.clear()
        self.pages = 0
        self.first: float | None = None
        self.last: float | None = None

    def answer(self, target: str) -> tuple[bytes, bool]:
        """The bytes for `target`, and whether it is a counted page."""
        kind = target.split("/", 2)[1] if target.count("/") >= 2 else ""
        if kind in self.answers:
            if self.first is None:
                self.first = time.monotonic()
            return self.answers[kind], True
        if kind == "site":
            number = target[6:]
            if number.isdigit() and int(number) < self.linked_pages:
                if self.first is None:
                    self.first = time.monotonic()
                return self._linked_answer(int(number)), True
        parts = urlsplit(target)
        if parts.path == "/__reset":
            query = parse_qs(parts.query)
            self.latency = float(query.get("latency_ms", ["0"])[0]) / 1000
            self.linked_pages = int(query.get("pages", ["2000"])[0])
            self.reset()
            return response("200 OK", b"ok\n", "text/plain"), False
        if parts.path == "/__stats":
            stats = {"pages": self.pages, "first": self.first, "last": self.last}
            return response("200 OK", json.dumps(stats).encode(), "application/json"), False
        return self.not_found, False


class Connection(asyncio.Protocol):
    def __init__(self, site: Site) -> None:
        self.site = site
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = request_line.split(" ")
            target = parts[1] if len(parts) >= 2 else "/"
            if target.startswith("http"):  # absolute form
                target = "/" + target.split("/", 3)[-1]
            data_out, counted = self.site.answer(target)
            if counted and self.site.latency > 0:
                asyncio.get_running_loop().call_later(self.site.latency, self.send, data_out)
            else:
                self.send(data_out, counted)

    def send(self, data: bytes, counted: bool = True) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(data)
        if counted:
            self.site.pages += 1
            self.site.last = time.monotonic()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(port: int) -> None:
    site = Site()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(site), "127.0.0.1", port, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
