"""The transport interface: send one request, get one answer. What every transport
promises, and every layer around one may rely on.

A transport sends exactly one request (no redirect followed, no retry, no cookie
kept, nothing added but what its protocol needs, such as `Host`) and returns the
`Response` as it came: the status line, the header fields as received, in order,
duplicates kept (`Set-Cookie` included), the peer's IP address if it knows it, and
the body as a stream of the bytes that came over the wire, Content-Encoding not
undone (`crawler.fetching.body` undoes it, with the size cap, for every transport).

A `Request` says what to send: the method, the absolute URL, the request target to
send exactly as spelled (`target`; None: the transport spells the URL's path and
query its own way), the header fields, a timeout for the connection and for each
read, and whether connections must pass the address guard (`guarded`: a
transport that opens connections refuses an address that is not global before
connecting, `crawler.fetching.address_guard`; one that opens none, such as a
replay, has nothing to guard).

Errors: `send`, `Response.read1` and `Response.close` raise `TransportError` for
whatever the network or the site does (its `reason` is the one line the record
gets, its `transient` says whether another attempt may do better); no error of a
library underneath crosses this boundary. Anything else they raise is a bug.

Layers (the cache, an archive writer) are transports that hold another: they
see each request as sent and each answer as received, and may answer themselves.
A layer that wants the body once it has been read whole within the bounds adds a
callback to `Response.on_body`; one that wants the wire bytes wraps `read1`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple, Protocol

Pairs = tuple[tuple[str, str], ...]


class TransportError(Exception):
    """A request or its answer failed. `reason`: one line a person can act on
    (`connection refused`, `TLS: hostname mismatch`); `transient`: worth another
    attempt."""

    def __init__(self, reason: str, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient

    def __reduce__(self) -> tuple:
        return (type(self), (self.reason, self.transient))


class Headers:
    """Header fields in order, names as spelled, duplicates kept. `get` looks a
    name up in any case and joins duplicates with ", " (as one field); `get_all`
    gives each value (`Set-Cookie`'s, which cannot be joined)."""

    __slots__ = ("_index", "pairs")

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self.pairs: Pairs = tuple(pairs)
        self._index: dict[str, str] | None = None

    def joined(self) -> dict[str, str]:
        """{lower-case name: the values joined}, in the order names first came."""
        if self._index is None:
            index: dict[str, str] = {}
            for name, value in self.pairs:
                key = name.lower()
                index[key] = f"{index[key]}, {value}" if key in index else value
            self._index = index
        return self._index

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.joined().get(name.lower(), default)

    def get_all(self, name: str) -> list[str]:
        lower = name.lower()
        return [value for key, value in self.pairs if key.lower() == lower]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self.joined()

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and other.pairs == self.pairs

    def __hash__(self) -> int:
        return hash(self.pairs)

    def __repr__(self) -> str:
        return f"Headers({list(self.pairs)!r})"

    def replaced(self, name: str, value: str) -> Headers:
        """These headers with `name` set to `value` (any field of that name, in any
        case, taken out)."""
        lower = name.lower()
        return Headers((*(pair for pair in self.pairs if pair[0].lower() != lower), (name, value)))


class Request(NamedTuple):
    """One request to send (see the module's docstring)."""

    url: str  # absolute, without `user:password@` or fragment sent
    headers: Headers
    target: str | None = None  # sent exactly, as spelled; None: the transport spells `url`
    method: str = "GET"
    timeout: float = 30.0  # seconds, to connect and for each read
    guarded: bool = False  # connections must pass the address guard


class Response:
    """One answer. A transport sets the attributes and implements `read1` and
    `close`; `request` is the request as it was sent (its `target` as it went on
    the wire when the transport knows it)."""

    status: int
    reason: str
    version: str  # "HTTP/1.1"
    headers: Headers
    request: Request
    peer: str | None = None  # the IP address the answer came from, when known
    decoded: bool = False  # the stream is already without its Content-Encoding (a cache's)
    from_cache: bool = False  # answered from a cache (a 304 revalidated, or still fresh)
    # A 304 to a cache's conditional request: the `Date` (an HTTP-date) of the stored
    # answer it confirms, set before its body is read, for an archive's revisit.
    confirms_date: str = ""

    def __init__(
        self,
        request: Request,
        status: int,
        headers: Headers,
        reason: str = "",
        version: str = "HTTP/1.1",
        peer: str | None = None,
    ) -> None:
        self.request = request
        self.status = status
        self.headers = headers
        self.reason = reason
        self.version = version
        self.peer = peer
        self.on_body: list[Callable[[Response, bytes], None]] = []

    @property
    def url(self) -> str:
        return self.request.url

    def read1(self, size: int) -> bytes:
        """Up to `size` bytes of the body as it came (b"" at its end), after at most
        one read from the network, so a caller can check a deadline between reads."""
        raise NotImplementedError

    def close(self) -> None:
        """Give the connection back (or drop it, if the body was not read to its end)."""

    def body_read(self, body: bytes) -> None:
        """Tell the layers that the body was read whole within the bounds: `body`,
        Content-Encoding undone (`crawler.fetching.body.read_body` calls it)."""
        for callback in self.on_body:
            callback(self, body)


class BytesResponse(Response):
    """A response whose body is in memory (a cache's answer, a fake's, a replay's)."""

    def __init__(
        self, request: Request, status: int, headers: Headers, body: bytes, **rest: Any
    ) -> None:
        super().__init__(request, status, headers, **rest)
        self._body = memoryview(body)
        self._at = 0

    def read1(self, size: int) -> bytes:
        chunk = bytes(self._body[self._at : self._at + size])
        self._at += len(chunk)
        return chunk


class Transport(Protocol):
    """What sends requests: a transport, or a layer around one."""

    def send(self, request: Request) -> Response:
        """Send `request` once; the answer, its body not read yet. TransportError
        for what the network or the site does."""
        ...

    def close(self) -> None:
        """Close its connections (and what its layers hold)."""
        ...
