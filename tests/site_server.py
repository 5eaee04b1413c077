"""A site on 127.0.0.1 that a test writes page by page, for the crawls that follow
links: pages, redirects and routes whose answer depends on the URL, with every
request counted. Optionally served over TLS (a `trustme` certificate).

    site = Site().start()
    site.page("/", '<a href="/a">a</a>')
    site.redirect("/old", "/new")
    site.route("/cal/", lambda path, query: (200, {}, calendar_page(path)))
    ...
    assert site.count("/a") == 1
    site.stop()

Anything not written answers 404, robots.txt included (which allows everything).
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Answer = tuple[int, dict[str, str], bytes]
Route = Callable[[str, str], Answer]  # (path, query) -> (status, headers, body)
HTML = "text/html; charset=utf-8"


class Site:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.hits: Counter[str] = Counter()  # path (without the query) -> requests
        self.targets: list[str] = []  # every request target, in order
        self.headers: list[dict[str, str]] = []  # the request headers of each, in order
        self._routes: dict[str, Route] = {}
        self._prefixes: list[tuple[str, Route]] = []
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"site": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None
        self.scheme = "http"
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_port

    @property
    def base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> Site:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- what the test writes --------------------------------------------------------
    def page(
        self,
        path: str,
        body: str | bytes,
        content_type: str = HTML,
        headers: dict[str, str] | None = None,
        status: int = 200,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        answer = (status, {"Content-Type": content_type, **(headers or {})}, data)
        self._routes[path] = lambda path, query: answer

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self._routes[path] = lambda path, query: (status, {"Location": location}, b"")

    def route(self, prefix: str, answer: Route) -> None:
        """Paths starting with `prefix` (the longest prefix wins) answered by `answer`."""
        self._prefixes.append((prefix, answer))
        self._prefixes.sort(key=lambda item: -len(item[0]))

    # -- what the test reads ---------------------------------------------------------
    def count(self, path: str) -> int:
        with self._lock:
            return self.hits[path]

    def total(self) -> int:
        with self._lock:
            return sum(self.hits.values())

    def answer(self, target: str, headers: dict[str, str] | None = None) -> Answer:
        parts = urlsplit(target)
        with self._lock:
            self.hits[parts.path] += 1
            self.targets.append(target)
            self.headers.append(headers or {})
        route = self._routes.get(parts.path)
        if route is None:
            route = next((r for prefix, r in self._prefixes if parts.path.startswith(prefix)), None)
        if route is None:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        return route(parts.path, parts.query)


class _Handler(BaseHTTPRequestHandler):
    site: Site
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        status, headers, body = self.site.answer(self.path, dict(self.headers.items()))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


def links(*hrefs: str, **attributes: str) -> str:
    """An HTML page with one `<a>` per href (`attributes` go on each)."""
    extra = "".join(f' {name}="{value}"' for name, value in attributes.items())
    items = "".join(f'<li><a href="{href}"{extra}>{n}</a></li>' for n, href in enumerate(hrefs))
    head = '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
    return f"{head}<body><ul>{items}</ul></body></html>"
