"""The HTTP transport: HTTP/1.1 spoken on sockets by this module, without a library.

A crawl's fetch is one GET whose every policy is held above the transport
(`crawler.fetching.fetch`): no redirect followed, no cookie kept, no retry, no
header added but `Host`, the body streamed as it came (Content-Encoding not
undone). What is left is little enough to write here, and a general client
(requests over urllib3 over http.client) spent several times the CPU a page
doing it: preparing, hooks, merging settings, parsing the header through
`email.parser`, wrapping the answer twice. `WireTransport.send`:

1. the target: `Request.target` goes out exactly as spelled; without one, the
   URL is spelled as a browser spells it (WHATWG, `crawler.page.resolve`); the
   `Host` field is the URL's authority as spelled, unless the request has one;
2. connections: kept open and reused, per (scheme, host, port, guarded), at most
   `pool_size` idle ones each; an idle connection the server closed is dropped
   before it is used, and a reused one that fails before the first byte of the
   answer is replaced once by a new one (a GET is safe to send again). A
   `Request.guarded` request only ever uses connections made to addresses its
   `AddressGuard` checked (the host resolved once, every address checked, those
   same addresses connected to: `crawler.fetching.address_guard`);
3. trust: one SSL context per transport (`crawler.fetching.tls.Trust`: certifi's
   bundle, or the environment's `REQUESTS_CA_BUNDLE`/`CURL_CA_BUNDLE`, plus the
   extras), the certificate checked for the host name, TLS 1.2 at least;
4. the answer: the status line and header fields as they came, in order (1xx
   interim answers skipped); the body framed by `Transfer-Encoding: chunked`,
   `Content-Length`, or the end of the connection, and streamed by `read1`,
   at most one read from the network at a time; every read bounded by
   `Request.timeout`;
5. errors: translated here, once, into `TransportError`s with the standard
   library's rows of `crawler.fetching.reasons`; an answer that is not HTTP is
   `connection failed`, a connection closed before any answer `empty reply from
   server`, a body that stops early `body cut short`.

No proxy and no `.netrc`: when the environment names either, `make_transport`
uses requests' transport (`crawler.fetching.transports.http`), which honours them
per request as requests does (`proxied_environment`).
"""

from __future__ import annotations

# getaddrinfo's codec for host names, imported with this module (before a pool forks its
# workers) rather than on each worker's first connection
import encodings.idna  # noqa: F401
import os
import select
import socket
import ssl
import urllib.request
from collections.abc import Mapping
from typing import Any

from crawler.fetching import reasons
from crawler.fetching.address_guard import AddressGuard, connect_first
from crawler.fetching.exact_target import is_exact, target_of
from crawler.fetching.tls import Trust
from crawler.fetching.transports.base import Headers, Request, Response, TransportError

MAX_LINE = 65536  # the longest status line or header field read (as http.client)
MAX_FIELDS = 100  # the most header fields an answer may have (as http.client)
BUFFER = 64 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}
NO_BODY = frozenset({204, 304})
NOT_HTTP = "connection failed"  # what requests said of an answer that is not HTTP
EMPTY_REPLY = "empty reply from server"
CUT_SHORT = "body cut short"
_NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def proxied_environment() -> bool:
    """Whether the environment names a proxy (`*_proxy`, as urllib reads them) or a
    `.netrc` file (`NETRC`, else `~/.netrc` or `~/_netrc`), which requests honours
    per request."""
    netrc = os.environ.get("NETRC")
    places = [netrc] if netrc else ["~/.netrc", "~/_netrc"]
    return bool(urllib.request.getproxies()) or any(
        os.path.exists(os.path.expanduser(place)) for place in places
    )


def environment_bundle(environ: Mapping[str, str] = os.environ) -> str | None:
    """The CA bundle requests would trust instead of certifi's, from the environment."""
    return environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE") or None


def new_context() -> ssl.SSLContext:
    """A client context with the defaults a browser-like client uses: the name and
    the chain checked, TLS 1.2 at least, no compression, HTTP/1.1 offered by ALPN.
    The trusted certificates are loaded by `Trust`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    context.post_handshake_auth = True
    context.set_alpn_protocols(["http/1.1"])
    return context


class BadAnswer(Exception):
    """What came back is not an HTTP/1.x answer."""


def split_url(url: str) -> tuple[str, str, str, int]:
    """(scheme, authority as spelled, host, port) of an absolute http(s) URL;
    TransportError `cannot fetch: ...` for one that cannot be sent."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in DEFAULT_PORTS:
        raise TransportError("cannot fetch: InvalidSchema", False)
    end = len(rest)
    for mark in "/?#":
        at = rest.find(mark)
        if 0 <= at < end:
            end = at
    authority = rest[:end].rpartition("@")[2]
    host, port = authority, ""
    if authority.startswith("["):
        close = authority.find("]")
        host, port = authority[: close + 1], authority[close + 1 :].removeprefix(":")
        if close < 0 or (port == "" and authority[close + 1 :] not in ("", ":")):
            raise TransportError("cannot fetch: InvalidURL", False)
    elif ":" in authority:
        host, _, port = authority.rpartition(":")
    if not host or (port and not (port.isascii() and port.isdigit() and int(port) < 65536)):
        raise TransportError("cannot fetch: InvalidURL", False)
    return scheme, authority, host, int(port) if port else DEFAULT_PORTS[scheme]


class Connection:
    """One open connection, and the buffered reader over it."""

    __slots__ = ("key", "peer", "reader", "reused", "sock")

    def __init__(self, sock: socket.socket, key: tuple) -> None:
        self.sock = sock
        self.key = key
        self.reader = sock.makefile("rb", buffering=BUFFER)
        self.reused = False
        try:
            self.peer: str | None = str(sock.getpeername()[0])
        except (OSError, IndexError, TypeError):
            self.peer = None

    def dropped(self) -> bool:
        """Whether an idle connection was closed by the server (or has unasked-for
        bytes waiting): either way it cannot carry the next request."""
        try:
            descriptor = self.sock.fileno()
            if descriptor < 1024:  # select's limit (FD_SETSIZE); poll has none, costs more
                return bool(select.select([descriptor], [], [], 0)[0])
            poller = select.poll()
            poller.register(descriptor, select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return True

    def close(self) -> None:
        try:
            self.reader.close()
        finally:
            self.sock.close()


class WireResponse(Response):
    """An answer of `WireTransport`: the body framed as its header says, read from
    the connection's buffer."""

    def __init__(
        self,
        request: Request,
        status: int,
        headers: Headers,
        reason: str,
        version: str,
        connection: Connection,
        transport: WireTransport,
        length: int | None,
        chunked: bool,
        keep: bool,
    ) -> None:
        super().__init__(request, status, headers, reason, version, connection.peer)
        self.connection: Connection | None = connection
        self.transport = transport
        self.left = length  # bytes of the body (or of the current chunk) still to come
        self.chunked = chunked
        self.keep = keep  # the connection may carry another request once this ends
        self.done = length == 0 and not chunked

    def read1(self, size: int) -> bytes:
        if self.done or self.connection is None:
            return b""
        reader = self.connection.reader
        try:
            if self.chunked:
                return self._chunk(reader, size)
            if self.left is None:  # to the end of the connection
                data = reader.read1(size)
                self.done = not data
                return data
            data = reader.read1(min(size, self.left))
            if not data:
                raise TransportError(CUT_SHORT, True)
            self.left -= len(data)
            self.done = self.left == 0
            return data
        except (OSError, ValueError) as error:
            raise _translated(error) from None

    def _chunk(self, reader: Any, size: int) -> bytes:
        if not self.left:
            line = reader.readline(MAX_LINE + 1)
            if not line:
                raise TransportError(CUT_SHORT, True)
            try:
                self.left = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise TransportError(CUT_SHORT, True) from None
            if self.left < 0:
                raise TransportError(CUT_SHORT, True)
            if self.left == 0:  # the last chunk: the trailer fields, then the end
                for _ in range(MAX_FIELDS + 1):
                    line = reader.readline(MAX_LINE + 1)
                    if line in (b"\r\n", b"\n", b""):
                        break
                self.done = True
                return b""
        data = reader.read1(min(size, self.left))
        if not data:
            raise TransportError(CUT_SHORT, True)
        self.left -= len(data)
        if self.left == 0 and reader.readline(MAX_LINE + 1) not in (b"\r\n", b"\n"):
            raise TransportError(CUT_SHORT, True)
        return data

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        if self.done and self.keep:
            self.transport.give_back(connection)
        else:
            connection.close()


def _translated(error: BaseException) -> TransportError:
    if isinstance(error, TransportError):
        return error
    reason = reasons.explain(error, reasons.REASONS)
    if reason is None:
        return TransportError(NOT_HTTP, True)
    return TransportError(reason.text, reason.transient)


def _status(line: bytes) -> tuple[str, int, str]:
    """(version, status, reason) of a status line; BadAnswer if it is not one."""
    parts = line.decode("latin-1").rstrip("\r\n").split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise BadAnswer(line[:80])
    code = parts[1]
    if len(code) != 3 or not code.isdigit() or code < "100":
        raise BadAnswer(line[:80])
    return parts[0], int(code), parts[2].strip() if len(parts) > 2 else ""


def _fields(reader: Any) -> list[tuple[str, str]]:
    """The header fields up to the blank line, in order, as latin-1; a folded
    line is joined to its field; a line without a name is passed over."""
    fields: list[tuple[str, str]] = []
    while True:
        line = reader.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise BadAnswer("header line too long")
        if line in (b"\r\n", b"\n", b""):
            return fields
        text = line.decode("latin-1")
        if text[0] in " \t":
            if fields:
                name, value = fields[-1]
                fields[-1] = (name, f"{value} {text.strip()}")
            continue
        name, sep, value = text.partition(":")
        if sep and name and not name[-1].isspace():
            fields.append((name, value.strip(" \t\r\n")))
            if len(fields) > MAX_FIELDS:
                raise BadAnswer("too many header fields")


class WireTransport:
    """GET over HTTP/1.1 with a pool of kept connections (see the module's
    docstring). One per thread: its pool is not locked."""

    def __init__(
        self,
        guard: AddressGuard | None = None,
        pool_size: int = 16,
        extra_trust: tuple[str, ...] = (),
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.guard = guard or AddressGuard()
        self.pool_size = pool_size
        self.trust = Trust(extra_trust, new_context)
        self.verify: bool | str = environment_bundle(environ) or True
        self.idle: dict[tuple, list[Connection]] = {}

    def send(self, request: Request) -> WireResponse:
        url, target = request.url, request.target
        if target is None:
            url = self.spelled(url)
            target = target_of(url)
            request = request._replace(target=target)
        elif not target.isascii() or any(c <= " " or c == "\x7f" for c in target):
            raise TransportError("cannot fetch: InvalidURL", False)
        scheme, authority, host, port = split_url(url)
        head = self.head(request, target, authority)
        key = (scheme, host, port, request.guarded)
        connection = self.idle_connection(key)
        if connection is not None:
            try:
                return self.exchange(request, connection, head)
            except _Stale:
                pass  # the server closed it meanwhile: once more, on a new connection
        return self.exchange(request, self.open(key, request.timeout), head)

    @staticmethod
    def spelled(url: str) -> str:
        """`url` as it goes out: as written, or, when it cannot be (a raw space, a
        character outside ASCII, in its path or its host), as a browser spells it."""
        if is_exact(url):
            return url
        from crawler.page.resolve import resolve  # ada-url: only for such URLs

        resolved = resolve(url, url)
        if resolved is None or not is_exact(resolved):
            raise TransportError("cannot fetch: InvalidURL", False)
        return resolved

    @staticmethod
    def head(request: Request, target: str, authority: str) -> bytes:
        lines = [f"{request.method} {target} HTTP/1.1\r\n"]
        if "Host" not in request.headers:
            lines.append(f"Host: {authority}\r\n")
        for name, value in request.headers.pairs:
            if "\n" in value or "\r" in value or "\n" in name or "\r" in name or ":" in name:
                raise TransportError("cannot fetch: InvalidHeader", False)
            lines.append(f"{name}: {value}\r\n")
        lines.append("\r\n")
        text = "".join(lines)
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError:
            return text.encode("utf-8")

    def idle_connection(self, key: tuple) -> Connection | None:
        idle = self.idle.get(key)
        while idle:
            connection = idle.pop()
            if connection.dropped():
                connection.close()
                continue
            connection.reused = True
            return connection
        return None

    def give_back(self, connection: Connection) -> None:
        idle = self.idle.setdefault(connection.key, [])
        if len(idle) < self.pool_size:
            idle.append(connection)
        else:
            connection.close()

    def open(self, key: tuple, timeout: float) -> Connection:
        scheme, host, port, guarded = key
        name = host.strip("[]")
        try:
            if guarded:
                sock = connect_first(self.guard.addresses(name, port), timeout, (_NODELAY,))
            else:
                sock = socket.create_connection((name, port), timeout)
                sock.setsockopt(*_NODELAY)
            if scheme == "https":
                context = self.trust.context(self.verify)
                try:
                    sock = context.wrap_socket(sock, server_hostname=name.rstrip("."))
                except BaseException:
                    sock.close()
                    raise
        except Exception as error:
            found = reasons.explain(error, reasons.REASONS)
            if found is None:
                raise
            raise TransportError(found.text, found.transient) from None
        return Connection(sock, key)

    def exchange(self, request: Request, connection: Connection, head: bytes) -> WireResponse:
        """Send `head` on `connection` and read the answer's head. _Stale when a
        reused connection fails before the answer's first byte."""
        try:
            connection.sock.settimeout(request.timeout)
            connection.sock.sendall(head)
            reader = connection.reader
            while True:
                line = reader.readline(MAX_LINE + 1)
                if not line:
                    raise _Stale() if connection.reused else TransportError(EMPTY_REPLY, True)
                version, status, reason = _status(line)
                fields = _fields(reader)
                if not 100 <= status < 200 or status == 101:
                    break  # an interim answer (100 Continue, 103 Early Hints): the next
        except _Stale:
            connection.close()
            raise
        except (ConnectionResetError, BrokenPipeError) as error:
            connection.close()
            if connection.reused:
                raise _Stale() from None
            raise _translated(error) from None
        except BadAnswer:
            connection.close()
            raise TransportError(NOT_HTTP, True) from None
        except TransportError:
            connection.close()
            raise
        except (OSError, ValueError) as error:
            connection.close()
            raise _translated(error) from None
        except BaseException:
            connection.close()
            raise
        headers = Headers(fields)
        joined = headers.joined()
        close = "close" in joined.get("connection", "").lower()
        keep = (
            not close
            if version == "HTTP/1.1"
            else "keep-alive" in joined.get("connection", "").lower()
        )
        chunked = "chunked" in joined.get("transfer-encoding", "").lower()
        length: int | None = None
        if status in NO_BODY or 100 <= status < 200 or request.method == "HEAD":
            length, chunked = 0, False
        elif not chunked:
            declared = joined.get("content-length")
            if declared is not None:
                values = {value.strip() for value in declared.split(",")}
                value = values.pop() if len(values) == 1 else ""
                if value.isascii() and value.isdigit():
                    length = int(value)
            if length is None:
                keep = False  # the body ends with the connection
        return WireResponse(
            request,
            status,
            headers,
            reason,
            "HTTP/1.0" if version == "HTTP/1.0" else "HTTP/1.1",
            connection,
            self,
            length,
            chunked,
            keep,
        )

    def close(self) -> None:
        for idle in self.idle.values():
            for connection in idle:
                connection.close()
        self.idle.clear()


class _Stale(Exception):
    """A reused connection failed before the answer began: the server had closed it."""


TRANSPORT = WireTransport
