"""Fetch one URL: the policy of a worker, apart from how the worker is run.

One attempt connects, sends the request, follows up to `max_redirects` redirects
hop by hop and streams the body, all within `timeout` seconds (a server that
trickles its answer fails as a timeout). Bodies are cut off past `max_bytes`,
counted after content decoding, so a small gzip body that inflates past the cap
stops there. `fetch` retries what `crawler.fetching.retry` says is worth it and always
returns a `Page` or a `Failure`, whose reason `crawler.fetching.reasons` words; it never
raises for anything a server or network does.

A fetch with a `FetchPolicy` (a URL the crawl found) is checked at every hop:
a redirect the policy's scope does not allow is not requested (`redirected off
scope to HOST`), and with `guard_private` each hop outside `exempt_origin` goes
over guarded connections (`crawler.fetching.address_guard`), which refuse an address that
is not global before connecting. Without a policy (a listed URL) redirects go
anywhere and no address is checked.

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

import itertools
import os
import signal
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from http.cookiejar import CookieJar
from typing import NamedTuple
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.utils import requote_uri
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from crawler.fetching import cookies, reasons
from crawler.fetching.address_guard import AddressGuard
from crawler.fetching.credentials import Credentials, request_headers, split_userinfo, with_rule
from crawler.fetching.exact_target import is_exact
from crawler.fetching.retry import (
    GIVEN_BACK,
    RETRY_STATUSES,
    RetryWait,
    TransientError,
    parse_retry_after,
)
from crawler.fetching.tls import Trust, extra_trust
from crawler.fetching.transport import Transport
from crawler.model import Failure, FetchPolicy, Page, Result
from crawler.page.decode import choose_encoding
from crawler.page.media_type import is_text
from crawler.settings import FetchSettings
from crawler.urls import host_key, redact_url

CHUNK = 64 * 1024
REDIRECT_BODY = 64 * 1024  # a redirect's body read to keep its connection; more: closed
SLOW_DOWN = frozenset({"HTTP 429", "HTTP 503"})  # answers that mark a host as throttling us


class TooLarge(Exception):
    """The body is over the size cap."""


class AttemptDeadline(BaseException):
    """Raised by a timer into a blocked attempt. A BaseException so that no library's
    `except Exception` on the way up can swallow it."""


def from_cache(response: requests.Response) -> bool:
    """Whether the body is the HTTP cache's (a 304, or still fresh), not on the wire."""
    return bool(getattr(response, "from_cache", False))


def read_environment_once(session: requests.Session) -> None:
    """Take from the environment, once, what requests would look up on every request.

    With `trust_env` on, each request scans the environment for proxy variables,
    looks for a `.netrc` file and reads `REQUESTS_CA_BUNDLE`/`CURL_CA_BUNDLE`: about
    a quarter of a worker's CPU per page. A worker's environment does not change
    during a run, so when no proxy and no `.netrc` is set up, the CA bundle (if
    any) is set on the session and the per-request lookups are turned off, which
    fetches exactly as before. With a proxy or a `.netrc`, requests keeps doing it
    per request (`NO_PROXY` is decided per URL)."""
    netrc = os.environ.get("NETRC")
    netrc_places = [netrc] if netrc else ["~/.netrc", "~/_netrc"]
    if urllib.request.getproxies() or any(
        os.path.exists(os.path.expanduser(place)) for place in netrc_places
    ):
        return
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False


def make_session(
    settings: FetchSettings, pool_size: int = 16, guard: AddressGuard | None = None
) -> requests.Session:
    """A session whose connections are reused across a worker's fetches, through
    the worker's `Transport` (urllib3's retries off: tenacity in `fetch` is the one
    retry layer; guarded connections on demand, made through `guard`, the system
    resolver by default). With `settings.cache_path`, every request goes through
    the HTTP cache (`session.cache`; None without one, or when its file cannot be
    used)."""
    session = requests.Session()
    session.cache = None  # type: ignore[attr-defined]
    if settings.cache_path:
        from crawler.fetching.httpcache import open_cache  # sqlite3: only when asked for

        session.cache = open_cache(settings.cache_path)  # type: ignore[attr-defined]
    read_environment_once(session)
    trust = Trust(extra_trust(os.environ, settings.ca_bundle))
    transport = Transport(trust, guard, pool_size, session.cache)
    session.mount("http://", transport)
    session.mount("https://", transport)
    session.max_redirects = settings.max_redirects
    session.headers["User-Agent"] = settings.user_agent
    session.cookies = cookies.no_cookies()  # each fetch's own jar decides (see the docstring)
    return session


@contextmanager
def attempt_deadline(seconds: float) -> Iterator[None]:
    """Interrupt the block after `seconds`, even inside a blocking read.

    Uses a real-time timer signal, which only the main thread can receive; in other
    threads (a Dask worker's) the body loop's own deadline check is the bound."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise AttemptDeadline()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def read_body(raw: urllib3.BaseHTTPResponse, max_bytes: int, deadline: float) -> bytes:
    """The decoded body; TransientError past the deadline, TooLarge past the cap.

    `read1` returns after at most one socket read, so the deadline is checked at
    least once per `timeout`."""
    chunks: list[bytes] = []
    total = 0
    while chunk := raw.read1(CHUNK, decode_content=True):
        total += len(chunk)
        if total > max_bytes:
            raise TooLarge(f"larger than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise TransientError("timed out")
        chunks.append(chunk)
    return b"".join(chunks)


def send(
    session: requests.Session,
    url: str,
    policy: FetchPolicy | None,
    headers: dict[str, str],
    deadline: float,
) -> requests.Response:
    """One request for `url`, not following a redirect; over guarded connections
    when the policy asks for the guard and `url` is not of the exempt origin."""
    guarded = policy is not None and policy.guard_private and host_key(url) != policy.exempt_origin
    adapter = session.get_adapter(url)
    if guarded and not isinstance(adapter, Transport):
        raise RuntimeError("the address guard needs crawler.fetching.transport.Transport")
    timeout = max(deadline - time.monotonic(), 0.001)
    request = session.prepare_request(requests.Request("GET", url, headers=headers))
    if is_exact(url):
        request.url = url  # as resolved, not as requote_uri re-spells it
    settings = session.merge_environment_settings(request.url, {}, True, None, None)
    with adapter.guarding() if guarded else nullcontext():
        return session.send(request, timeout=timeout, allow_redirects=False, **settings)


def next_hop(session: requests.Session, response: requests.Response) -> str | None:
    """Where a redirect sends the fetch next (absolute, the fragment kept as
    requests keeps it), or None when `response` is not a redirect."""
    location = session.get_redirect_target(response)
    if location is None:
        return None
    target = requote_uri(urljoin(response.url, location))
    fragment = urlsplit(response.url).fragment
    if fragment and not urlsplit(target).fragment:
        target += "#" + fragment
    return target


def drain(response: requests.Response, deadline: float) -> None:
    """Read a redirect's (small) body so that its connection is reused; close it
    instead when the body is larger than `REDIRECT_BODY` or broken (nobody reads
    it, so a broken one does not fail the fetch: requests ignores it too)."""
    try:
        read_body(response.raw, REDIRECT_BODY, deadline)
    except (TooLarge, urllib3.exceptions.HTTPError, requests.RequestException, OSError):
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
    session: requests.Session,
    url: str,
    settings: FetchSettings,
    policy: FetchPolicy | None,
    deadline: float,
    carried: Carried | None = None,
) -> tuple[requests.Response, tuple[str, ...]] | Failure:
    """Send `url`, then each redirect hop, and return the first answer that is not
    a redirect with the URL of each hop after the first; or the Failure that ended
    the chain (too many redirects, a hop off the policy's scope). Each hop's
    headers are decided for that hop (see the module's docstring)."""
    carried = carried or Carried(None, cookies.new_jar(), [])
    hops: list[str] = []  # as requests prepared them: the URL of each answer after the first
    current = url
    for sent in itertools.count():
        jar_cookies = cookies.cookie_header(carried.jar, current)
        headers = request_headers(current, carried.credentials, jar_cookies)
        response = send(session, current, policy, headers, deadline)
        set_cookies = cookies.received(response)
        if set_cookies:
            cookies.absorb(carried.jar, current, set_cookies)
            carried.received.extend((current, value) for value in set_cookies)
        if sent:
            hops.append(response.url)
        target = next_hop(session, response)
        if target is None:
            return response, tuple(hops)
        drain(response, deadline)
        if len(hops) >= settings.max_redirects:
            return Failure(url, f"too many redirects ({settings.max_redirects})", 1)
        target = redact_url(target)  # a server's `user:password@` is not ours to send
        if policy is not None and policy.scope is not None and not policy.scope.allows(target):
            return Failure(url, f"redirected off scope to {host_key(target).split('://')[1]}", 1)
        current = target
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns


def fetch_once(
    session: requests.Session,
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
    deadline = time.monotonic() + settings.timeout
    response = body = None
    try:
        with attempt_deadline(settings.timeout):
            opened = open_final(session, url, settings, policy, deadline, carried)
            if isinstance(opened, Failure):
                return opened
            response, redirects = opened
            try:
                status = response.status_code
                if give_back and status in GIVEN_BACK:
                    after = response.headers.get("Retry-After", "")
                    return Failure(url, f"HTTP {status}", 1, True, status=status, retry_after=after)
                if status in RETRY_STATUSES:
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    raise TransientError(f"HTTP {status}", retry_after)
                if not 200 <= status < 300:
                    return Failure(url, f"HTTP {status}", 1)
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > settings.max_bytes:
                    return Failure(url, f"larger than {settings.max_bytes} bytes", 1)
                if from_cache(response):  # a 304 or still fresh: nothing to stream
                    body = response.content
                    if len(body) > settings.max_bytes:
                        raise TooLarge(f"larger than {settings.max_bytes} bytes")
                else:
                    try:
                        body = read_body(response.raw, settings.max_bytes, deadline)
                    except (urllib3.exceptions.ProtocolError, ConnectionError):
                        # urllib3 reports a short or malformed body as a broken connection.
                        raise TransientError("body cut short") from None
            finally:
                response.close()
    except AttemptDeadline:
        raise TransientError("timed out") from None
    except TransientError:
        raise
    except TooLarge as error:
        return Failure(url, str(error), 1)
    except reasons.KNOWN as error:
        reason = reasons.explain(error)
        if reason is None:
            raise
        if reason.transient:
            raise TransientError(reason.text) from None
        return Failure(url, reason.text, 1)
    finally:
        if getattr(session, "cache", None) is not None:  # only a cached session stores
            from crawler.fetching.httpcache import store

            store(session, response, body)  # only a body read within the bounds is kept
    content_type = response.headers.get("Content-Type", "")
    encoding = "utf-8"
    if settings.raw_body:  # the bytes themselves, whatever the type (a sitemap, maybe gzip)
        text, size = body.decode("latin-1"), len(body)
    elif is_text(content_type):
        encoding, skip = choose_encoding(body, content_type)
        text: str | None = body[skip:].decode(encoding, errors="replace")
        size = len(text)
    else:
        text, size = None, len(body)
    return Page(
        url,
        status,
        content_type,
        text,
        size,
        len(body),
        1,
        cached=from_cache(response),
        final_url=response.url if redirects else "",
        redirects=redirects,
        headers=tuple(
            sorted(
                (name.lower(), value)
                for name, value in response.headers.items()
                if name.lower() != "set-cookie"  # secrets: they come back in `cookies`
            )
        ),
        encoding=encoding,
        ttfb=response.elapsed.total_seconds() if give_back and not from_cache(response) else 0.0,
    )


def fetch(
    session: requests.Session,
    url: str,
    settings: FetchSettings,
    policy: FetchPolicy | None = None,
    credentials: Credentials | None = None,
    give_back: bool = False,
) -> Result:
    """Fetch `url` with retries, checked by `policy`, carrying what `credentials`
    bind to each hop's origin (see the module's docstring). Always returns: a
    Page, or a Failure whose reason says what went wrong (`timed out after 3
    attempts`, `HTTP 404`...). The result is marked `throttled` if any attempt got
    429 or 503, so the scheduler can slow down for that host. A `user:password@`
    in `url` is taken out of it and bound to its origin; the result's URL is the
    URL without it.

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
        for attempt in retrying:
            with attempt:
                attempts = attempt.retry_state.attempt_number
                result = fetch_once(session, url, settings, policy, carried, give_back)
    except TransientError as error:
        unit = "attempt" if attempts == 1 else "attempts"
        throttled = throttled or error.reason in SLOW_DOWN
        reason = f"{error.reason} after {attempts} {unit}"
        return Failure(url, reason, attempts, throttled, tuple(carried.received))
    throttled = throttled or result.throttled
    return result._replace(attempts=attempts, throttled=throttled, cookies=tuple(carried.received))
