"""Fetch one URL: the policy of a worker, apart from how the worker is run and
from how a request reaches the site (`crawler.fetching.transports`).

The layers, outside in, each knowing nothing of which transport runs:
1. retries (`fetch`): what `crawler.fetching.retry` says is worth another attempt;
2. the attempt's bounds (`fetch_once`): one attempt connects, sends the request,
   follows up to `max_redirects` redirects hop by hop and streams the body, all
   within `timeout` seconds (a server that trickles its answer fails as a
   timeout); bodies are cut off past `max_bytes`, counted after content decoding
   (`crawler.fetching.body`), so a small gzip body that inflates past the cap
   stops there;
3. the hops (`open_final`): each hop's headers, credentials and cookies, its
   address guard and scope, its exact target (`crawler.fetching.exact_target`),
   and where a redirect leads (`next_hop`);
4. the cache (`crawler.fetching.httpcache.CacheLayer`), when the run has one;
5. the transport (`make_transport`: HTTP, `crawler.fetching.transports.wire`).
`fetch` always returns a `Page` or a `Failure`, whose reason the transport words
(`TransportError`) or this module does; it never raises for anything a server or
network does.

A fetch with a `FetchPolicy` (a URL the crawl found) is checked at every hop:
a redirect the policy's scope does not allow is not requested (`redirected off
scope to HOST`), and with `guard_private` each hop outside `exempt_origin` is a
guarded request (`Request.guarded`: the transport refuses an address that is not
global before connecting, `crawler.fetching.address_guard`). Without a policy (a
listed URL) redirects go anywhere and no address is checked.

A redirect's `Location` is resolved as a browser resolves it (WHATWG,
`crawler.page.resolve`), and the next hop is sent exactly as resolved. A
`Location` a browser rejects ends the fetch: `redirect to an invalid URL`, and
nothing more is requested.

What each hop carries is decided for that hop's URL alone
(`crawler.fetching.credentials`): the headers and cookies bound to its origin, the
`user:password@` of the URL given (sent as `Authorization`, never in the URL, and
only to that origin), and the cookies of the fetch's jar that RFC 6265 gives it
(`crawler.fetching.cookies`). A hop to another scheme, host or port gets nothing
bound to the first. A `user:password@` in a `Location` is dropped, not used.
The `Set-Cookie` values received on the way come back with the result
(`cookies`), for the run's jar; they are not left in `headers`.
"""

from __future__ import annotations

import _signal
import contextlib
import importlib
import itertools
import os
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from http.cookiejar import CookieJar
from typing import NamedTuple

from crawler.fetching import cookies
from crawler.fetching.address_guard import AddressGuard
from crawler.fetching.body import ACCEPT_ENCODING, CHUNK, TooLarge, read_body
from crawler.fetching.credentials import Credentials, request_headers, split_userinfo, with_rule
from crawler.fetching.exact_target import is_exact, target_of
from crawler.fetching.retry import (
    GIVEN_BACK,
    RETRY_STATUSES,
    RetryWait,
    TransientError,
)
from crawler.fetching.tls import extra_trust
from crawler.fetching.transports.base import Headers, Request, Response, Transport, TransportError
from crawler.model import Failure, FetchPolicy, Page, Result
from crawler.page.decode import choose_encoding
from crawler.page.media_type import is_text
from crawler.page.resolve import resolve
from crawler.retry_after import parse_retry_after
from crawler.settings import FetchSettings
from crawler.urls import host_key, redact_url

REDIRECT_BODY = 64 * 1024  # a redirect's body read to keep its connection; more: closed
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
SLOW_DOWN = frozenset({"HTTP 429", "HTTP 503"})  # answers that mark a host as throttling us
INVALID_REDIRECT = "redirect to an invalid URL"


class AttemptDeadline(BaseException):
    """Raised by a timer into a blocked attempt. A BaseException so that no library's
    `except Exception` on the way up can swallow it."""


class InvalidRedirect(Exception):
    """A redirect's `Location` that a browser rejects."""


def make_transport(
    settings: FetchSettings, pool_size: int = 16, guard: AddressGuard | None = None
) -> Transport:
    """The transport a worker's thread fetches through: HTTP (connections reused
    across its fetches; guarded ones made through `guard`, the system resolver by
    default), or the archives of `--replay` (`settings.replay_index`); inside the
    archive layer with `--warc` (`settings.archive`: it sees what went over the
    wire, a 304 included), inside the HTTP cache's layer with `settings.cache_path`
    (left out when its file cannot be used)."""
    transport: Transport
    if settings.replay_index is not None:
        from crawler.fetching.transports.replay import ReplayTransport

        transport = ReplayTransport(settings.replay_index)  # type: ignore[arg-type]
    else:
        module = importlib.import_module(http_transport_module())
        transport = module.TRANSPORT(guard, pool_size, extra_trust(os.environ, settings.ca_bundle))
    if settings.archive:
        from crawler.fetching.archiving import ArchivingTransport

        transport = ArchivingTransport(transport, settings.secret_headers)
    if settings.cache_path:
        from crawler.fetching.httpcache import CacheLayer, open_cache  # sqlite3: when asked

        cache = open_cache(settings.cache_path)
        if cache is not None:
            transport = CacheLayer(transport, cache)
    return transport


def http_transport_module() -> str:
    """The module of the HTTP transport (its class: `TRANSPORT`): this crawl's own
    (`crawler.fetching.transports.wire`), or requests' when the environment names
    a proxy or a `.netrc`, which requests honours (`crawler.fetching.transports.http`)."""
    from crawler.fetching.transports.wire import proxied_environment

    if proxied_environment():
        return "crawler.fetching.transports.http"
    return "crawler.fetching.transports.wire"


def attempt_deadline(seconds: float) -> AbstractContextManager[None]:
    """Interrupt the block after `seconds`, even inside a blocking read.

    Uses a real-time timer signal, which only the main thread can receive; in other
    threads (a Dask worker's) the body loop's own deadline check is the bound."""
    return _Deadline(seconds)


def _expire(signum: int, frame: object) -> None:
    raise AttemptDeadline()


class _Deadline:
    """`attempt_deadline`'s timer: armed on entry in the main thread, the previous
    SIGALRM handler put back on exit. Through `_signal`, the functions `signal`
    wraps, without the enum conversions that made up most of a fetch's ~10 us here."""

    __slots__ = ("armed", "previous", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.armed = False
        self.previous: object = None

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self.previous = _signal.signal(_signal.SIGALRM, _expire)
            self.armed = True
            _signal.setitimer(_signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exception: object) -> None:
        if self.armed:
            _signal.setitimer(_signal.ITIMER_REAL, 0)
            previous = self.previous
            _signal.signal(_signal.SIGALRM, _signal.SIG_DFL if previous is None else previous)


def hop_headers(user_agent: str, carried: dict[str, str]) -> Headers:
    """The headers of one request: the crawl's own (as requests sends them), with
    what the hop carries (`carried`) replacing any of the same name, in any case,
    in its place, and the rest after them."""
    own = (
        ("User-Agent", user_agent),
        ("Accept-Encoding", ACCEPT_ENCODING),
        ("Accept", "*/*"),
        ("Connection", "keep-alive"),
    )
    if not carried:
        return Headers(own)
    rest = {name.lower(): (name, value) for name, value in carried.items()}
    pairs = [rest.pop(name.lower(), (name, value)) for name, value in own]
    return Headers([*pairs, *rest.values()])


def send(
    transport: Transport,
    url: str,
    policy: FetchPolicy | None,
    headers: Headers,
    deadline: float,
) -> Response:
    """One request for `url`, not following a redirect: guarded when the policy asks
    for the guard and `url` is not of the exempt origin; sent exactly as spelled
    when it can be (`crawler.fetching.exact_target`)."""
    guarded = policy is not None and policy.guard_private and host_key(url) != policy.exempt_origin
    return transport.send(
        Request(
            url,
            headers,
            target_of(url) if is_exact(url) else None,
            timeout=max(deadline - time.monotonic(), 0.001),
            guarded=guarded,
        )
    )


def next_hop(response: Response) -> str | None:
    """Where a redirect sends the fetch next, resolved as a browser resolves it (the
    fragment of the URL it came from kept when the `Location` has none), or None
    when `response` is not a redirect; InvalidRedirect for a `Location` a browser
    rejects. The header is read as UTF-8, as browsers and requests read it."""
    if response.status not in REDIRECT_STATUSES:
        return None
    location = response.headers.get("Location")
    if location is None:
        return None
    with contextlib.suppress(UnicodeError):  # not UTF-8: the characters as they came
        location = location.encode("latin-1").decode("utf-8")
    target = resolve(response.url, location)
    if target is None:
        raise InvalidRedirect(location)
    fragment = response.url.partition("#")[2]
    if fragment and "#" not in target:
        target += "#" + fragment
    return target


def drain(response: Response) -> None:
    """Read a redirect's (small) body so that its connection is reused; close it
    instead when the body is larger than `REDIRECT_BODY` or broken (nobody reads
    it, so a broken one does not fail the fetch, as in a browser)."""
    try:
        read = 0
        while read <= REDIRECT_BODY and (chunk := response.read1(CHUNK)):
            read += len(chunk)
    except TransportError:
        pass
    finally:
        response.close()


class Carried(NamedTuple):
    """What one fetch carries from hop to hop, and across its attempts: the
    credentials bound to origins, its cookie jar, and the `(URL, Set-Cookie)`
    pairs received so far."""

    credentials: Credentials | None
    jar: CookieJar
    received: list[tuple[str, str]]


def open_final(
    transport: Transport,
    url: str,
    settings: FetchSettings,
    policy: FetchPolicy | None,
    deadline: float,
    carried: Carried | None = None,
) -> tuple[Response, tuple[str, ...]] | Failure:
    """Send `url`, then each redirect hop, and return the first answer that is not
    a redirect with the URL of each hop after the first; or the Failure that ended
    the chain (too many redirects, a hop off the policy's scope, a `Location` a
    browser rejects). Each hop's headers are decided for that hop (see the
    module's docstring)."""
    carried = carried or Carried(None, cookies.new_jar(), [])
    hops: list[str] = []  # the URL of each answer after the first
    current = url
    for sent in itertools.count():
        jar_cookies = cookies.cookie_header(carried.jar, current)
        extra = request_headers(current, carried.credentials, jar_cookies)
        headers = hop_headers(settings.user_agent, extra)
        response = send(transport, current, policy, headers, deadline)
        set_cookies = cookies.received(response)
        if set_cookies:
            cookies.absorb(carried.jar, current, set_cookies)
            carried.received.extend((current, value) for value in set_cookies)
        if sent:
            hops.append(response.url)
        try:
            target = next_hop(response)
        except InvalidRedirect:
            response.close()
            return Failure(url, INVALID_REDIRECT, 1)
        if target is None:
            return response, tuple(hops)
        drain(response)
        if len(hops) >= settings.max_redirects:
            return Failure(url, f"too many redirects ({settings.max_redirects})", 1)
        target = redact_url(target)  # a server's `user:password@` is not ours to send
        if policy is not None and policy.scope is not None and not policy.scope.allows(target):
            return Failure(url, f"redirected off scope to {host_key(target).split('://')[1]}", 1)
        current = target
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns


def fetch_once(
    transport: Transport,
    url: str,
    settings: FetchSettings,
    policy: FetchPolicy | None = None,
    carried: Carried | None = None,
    give_back: bool = False,
) -> Result:
    """One attempt. Returns a Page or a final Failure; raises TransientError for a
    failure worth another attempt. `url` holds no `user:password@` (see `fetch`).
    With `give_back`, a 429 or 503 is a final Failure carrying its status and
    `Retry-After`, and a page carries its time to first byte (`ttfb`)."""
    started = time.monotonic()
    deadline = started + settings.timeout
    try:
        with attempt_deadline(settings.timeout):
            opened = open_final(transport, url, settings, policy, deadline, carried)
            answered = time.monotonic()  # the final answer's headers are in
            if isinstance(opened, Failure):
                return opened
            response, redirects = opened
            try:
                status = response.status
                if give_back and status in GIVEN_BACK:
                    after = response.headers.get("Retry-After") or ""
                    return Failure(url, f"HTTP {status}", 1, True, status=status, retry_after=after)
                if status in RETRY_STATUSES:
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    raise TransientError(f"HTTP {status}", retry_after)
                if not 200 <= status < 300:
                    return Failure(url, f"HTTP {status}", 1)
                declared = response.headers.get("Content-Length") or ""
                if declared.isdigit() and int(declared) > settings.max_bytes:
                    return Failure(url, f"larger than {settings.max_bytes} bytes", 1)
                body = read_body(response, settings.max_bytes, deadline)
            finally:
                response.close()
    except AttemptDeadline:
        raise TransientError("timed out") from None
    except TooLarge as error:
        return Failure(url, str(error), 1)
    except TransportError as error:
        if error.transient:
            raise TransientError(error.reason) from None
        return Failure(url, error.reason, 1)
    page = page_of(url, response, body, redirects, settings.raw_body)
    if give_back and not response.from_cache:
        page = page._replace(ttfb=answered - started)
    return page


def page_of(
    url: str, response: Response, body: bytes, redirects: tuple[str, ...], raw: bool
) -> Page:
    """The Page of an answer read whole: its text decoded as a browser decodes it
    (`raw`: the bytes themselves as latin-1, whatever the type: a sitemap, maybe gzip)."""
    content_type = response.headers.get("Content-Type") or ""
    encoding = "utf-8"
    if raw:
        text, size = body.decode("latin-1"), len(body)
    elif is_text(content_type):
        encoding, skip = choose_encoding(body, content_type)
        text: str | None = body[skip:].decode(encoding, errors="replace")
        size = len(text)
    else:
        text, size = None, len(body)
    return Page(
        url,
        response.status,
        content_type,
        text,
        size,
        len(body),
        1,
        cached=response.from_cache,
        final_url=response.url if redirects else "",
        redirects=redirects,
        headers=tuple(
            sorted(
                (name, value)
                for name, value in response.headers.joined().items()
                if name != "set-cookie"  # secrets: they come back in `cookies`
            )
        ),
        encoding=encoding,
    )


def fetch(
    transport: Transport,
    url: str,
    settings: FetchSettings,
    policy: FetchPolicy | None = None,
    credentials: Credentials | None = None,
    give_back: bool = False,
) -> Result:
    """Fetch `url` through `transport` with retries, checked by `policy`, carrying
    what `credentials` bind to each hop's origin (see the module's docstring).
    Always returns: a Page, or a Failure whose reason says what went wrong (`timed
    out after 3 attempts`, `HTTP 404`...). The result is marked `throttled` if any
    attempt got 429 or 503, so the scheduler can slow down for that host. A
    `user:password@` in `url` is taken out of it and bound to its origin; the
    result's URL is the URL without it.

    `give_back` (the crawl's workers): a 429 or 503 is not retried here but
    returned at once, as a Failure with its `status` and `Retry-After`, and a
    page comes with its time to first byte, for the site's rate. Saying
    "slow down" is about the whole site, not this URL: the frontier pauses the
    site and lowers its rate for every worker, and sends the URL again after the
    pause (`crawler.frontier.politeness`), up to the same number of attempts.
    Retrying here would wait in one worker while the others keep pressing the
    site."""
    url, userinfo = split_userinfo(url)
    credentials = with_rule(credentials, userinfo)
    jar = cookies.new_jar(credentials.cookies if credentials is not None else ())
    carried = Carried(credentials, jar, [])
    attempt = partial(fetch_once, transport, url, settings, policy, carried, give_back)
    try:
        # Most fetches end at their first attempt, made without the retry machinery.
        result, attempts, throttled = attempt(), 1, False
    except TransientError as error:
        result, attempts, throttled = retried(attempt, error, settings)
    if isinstance(result, TransientError):
        unit = "attempt" if attempts == 1 else "attempts"
        throttled = throttled or result.reason in SLOW_DOWN
        reason = f"{result.reason} after {attempts} {unit}"
        return Failure(url, reason, attempts, throttled, tuple(carried.received))
    throttled = throttled or result.throttled
    return result._replace(attempts=attempts, throttled=throttled, cookies=tuple(carried.received))


def retried(
    attempt: Callable[[], Result], first: TransientError, settings: FetchSettings
) -> tuple[Result | TransientError, int, bool]:
    """The attempts after a first one that failed with `first`, through tenacity
    (`crawler.fetching.retry`: what to retry, how long to wait, up to
    `settings.attempts` in all, the first included): the last attempt's result or
    error, how many attempts were made, and whether a wait followed a 429 or 503."""
    from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

    throttled = False

    def note_throttle(state: RetryCallState) -> None:
        nonlocal throttled
        error = state.outcome.exception() if state.outcome else None
        throttled = throttled or getattr(error, "reason", None) in SLOW_DOWN

    retrying = Retrying(
        stop=stop_after_attempt(settings.attempts),
        wait=RetryWait(settings),
        retry=retry_if_exception_type(TransientError),
        before_sleep=note_throttle,
        reraise=True,
    )
    attempts = 0
    try:
        for each in retrying:
            with each:
                attempts = each.retry_state.attempt_number
                if attempts == 1:
                    raise first  # made already: tenacity decides what follows it
                result = attempt()
    except TransientError as error:
        return error, attempts, throttled
    return result, attempts, throttled
