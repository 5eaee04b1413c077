"""A loopback site for the tests of secrets: it records every request it gets,
whole (request line and headers), so a test can assert what it never saw.

Routes (GET):
  /robots.txt           `robots` (a str), else 404
  /wall/NAME            the cookie wall: the site's first answer sets `sid` (random);
                        a request without it afterwards gets 403
  /need/NAME?to=U       200 only if the request has every header of `required`
                        (name -> exact value) and every cookie of `cookies`
                        (name -> value), else 401; the page links to each U and
                        sets the cookie `site` (`session`)
  /to?url=U             302 to U
  /links?to=U&to=V      an HTML page linking to each U
  /page/NAME            a plain page with an ETag (the HTTP cache keeps it)
  /sitemap.xml          a sitemap listing `sitemap` (URLs)
"""

from __future__ import annotations

import secrets
import threading
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape


class SecretSite:
    __test__ = False

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.seen: list[str] = []  # every request, its line and headers
        self.robots: str | None = None
        self.required: dict[str, str] = {}
        self.cookies: dict[str, str] = {}
        self.sitemap: list[str] = []
        self.session = "sid-" + secrets.token_hex(8)  # the cookie the wall sets
        self.wall_set = False
        self.refused = 0
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"site": self})
        self.httpd = ThreadingHTTPServer((host, 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # resets are expected here
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.httpd.server_port}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> SecretSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def everything_seen(self) -> str:
        with self._lock:
            return "\n".join(self.seen)


class _Handler(BaseHTTPRequestHandler):
    site: SecretSite
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        site = self.site
        with site._lock:
            site.seen.append(f"{self.requestline}\n{self.headers}")
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        path = parts.path
        jar = SimpleCookie(self.headers.get("Cookie", ""))
        cookies = {name: morsel.value for name, morsel in jar.items()}
        if path == "/robots.txt":
            if site.robots is None:
                self.answer(404, b"none")
            else:
                self.answer(200, site.robots.encode(), "text/plain")
        elif path.startswith("/wall/"):
            with site._lock:
                first, site.wall_set = not site.wall_set, True
            if first:
                self.answer(
                    200, b"<p>welcome</p>", extra={"Set-Cookie": f"sid={site.session}; Path=/"}
                )
            elif cookies.get("sid") == site.session:
                self.answer(200, f"<p>{path}</p>".encode())
            else:
                with site._lock:
                    site.refused += 1
                self.answer(403, b"no session")
        elif path.startswith("/need/"):
            ok = all(self.headers.get(k) == v for k, v in site.required.items()) and all(
                cookies.get(k) == v for k, v in site.cookies.items()
            )
            if ok:
                links = "".join(f'<a href="{escape(u)}">x</a>' for u in query.get("to", []))
                body = f"<html><body><p>in {path}</p>{links}</body></html>".encode()
                extra = {"ETag": '"v1"', "Set-Cookie": f"site={site.session}; Path=/"}
                self.answer(200, body, extra=extra)
            else:
                self.answer(401, b"who are you")
        elif path == "/to":
            self.answer(302, b"", extra={"Location": query["url"][0]})
        elif path == "/links":
            links = "".join(f'<a href="{escape(u)}">x</a>' for u in query.get("to", []))
            self.answer(200, f"<html><body>{links}</body></html>".encode())
        elif path.startswith("/page/"):
            self.answer(200, f"<p>{path}</p>".encode(), extra={"ETag": '"p1"'})
        elif path == "/sitemap.xml":
            urls = "".join(f"<url><loc>{escape(u)}</loc></url>" for u in site.sitemap)
            body = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
            self.answer(200, body.encode(), "application/xml")
        else:
            self.answer(404, b"not found")

    def answer(
        self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8",
        extra: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
