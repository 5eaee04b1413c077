"""A site on 127.0.0.1 that limits its clients, for the politeness tests and
`benchmarks/politeness.py`. Started in a thread of the calling process; every
path is a small page, answered as the site's `Limit` allows:

- `Limit(rate=20, burst=20)`: a token bucket, `rate` requests a second with
  `burst` at once; past it, `429` with `Retry-After: retry_after` (default 1);
- `Limit(busy=4)`: `503` while more than `busy` requests are being served;
- `Limit(ttfb=0.02, per_request=0.02)`: the answer's first byte after `ttfb` +
  `per_request` x (the other requests being served): a site that slows down as
  it is pressed;
- `Limit(retry_after="3600", always=True)`: 429 with that `Retry-After` to
  every request.

`statuses` counts the answers by status, `max_active` the most requests served at
once, `ttfbs` the time to first byte of each 200 with the requests then served,
`first_request` and `last_answer` (a 200's) when they came.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = b"<html><head><title>ok</title></head><body>ok</body></html>"


@dataclass(frozen=True)
class Limit:
    rate: float = 0.0  # token bucket: requests a second (0: none)
    burst: float = 0.0  # and at once
    retry_after: str = "1"
    busy: int = 0  # 503 past this many being served (0: never)
    ttfb: float = 0.0  # seconds before the first byte, unpressed
    per_request: float = 0.0  # more for each other request being served
    always: bool = False  # 429 to everything


class LimitedServer:
    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self.statuses: Counter[int] = Counter()
        self.active = 0
        self.max_active = 0
        self.ttfbs: list[tuple[int, float]] = []  # (being served, seconds) of each 200
        self.first_request: float | None = None  # time.monotonic()
        self.last_answer: float | None = None  # of a 200
        self._lock = threading.Lock()
        self._tokens = limit.burst
        self._filled = time.monotonic()
        self._stopping = threading.Event()
        handler = type("Handler", (_Handler,), {"owner": self})
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def start(self) -> LimitedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> LimitedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def admit(self) -> tuple[int, int]:
        """The status this request gets, and the requests being served with it."""
        limit = self.limit
        with self._lock:
            if self.first_request is None:
                self.first_request = time.monotonic()
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            active = self.active
            if limit.always:
                return 429, active
            if limit.busy and active > limit.busy:
                return 503, active
            if limit.rate:
                now = time.monotonic()
                self._tokens = min(limit.burst, self._tokens + (now - self._filled) * limit.rate)
                self._filled = now
                if self._tokens < 1:
                    return 429, active
                self._tokens -= 1
            return 200, active

    def leave(self, status: int) -> None:
        with self._lock:
            self.active -= 1
            self.statuses[status] += 1
            if status == 200:
                self.last_answer = time.monotonic()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hung up (a crawler killed at its time limit): nothing to say


class _Handler(BaseHTTPRequestHandler):
    owner: LimitedServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        owner, limit = self.owner, self.owner.limit
        started = time.monotonic()
        status, active = owner.admit()
        left = False
        try:
            headers = {}
            if status == 429:
                headers["Retry-After"] = limit.retry_after
            elif status == 200 and (limit.ttfb or limit.per_request):
                owner._stopping.wait(limit.ttfb + limit.per_request * (active - 1))
            body = BODY if status == 200 else b"slow down"
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if status == 200:
                    with owner._lock:
                        owner.ttfbs.append((active, time.monotonic() - started))
                # Served from here: the client may have its answer and send the next
                # request before this thread runs again.
                owner.leave(status)
                left = True
                self.wfile.write(body)
                self.wfile.flush()
        finally:
            if not left:
                owner.leave(status)
