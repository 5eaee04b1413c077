"""The crawl's own HTTP/1.1 transport (crawler.fetching.transports.wire), against a server on
127.0.0.1 that answers each request with bytes a test scripts: what goes on the wire, how
an answer is framed, when a connection is kept, and what a broken answer is called."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import trustme

from crawler.fetching.address_guard import AddressGuard
from crawler.fetching.body import read_body
from crawler.fetching.transports.base import Headers, Request, TransportError
from crawler.fetching.transports.wire import WireTransport, split_url
from tests.certs import issued

HEADERS = Headers([("User-Agent", "crawl-test"), ("Accept", "*/*")])


class Scripted:
    """Answers the Nth request with `answers[N]` (bytes; `close` after it when the
    answer is a tuple (bytes, True)); records each request's head and how many
    connections were accepted."""

    def __init__(self, answers: list) -> None:
        self.answers = list(answers)
        self.requests: list[bytes] = []
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(10)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self) -> None:
        while self.answers:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.answer, args=(connection,), daemon=True).start()

    def answer(self, connection: socket.socket) -> None:
        connection.settimeout(10)
        with connection:
            buffer = b""
            while self.answers:
                while b"\r\n\r\n" not in buffer:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                self.requests.append(head)
                answer = self.answers.pop(0)
                data, close = answer if isinstance(answer, tuple) else (answer, False)
                connection.sendall(data)
                if close:
                    return

    def close(self) -> None:
        self.answers.clear()
        self.listener.close()


@pytest.fixture
def script() -> Iterator:
    servers: list[Scripted] = []

    def start(*answers: object) -> Scripted:
        servers.append(Scripted(list(answers)))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def ok(body: bytes = b"hello", *fields: str) -> bytes:
    head = "".join(f"{field}\r\n" for field in fields)
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body


def get(transport: WireTransport, url: str, target: str | None = None, guarded: bool = False):
    response = transport.send(Request(url, HEADERS, target, timeout=5.0, guarded=guarded))
    try:
        return response, read_body(response, 1 << 20, float("inf"))
    finally:
        response.close()


def test_the_request_goes_out_as_given(script) -> None:
    server = script(ok())
    transport = WireTransport()
    response, body = get(transport, server.url("/foo%?q"), "/foo%?q")
    assert body == b"hello"
    assert server.requests[0] == (
        b"GET /foo%%?q HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: crawl-test\r\nAccept: */*"
        % server.port
    )
    assert response.request.target == "/foo%?q"
    assert response.peer == "127.0.0.1"


def test_a_url_that_cannot_go_out_as_spelled_is_spelled_as_a_browser_does(script) -> None:
    server = script(ok())
    response, _ = get(WireTransport(), server.url("/a b/é?x y"))
    assert server.requests[0].split(b"\r\n")[0] == b"GET /a%20b/%C3%A9?x%20y HTTP/1.1"
    assert response.request.target == "/a%20b/%C3%A9?x%20y"


def test_a_host_outside_ascii_is_sent_as_a_browser_spells_it(script) -> None:
    server = script(ok())
    guard = AddressGuard(lambda host, port: _loopback(host, port, server.port), lambda _: True)
    url = f"http://bücher.test:{server.port}/é"
    response, _ = get(WireTransport(guard), url, guarded=True)
    head = server.requests[0].split(b"\r\n")
    assert head[:2] == [b"GET /%C3%A9 HTTP/1.1", b"Host: xn--bcher-kva.test:%d" % server.port]
    assert response.url == url  # the answer is to the URL as asked


def _loopback(host: str, port: int, expected: int) -> list:
    assert (host, port) == ("xn--bcher-kva.test", expected)
    return socket.getaddrinfo("127.0.0.1", port, socket.AF_INET, socket.SOCK_STREAM)


def test_fields_come_in_order_with_duplicates_and_folds(script) -> None:
    answer = (
        b"HTTP/1.1 200 Fine\r\nSet-Cookie: a=1\r\nX-Long: one\r\n two\r\nset-cookie: b=2\r\n"
        b"no colon here\r\nContent-Length: 2\r\n\r\nhi"
    )
    response, body = get(WireTransport(), script(answer).url())
    assert (response.status, response.reason, body) == (200, "Fine", b"hi")
    assert response.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert response.headers.get("X-Long") == "one two"


def test_a_chunked_body_with_extensions_and_trailers(script) -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=x\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: yes\r\n\r\n"
    )
    server = script(answer, ok(b"again"))
    transport = WireTransport()
    assert get(transport, server.url())[1] == b"hello world"
    assert get(transport, server.url())[1] == b"again"
    assert server.connections == 1  # read to its end, the connection was kept


def test_interim_answers_are_passed_over(script) -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + ok()
    response, body = get(WireTransport(), script(answer).url())
    assert (response.status, body) == (200, b"hello")


def test_a_body_without_length_ends_with_the_connection(script) -> None:
    server = script((b"HTTP/1.1 200 OK\r\n\r\nuntil the end", True), ok(b"next"))
    transport = WireTransport()
    assert get(transport, server.url())[1] == b"until the end"
    assert get(transport, server.url())[1] == b"next"
    assert server.connections == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
    ],
)
def test_a_connection_the_server_closes_is_not_kept(script, answer: bytes) -> None:
    server = script((answer, True), ok(b"next"))
    transport = WireTransport()
    assert get(transport, server.url())[1] == b"hello"
    assert get(transport, server.url())[1] == b"next"
    assert server.connections == 2


def test_an_idle_connection_the_server_closed_is_replaced(script) -> None:
    server = script((ok(b"first"), True), ok(b"second"))
    transport = WireTransport()
    assert get(transport, server.url())[1] == b"first"
    assert get(transport, server.url())[1] == b"second"


def test_a_kept_connection_closed_under_a_request_is_replaced_once(script) -> None:
    """The server closed the kept connection as the request went out (its idle
    timeout): the request goes once more, on a new connection."""
    server = script(ok(b"first"), (b"", True), ok(b"second"))
    transport = WireTransport()
    assert get(transport, server.url())[1] == b"first"
    assert get(transport, server.url())[1] == b"second"
    assert (len(server.requests), server.connections) == (3, 2)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ((b"", True), "empty reply from server"),
        ((b"SSH-2.0-OpenSSH\r\n\r\n", True), "connection failed"),
        ((b"HTTP/1.1 2000 OK\r\n\r\n", True), "connection failed"),
        ((b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", True), "body cut short"),
        ((b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", True), "body cut short"),
    ],
)
def test_broken_answers_say_what_broke(script, answer: tuple, reason: str) -> None:
    with pytest.raises(TransportError) as raised:
        get(WireTransport(), script(answer).url())
    assert (raised.value.reason, raised.value.transient) == (reason, True)


def test_an_https_connection_is_kept_and_checked(serve, tmp_path) -> None:
    ca = trustme.CA()
    server = serve(tls=issued(ca, "127.0.0.1"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    transport = WireTransport(extra_trust=(str(tmp_path / "ca.pem"),))
    for name in ("a", "b", "c"):
        response, body = get(transport, server.url(f"/page/{name}"))
        assert (response.status, f"页面 {name}".encode() in body) == (200, True)
    assert server.connections == 1
    with pytest.raises(TransportError) as raised:  # the same server, its CA not trusted
        get(WireTransport(), server.url("/page/a"))
    assert raised.value.reason.startswith("TLS: certificate verify failed")


def test_a_guarded_request_never_connects_to_a_private_address(script) -> None:
    server = script(ok())
    with pytest.raises(TransportError) as raised:
        get(WireTransport(AddressGuard()), server.url(), guarded=True)
    assert raised.value.reason == "refused: private address (127.0.0.1)"
    assert server.connections == 0
    allowing = AddressGuard(allowed=lambda address: True)
    assert get(WireTransport(allowing), server.url(), guarded=True)[1] == b"hello"


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        ("http://h.test/x", ("http", "h.test", "h.test", 80)),
        ("HTTPS://h.test:8443?q", ("https", "h.test:8443", "h.test", 8443)),
        ("http://u:p@[::1]:81/", ("http", "[::1]:81", "[::1]", 81)),
        ("https://[::1]#f", ("https", "[::1]", "[::1]", 443)),
    ],
)
def test_split_url(url: str, parts: tuple) -> None:
    assert split_url(url) == parts


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://h.test/", "cannot fetch: InvalidSchema"),
        ("http://h.test:99999/", "cannot fetch: InvalidURL"),
        ("http://h.test:x/", "cannot fetch: InvalidURL"),
        ("http:///path", "cannot fetch: InvalidURL"),
    ],
)
def test_urls_that_cannot_be_fetched(url: str, reason: str) -> None:
    with pytest.raises(TransportError) as raised:
        split_url(url)
    assert (raised.value.reason, raised.value.transient) == (reason, False)
