"""crawler.fetching.reasons: every row of the table, as the HTTP transport fills it with
requests' and urllib3's types (crawler.fetching.transports.http), with the errors wrapped as
requests and urllib3 wrap them (tests/test_fetch_failures.py meets the same errors for real)."""

from __future__ import annotations

import errno
import http.client
import socket
import ssl

import pytest
import requests
import urllib3.exceptions
from urllib3.connection import HTTPConnection
from urllib3.util.ssl_match_hostname import CertificateError

from crawler.fetching import reasons
from crawler.fetching.address_guard import PrivateAddress
from crawler.fetching.reasons import Reason
from crawler.fetching.tls import CaBundleError
from crawler.fetching.transports.http import REASONS

CONNECTION = HTTPConnection("site.example", 80)


def explain(error: BaseException) -> Reason | None:
    return reasons.explain(error, REASONS)


def match(error: BaseException) -> tuple[reasons.Row, BaseException] | None:
    return reasons.match(error, REASONS)


def wrapped(inner: BaseException, outer: type[Exception] = requests.ConnectionError) -> Exception:
    """`inner` as requests raises it from a connection attempt: outer(MaxRetryError(reason))."""
    return outer(urllib3.exceptions.MaxRetryError(None, "/", inner))  # type: ignore[arg-type]


def new_connection(cause: OSError) -> urllib3.exceptions.NewConnectionError:
    try:
        raise urllib3.exceptions.NewConnectionError(CONNECTION, f"failed: {cause}") from cause
    except urllib3.exceptions.NewConnectionError as error:
        return error


def verify_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {message}")
    error.verify_code, error.verify_message = code, message
    return error


def ssl_error(reason: str) -> ssl.SSLError:
    error = ssl.SSLError(1, f"[SSL: {reason}] {reason.lower()}")
    error.reason = reason
    return error


def name_error(code: int) -> urllib3.exceptions.NameResolutionError:
    gai = socket.gaierror(code, "Name or service not known")
    try:
        raise urllib3.exceptions.NameResolutionError("site.example", CONNECTION, gai) from gai
    except urllib3.exceptions.NameResolutionError as error:
        return error


# (what happened, the error fetch meets, the reason, worth another attempt)
CASES = [
    ("private address", PrivateAddress("10.0.0.1"), "refused: private address (10.0.0.1)", False),
    (
        "unreadable CA bundle",
        CaBundleError("/x.pem", "No such file or directory"),
        "TLS: cannot load CA bundle /x.pem (No such file or directory)",
        False,
    ),
    (
        "self-signed",
        wrapped(urllib3.exceptions.SSLError(verify_error(18, "self-signed certificate"))),
        "TLS: certificate verify failed: self-signed certificate",
        False,
    ),
    (
        "unknown issuer",
        wrapped(verify_error(20, "unable to get local issuer certificate")),
        "TLS: certificate verify failed: unable to get local issuer certificate",
        False,
    ),
    (
        "expired",
        wrapped(verify_error(10, "certificate has expired")),
        "TLS: certificate verify failed: certificate has expired",
        False,
    ),
    (
        "hostname mismatch",
        wrapped(verify_error(62, "Hostname mismatch, certificate is not valid for 'a.example'.")),
        "TLS: hostname mismatch",
        False,
    ),
    (
        "IP address mismatch",
        wrapped(verify_error(64, "IP address mismatch, certificate is not valid for '127.0.0.1'.")),
        "TLS: hostname mismatch",
        False,
    ),
    (
        "urllib3's own name check",
        wrapped(CertificateError("hostname 'a' doesn't match 'b'")),
        "TLS: hostname mismatch",
        False,
    ),
    (
        "TLS spoken to a plain server",
        wrapped(ssl_error("WRONG_VERSION_NUMBER")),
        "TLS: wrong version number",
        False,
    ),
    ("TLS, nothing more known", requests.exceptions.SSLError("?"), "TLS: failed", False),
    ("name unknown", wrapped(name_error(socket.EAI_NONAME)), "name not resolved", False),
    ("name server not answering", wrapped(name_error(socket.EAI_AGAIN)), "name not resolved", True),
    (
        "refused",
        wrapped(new_connection(ConnectionRefusedError(errno.ECONNREFUSED, "refused"))),
        "connection refused",
        True,
    ),
    (
        "reset while asking",
        requests.ConnectionError(
            urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "x"))
        ),
        "connection reset",
        True,
    ),
    (
        "closed without an answer",
        requests.ConnectionError(
            urllib3.exceptions.ProtocolError(
                "Connection aborted.", http.client.RemoteDisconnected("closed")
            )
        ),
        "empty reply from server",
        True,
    ),
    (
        "connect timeout",
        wrapped(
            urllib3.exceptions.ConnectTimeoutError(CONNECTION, "slow"), requests.ConnectTimeout
        ),
        "timed out",
        True,
    ),
    (
        "read timeout",
        requests.ReadTimeout(urllib3.exceptions.ReadTimeoutError(None, "/", "slow")),  # type: ignore[arg-type]
        "timed out",
        True,
    ),
    ("a socket's timeout", TimeoutError("timed out"), "timed out", True),
    (
        "no route to the network",
        wrapped(new_connection(OSError(errno.ENETUNREACH, "Network is unreachable"))),
        "network unreachable",
        True,
    ),
    (
        "no route to the host",
        wrapped(new_connection(OSError(errno.EHOSTUNREACH, "No route to host"))),
        "host unreachable",
        True,
    ),
    (
        "bad gzip",
        requests.exceptions.ContentDecodingError(urllib3.exceptions.DecodeError("bad")),
        "body does not match its Content-Encoding",
        False,
    ),
    (
        "short body",
        urllib3.exceptions.ProtocolError("x", urllib3.exceptions.IncompleteRead(10, 20)),
        "body cut short",
        True,
    ),
    ("bad chunk", requests.exceptions.ChunkedEncodingError("x"), "body cut short", True),
    ("ftp:", requests.exceptions.InvalidSchema("ftp"), "cannot fetch: InvalidSchema", False),
    ("bad URL", requests.exceptions.InvalidURL("x"), "cannot fetch: InvalidURL", False),
    (
        "other connect error",
        wrapped(new_connection(OSError(errno.EADDRNOTAVAIL, "Cannot assign"))),
        "connection failed",
        True,
    ),
    ("requests' own wrapper", requests.ConnectionError("refused"), "connection failed", True),
]


@pytest.mark.parametrize(
    ("error", "text", "transient"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_error_reads_as_curl_would_say_it(
    error: BaseException, text: str, transient: bool
) -> None:
    assert explain(error) == Reason(text, transient)


def test_every_row_gives_some_case_its_reason() -> None:
    """No row is shadowed by the rows above it."""
    used = {match(error)[0] for _, error, _, _ in CASES}  # type: ignore[index]
    assert [row for row in REASONS if row not in used] == []


@pytest.mark.parametrize("error", [ValueError("x"), KeyError("k"), RuntimeError("boom")])
def test_an_error_the_network_does_not_cause_is_not_explained(error: Exception) -> None:
    assert explain(error) is None
