"""Why a fetch failed, in the words curl and wget users know, and whether another
attempt may do better. Errors are translated here, once, where they enter.

`explain(error)` looks at the exception and at what it wraps (requests wraps
urllib3's error, which wraps the socket's or the TLS library's: `args`, a
`MaxRetryError`'s `reason`, `__cause__`), and the first row of `REASONS` that
matches any of them decides. Rows go from the most specific to the most general,
so `connection refused` (the socket's error, deep inside) wins over `connection
failed` (requests' wrapper, outside). An error that no row matches is not one the
network causes: `explain` returns None and the caller lets it rise.

`fetch` adds what is not an exception: `HTTP 404`, `larger than N bytes`, `too
many redirects (N)`, `redirected off scope to HOST`, `body cut short` for a body
that stops early, and ` after N attempts` when retries ran.
"""

from __future__ import annotations

import errno
import http.client
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import NamedTuple

import requests
import urllib3.exceptions
from urllib3.util.ssl_match_hostname import CertificateError

from crawler.fetching.address_guard import PrivateAddress
from crawler.fetching.tls import CaBundleError

# OpenSSL's verify codes for a certificate that is fine but names another host.
HOSTNAME_MISMATCH_CODES = frozenset({62, 64})  # X509_V_ERR_HOSTNAME_MISMATCH, _IP_ADDRESS_


class Reason(NamedTuple):
    text: str
    transient: bool  # worth another attempt


class Row(NamedTuple):
    types: tuple[type[BaseException], ...]
    text: str | Callable[[BaseException], str]
    transient: bool
    when: Callable[[BaseException], bool] | None = None


def _verify_failed(error: BaseException) -> str:
    message = getattr(error, "verify_message", None)
    return (
        f"TLS: certificate verify failed: {message}"
        if message
        else "TLS: certificate verify failed"
    )


def _tls_failed(error: BaseException) -> str:
    """`[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)` reads
    `TLS: wrong version number`."""
    reason = getattr(error, "reason", None)
    return f"TLS: {reason.lower().replace('_', ' ')}" if isinstance(reason, str) else "TLS: failed"


def _errno(*codes: int) -> Callable[[BaseException], bool]:
    return lambda error: getattr(error, "errno", None) in codes


REASONS: tuple[Row, ...] = (
    Row((PrivateAddress,), lambda error: f"refused: private address ({error.address})", False),
    Row((CaBundleError,), lambda error: f"TLS: {error.reason}", False),
    Row(
        (ssl.SSLCertVerificationError,),
        "TLS: hostname mismatch",
        False,
        when=lambda error: getattr(error, "verify_code", None) in HOSTNAME_MISMATCH_CODES,
    ),
    Row((CertificateError,), "TLS: hostname mismatch", False),  # urllib3's own name check
    Row((ssl.SSLCertVerificationError,), _verify_failed, False),
    Row((ssl.SSLError,), _tls_failed, False),
    Row((requests.exceptions.SSLError, urllib3.exceptions.SSLError), "TLS: failed", False),
    Row((socket.gaierror,), "name not resolved", True, when=_errno(socket.EAI_AGAIN)),
    Row((socket.gaierror, urllib3.exceptions.NameResolutionError), "name not resolved", False),
    Row((ConnectionRefusedError,), "connection refused", True),
    Row((http.client.RemoteDisconnected,), "empty reply from server", True),
    Row((ConnectionResetError, ConnectionAbortedError, BrokenPipeError), "connection reset", True),
    Row(
        (TimeoutError, requests.Timeout, urllib3.exceptions.TimeoutError),
        "timed out",
        True,
        when=lambda error: not isinstance(error, urllib3.exceptions.NewConnectionError),
    ),
    Row((OSError,), "network unreachable", True, when=_errno(errno.ENETUNREACH)),
    Row((OSError,), "host unreachable", True, when=_errno(errno.EHOSTUNREACH)),
    Row(
        (requests.exceptions.ContentDecodingError, urllib3.exceptions.DecodeError),
        "body does not match its Content-Encoding",
        False,
    ),
    Row(
        (
            requests.exceptions.ChunkedEncodingError,
            http.client.IncompleteRead,
            urllib3.exceptions.IncompleteRead,
        ),
        "body cut short",
        True,
    ),
    Row(
        (
            requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            urllib3.exceptions.LocationValueError,
        ),
        lambda error: f"cannot fetch: {type(error).__name__}",
        False,
    ),
    Row(
        (requests.ConnectionError, urllib3.exceptions.HTTPError, ConnectionError),
        "connection failed",
        True,
    ),
)

# Everything a row can match: what `fetch` catches to ask `explain`.
KNOWN: tuple[type[BaseException], ...] = tuple({kind for row in REASONS for kind in row.types})


def causes(error: BaseException) -> Iterator[BaseException]:
    """`error`, then what it wraps, outside in, each once."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [getattr(current, "reason", None), *current.args, current.__cause__]
        todo.extend(inner for inner in wrapped if isinstance(inner, BaseException))


def match(error: BaseException) -> tuple[Row, BaseException] | None:
    """The first row that matches `error` or anything it wraps, and what it matched."""
    chain = list(causes(error))
    for row in REASONS:
        for cause in chain:
            if isinstance(cause, row.types) and (row.when is None or row.when(cause)):
                return row, cause
    return None


def explain(error: BaseException) -> Reason | None:
    """The reason for `error` (see the module's docstring), or None if no row
    matches it or anything it wraps."""
    found = match(error)
    if found is None:
        return None
    row, cause = found
    return Reason(row.text if isinstance(row.text, str) else row.text(cause), row.transient)
