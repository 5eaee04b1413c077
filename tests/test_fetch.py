"""The worker-side fetch, in-process: its policy through the fake transport
(crawler.fetching.transports.fake), requests' transport's own errors against `responses`
(crawler.fetching.transports.http, used when the environment names a proxy), and
bodies cut off mid-way against the real test server (no pool)."""

from __future__ import annotations

import email.utils
import gzip
import time
from collections.abc import Iterator

import pytest
import requests
import responses

from crawler.fetching.body import ACCEPT_ENCODING
from crawler.fetching.fetch import AttemptDeadline, attempt_deadline, fetch, make_transport
from crawler.fetching.retry import RetryWait, TransientError
from crawler.fetching.transports.base import TransportError
from crawler.fetching.transports.fake import FakeTransport
from crawler.fetching.transports.http import HttpTransport
from crawler.model import Failure, Page
from crawler.retry_after import parse_retry_after
from crawler.settings import FetchSettings
from tests.server import TestServer

URL = "http://site.example/page"
HTML = "text/html; charset=utf-8"
FAST = FetchSettings(
    timeout=5.0,
    retries=2,
    max_bytes=1000,
    max_redirects=3,
    backoff_initial=0.001,
    backoff_max=0.002,
    retry_after_cap=60.0,
)


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    """requests' adapter answered by `responses`: the HTTP transport's own errors."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def fake() -> FakeTransport:
    """A transport with canned answers: fetch's policy alone, no HTTP library."""
    return FakeTransport()


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between attempts, recorded instead of slept (tenacity sleeps
    with time.sleep)."""
    recorded: list[float] = []
    monkeypatch.setattr(time, "sleep", recorded.append)
    return recorded


def get(url: str = URL, settings: FetchSettings = FAST) -> Page | Failure:
    return fetch(make_transport(settings), url, settings)


def through_requests(url: str = URL, settings: FetchSettings = FAST) -> Page | Failure:
    """`url` fetched through requests' transport, which `responses` answers."""
    return fetch(HttpTransport(), url, settings)


def calls(mock: responses.RequestsMock, url: str = URL) -> int:
    return sum(call.request.url == url for call in mock.calls)


def test_a_page(fake: FakeTransport) -> None:
    fake.add(URL, body="<p>页面</p>".encode(), headers=[("Content-Type", HTML)])
    page = fetch(fake, URL, FAST)
    assert page._replace(headers=()) == Page(URL, 200, HTML, "<p>页面</p>", 9, 13, 1)
    assert page.header("Content-Type") == HTML


def test_what_a_request_carries(fake: FakeTransport) -> None:
    fake.add(URL, body=b"ok")
    fetch(fake, URL, FetchSettings(user_agent="crawl-test/1"))
    (sent,) = fake.requests
    assert sent.headers.pairs == (
        ("User-Agent", "crawl-test/1"),
        ("Accept-Encoding", ACCEPT_ENCODING),
        ("Accept", "*/*"),
        ("Connection", "keep-alive"),
    )
    assert (sent.method, sent.target, sent.guarded) == ("GET", "/page", False)


def test_an_image_is_counted_in_bytes(fake: FakeTransport) -> None:
    fake.add(URL, body=bytes(range(256)) * 3, headers=[("Content-Type", "image/png")])
    page = fetch(fake, URL, FAST)
    assert isinstance(page, Page)
    assert (page.text, page.size, page.nbytes) == (None, 768, 768)


def test_503_twice_then_200(fake: FakeTransport, waits: list[float]) -> None:
    fake.add(URL, 503).add(URL, 503).add(URL, body=b"finally")
    page = fetch(fake, URL, FAST)
    assert isinstance(page, Page)
    assert (page.text, page.attempts) == ("finally", 3)
    assert fake.sent(URL) == 3
    assert len(waits) == 2
    assert all(0 <= wait <= FAST.backoff_max for wait in waits)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses_give_up_after_every_attempt(
    fake: FakeTransport, waits: list[float], status: int
) -> None:
    fake.add(URL, status)
    assert fetch(fake, URL, FAST) == Failure(
        URL, f"HTTP {status} after 3 attempts", 3, status in (429, 503)
    )
    assert fake.sent(URL) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 451, 501])
def test_other_errors_are_not_retried(fake: FakeTransport, waits: list[float], status: int) -> None:
    fake.add(URL, status)
    assert fetch(fake, URL, FAST) == Failure(URL, f"HTTP {status}", 1)
    assert fake.sent(URL) == 1
    assert waits == []


def test_no_retries_means_one_attempt(fake: FakeTransport, waits: list[float]) -> None:
    fake.add(URL, 503)
    assert fetch(fake, URL, FetchSettings(retries=0)) == Failure(
        URL, "HTTP 503 after 1 attempt", 1, throttled=True
    )
    assert fake.sent(URL) == 1


def test_429_with_retry_after_seconds(fake: FakeTransport, waits: list[float]) -> None:
    fake.add(URL, 429, headers=[("Retry-After", "7")]).add(URL, body=b"ok")
    page = fetch(fake, URL, FAST)
    assert isinstance(page, Page)
    assert page.attempts == 2
    assert waits == [7.0]


def test_retry_after_http_date(fake: FakeTransport, waits: list[float]) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    fake.add(URL, 503, headers=[("Retry-After", when)]).add(URL, body=b"ok")
    assert isinstance(fetch(fake, URL, FAST), Page)
    (wait,) = waits
    assert 25 <= wait <= 31


def test_retry_after_is_capped(fake: FakeTransport, waits: list[float]) -> None:
    fake.add(URL, 429, headers=[("Retry-After", "86400")]).add(URL, body=b"ok")
    assert isinstance(fetch(fake, URL, FAST), Page)
    assert waits == [FAST.retry_after_cap]


def test_unusable_retry_after_falls_back_to_backoff(
    fake: FakeTransport, waits: list[float]
) -> None:
    fake.add(URL, 503, headers=[("Retry-After", "soon")]).add(URL, body=b"ok")
    assert isinstance(fetch(fake, URL, FAST), Page)
    (wait,) = waits
    assert 0 <= wait <= FAST.backoff_max


@pytest.mark.parametrize(
    ("error", "result"),
    [
        (TransportError("connection refused", True), "connection refused after 3 attempts"),
        (TransportError("TLS: hostname mismatch", False), "TLS: hostname mismatch"),
    ],
)
def test_a_transport_error_is_retried_when_it_is_transient(
    fake: FakeTransport, waits: list[float], error: TransportError, result: str
) -> None:
    fake.add(URL, error=error)
    attempts = 3 if error.transient else 1
    assert fetch(fake, URL, FAST) == Failure(URL, result, attempts)
    assert fake.sent(URL) == attempts


def test_connection_errors_are_retried(mock: responses.RequestsMock, waits: list[float]) -> None:
    mock.get(URL, body=requests.ConnectionError("refused"))
    mock.get(URL, body=requests.ConnectionError("refused"))
    mock.get(URL, body=b"ok")
    page = through_requests()
    assert isinstance(page, Page)
    assert page.attempts == 3


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (requests.ConnectionError("refused"), "connection failed"),
        (requests.ConnectTimeout("slow"), "timed out"),
        (requests.ReadTimeout("slow"), "timed out"),
        (requests.exceptions.ChunkedEncodingError("cut"), "body cut short"),
    ],
)
def test_transient_failures_say_what_and_how_many_attempts(
    mock: responses.RequestsMock, waits: list[float], error: Exception, reason: str
) -> None:
    mock.get(URL, body=error)
    assert through_requests() == Failure(URL, f"{reason} after 3 attempts", 3)
    assert calls(mock) == 3


def test_declared_length_over_the_cap_is_not_read(fake: FakeTransport) -> None:
    fake.add(URL, body=b"y" * 2000)
    assert fetch(fake, URL, FAST) == Failure(URL, "larger than 1000 bytes", 1)
    assert fake.sent(URL) == 1


def test_body_over_the_cap_without_a_length(mock: responses.RequestsMock) -> None:
    mock.get(URL, body=b"y" * 1001, auto_calculate_content_length=False)
    assert through_requests() == Failure(URL, "larger than 1000 bytes", 1)


def test_body_at_the_cap_is_kept(fake: FakeTransport) -> None:
    fake.add(URL, body=b"y" * 1000, headers=[("Content-Type", "text/plain")])
    page = fetch(fake, URL, FAST)
    assert isinstance(page, Page)
    assert page.size == 1000


def test_the_cap_counts_decompressed_bytes(fake: FakeTransport) -> None:
    bomb = gzip.compress(b"\0" * 100_000)
    fake.add(URL, body=bomb, headers=[("Content-Encoding", "gzip"), ("Content-Type", "text/plain")])
    assert len(bomb) < FAST.max_bytes
    assert fetch(fake, URL, FAST) == Failure(URL, "larger than 1000 bytes", 1)


def test_a_body_that_is_not_gzip(fake: FakeTransport) -> None:
    fake.add(URL, body=b"not gzip at all", headers=[("Content-Encoding", "gzip")])
    assert fetch(fake, URL, FAST) == Failure(URL, "body does not match its Content-Encoding", 1)


def test_redirects_are_followed_up_to_the_limit(fake: FakeTransport) -> None:
    for hop in range(3):
        fake.redirect(f"{URL}/{hop}", f"{URL}/{hop + 1}")
    fake.add(f"{URL}/3", body=b"arrived")
    page = fetch(fake, f"{URL}/0", FAST)
    assert isinstance(page, Page)
    assert page.url == f"{URL}/0"  # the URL as asked, not where it led
    assert page.text == "arrived"
    assert page.redirects == (f"{URL}/1", f"{URL}/2", f"{URL}/3")


def test_a_redirect_loop_stops_at_the_limit(fake: FakeTransport) -> None:
    fake.redirect(URL, URL)
    assert fetch(fake, URL, FAST) == Failure(URL, "too many redirects (3)", 1)
    assert fake.sent(URL) == FAST.max_redirects + 1


@pytest.mark.parametrize(
    ("location", "sent"),
    [
        ("/foo%", "/foo%"),  # as resolved: not re-spelled /foo%25
        ("C|", "/C|"),
        ("..//path", "//path"),
        ("\\x", "/x"),
        ("next?", "/next?"),  # the empty query kept
    ],
)
def test_a_location_is_resolved_and_sent_as_a_browser_does(
    fake: FakeTransport, location: str, sent: str
) -> None:
    fake.redirect(URL, location)
    fake.add(f"http://site.example{sent}", body=b"arrived")
    assert isinstance(fetch(fake, URL, FAST), Page)
    assert [request.target for request in fake.requests] == ["/page", sent]


@pytest.mark.parametrize("location", ["http://192.168.0.257/", "http://a b/", "https://x:99999/"])
def test_a_location_a_browser_rejects_ends_the_fetch(fake: FakeTransport, location: str) -> None:
    fake.redirect(URL, location)
    assert fetch(fake, URL, FAST) == Failure(URL, "redirect to an invalid URL", 1)
    assert len(fake.requests) == 1  # nothing more requested


@pytest.mark.parametrize("url", ["ftp://site.example/file", "file:///etc/passwd"])
def test_only_http_and_https(mock: responses.RequestsMock, url: str) -> None:
    assert get(url) == Failure(url, "cannot fetch: InvalidSchema", 1)
    assert through_requests(url) == Failure(url, "cannot fetch: InvalidSchema", 1)


def test_attempt_deadline_interrupts_a_blocking_call() -> None:
    started = time.monotonic()
    with pytest.raises(AttemptDeadline), attempt_deadline(0.05):
        time.sleep(30)
    assert time.monotonic() - started < 25  # interrupted, not slept through


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        ("120", 120.0),
        (" 5 ", 5.0),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 60.0),  # now is 40
        ("Thursday, 01-Jan-70 00:01:40 GMT", 60.0),  # the obsolete RFC 850 form
        ("Thu, 01 Jan 1970 00:00:10 GMT", None),  # in the past: no Retry-After at all
        ("Thu, 01 Jan 1970 00:00:40 GMT", None),  # now: not in the future either
        ("9" * 400, float("inf")),  # more digits than any clock counts
        ("Fri, 01 Jan 99999 00:00:00 GMT", float("inf")),  # past any calendar
        ("Fri, 31 Feb 2026 00:00:00 GMT", None),  # no such day
        ("١٢", None),  # digits, but not ASCII ones
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=40.0) == seconds


def test_retry_wait_follows_the_server_up_to_the_cap() -> None:
    class State:
        def __init__(self, error: Exception) -> None:
            self.outcome = self
            self.error = error
            self.attempt_number = 1

        def exception(self) -> Exception:
            return self.error

    wait = RetryWait(FetchSettings(retry_after_cap=60.0, backoff_max=8.0))
    assert wait(State(TransientError("HTTP 429", 30.0))) == 30.0
    assert wait(State(TransientError("HTTP 429", 3600.0))) == 60.0
    assert 0 <= wait(State(TransientError("timed out"))) <= 8.0


# -- against the real test server, in-process (bodies cut off mid-way) -------------
@pytest.mark.parametrize("path", ["/truncated?bytes=1000", "/bad-chunk"])
def test_a_body_cut_short_is_retried_and_says_so(server: TestServer, path: str) -> None:
    url = server.url(path)
    assert get(url) == Failure(url, "body cut short after 3 attempts", 3)
    assert server.count(path.split("?")[0]) == 3


def test_a_refused_connection_says_so(server: TestServer) -> None:
    url = server.url("/page/x")
    server.stop()
    assert get(url) == Failure(url, "connection refused after 3 attempts", 3)


@pytest.mark.parametrize(
    ("location", "kept"),
    [
        (f"{URL}/next", True),  # the same origin: the login goes along
        ("http://other.example/next", False),  # another host: it does not
        ("https://site.example/next", False),  # another scheme is another origin
        ("http://site.example:8080/next", False),  # and so is another port
    ],
)
def test_a_login_follows_redirects_only_on_its_origin(
    fake: FakeTransport, location: str, kept: bool
) -> None:
    listed = "http://user:secret@site.example/page"
    fake.redirect("http://site.example/page", location)
    fake.add(location, body=b"arrived")
    assert isinstance(fetch(fake, listed, FAST), Page)
    first, second = fake.requests
    assert "secret" not in first.url  # the password goes in the header, not the URL
    assert (first.headers.get("Authorization") or "").startswith("Basic ")
    assert ("Authorization" in second.headers) is kept


def test_a_broken_redirect_body_does_not_fail_the_fetch(fake: FakeTransport) -> None:
    fake.add(
        URL,
        302,
        body=b"not gzip",
        headers=[("Location", f"{URL}/next"), ("Content-Encoding", "gzip")],
    )
    fake.add(f"{URL}/next", body=b"arrived")
    page = fetch(fake, URL, FAST)
    assert isinstance(page, Page) and page.text == "arrived"
    assert page.redirects == (f"{URL}/next",)


@pytest.mark.parametrize("status", [429, 503])
def test_the_crawl_s_workers_give_a_429_or_503_back_at_once(
    fake: FakeTransport, waits: list[float], status: int
) -> None:
    """Not retried in the worker: the frontier pauses the whole site and sends the
    URL again (crawler.frontier.politeness), with what it needs to."""
    fake.add(URL, status=status, headers=[("Retry-After", "7")])
    fake.add(URL, body=b"too late")
    result = fetch(fake, URL, FAST, give_back=True)
    assert result == Failure(URL, f"HTTP {status}", 1, True, status=status, retry_after="7")
    assert waits == []


def test_a_page_for_the_crawl_s_workers_has_its_time_to_first_byte(fake: FakeTransport) -> None:
    fake.add(URL, body=b"<p>x</p>", headers=[("Content-Type", HTML)])
    assert fetch(fake, URL, FAST, give_back=True).ttfb > 0
    fake.add(URL, body=b"<p>x</p>", headers=[("Content-Type", HTML)])
    assert fetch(fake, URL, FAST).ttfb == 0.0  # elsewhere (crawl parse): not measured
