"""What the HTTP cache may keep, and whose it is: pure decisions, no I/O.

`crawl` is a private cache (RFC 9111 §3): only its own runs read it back, so a
`private` answer may be stored. What it decides, in this order:

1. Whose request (`identity_pairs`): every request header that can say who is
   asking, or change what is answered, is part of the entry's key, through a keyed
   hash only (`crawler.fetching.httpcache`): `Authorization`, `Cookie`,
   `Proxy-Authorization`, an API key header, `Accept-Language`... Only the
   headers of `BENIGN_HEADERS` are left out: they are the same on every request a
   crawl sends, or are the cache's own. One identity's entry is never another's.
2. Whether the request may use the cache at all (`request_directives`): a request
   that says `Cache-Control: no-store` neither reads nor writes it; `no-cache`
   (or `Pragma: no-cache`, or `max-age=0`) never takes a stored page unasked.
3. Whether an answer is stored (`storage`), first rule that applies:
   - not a `200` to a `GET`: not stored;
   - `Cache-Control: no-store` on the request or the answer: not stored;
   - `Vary: *`: not stored (no later request can match it);
   - a validator (`ETag` or `Last-Modified`): stored, and asked again with
     `If-None-Match` / `If-Modified-Since` on every later run (a cron crawl wants
     to see changes; a `304` costs a few hundred bytes);
   - no validator, but a freshness lifetime (`max-age`, or `Expires` past `Date`),
     and no `no-cache`: stored, and served unasked until it expires;
   - otherwise: not stored (nothing would make it usable again).
4. What of the answer is kept (`kept_headers`): every header but `Set-Cookie`
   (a session is the cookie jar's business, never the file's).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import NamedTuple

# Request headers that are not part of an entry's key. Each is here for a reason a
# test pins (tests/test_cache_policy.py); any header not named here is keyed.
BENIGN_HEADERS: Mapping[str, str] = {
    "user-agent": "the same on every request of a run; a new crawl version must not empty "
    "the cache (a site that varies by it says Vary: User-Agent)",
    "accept-encoding": "transfer detail: a stored body is served decoded",
    "connection": "transport detail",
    "keep-alive": "transport detail",
    "te": "transport detail",
    "host": "the URL already says it",
    "content-length": "a GET has no body",
    "if-none-match": "the cache's own conditional request",
    "if-modified-since": "the cache's own conditional request",
    "cache-control": "read as a directive to the cache, not as who asks",
    "pragma": "read as a directive to the cache, not as who asks",
}
# Headers that must never reach the file. (No request header does: only keyed
# hashes of their values are written.)
UNKEPT_RESPONSE_HEADERS = frozenset({"set-cookie", "set-cookie2"})


def identity_pairs(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (lower-cased name, value) pairs of the request headers that say whose the
    answer is: all but `BENIGN_HEADERS`, sorted so that order does not matter."""
    return sorted(
        (name.lower(), value) for name, value in headers if name.lower() not in BENIGN_HEADERS
    )


def directives(value: str | None) -> dict[str, str]:
    """A `Cache-Control` value as {directive: argument}; names lower-cased, quotes
    and spaces dropped (`max-age=60, private` -> {"max-age": "60", "private": ""})."""
    if not value:
        return {}
    found: dict[str, str] = {}
    for part in value.split(","):
        name, _, argument = part.partition("=")
        name = name.strip().lower()
        if name:
            found.setdefault(name, argument.strip().strip('"'))
    return found


class RequestUse(NamedTuple):
    """What a request lets the cache do: `read` a stored page (or revalidate one),
    `store` its answer, take a stored page `unasked` while it is fresh."""

    read: bool
    store: bool
    unasked: bool


USE_ALL = RequestUse(True, True, True)


def request_directives(headers: Mapping[str, str]) -> RequestUse:
    """What the request's own `Cache-Control` / `Pragma` allow (step 2)."""
    control = headers.get("Cache-Control")
    pragma = headers.get("Pragma")
    if not control and not pragma:
        return USE_ALL
    said = directives(control)
    if "no-store" in said:
        return RequestUse(False, False, False)
    no_cache = "no-cache" in said or said.get("max-age") == "0"
    no_cache = no_cache or (not control and "no-cache" in (pragma or "").lower())
    return RequestUse(True, True, not no_cache)


def _seconds(text: str | None) -> int | None:
    if text is None or not text.strip().isdigit():
        return None
    return int(text.strip())


def _timestamp(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def freshness_lifetime(headers: Mapping[str, str]) -> float:
    """Seconds the answer stays fresh, less its `Age` (RFC 9111 §4.2.1): `max-age`,
    else `Expires` less `Date`; 0 when neither says (no heuristic freshness: a
    crawl would rather ask)."""
    said = directives(headers.get("Cache-Control"))
    lifetime: float | None = _seconds(said.get("max-age")) if "max-age" in said else None
    if lifetime is None and headers.get("Expires") is not None:
        expires = _timestamp(headers.get("Expires"))
        date = _timestamp(headers.get("Date"))
        lifetime = 0.0 if expires is None or date is None else expires - date
    age = _seconds(headers.get("Age")) or 0
    return max(0.0, (lifetime or 0.0) - age)


class Storage(NamedTuple):
    """Whether to store an answer, and for how long it may be served unasked
    (0: asked again every time, with its validators)."""

    store: bool
    fresh_for: float = 0.0
    why: str = ""


def storage(method: str, status: int, headers: Mapping[str, str], use: RequestUse) -> Storage:
    """Step 3 of the module's docstring, for an answer's status and headers."""
    if method != "GET" or status != 200:
        return Storage(False, why="only a 200 to a GET")
    said = directives(headers.get("Cache-Control"))
    if "no-store" in said or not use.store:
        return Storage(False, why="no-store")
    if (headers.get("Vary") or "").strip() == "*":
        return Storage(False, why="Vary: *")
    if headers.get("ETag") or headers.get("Last-Modified"):
        return Storage(True, why="validator")
    if "no-cache" in said:
        return Storage(False, why="no-cache without a validator")
    lifetime = freshness_lifetime(headers)
    if lifetime > 0:
        return Storage(True, lifetime, why="fresh")
    return Storage(False, why="neither a validator nor a lifetime")


def vary_names(headers: Mapping[str, str]) -> str:
    """The request headers the answer varies on, lower-cased and sorted, joined by
    commas ("" when none): stored with the entry, which then serves only a request
    whose values of those headers hash the same."""
    value = headers.get("Vary") or ""
    return ",".join(sorted({name.strip().lower() for name in value.split(",") if name.strip()}))


def kept_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The answer's headers as stored: all but `UNKEPT_RESPONSE_HEADERS`."""
    return [(name, value) for name, value in headers if name.lower() not in UNKEPT_RESPONSE_HEADERS]


# A 304 updates the stored headers with its own (RFC 9111 §4.3.4), except these,
# which describe the stored body, not the answer that confirmed it.
_BODY_HEADERS = frozenset(
    {"content-length", "content-encoding", "transfer-encoding", "content-type", "content-range"}
)


def merged_headers(
    stored: Iterable[tuple[str, str]], not_modified: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The stored headers updated by a `304`'s (its `Set-Cookie` left out)."""
    update = [
        (name, value)
        for name, value in kept_headers(not_modified)
        if name.lower() not in _BODY_HEADERS
    ]
    replaced = {name.lower() for name, _ in update}
    return [(n, v) for n, v in stored if n.lower() not in replaced] + update
