"""The HTTP transport through a proxy: requests and urllib3, the one module of `crawl`
that knows them. `make_transport` uses it when the environment names a proxy or a
`.netrc`, which requests honours per request; otherwise the crawl's own transport
fetches (`crawler.fetching.transports.wire`).

`HttpTransport.send` sends one request through a requests session whose every
policy is off, because the layers above hold it (`crawler.fetching.fetch`): no
redirect followed, no cookie kept (`no_cookies`), no retry (urllib3's are off),
no header added but `Host` (the session's own headers are empty: the request
carries them all). What the transport still does itself, for the request it is
given:

1. the target: a `Request.target` goes out exactly as spelled, not as requests and
   urllib3 re-spell it (`ExactTarget` puts it back in place of `_encode_target`'s
   spelling); without one, requests spells the URL;
2. connections: reused across requests, from one of two pool managers: the plain
   one, or for a `Request.guarded` request the guarded one, whose connections are
   each made to addresses an `AddressGuard` checked (`GuardedConnection`), so a
   guarded request never reuses a connection made without the check. Through a
   proxy the proxy makes the connection, and the guard cannot apply;
3. trust: one SSL context per transport (`crawler.fetching.tls.Trust`), given to
   every HTTPS pool instead of a CA file each connection would load again;
4. the environment: read once (`read_environment_once`), or per request when a
   proxy or a `.netrc` is set up, as requests does;
5. errors: every requests/urllib3 error is translated here, once, into a
   `TransportError` (`REASONS`: `crawler.fetching.reasons` with this library's
   types in their places); a body that stops early is `body cut short`.

The answer streams the body as it came (`decode_content=False`): the Content-
Encoding is undone by `crawler.fetching.body`, whichever transport brought it.
"""

from __future__ import annotations

import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import partial
from typing import Any

import requests
import urllib3.exceptions
from requests.adapters import DEFAULT_POOLBLOCK, HTTPAdapter
from requests.cookies import RequestsCookieJar
from requests.exceptions import InvalidURL
from requests.structures import CaseInsensitiveDict
from requests.utils import select_proxy
from urllib3 import PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.ssl_ import create_urllib3_context
from urllib3.util.ssl_match_hostname import CertificateError
from urllib3.util.timeout import _DEFAULT_TIMEOUT
from urllib3.util.url import _encode_target

from crawler.fetching import reasons
from crawler.fetching.address_guard import AddressGuard, connect_first
from crawler.fetching.cookies import refuse_all
from crawler.fetching.tls import Trust
from crawler.fetching.transports.base import Headers, Request, Response, TransportError
from crawler.fetching.transports.wire import environment_bundle, proxied_environment

# requests' and urllib3's errors, each in the row of `crawler.fetching.reasons` it belongs to.
LIBRARY = reasons.Library(
    hostname_mismatch=(CertificateError,),  # urllib3's own name check
    tls=(requests.exceptions.SSLError, urllib3.exceptions.SSLError),
    name_not_resolved=(urllib3.exceptions.NameResolutionError,),
    timed_out=(requests.Timeout, urllib3.exceptions.TimeoutError),
    not_a_timeout=(urllib3.exceptions.NewConnectionError,),
    bad_coding=(requests.exceptions.ContentDecodingError, urllib3.exceptions.DecodeError),
    cut_short=(requests.exceptions.ChunkedEncodingError, urllib3.exceptions.IncompleteRead),
    cannot_fetch=(
        requests.exceptions.InvalidSchema,
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        urllib3.exceptions.LocationValueError,
    ),
    connection_failed=(requests.ConnectionError, urllib3.exceptions.HTTPError),
)
REASONS = reasons.table(LIBRARY)
KNOWN = reasons.known(REASONS)
CUT_SHORT = (urllib3.exceptions.ProtocolError, ConnectionError)  # while a body is read
VERSIONS = {10: "HTTP/1.0", 11: "HTTP/1.1", 20: "HTTP/2"}


def translate(error: BaseException) -> TransportError | None:
    """`error` as a TransportError, or None when it is not one the network causes."""
    reason = reasons.explain(error, REASONS)
    return None if reason is None else TransportError(reason.text, reason.transient)


def no_cookies() -> RequestsCookieJar:
    """A jar for a requests Session that neither keeps nor sends anything: the
    fetch's own jar decides (`crawler.fetching.cookies`)."""
    return RequestsCookieJar(policy=refuse_all())


def read_environment_once(session: requests.Session) -> None:
    """Take from the environment, once, what requests would look up on every request.

    With `trust_env` on, each request scans the environment for proxy variables,
    looks for a `.netrc` file and reads `REQUESTS_CA_BUNDLE`/`CURL_CA_BUNDLE`: about
    a quarter of a worker's CPU per page. A worker's environment does not change
    during a run, so when no proxy and no `.netrc` is set up, the CA bundle (if
    any) is set on the session and the per-request lookups are turned off, which
    fetches exactly as before. With a proxy or a `.netrc`, requests keeps doing it
    per request (`NO_PROXY` is decided per URL)."""
    if proxied_environment():
        return
    bundle = environment_bundle()
    if bundle:
        session.verify = bundle
    session.trust_env = False


# -- 1. the exact target ------------------------------------------------------------

_sending = threading.local()  # .target: the exact target this thread is sending


@contextmanager
def sending(target: str) -> Iterator[None]:
    """The requests this thread sends in the block go out with `target`."""
    _sending.target = target
    try:
        yield
    finally:
        _sending.target = None


class ExactTarget:
    """A pool's `_make_request` that sends the thread's exact target in place of
    urllib3's re-spelling of it (and only of it: a proxy's absolute form stays)."""

    def _make_request(self, conn: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        target = getattr(_sending, "target", None)
        if target is not None and target != url:
            try:
                if _encode_target(target) == url:  # urllib3's spelling of ours: send ours
                    url = target
            except ValueError:
                pass
        return super()._make_request(conn, method, url, *args, **kwargs)  # type: ignore[misc]


def exact_pool_classes(classes: dict[str, type]) -> dict[str, type]:
    """`classes` (a PoolManager's pool class per scheme), each sending exact targets."""
    return {
        scheme: type(f"Exact{cls.__name__}", (ExactTarget, cls), {})
        for scheme, cls in classes.items()
    }


# -- 2. guarded connections ---------------------------------------------------------


class GuardedConnection(HTTPConnection):
    """An HTTP connection that connects only to addresses its guard checked: the
    host resolved once, every address of the answer checked, then those same
    addresses connected to in order (DNS rebinding cannot get around it)."""

    guard: AddressGuard = AddressGuard()

    def _new_conn(self) -> socket.socket:
        try:
            answer = self.guard.addresses(self._dns_host, self.port)
        except socket.gaierror as error:
            raise urllib3.exceptions.NameResolutionError(self.host, self, error) from error
        try:
            timeout = self.timeout
            if timeout is _DEFAULT_TIMEOUT:  # the socket module's default, as urllib3 leaves it
                timeout = socket.getdefaulttimeout()
            sock = connect_first(answer, timeout, self.socket_options or (), self.source_address)
        except TimeoutError as error:
            raise urllib3.exceptions.ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from error
        except OSError as error:
            raise urllib3.exceptions.NewConnectionError(
                self, f"Failed to establish a new connection: {error}"
            ) from error
        sys.audit("http.client.connect", self, self.host, self.port)
        return sock


class GuardedHTTPSConnection(GuardedConnection, HTTPSConnection):
    """The same for HTTPS: `HTTPSConnection.connect` wraps the socket made by
    `GuardedConnection._new_conn`, verifying the certificate for the host name."""


def guarded_pool_classes(guard: AddressGuard) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 pool classes by scheme whose connections all go through `guard`
    (for `PoolManager.pool_classes_by_scheme`)."""
    http = type("GuardedConnection", (GuardedConnection,), {"guard": guard})
    https = type("GuardedHTTPSConnection", (GuardedHTTPSConnection,), {"guard": guard})
    return {
        "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
        "https": type(
            "GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https}
        ),
    }


class Adapter(HTTPAdapter):
    """An HTTPAdapter with a guarded pool manager beside the plain one, pools that
    send exact targets, and one shared SSL context; urllib3's own retries off."""

    def __init__(self, trust: Trust, guard: AddressGuard, pool_size: int) -> None:
        self.trust = trust
        self.guard = guard
        self._local = threading.local()
        super().__init__(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = DEFAULT_POOLBLOCK, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.guarded_poolmanager = PoolManager(
            num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )
        self.guarded_poolmanager.pool_classes_by_scheme = guarded_pool_classes(self.guard)
        for manager in (self.poolmanager, self.guarded_poolmanager):
            manager.pool_classes_by_scheme = exact_pool_classes(manager.pool_classes_by_scheme)

    @contextmanager
    def guarding(self, on: bool = True) -> Iterator[None]:
        """Requests this thread sends in the block use guarded connections (when
        `on`). Per thread, so each of a worker's fetching threads decides alone."""
        before = getattr(self._local, "guarded", False)
        self._local.guarded = on
        try:
            yield
        finally:
            self._local.guarded = before

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: dict[str, str] | None = None,
        cert: Any = None,
    ) -> HTTPConnectionPool:
        if not getattr(self._local, "guarded", False) or select_proxy(request.url, proxies):
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        try:
            host_params, pool_kwargs = self.build_connection_pool_key_attributes(
                request, verify, cert
            )
        except ValueError as error:
            raise InvalidURL(error, request=request) from None
        return self.guarded_poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str | None, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """requests' pool key, with the transport's SSL context for HTTPS in place of
        a CA file that each new connection would load again."""
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        if host_params["scheme"] == "https" and verify is not False:
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs.pop("ca_cert_dir", None)
            pool_kwargs["ssl_context"] = self.trust.context(True if verify is None else verify)
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: bool | str | None, cert: Any) -> None:
        if url.lower().startswith("https") and verify is not False and cert is None:
            conn.cert_reqs = "CERT_REQUIRED"
            conn.ca_certs = conn.ca_cert_dir = None  # the pool's SSL context holds the trust
            return
        super().cert_verify(conn, url, verify, cert)

    def request_url(self, request: requests.PreparedRequest, proxies: Any) -> str:
        url = super().request_url(request, proxies)
        target = getattr(_sending, "target", None)  # set by `HttpTransport.send`
        return target if target is not None and url.startswith("/") else url

    def close(self) -> None:
        super().close()
        self.guarded_poolmanager.clear()


# -- the transport -------------------------------------------------------------------


class HttpResponse(Response):
    """An answer of `HttpTransport`: the status line and headers as http.client read
    them, the body streamed from urllib3 as it came."""

    def __init__(self, request: Request, answer: requests.Response) -> None:
        raw = answer.raw
        original = getattr(raw, "_original_response", None)  # http.client's: the order as sent
        pairs = original.msg.items() if original is not None else raw.headers.items()
        super().__init__(
            request,
            answer.status_code,
            Headers(pairs),
            answer.reason or "",
            VERSIONS.get(getattr(raw, "version", 11), "HTTP/1.1"),
            _peer(raw),
        )
        self.raw = raw
        self.answer = answer

    def read1(self, size: int) -> bytes:
        try:
            return self.raw.read1(size, decode_content=False)
        except CUT_SHORT:
            # urllib3 reports a short or malformed body as a broken connection.
            raise TransportError("body cut short", True) from None
        except KNOWN as error:
            translated = translate(error)
            if translated is None:
                raise
            raise translated from None

    def close(self) -> None:
        self.answer.close()


def authority(url: str) -> str:
    """The `host[:port]` of an absolute URL, as spelled, without `user:password@`."""
    rest = url.partition("://")[2]
    end = min((at for at in map(rest.find, "/?#") if at >= 0), default=len(rest))
    return rest[:end].rpartition("@")[2]


def _peer(raw: Any) -> str | None:
    """The IP address the answer came from (None when unknown: a mock's answer)."""
    try:
        return str(raw._connection.sock.getpeername()[0])
    except (AttributeError, OSError, IndexError, TypeError):
        return None


class HttpTransport:
    """Requests over HTTP(S) with requests and urllib3 (see the module's docstring).
    One per thread: a requests Session is not made to be shared between threads."""

    def __init__(
        self,
        guard: AddressGuard | None = None,
        pool_size: int = 16,
        extra_trust: tuple[str, ...] = (),
    ) -> None:
        session = requests.Session()
        session.headers = CaseInsensitiveDict()  # the request carries every header
        session.cookies = no_cookies()
        read_environment_once(session)
        trust = Trust(extra_trust, partial(create_urllib3_context, cert_reqs=ssl.CERT_REQUIRED))
        self.adapter = Adapter(trust, guard or AddressGuard(), pool_size)
        session.mount("http://", self.adapter)
        session.mount("https://", self.adapter)
        self.session = session
        # Without a proxy or a .netrc, what requests would merge per request is the same
        # for every request: merged once.
        self.settings = (
            None
            if session.trust_env
            else session.merge_environment_settings(None, {}, True, None, None)
        )

    def prepare(self, request: Request) -> requests.PreparedRequest:
        """`request` as requests sends it. A request with an exact target, when the
        environment asks for nothing per request (no proxy, no .netrc), is built as
        it is (its URL not re-spelled, no cookie jar asked: requests' own preparing
        costs more than the rest of the request); otherwise requests prepares it."""
        if request.target is None or self.settings is None:
            prepared = self.session.prepare_request(
                requests.Request(request.method, request.url, headers=dict(request.headers.pairs))
            )
            if request.target is not None:
                prepared.url = request.url  # as resolved, not as requote_uri re-spells it
            return prepared
        prepared = requests.PreparedRequest()
        prepared.method = request.method
        prepared.url = request.url
        headers = CaseInsensitiveDict(request.headers.pairs)
        if "Host" not in headers:  # the authority as spelled (urllib3 strips a trailing dot)
            headers = CaseInsensitiveDict([("Host", authority(request.url)), *headers.items()])
        prepared.headers = headers
        prepared.body = None
        prepared.hooks = {"response": []}
        return prepared

    def send(self, request: Request) -> HttpResponse:
        session = self.session
        try:
            if not request.url[:8].lower().startswith(("http://", "https://")):
                raise requests.exceptions.InvalidSchema(f"no transport for {request.url!r}")
            prepared = self.prepare(request)
            settings = self.settings or session.merge_environment_settings(
                prepared.url, {}, True, None, None
            )
            with (
                sending(request.target) if request.target is not None else nullcontext(),
                self.adapter.guarding() if request.guarded else nullcontext(),
            ):
                # The adapter itself: a session's `send` would also work out where a
                # redirect leads (requests' way), keep cookies and time the answer.
                answer = self.adapter.send(prepared, timeout=request.timeout, **settings)
        except KNOWN as error:
            translated = translate(error)
            if translated is None:
                raise
            raise translated from None
        if request.target is None:
            request = request._replace(target=prepared.path_url)
        return HttpResponse(request, answer)

    def close(self) -> None:
        self.session.close()


TRANSPORT = HttpTransport
