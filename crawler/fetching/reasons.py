"""Why a fetch failed, in the words curl and wget users know, and whether another
attempt may do better. Errors are translated here, once, where they enter.

A transport translates the errors of its library here, at its boundary, into
`TransportError`s (`crawler.fetching.transports.base`), with the rows of `table`:
the standard library's types, and in their places the library's own (`Library`).
`explain(error, rows)` looks at the exception and at what it wraps (requests wraps
urllib3's error, which wraps the socket's or the TLS library's: `args`, a
`reason`, `__cause__`), and the first row that matches any of them decides. Rows
go from the most specific to the most general, so `connection refused` (the
socket's error, deep inside) wins over `connection failed` (the library's wrapper,
outside). An error that no row matches is not one the network causes: `explain`
returns None and the caller lets it rise.

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


class Library(NamedTuple):
    """A transport library's own exception types, each put in the row it belongs to
    (`crawler.fetching.transports.http` gives requests' and urllib3's)."""

    hostname_mismatch: tuple[type[BaseException], ...] = ()
    tls: tuple[type[BaseException], ...] = ()
    name_not_resolved: tuple[type[BaseException], ...] = ()
    timed_out: tuple[type[BaseException], ...] = ()
    not_a_timeout: tuple[type[BaseException], ...] = ()  # a connection error that says "timed out"
    bad_coding: tuple[type[BaseException], ...] = ()
    cut_short: tuple[type[BaseException], ...] = ()
    cannot_fetch: tuple[type[BaseException], ...] = ()
    connection_failed: tuple[type[BaseException], ...] = ()


def table(library: Library | None = None) -> tuple[Row, ...]:
    """The rows, most specific first, with `library`'s types in their places."""
    library = Library() if library is None else library
    return (
        Row((PrivateAddress,), lambda error: f"refused: private address ({error.address})", False),
        Row((CaBundleError,), lambda error: f"TLS: {error.reason}", False),
        Row(
            (ssl.SSLCertVerificationError,),
            "TLS: hostname mismatch",
            False,
            when=lambda error: getattr(error, "verify_code", None) in HOSTNAME_MISMATCH_CODES,
        ),
        Row(library.hostname_mismatch, "TLS: hostname mismatch", False),  # the library's check
        Row((ssl.SSLCertVerificationError,), _verify_failed, False),
        Row((ssl.SSLError,), _tls_failed, False),
        Row(library.tls, "TLS: failed", False),
        Row((socket.gaierror,), "name not resolved", True, when=_errno(socket.EAI_AGAIN)),
        Row((socket.gaierror, *library.name_not_resolved), "name not resolved", False),
        Row((ConnectionRefusedError,), "connection refused", True),
        Row((http.client.RemoteDisconnected,), "empty reply from server", True),
        Row(
            (ConnectionResetError, ConnectionAbortedError, BrokenPipeError),
            "connection reset",
            True,
        ),
        Row(
            (TimeoutError, *library.timed_out),
            "timed out",
            True,
            when=lambda error: not isinstance(error, library.not_a_timeout),
        ),
        Row((OSError,), "network unreachable", True, when=_errno(errno.ENETUNREACH)),
        Row((OSError,), "host unreachable", True, when=_errno(errno.EHOSTUNREACH)),
        Row(library.bad_coding, "body does not match its Content-Encoding", False),
        Row((http.client.IncompleteRead, *library.cut_short), "body cut short", True),
        Row(library.cannot_fetch, lambda error: f"cannot fetch: {type(error).__name__}", False),
        Row((*library.connection_failed, ConnectionError), "connection failed", True),
    )


# The rows for errors of the standard library alone (a transport adds its own: `table`).
REASONS: tuple[Row, ...] = table()


def known(rows: tuple[Row, ...]) -> tuple[type[BaseException], ...]:
    """Every type a row of `rows` can match: what a transport catches to ask `explain`."""
    return tuple({kind for row in rows for kind in row.types})


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


def match(
    error: BaseException, rows: tuple[Row, ...] = REASONS
) -> tuple[Row, BaseException] | None:
    """The first row that matches `error` or anything it wraps, and what it matched."""
    chain = list(causes(error))
    for row in rows:
        for cause in chain:
            if isinstance(cause, row.types) and (row.when is None or row.when(cause)):
                return row, cause
    return None


def explain(error: BaseException, rows: tuple[Row, ...] = REASONS) -> Reason | None:
    """The reason for `error` (see the module's docstring), or None if no row of
    `rows` matches it or anything it wraps."""
    found = match(error, rows)
    if found is None:
        return None
    row, cause = found
    return Reason(row.text if isinstance(row.text, str) else row.text(cause), row.transient)
