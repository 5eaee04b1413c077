"""Fetch one URL: the policy of a worker, apart from how the worker is run.

One attempt connects, sends the request, follows up to `max_redirects` redirects
and streams the body, all within `timeout` seconds (a server that trickles its
answer fails as a timeout). Bodies are cut off past `max_bytes`, counted after
content decoding, so a small gzip body that inflates past the cap stops there.
`fetch` retries what `crawler.retry` says is worth it and always returns a
`Page` or a `Failure`; it never raises for anything a server or network does.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from crawler.decode import decode_body, is_text
from crawler.model import Failure, Page, Result
from crawler.retry import RETRY_STATUSES, RetryWait, TransientError, parse_retry_after
from crawler.settings import FetchSettings

CHUNK = 64 * 1024
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


def make_session(settings: FetchSettings, pool_size: int = 16) -> requests.Session:
    """A session whose connections are reused across a worker's fetches, with
    urllib3's retries off: tenacity in `fetch` is the one retry layer. With
    `settings.cache_path`, the session revalidates through the HTTP cache."""
    if settings.cache_path:
        from crawler.httpcache import open_cache  # requests-cache: only when asked for

        session = open_cache(settings.cache_path)
    else:
        session = requests.Session()
    read_environment_once(session)
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.max_redirects = settings.max_redirects
    session.headers["User-Agent"] = settings.user_agent
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


def fetch_once(session: requests.Session, url: str, settings: FetchSettings) -> Result:
    """One attempt. Returns a Page or a final Failure; raises TransientError for a
    failure worth another attempt."""
    deadline = time.monotonic() + settings.timeout
    response = body = None
    try:
        with attempt_deadline(settings.timeout):
            response = session.get(url, stream=True, timeout=settings.timeout)
            try:
                status = response.status_code
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
    except TooLarge as error:
        return Failure(url, str(error), 1)
    except requests.TooManyRedirects:
        return Failure(url, f"more than {settings.max_redirects} redirects", 1)
    except (requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL) as error:
        return Failure(url, f"cannot fetch: {type(error).__name__}", 1)
    except (requests.exceptions.SSLError, urllib3.exceptions.SSLError):
        return Failure(url, "TLS error", 1)
    except (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError):
        raise TransientError("timed out") from None
    except (requests.ConnectionError, urllib3.exceptions.ProtocolError, ConnectionError):
        raise TransientError("connection failed") from None
    except (requests.exceptions.ContentDecodingError, urllib3.exceptions.DecodeError):
        return Failure(url, "body does not match its Content-Encoding", 1)
    except (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.HTTPError):
        raise TransientError("body cut short") from None
    finally:
        if getattr(session, "cache", None) is not None:  # only a cached session stores
            from crawler.httpcache import store

            store(session, response, body)  # only a body read within the bounds is kept
    content_type = response.headers.get("Content-Type", "")
    if settings.raw_body:  # the bytes themselves, whatever the type (a sitemap, maybe gzip)
        text, size = body.decode("latin-1"), len(body)
    elif is_text(content_type):
        text: str | None = decode_body(body, content_type)
        size = len(text)
    else:
        text, size = None, len(body)
    # history holds the answers that redirected, the first one for `url` itself.
    redirects = tuple(hop.url for hop in response.history[1:])
    redirects += (response.url,) if response.history else ()
    return Page(
        url,
        status,
        content_type,
        text,
        size,
        len(body),
        1,
        cached=from_cache(response),
        final_url=response.url if response.history else "",
        redirects=redirects,
        headers=tuple(sorted((name.lower(), value) for name, value in response.headers.items())),
    )


def fetch(session: requests.Session, url: str, settings: FetchSettings) -> Result:
    """Fetch `url` with retries. Always returns: a Page, or a Failure whose reason
    says what went wrong (`timed out after 3 attempts`, `HTTP 404`...). The
    result is marked `throttled` if any attempt got 429 or 503, so the scheduler
    can slow down for that host."""
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
                result = fetch_once(session, url, settings)
    except TransientError as error:
        unit = "attempt" if attempts == 1 else "attempts"
        throttled = throttled or error.reason in SLOW_DOWN
        return Failure(url, f"{error.reason} after {attempts} {unit}", attempts, throttled)
    return result._replace(attempts=attempts, throttled=throttled)
