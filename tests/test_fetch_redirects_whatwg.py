"""Redirects resolved as a browser resolves them: each `Location` of web-platform-tests'
URL data (tests/corpus/wpt_urls.json), served by a real server on 127.0.0.1, and the
request that arrives next is the one a browser sends; a `Location` a browser rejects
ends the fetch with one failure line, and nothing more is requested.

The case's base is the URL first fetched. Every host name reaches the test's server:
the fetch is guarded, and the guard's resolver answers 127.0.0.1 and the server's
port for any name (`crawler.fetching.address_guard.AddressGuard`), so the request
line and `Host` header are what the fetch would send to that host.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawler.fetching.address_guard import AddressGuard
from crawler.fetching.exact_target import target_of
from crawler.fetching.fetch import INVALID_REDIRECT, fetch, make_transport
from crawler.fetching.transports.base import Transport
from crawler.model import Failure, FetchPolicy, Page
from crawler.settings import FetchSettings

SETTINGS = FetchSettings(retries=0, timeout=5.0, max_redirects=2)
GUARDED = FetchPolicy(None, True, "")  # every hop through the guard: its resolver, ours


class Handler(BaseHTTPRequestHandler):
    """The first request after `Server.expect` gets a 302 to `Server.location`
    (written as UTF-8 bytes, as a server sends a non-ASCII Location); any other,
    a small page. Each request's target and Host are recorded as they arrived."""

    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        target = self.requestline.split(" ")[1]  # as sent (`path` folds a leading //)
        self.server.seen.append((target, self.headers.get("Host", "")))
        if len(self.server.seen) == 1:
            location = self.server.location.encode("utf-8")
            answer = (
                b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n"
            )
        else:
            answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
        self.wfile.write(answer)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    location = ""
    seen: list[tuple[str, str]]

    def expect(self, location: str) -> None:
        self.location = location
        self.seen = []


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = Server(("127.0.0.1", 0), Handler)
    running.seen = []
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


@pytest.fixture(scope="module")
def transport(server: Server) -> Iterator[Transport]:
    port = server.server_address[1]

    def everything_here(host: str, _port: int) -> list:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    made = make_transport(SETTINGS, guard=AddressGuard(everything_here, lambda address: True))
    yield made
    made.close()


def _cases() -> list:
    """WPT's cases on an http base, whose Location fits in a header (no CR, LF or NUL),
    and which either fail or lead to an http URL (the test's server speaks no TLS) on
    a port other than 0 (which browsers refuse to connect to)."""
    corpus = Path(__file__).parent / "corpus" / "wpt_urls.json"
    kept = []
    for n, case in enumerate(json.loads(corpus.read_text(encoding="utf-8"))["cases"]):
        location, base = case["input"], case["base"]
        if not base.startswith("http:") or not base.isascii() or set(location) & set("\r\n\0"):
            continue
        if not case.get("failure") and (
            not case["href"].startswith("http:") or urlsplit(case["href"]).port == 0
        ):
            continue
        kept.append(pytest.param(case, id=f"{n}:{location[:40]!r}"))
    return kept


CASES = _cases()


def test_the_corpus_gives_enough_cases() -> None:
    assert len(CASES) > 250


@pytest.mark.parametrize("case", CASES)
def test_a_redirect_goes_where_a_browser_goes(
    server: Server, transport: Transport, case: dict
) -> None:
    server.expect(case["input"])
    result = fetch(transport, case["base"], SETTINGS, GUARDED)
    first, *rest = server.seen
    assert first[0] == target_of(case["base"])
    if case.get("failure"):
        assert result == Failure(case["base"].partition("#")[0], INVALID_REDIRECT, 1)
        assert rest == []  # nothing more requested
        return
    assert isinstance(result, Page), result
    href = urlsplit(case["href"])
    assert rest == [(target_of(case["href"]), href.netloc.rpartition("@")[2])]
