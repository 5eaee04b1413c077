"""The request a browser would send is the request crawl sends: no re-spelling of
the path and query by requests or urllib3 (issue 17)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crawler.fetching.exact_target import is_exact, target_of
from tests.conftest import run_crawl


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("http://h.test/foo%", "/foo%"),
        ("http://h.test/foo/[61:24:74]:98", "/foo/[61:24:74]:98"),
        ("http://h.test/test?", "/test?"),
        ("http://h.test?x", "/?x"),
        ("http://h.test", "/"),
        ("http://h.test:81/a#b?c", "/a"),
        ("http://[::1]:8080/p?q", "/p?q"),
    ],
)
def test_the_target_is_the_urls_path_and_query(url: str, target: str) -> None:
    assert is_exact(url)
    assert target_of(url) == target


@pytest.mark.parametrize("url", ["http://h.test/a b", "http://h.test/é", "/relative"])
def test_what_is_left_to_requests(url: str) -> None:
    assert not is_exact(url)


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        body = b"x"
        if self.path == "/":
            hrefs = ["/foo%", "/foo/[61:24:74]:98", "test?", "/q?'", "/%7e/a%2fb"]
            body = "".join(f'<a href="{href}">x</a>' for href in hrefs).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[ThreadingHTTPServer, list[str]]]:
    seen: list[str] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, seen
    server.shutdown()
    server.server_close()


def test_found_links_are_requested_as_a_browser_requests_them(
    tmp_path: Path, recorder: tuple[ThreadingHTTPServer, list[str]]
) -> None:
    server, seen = recorder
    home = f"http://127.0.0.1:{server.server_address[1]}/"
    urls = tmp_path / "urls.txt"
    urls.write_text(home + "\n")
    result = run_crawl(str(urls), "--depth", "1", "--no-cache", "--no-progress", "-q",
                       "--output", str(tmp_path / "db.txt"), "--ignore-robots")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(seen) == sorted(
        ["/", "/foo%", "/foo/[61:24:74]:98", "/test?", "/q?%27", "/%7e/a%2fb"]
    )
