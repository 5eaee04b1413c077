"""A real HTTP server on 127.0.0.1 for the tests, with pages that misbehave on purpose.

Started in a thread of the test process; the `crawl` under test (a subprocess, or
a pool's workers) reaches it over loopback. Every wait in a handler is bounded,
and `stop()` ends whatever is still being served.

Routes (all GET):
  /page/NAME            an ordinary UTF-8 page whose text names NAME
  /board, /verify       saved pages from tests/pages
  /status/CODE          that status, with a short body
  /flaky/KEY?fail=N&code=C
                        C (default 503) the first N (default 2) times for KEY, then 200
  /retry-after/KEY?value=V&fail=N
                        429 with `Retry-After: V` the first N (default 1) times, then 200
  /drip?bytes=N&every=S a body of N bytes, one byte every S seconds
  /big?bytes=N&length=0|1
                        N bytes of text; with length=0 no Content-Length (chunked)
  /truncated?bytes=N    declares N bytes, sends half of them and closes
  /bad-chunk            a chunked body whose second chunk size is not a number
  /gzip-bomb?bytes=N    a small gzip body that inflates to N bytes
  /redirect-loop        redirects to itself, for ever
  /redirect/N           redirects N times, then a page
  /redirect-to?url=U    redirects to U (any URL, another server's say)
  /gbk                  a GBK page whose charset only its <meta> names
  /image.png            a PNG of known size
  /slow?seconds=S       a page after S seconds
  /hang                 accepts and never answers (until the server stops)
  /slow-headers?every=S&until=NAME
                        the status line, then one header line trickled a byte every
                        S (default 0.2) seconds (no read timeout ends it), for ever or
                        until `server.release(NAME)`; then the page `slow headers`
  /robots.txt           `server.robots` (a str) with `server.robots_status` (200);
                        404 while `robots` is None
  /count/NAME?seconds=S a page after S (default 0.2) seconds; counts the /count/
                        requests being served at once (`max_active`) and records when
                        each arrived (`arrivals`)
  /etag/NAME?bytes=N    a page (of N bytes if given) with an ETag; 304 to a matching
                        If-None-Match; `server.version` changes the page and its ETag;
                        `?gzip=1` sends it gzip-compressed
  /lastmod/NAME         a page with Last-Modified; 304 to If-Modified-Since
                        (`not_modified` counts the 304s sent)
  /hostile/NAME         a saved hostile page from tests/hostile/pages, with its Content-Type
  /hostile/adversarial?bytes=N
                        the adversarial board page of tests/hostile/corpus.py, N bytes

`served(path)` counts the requests to a path whose answer was sent in full.

One server is one host for the crawler's politeness (its key is scheme://host:port),
so a test that needs several hosts starts several servers. `TestServer(tls=context)`
serves HTTPS with that server-side SSL context (tests/certs.py makes certificates);
`host="127.0.0.2"` listens on another loopback address.
"""

from __future__ import annotations

import contextlib
import gzip
import ssl
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PAGES = Path(__file__).parent / "pages"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
GBK_PAGE = (
    '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
    "<title>新闻</title></head><body><p>中文页面，用 GBK 编码。</p></body></html>"
).encode("gbk")


def page_text(name: str) -> str:
    head = f'<head><meta charset="utf-8"><title>{name}</title></head>'
    return f"<html>{head}<body>页面 {name}</body></html>"


class TestServer:
    __test__ = False  # not a test class, whatever pytest makes of its name

    def __init__(self, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self.tls = tls
        self.host = host
        self.hits: Counter[str] = Counter()
        self.done: Counter[str] = Counter()  # answers sent in full, by path
        self.released: set[str] = set()  # names /slow-headers may finish for
        self.client_ports: defaultdict[str, list[int]] = defaultdict(list)
        self.robots: str | None = None
        self.robots_status = 200
        self.active = 0
        self.max_active = 0
        self.arrivals: list[float] = []  # time.monotonic() of each /count/ request
        self.not_modified = 0
        self.version = 1  # bump it to change every /etag/ page
        self.cookie_value = "none"  # what /cache/cookie/ sets (a test's random secret)
        self.seen_headers: list[dict[str, str]] = []  # each /cache/ request's headers
        self.connections = 0  # TCP connections accepted
        self._lock = threading.Lock()
        self._hit = threading.Condition(self._lock)
        self._stopping = threading.Event()
        handler = type("Handler", (_Handler,), {"owner": self})
        self.httpd = ThreadingHTTPServer((host, 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # resets are expected here
        if tls is not None:  # the handshake is made in the handler's thread (see setup)
            self.httpd.socket = tls.wrap_socket(
                self.httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.host}:{self.httpd.server_port}"

    @property
    def port(self) -> int:
        return self.httpd.server_port

    def request_count(self) -> int:
        """How many requests all paths together have had."""
        with self._lock:
            return sum(self.hits.values())

    def url(self, path: str) -> str:
        return self.base + path

    def count(self, path: str) -> int:
        """How many requests the path (without its query) has had."""
        with self._lock:
            return self.hits[path]

    def release(self, name: str) -> None:
        """Let the /slow-headers requests with `until=name` finish their answer."""
        with self._lock:
            self.released.add(name)

    def served(self, path: str) -> int:
        """How many answers to the path were sent in full (the handler returned)."""
        with self._lock:
            return self.done[path]

    def ports(self, path: str) -> list[int]:
        """The client-side ports of the requests to the path, in arrival order: they
        name the connection, and so the process, that sent each."""
        with self._lock:
            return list(self.client_ports[path])

    def hit(self, path: str, port: int = 0) -> int:
        with self._lock:
            self.hits[path] += 1
            self.client_ports[path].append(port)
            self._hit.notify_all()
            return self.hits[path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 20.0) -> None:
        """Wait until the path has had `count` requests; AssertionError after `timeout`."""
        give_up = time.monotonic() + timeout
        with self._hit:
            while self.hits[path] < count:
                left = give_up - time.monotonic()
                assert left > 0, f"{path} had {self.hits[path]} of {count} requests in {timeout} s"
                self._hit.wait(left)

    def enter(self) -> None:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.arrivals.append(time.monotonic())

    def leave(self) -> None:
        with self._lock:
            self.active -= 1

    def start(self) -> TestServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def pause(self, seconds: float) -> bool:
        """Wait in a handler; False if the server is stopping."""
        return not self._stopping.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    owner: TestServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall

    def log_message(self, format: str, *args: object) -> None:
        pass

    def setup(self) -> None:
        with self.owner._lock:
            self.owner.connections += 1
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()  # a client that refuses the certificate ends it here
        super().setup()

    def send_body(
        self,
        body: bytes,
        status: int = 200,
        content_type: str = "text/html",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        count = self.owner.hit(path, self.client_address[1])
        head, _, rest = path.lstrip("/").partition("/")
        route = getattr(self, "route_" + head.replace("-", "_").replace(".", "_"), None)
        if route is None:
            self.send_body(b"not found", 404, "text/plain")
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            route(rest, query, count)  # a crawler that gives up on us may close early
            self.wfile.flush()
            with self.owner._lock:
                self.owner.done[path] += 1

    def route_page(self, rest: str, query: dict, count: int) -> None:
        self.send_body(page_text(rest).encode(), content_type="text/html; charset=utf-8")

    def route_board(self, rest: str, query: dict, count: int) -> None:
        self.send_body((PAGES / "board.html").read_bytes())

    def route_pages(self, rest: str, query: dict, count: int) -> None:
        """A saved page of tests/pages, with `?type=` as its Content-Type."""
        names = {path.name for path in PAGES.iterdir()}
        if rest not in names:
            self.send_body(b"not found", 404, "text/plain")
            return
        self.send_body((PAGES / rest).read_bytes(), content_type=query.get("type", "text/html"))

    def route_verify(self, rest: str, query: dict, count: int) -> None:
        self.send_body((PAGES / "verify.html").read_bytes())

    def route_status(self, rest: str, query: dict, count: int) -> None:
        self.send_body(f"status {rest}".encode(), int(rest), "text/plain")

    def route_flaky(self, rest: str, query: dict, count: int) -> None:
        if count <= int(query.get("fail", 2)):
            self.send_body(b"try again", int(query.get("code", 503)), "text/plain")
        else:
            self.send_body(page_text("flaky " + rest).encode())

    def route_retry_after(self, rest: str, query: dict, count: int) -> None:
        if count <= int(query.get("fail", 1)):
            self.send_body(
                b"slow down", 429, "text/plain", {"Retry-After": query.get("value", "1")}
            )
        else:
            self.send_body(page_text("after " + rest).encode())

    def route_drip(self, rest: str, query: dict, count: int) -> None:
        size, every = int(query.get("bytes", 100)), float(query.get("every", 1))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        for _ in range(size):
            self.wfile.write(b"x")
            self.wfile.flush()
            if not self.owner.pause(every):
                return

    def route_big(self, rest: str, query: dict, count: int) -> None:
        size = int(query.get("bytes", 1_000_000))
        if query.get("length", "1") == "1":
            self.send_body(b"y" * size, content_type="text/plain")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"y" * 65536
        for _ in range(size // len(chunk) + 1):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def route_truncated(self, rest: str, query: dict, count: int) -> None:
        size = int(query.get("bytes", 1000))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.wfile.write(b"z" * (size // 2))
        self.close_connection = True

    def route_bad_chunk(self, rest: str, query: dict, count: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"5\r\nhello\r\nZZ\r\n")
        self.close_connection = True

    def route_gzip_bomb(self, rest: str, query: dict, count: int) -> None:
        body = gzip.compress(b"\0" * int(query.get("bytes", 50_000_000)), compresslevel=9)
        self.send_body(body, content_type="text/plain", headers={"Content-Encoding": "gzip"})

    def route_redirect_loop(self, rest: str, query: dict, count: int) -> None:
        self.send_body(b"", 302, "text/plain", {"Location": "/redirect-loop"})

    def route_redirect(self, rest: str, query: dict, count: int) -> None:
        left = int(rest or 0)
        if left > 0:
            self.send_body(b"", 302, "text/plain", {"Location": f"/redirect/{left - 1}"})
        else:
            self.send_body(page_text("redirected").encode())

    def route_redirect_to(self, rest: str, query: dict, count: int) -> None:
        self.send_body(b"", 302, "text/plain", {"Location": query["url"]})

    def route_gbk(self, rest: str, query: dict, count: int) -> None:
        self.send_body(GBK_PAGE, content_type="text/html")

    def route_image_png(self, rest: str, query: dict, count: int) -> None:
        self.send_body(PNG, content_type="image/png")

    def route_slow(self, rest: str, query: dict, count: int) -> None:
        if self.owner.pause(float(query.get("seconds", 5))):
            self.send_body(page_text("slow").encode())

    def route_hang(self, rest: str, query: dict, count: int) -> None:
        self.owner.pause(600)

    def route_slow_headers(self, rest: str, query: dict, count: int) -> None:
        every, until = float(query.get("every", 0.2)), query.get("until")
        self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while until is None or until not in self.owner.released:
            self.wfile.write(b"z")
            self.wfile.flush()
            if not self.owner.pause(every):
                return
        body = page_text("slow headers").encode()
        self.wfile.write(b"\r\nContent-Type: text/html; charset=utf-8\r\n")
        self.wfile.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def route_robots_txt(self, rest: str, query: dict, count: int) -> None:
        robots = self.owner.robots
        if robots is None:
            self.send_body(b"no robots.txt", 404, "text/plain")
        else:
            self.send_body(robots.encode(), self.owner.robots_status, "text/plain")

    def route_count(self, rest: str, query: dict, count: int) -> None:
        self.owner.enter()
        try:
            if not self.owner.pause(float(query.get("seconds", 0.2))):
                return
        finally:
            self.owner.leave()
        self.send_body(page_text("counted " + rest).encode())

    def _not_modified(self, validator: str) -> None:
        with self.owner._lock:
            self.owner.not_modified += 1
        self.send_response(304)
        self.send_header(*validator.split(": ", 1))
        self.end_headers()

    def route_etag(self, rest: str, query: dict, count: int) -> None:
        version = self.owner.version
        tag = f'"v{version}-{rest}"'
        if self.headers.get("If-None-Match") == tag:
            self._not_modified(f"ETag: {tag}")
            return
        body = page_text("etag " + rest + "!" * (version - 1)).encode()
        if "bytes" in query:
            body = b"e" * int(query["bytes"])
        headers = {"ETag": tag}
        if "gzip" in query:
            body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
        self.send_body(body, content_type="text/html; charset=utf-8", headers=headers)

    def route_lastmod(self, rest: str, query: dict, count: int) -> None:
        stamp = "Wed, 21 Oct 2015 07:28:00 GMT"
        if self.headers.get("If-Modified-Since") == stamp:
            self._not_modified(f"Last-Modified: {stamp}")
            return
        body = page_text("lastmod " + rest).encode()
        self.send_body(
            body, content_type="text/html; charset=utf-8", headers={"Last-Modified": stamp}
        )

    def route_cache(self, rest: str, query: dict, count: int) -> None:
        """Answers that test the HTTP cache's policy, by kind (`/cache/KIND/NAME`):
        `fresh` (max-age, no validator), `nostore` (an ETag and no-store), `vary`
        (an ETag per Accept-Language, Vary: Accept-Language), `cookie` (an ETag and
        a Set-Cookie of `cookie_value`), `private` (an ETag, Cache-Control: private)."""
        kind, _, name = rest.partition("/")
        with self.owner._lock:
            self.owner.seen_headers.append(dict(self.headers.items()))
        language = self.headers.get("Accept-Language", "")
        tag = f'"{kind}-{name}-{language}-{self.owner.version}"'
        headers = {"ETag": tag}
        if kind == "fresh":
            headers = {"Cache-Control": "max-age=3600"}
        elif kind == "nostore":
            headers["Cache-Control"] = "no-store"
        elif kind == "vary":
            headers["Vary"] = "Accept-Language"
        elif kind == "cookie":
            headers["Set-Cookie"] = f"site={self.owner.cookie_value}; Path=/"
        elif kind == "private":
            headers["Cache-Control"] = "private"
        if kind != "fresh" and self.headers.get("If-None-Match") == tag:
            self._not_modified(f"ETag: {tag}")
            return
        body = page_text(f"{kind} {name} {language} v{self.owner.version}").encode()
        self.send_body(body, content_type="text/html; charset=utf-8", headers=headers)

    def route_hostile(self, rest: str, query: dict, count: int) -> None:
        from tests.hostile import corpus

        if rest == "adversarial":
            body = corpus.adversarial_board(int(query.get("bytes", 4_000_000)))
            self.send_body(body, content_type="text/html; charset=utf-8")
        else:
            body = (corpus.PAGES / rest).read_bytes()
            self.send_body(body, content_type=corpus.content_type(rest))
