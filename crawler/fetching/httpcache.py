"""The HTTP cache between runs: a layer around the worker's transport (`CacheLayer`),
whichever transport it is.

`HttpCache.send` stands in front of the transport's `send` for every request a
worker makes (each redirect hop too), with the request exactly as it goes out,
headers and cookies included. In order:
0. A request to an origin the cache holds nothing of (a site that never sent a
   validator) goes on as it is: no key computed, no lookup; nor is one looked up
   where the file held nothing when this thread opened it, unless this thread
   stored its key since.
1. The request's key: a keyed hash (BLAKE2b's MAC mode) of its method, URL and identity headers
   (`crawler.fetching.cache_policy`, `crawler.fetching.cache_store`). One indexed
   lookup finds the entry, if any, whose `Vary` values must also match.
2. An entry still fresh (it had no validator but a lifetime) is the answer: no
   request is sent.
3. An entry with validators sends the request with `If-None-Match` /
   `If-Modified-Since`; a `304` is answered with the stored body and the stored
   headers updated by the 304's, as a `200` marked `from_cache`.
4. Any other answer goes back as it came, with what storing it would take in a
   callback (`Response.on_body`). The worker streams its body within its own
   bounds (size cap, deadline, `crawler.fetching.body`), which calls it once the
   body is read whole: only such a body is stored, and only what
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
from functools import partial
from hashlib import blake2b
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from crawler.fetching import cache_policy, cache_store
from crawler.fetching.body import CHUNK
from crawler.fetching.transports.base import (
    BytesResponse,
    Headers,
    Request,
    Response,
    Transport,
)

KEY_BYTES = 16  # of the keyed hash: 128 bits tell entries apart
# Content-Encodings whose bytes are stored as they came: one coding, which
# crawler.fetching.body always decodes (br and zstd only with optional libraries).
WIRE_CODINGS = frozenset({"gzip", "x-gzip", "deflate"})
OWN_KEYS = 100_000  # keys a thread remembers storing in origins new to the file


class Pending:
    """What storing an answer will take, noted when it came; `wire`: the body's
    bytes as they came, when they are to be kept so."""

    __slots__ = ("key", "url", "use", "wire")

    def __init__(self, key: bytes | None, url: str, use: cache_policy.RequestUse) -> None:
        self.key, self.url, self.use = key, url, use
        self.wire: list[bytes] | None = None


def origin_of(url: str) -> str:
    """`scheme://host:port` of an absolute URL as it is sent, without
    any `user:password@` (a string cut: it is asked on every request)."""
    start = url.find("//") + 2
    end = url.find("/", start)
    netloc = url[start:] if end < 0 else url[start:end]
    return url[:start] + netloc.rpartition("@")[2]


def without_userinfo(url: str) -> str:
    """`url` without `user:password@` (and without a fragment, never sent)."""
    if "@" not in url and "#" not in url:  # nearly every URL: no parse
        return url
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
        # Of those, the ones that had no rows then, and the keys this thread stored
        # there: a request there is looked up only for one of those keys, so a first
        # run, which stores every page, asks the file nothing (a lookup that cannot
        # find anything cost ~10 us a page). Past OWN_KEYS keys, they are looked up.
        self.own_origins: set[str] = set()
        self.own_keys: set[bytes] = set()

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

    def request_key(self, request: Request) -> bytes:
        """MAC(method, URL as sent, identity headers): the only trace of who asked."""
        identity = cache_policy.identity_pairs(request.headers.pairs)
        return self._hash(request.method, request.url, *(f"{n}\0{v}" for n, v in identity))

    def vary_hash(self, vary: str, headers: Headers) -> bytes | None:
        if not vary:
            return None
        return self._hash(*(f"{name}\0{headers.get(name, '')}" for name in vary.split(",")))

    def send(self, request: Request, send_on: Callable[[Request], Response]) -> Response:
        """Answer `request` from the cache, or through `send_on` (the transport)."""
        if self.connection is None or request.method != "GET":
            return send_on(request)
        use = cache_policy.request_directives(request.headers)  # type: ignore[arg-type]
        if not use.read:
            return send_on(request)
        url = request.url
        if origin_of(url) not in self.origins:  # nothing stored there: no lookup, no key
            response = send_on(request)
            self._pending(response, Pending(None, url, use))
            return response
        key = self.request_key(request)
        if key not in self.own_keys and origin_of(url) in self.own_origins:
            response = send_on(request)  # only this thread's rows there, none of this key
            self._pending(response, Pending(key, url, use))
            return response
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
            headers = request.headers
            if entry.etag:
                headers = headers.replaced("If-None-Match", entry.etag)
            if entry.last_modified:
                headers = headers.replaced("If-Modified-Since", entry.last_modified)
            request = request._replace(headers=headers)
        response = send_on(request)
        if response.status == 304 and entry is not None:
            return self._revalidated(request, response, entry, now)
        self._pending(response, Pending(key, url, use))
        return response

    def _pending(self, response: Response, pending: Pending) -> None:
        """Store `response` once its body has been read whole within the bounds. A
        gzip body is kept as the wire sent it: its bytes are noted as they are read."""
        coding = (response.headers.get("Content-Encoding") or "").strip().lower()
        if coding in WIRE_CODINGS and not response.decoded:
            pending.wire = []
            read1 = response.read1

            def noted(size: int) -> bytes:
                data = read1(size)
                pending.wire.append(data)  # type: ignore[union-attr]
                return data

            response.read1 = noted  # type: ignore[method-assign]
        response.on_body.append(partial(self._store_quietly, pending))

    def _revalidated(
        self, request: Request, response: Response, entry: cache_store.Entry, now: float
    ) -> Response:
        """The stored answer, confirmed by `response` (a 304): its connection is
        handed back (the empty body read), and what the 304 changed is kept. The
        stored answer's `Date` goes with the 304 first, for the archive layer below,
        whose revisit record names it."""
        stored = entry.header_pairs()
        for name, value in stored:
            if name.lower() == "date":
                response.confirms_date = value
        try:
            while response.read1(CHUNK):  # the (empty) body read to its end
                pass
        finally:
            response.close()
        headers = cache_policy.merged_headers(stored, response.headers.pairs)
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
        request: Request,
        entry: cache_store.Entry,
        headers: list[tuple[str, str]],
        wire: Response | None,
        now: float,
    ) -> Response:
        """A 200 carrying the stored body. `wire`: the 304 that confirmed it, whose
        cookies still count (its `Set-Cookie` values go with the answer, for the
        fetch's jar); None when nothing was sent."""
        if wire is None and self.writable:
            try:
                cache_store.touch(self.connection, entry, now)
            except sqlite3.Error as error:
                self._failed(error)
        set_cookies = [] if wire is None else wire.headers.get_all("Set-Cookie")
        answer = BytesResponse(
            request,
            200,
            Headers([*headers, *(("Set-Cookie", value) for value in set_cookies)]),
            entry.stored_body(),
            reason="OK",
            peer=None if wire is None else wire.peer,
        )
        # A body kept as the wire sent it is decoded as one off the wire, within bounds.
        answer.decoded = entry.compressed != cache_store.WIRE
        answer.from_cache = True
        return answer

    def _store_quietly(self, pending: Pending, response: Response, body: bytes) -> None:
        """`store`, costing the saving, never the page, when the file fails."""
        with contextlib.suppress(sqlite3.Error, OSError, ValueError, TypeError):
            self.store(pending, response, body)

    def store(self, pending: Pending, response: Response, body: bytes) -> None:
        """Save `response` (read whole, as `body`) if the policy allows."""
        if self.connection is None or not self.writable:
            return
        headers = response.headers
        said = cache_policy.storage("GET", response.status, headers, pending.use)  # type: ignore[arg-type]
        if not said.store:
            return
        now = self.clock()
        vary = cache_policy.vary_names(headers)  # type: ignore[arg-type]
        key = pending.key or self.request_key(response.request)
        url = without_userinfo(pending.url)
        origin = origin_of(url)
        try:
            if origin not in self.origins:
                cache_store.add_origin(self.connection, origin)
                self.origins.add(origin)
                self.own_origins.add(origin)
            cache_store.save(
                self.connection,
                key,
                now,
                now + said.fresh_for if said.fresh_for else 0.0,
                headers.get("ETag"),
                headers.get("Last-Modified"),
                vary,
                self.vary_hash(vary, response.request.headers),
                origin,
                url,
                cache_policy.kept_headers(headers.pairs),
                *((b"".join(pending.wire), cache_store.WIRE) if pending.wire else (body,)),
            )
            if origin in self.own_origins:
                self.own_keys.add(key)
                if len(self.own_keys) > OWN_KEYS:  # memory stays flat: look them up
                    self.own_origins.clear()
                    self.own_keys.clear()
        except sqlite3.Error as error:
            self._failed(error)


class CacheLayer:
    """The cache as a layer: a transport whose requests `cache` answers first
    (see the module's docstring), sending on through `inner`."""

    def __init__(self, inner: Transport, cache: HttpCache) -> None:
        self.inner = inner
        self.cache = cache

    def send(self, request: Request) -> Response:
        return self.cache.send(request, self.inner.send)

    def close(self) -> None:
        self.inner.close()
        self.cache.close()


def open_cache(path: Path) -> HttpCache | None:
    """This thread's cache at `path` (made if missing), or None when the file cannot
    be used (the run then fetches everything in full; the main process has already
    warned about it, see `crawler.fetching.cache_upkeep`)."""
    try:
        return HttpCache(path)
    except (cache_store.Unusable, sqlite3.Error, OSError):
        return None
