"""The HTTP cache between runs: requests-cache over SQLite, made to keep the
worker's bounds.

Policy (requests-cache settings, see `cached_session`):
- A response with a validator (`ETag` or `Last-Modified`) is stored, and the next
  run asks again with `If-None-Match` / `If-Modified-Since`: a `304 Not Modified`
  is answered from the cache, so `db.txt` gets the same records as a full fetch.
- The server's `Cache-Control` is obeyed: `no-store` is not stored; a page that is
  still fresh by `max-age` and has no validator is served from the cache without
  a request; a page with a validator is always revalidated (a cron crawl wants
  to see changes, and a 304 costs a few hundred bytes).
- A response with neither a validator nor a freshness lifetime is not stored.

Bounds. requests-cache saves a response by reading all of `response.content` at
once, which would defeat the worker's size cap and its per-attempt deadline for
a large answer. `_DeferredCache` therefore only notes what requests-cache wants
to save; the worker streams the body with its own bounded `read1` loop and calls
`store(session, response, body)` after the attempt, outside the deadline. An
oversized or timed-out body is never stored.

Secrets (a minimal guard until the cache's own store replaces this module): what
is stored holds no request header but the benign ones (`KEPT_REQUEST_HEADERS`),
no cookie and no `Set-Cookie`, and the URL never holds a password (the fetch takes
it out before sending). The file (and so SQLite's -wal and -shm beside it) is
readable by its owner only.

Several worker processes write at once: each opens its own connection, the file
is in WAL mode (readers do not block the writer), and SQLite's busy timeout
makes a writer wait for another's transaction. A cache that cannot be read or
written costs only the saving: the fetch goes on (see `store`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import sys
import time
from pathlib import Path

import requests
from requests.cookies import RequestsCookieJar
from requests.structures import CaseInsensitiveDict

# requests-cache imports every storage backend it finds installed, and its DynamoDB
# one pulls in boto3: about 100 ms in each process that imports it. Only SQLite is
# used here, so boto3 is hidden while requests-cache loads (and only then).
_hide_boto3 = "boto3" not in sys.modules
if _hide_boto3:
    sys.modules["boto3"] = None  # type: ignore[assignment] - makes `import boto3` fail
try:
    from requests_cache import CachedResponse, CachedSession, SQLiteCache
    from requests_cache.policy.expiration import EXPIRE_IMMEDIATELY
finally:
    if _hide_boto3:
        del sys.modules["boto3"]

BUSY_TIMEOUT = 10.0  # seconds a writer waits for another process's transaction
# The request headers a stored response keeps: none that can say who asked.
KEPT_REQUEST_HEADERS = frozenset(
    {"user-agent", "accept", "accept-encoding", "accept-language", "connection"}
)


class _DeferredCache(SQLiteCache):
    """A SQLite cache that saves a response only when `commit` hands it the body."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path), wal=True, timeout=BUSY_TIMEOUT)
        self._pending: tuple | None = None

    def save_response(self, response, cache_key=None, expires=None) -> None:
        self._pending = (response, cache_key, expires)

    def commit(self, response: requests.Response, body: bytes | None) -> None:
        pending, self._pending = self._pending, None
        if pending is None or pending[0] is not response:
            return
        if not isinstance(response, CachedResponse):
            if body is None:
                return
            response._content = body  # the decoded body, as requests-cache stores it
            response._content_consumed = True
        _forget_identity(response)
        super().save_response(*pending)

    def discard(self) -> None:
        self._pending = None


def _forget_identity(response: requests.Response) -> None:
    """Strip from `response` (about to be stored) whatever says who asked: request
    headers other than the benign ones, cookies, `Set-Cookie`."""
    request = response.request
    if request is not None:
        if isinstance(request, requests.PreparedRequest):
            request = response.request = request.copy()
            request._cookies = RequestsCookieJar()
        kept = {
            name: value
            for name, value in (request.headers or {}).items()
            if name.lower() in KEPT_REQUEST_HEADERS
        }
        request.headers = CaseInsensitiveDict(kept)
        if hasattr(request, "cookies"):
            request.cookies = RequestsCookieJar()
    response.cookies = RequestsCookieJar()
    response.headers.pop("Set-Cookie", None)
    raw_headers = getattr(response.raw, "headers", None)
    if hasattr(raw_headers, "discard"):
        raw_headers.discard("Set-Cookie")


def _owner_only(path: Path) -> None:
    """Create the cache file readable by its owner only (SQLite gives its -wal and
    -shm the file's mode), and make an older one so."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    for existing in (path, *path.parent.glob(path.name + "-*")):
        with contextlib.suppress(OSError):
            os.chmod(existing, 0o600)


def open_cache(path: Path) -> requests.Session:
    """A session that revalidates through the SQLite cache at `path` (created if
    missing, with its folder); a plain session if that file cannot be used.

    Workers start together and open the file at once; creating its tables and
    switching it to WAL can then find it locked by another, which is waited out
    (for up to `BUSY_TIMEOUT`), not taken for a broken file."""
    give_up = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _owner_only(path)
            session = _cached_session(path)
            len(session.cache.responses)  # opens the file: a broken one fails here, once
            session.hooks["response"].append(_hand_back_304)
            return session
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > give_up:
                return requests.Session()
            time.sleep(0.05)
        except (sqlite3.Error, OSError):
            return requests.Session()


def _hand_back_304(response: requests.Response, *args: object, **kwargs: object) -> None:
    """Read the (empty) body of a 304 on the wire: requests-cache answers from the
    cache and drops it unread, which with `stream=True` would cost the connection."""
    if response.status_code == 304 and not isinstance(response, CachedResponse):
        response.content  # noqa: B018 - reading to the end releases the connection


def cache_key(request: requests.PreparedRequest, **_settings: object) -> str:
    """The cache's key for a request: its method and URL.

    Every request crawl sends carries the same headers, so nothing else tells two
    apart (and a `Vary` header cannot matter). requests-cache's own key normalizes
    the URL and headers: a third of its cost per request, paid on every page."""
    return hashlib.blake2b(f"{request.method} {request.url}".encode(), digest_size=16).hexdigest()


def _cached_session(path: Path) -> CachedSession:
    return CachedSession(
        backend=_DeferredCache(path),
        key_fn=cache_key,
        expire_after=EXPIRE_IMMEDIATELY,  # stored with a validator, then revalidated
        cache_control=True,
        always_revalidate=True,
        allowable_methods=("GET",),
        allowable_codes=(200,),
        stale_if_error=False,
    )


def store(
    session: requests.Session, response: requests.Response | None, body: bytes | None
) -> None:
    """Save what requests-cache wanted to save for `response`, now that its body
    was read within the bounds (`body` None: it was not; nothing is saved).
    A plain session has nothing to do. Never raises for a cache problem."""
    cache = getattr(session, "cache", None)
    if not isinstance(cache, _DeferredCache):
        return
    try:
        if response is None:
            cache.discard()
        else:
            cache.commit(response, body)
    except (sqlite3.Error, OSError, ValueError, TypeError):
        cache.discard()  # a locked or broken cache file costs the saving, not the page
