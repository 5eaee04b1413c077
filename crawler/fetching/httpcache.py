"""The HTTP cache between runs, as the worker's transport uses it.

`HttpCache.send` stands in front of the transport's `send` for every request a
worker makes (each redirect hop too), with the request exactly as it goes out,
headers and cookies included. In order:
0. A request to an origin the cache holds nothing of (a site that never sent a
   validator) goes on as it is: no key computed, no lookup.
1. The request's key: a keyed hash (BLAKE2b's MAC mode) of its method, URL and identity headers
   (`crawler.fetching.cache_policy`, `crawler.fetching.cache_store`). One indexed
   lookup finds the entry, if any, whose `Vary` values must also match.
2. An entry still fresh (it had no validator but a lifetime) is the answer: no
   request is sent.
3. An entry with validators sends the request with `If-None-Match` /
   `If-Modified-Since`; a `304` is answered with the stored body and the stored
   headers updated by the 304's, as a `200` marked `from_cache`.
4. Any other answer goes back as it came, marked with what storing it would take.
   The worker streams its body within its own bounds (size cap, deadline), then
   calls `store`: only a body read whole is stored, and only what
   `cache_policy.storage` allows.

A cache that fails (a locked or damaged file) costs what it would have saved,
never the page: lookups and saves that raise are skipped, and after a damaged
file's error the cache turns itself off for the session. The file's upkeep
(pruning, a damaged file set aside) is `crawler.fetching.cache_upkeep`'s.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable
from hashlib import blake2b
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.structures import CaseInsensitiveDict

from crawler.fetching import cache_policy, cache_store

KEY_BYTES = 16  # of the keyed hash: 128 bits tell entries apart


class Pending:
    """What storing an answer will take, noted on the response when it came."""

    __slots__ = ("key", "url", "use")

    def __init__(self, key: bytes | None, url: str, use: cache_policy.RequestUse) -> None:
        self.key, self.url, self.use = key, url, use


def origin_of(url: str) -> str:
    """`scheme://host:port` of an absolute URL as requests prepares it, without
    any `user:password@` (a string cut: it is asked on every request)."""
    start = url.find("//") + 2
    end = url.find("/", start)
    netloc = url[start:] if end < 0 else url[start:end]
    return url[:start] + netloc.rpartition("@")[2]


def without_userinfo(url: str) -> str:
    """`url` without `user:password@` (and without a fragment, never sent)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


class HttpCache:
    """One thread's view of the cache file: its own SQLite connection and the
    cache's MAC key. `clock` gives seconds since the epoch (a test passes a fake)."""

    def __init__(
        self,
        path: Path,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = cache_store.BUSY_TIMEOUT,
    ) -> None:
        self.path = path
        self.key = cache_store.read_key(path)
        self.connection: sqlite3.Connection | None = cache_store.connect(path, busy_timeout)
        self.clock = clock
        self.writable = True
        # Origins with stored rows when this thread started, and those it stored
        # since: another worker's rows of this run are found by the next run.
        self.origins = cache_store.origins(self.connection)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def _failed(self, error: sqlite3.Error) -> None:
        """A damaged file is not asked again this session. One that another process
        kept locked past the busy timeout is still read (WAL readers never wait),
        but not written to again: one wait per thread, not one per page."""
        if not isinstance(error, sqlite3.OperationalError):
            self.close()
        elif "locked" in str(error) or "busy" in str(error):
            self.writable = False

    def _hash(self, *parts: str) -> bytes:
        text = "\n".join(parts).encode("utf-8", "surrogatepass")
        return blake2b(text, key=self.key, digest_size=KEY_BYTES).digest()

    def request_key(self, request: requests.PreparedRequest) -> bytes:
        """MAC(method, URL as sent, identity headers): the only trace of who asked."""
        headers = request.headers
        pairs = (
            headers.lower_items() if isinstance(headers, CaseInsensitiveDict) else headers.items()
        )
        identity = cache_policy.identity_pairs(pairs)
        return self._hash(
            request.method or "GET", request.url or "", *(f"{n}\0{v}" for n, v in identity)
        )

    def vary_hash(self, vary: str, headers: CaseInsensitiveDict) -> bytes | None:
        if not vary:
            return None
        return self._hash(*(f"{name}\0{headers.get(name, '')}" for name in vary.split(",")))

    def send(
        self,
        request: requests.PreparedRequest,
        send_on: Callable[[requests.PreparedRequest], requests.Response],
    ) -> requests.Response:
        """Answer `request` from the cache, or through `send_on` (the transport)."""
        if self.connection is None or request.method != "GET":
            return send_on(request)
        use = cache_policy.request_directives(request.headers)
        if not use.read:
            return send_on(request)
        url = request.url or ""
        if origin_of(url) not in self.origins:  # nothing stored there: no lookup, no key
            response = send_on(request)
            response.cache_pending = Pending(None, url, use)  # type: ignore[attr-defined]
            return response
        key = self.request_key(request)
        try:
            entry = cache_store.lookup(self.connection, key)
        except sqlite3.Error as error:
            self._failed(error)
            return send_on(request)
        if (
            entry is not None
            and entry.vary
            and (self.vary_hash(entry.vary, request.headers) != entry.vary_hash)
        ):
            entry = None  # stored for another variant: fetched in full, then replaced
        now = self.clock()
        if entry is not None and use.unasked and now < entry.fresh_until:
            return self._answer(request, entry, entry.header_pairs(), None, now)
        if entry is not None and (entry.etag or entry.last_modified):
            if entry.etag:
                request.headers["If-None-Match"] = entry.etag
            if entry.last_modified:
                request.headers["If-Modified-Since"] = entry.last_modified
        response = send_on(request)
        if response.status_code == 304 and entry is not None:
            return self._revalidated(request, response, entry, now)
        response.cache_pending = Pending(key, url, use)  # type: ignore[attr-defined]
        return response

    def _revalidated(
        self,
        request: requests.PreparedRequest,
        response: requests.Response,
        entry: cache_store.Entry,
        now: float,
    ) -> requests.Response:
        """The stored answer, confirmed by `response` (a 304): its connection is
        handed back (the empty body read), and what the 304 changed is kept."""
        response.raw.read()  # the (empty) body read to its end hands the connection back
        headers = cache_policy.merged_headers(entry.header_pairs(), response.headers.lower_items())
        # An entry with validators is asked every time (fresh_until 0); only new
        # validators are worth a write, and otherwise the mark of its last use.
        etag = response.headers.get("ETag") or entry.etag
        last_modified = response.headers.get("Last-Modified") or entry.last_modified
        try:
            if not self.writable:
                pass
            elif (etag, last_modified) != (entry.etag, entry.last_modified):
                cache_store.refresh(self.connection, entry, now, 0.0, etag, last_modified, headers)
            else:
                cache_store.touch(self.connection, entry, now)
        except sqlite3.Error as error:
            self._failed(error)
        return self._answer(request, entry, headers, response, now)

    def _answer(
        self,
        request: requests.PreparedRequest,
        entry: cache_store.Entry,
        headers: list[tuple[str, str]],
        wire: requests.Response | None,
        now: float,
    ) -> requests.Response:
        """A 200 carrying the stored body. `wire`: the 304 that confirmed it, whose
        connection and cookies requests still handles; None when nothing was sent."""
        if wire is None and self.writable:
            try:
                cache_store.touch(self.connection, entry, now)
            except sqlite3.Error as error:
                self._failed(error)
        response = wire if wire is not None else requests.Response()
        response.status_code = 200
        response.reason = "OK"
        response.headers = CaseInsensitiveDict(headers)
        response._content = entry.decoded_body()
        response._content_consumed = True
        response.url = request.url or ""
        response.request = request
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.from_cache = True  # type: ignore[attr-defined]
        return response

    def store(self, response: requests.Response, body: bytes) -> None:
        """Save `response` (read whole, as `body`) if the policy allows."""
        pending: Pending | None = getattr(response, "cache_pending", None)
        if pending is None or self.connection is None or not self.writable:
            return
        said = cache_policy.storage("GET", response.status_code, response.headers, pending.use)
        if not said.store:
            return
        if response.request is None:
            return
        now = self.clock()
        vary = cache_policy.vary_names(response.headers)
        key = pending.key or self.request_key(response.request)
        url = without_userinfo(pending.url)
        origin = origin_of(url)
        try:
            if origin not in self.origins:
                cache_store.add_origin(self.connection, origin)
                self.origins.add(origin)
            cache_store.save(
                self.connection,
                key,
                now,
                now + said.fresh_for if said.fresh_for else 0.0,
                response.headers.get("ETag"),
                response.headers.get("Last-Modified"),
                vary,
                self.vary_hash(vary, response.request.headers),
                origin,
                url,
                cache_policy.kept_headers(response.headers.items()),
                body,
            )
        except sqlite3.Error as error:
            self._failed(error)


def open_cache(path: Path) -> HttpCache | None:
    """This thread's cache at `path` (made if missing), or None when the file cannot
    be used (the run then fetches everything in full; the main process has already
    warned about it, see `crawler.fetching.cache_upkeep`)."""
    try:
        return HttpCache(path)
    except (cache_store.Unusable, sqlite3.Error, OSError):
        return None


def store(
    session: requests.Session, response: requests.Response | None, body: bytes | None
) -> None:
    """Save `response` if its body was read within the bounds (`body` None: it was
    not, and nothing is saved). Never raises for a cache problem."""
    cache: HttpCache | None = getattr(session, "cache", None)
    if cache is None or response is None or body is None:
        return
    # A locked or broken cache file costs the saving, not the page.
    with contextlib.suppress(sqlite3.Error, OSError, ValueError, TypeError):
        cache.store(response, body)
