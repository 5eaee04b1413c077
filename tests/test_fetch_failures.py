"""What a failed fetch says, met for real: servers on 127.0.0.1 that the tests
start (a closed port, HTTPS with certificates the tests make, a redirect loop, a
server that resets), each failure's reason in the words curl and wget use."""

from __future__ import annotations

import socket
import struct
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import trustme

from crawler.fetching.fetch import fetch, make_transport
from crawler.model import Failure, Page
from crawler.settings import FetchSettings
from tests.certs import issued, self_signed
from tests.server import TestServer

ONCE = FetchSettings(timeout=5.0, retries=0, max_bytes=1000, max_redirects=3)
TWICE = replace(ONCE, retries=1, backoff_initial=0.001, backoff_max=0.002)


def get(url: str, settings: FetchSettings = ONCE) -> Page | Failure:
    return fetch(make_transport(settings), url, settings)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_closed_port_is_connection_refused() -> None:
    url = f"http://127.0.0.1:{closed_port()}/"
    assert get(url) == Failure(url, "connection refused after 1 attempt", 1)
    assert get(url, TWICE) == Failure(url, "connection refused after 2 attempts", 2)


def test_a_self_signed_certificate_says_so(serve, tmp_path: Path) -> None:
    context, _ = self_signed(tmp_path)
    server = serve(tls=context)
    url = server.url("/page/a")
    assert get(url, TWICE) == Failure(
        url, "TLS: certificate verify failed: self-signed certificate", 1
    )
    assert server.request_count() == 0


def test_the_same_server_trusted_with_ca_bundle(serve, tmp_path: Path) -> None:
    context, pem = self_signed(tmp_path)
    server = serve(tls=context)
    page = get(server.url("/page/a"), replace(ONCE, ca_bundle=pem))
    assert isinstance(page, Page) and "页面 a" in page.text


def test_ca_bundle_adds_to_the_usual_trust(serve, tmp_path: Path) -> None:
    """Two internal sites, one trusted by --ca-bundle, one by SSL_CERT_FILE: both
    are fetched by one session."""
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first, first_pem = self_signed(tmp_path / "one", subject="one site")
    second, second_pem = self_signed(tmp_path / "two", subject="another site")
    one, two = serve(tls=first), serve(tls=second)
    settings = replace(ONCE, ca_bundle=first_pem)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSL_CERT_FILE", str(second_pem))
        session = make_transport(settings)
    for server in (one, two):
        assert isinstance(fetch(session, server.url("/page/x"), settings), Page)


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"])
def test_the_environment_s_ca_bundle_is_honoured(
    serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    context, pem = self_signed(tmp_path)
    server = serve(tls=context)
    if variable == "SSL_CERT_DIR":  # a folder of hashed names, as c_rehash makes
        monkeypatch.setenv(variable, str(_hashed_folder(pem, tmp_path / "certs")))
    else:
        monkeypatch.setenv(variable, str(pem))
    assert isinstance(get(server.url("/page/a")), Page)


def _hashed_folder(pem: Path, folder: Path) -> Path:
    """A CA folder holding `pem` under OpenSSL's subject-hash name."""
    folder.mkdir()
    found = subprocess.run(
        ["openssl", "x509", "-hash", "-noout", "-in", str(pem)],
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        pytest.skip("no openssl command to name the hashed file")
    (folder / f"{found.stdout.strip()}.0").write_bytes(pem.read_bytes())
    return folder


def test_an_unreadable_ca_bundle_says_so(serve, tmp_path: Path) -> None:
    context, _ = self_signed(tmp_path)
    server = serve(tls=context)
    missing = tmp_path / "missing.pem"
    url = server.url("/page/a")
    assert get(url, replace(ONCE, ca_bundle=missing)) == Failure(
        url, f"TLS: cannot load CA bundle {missing} (No such file or directory)", 1
    )


def test_a_certificate_for_another_name_is_a_hostname_mismatch(serve, tmp_path: Path) -> None:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    server = serve(tls=issued(ca, "other.example"))
    url = server.url("/page/a")
    settings = replace(ONCE, ca_bundle=tmp_path / "ca.pem")
    assert get(url, settings) == Failure(url, "TLS: hostname mismatch", 1)
    assert server.request_count() == 0


def test_a_certificate_from_an_unknown_ca(serve) -> None:
    server = serve(tls=issued(trustme.CA(), "127.0.0.1"))
    url = server.url("/page/a")
    assert get(url) == Failure(
        url, "TLS: certificate verify failed: unable to get local issuer certificate", 1
    )


def test_tls_spoken_to_a_plain_http_server(server: TestServer) -> None:
    url = server.url("/page/a").replace("http://", "https://")
    assert get(url) == Failure(url, "TLS: wrong version number", 1)


def test_a_redirect_loop_is_too_many_redirects(server: TestServer) -> None:
    url = server.url("/redirect-loop")
    assert get(url) == Failure(url, "too many redirects (3)", 1)
    assert server.count("/redirect-loop") == ONCE.max_redirects + 1


def test_redirects_up_to_the_limit_arrive(server: TestServer) -> None:
    page = get(server.url("/redirect/3"))
    assert isinstance(page, Page)
    assert page.redirects == tuple(server.url(f"/redirect/{n}") for n in (2, 1, 0))
    assert page.final_url == server.url("/redirect/0")
    assert server.connections == 1  # each redirect's body read, its connection reused


def test_a_name_that_does_not_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    """The system resolver answers "no such name" for this one name (patched in
    this process: no DNS query is sent). Not retried: the name will not appear."""
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "no-such-host.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    url = "http://no-such-host.invalid/"
    assert get(url, TWICE) == Failure(url, "name not resolved", 1)


def test_a_server_that_never_answers_times_out(server: TestServer) -> None:
    url = server.url("/hang")
    assert get(url, replace(ONCE, timeout=0.5)) == Failure(url, "timed out after 1 attempt", 1)


def test_http_errors_and_size_and_short_bodies(server: TestServer) -> None:
    for path, reason in [
        ("/status/404", "HTTP 404"),
        ("/status/503", "HTTP 503 after 1 attempt"),
        ("/big?bytes=5000", "larger than 1000 bytes"),
        ("/big?bytes=5000&length=0", "larger than 1000 bytes"),
        ("/truncated?bytes=800", "body cut short after 1 attempt"),
    ]:
        result = get(server.url(path))
        assert isinstance(result, Failure) and result.reason == reason, path


@pytest.fixture
def resetting() -> Iterator[int]:
    """A port whose server reads the request, then resets the connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(10)

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.settimeout(10)
            connection.recv(65536)
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()  # with linger 0: an RST, not a FIN

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()


def test_a_reset_connection(resetting: int) -> None:
    url = f"http://127.0.0.1:{resetting}/"
    assert get(url, TWICE) == Failure(url, "connection reset after 2 attempts", 2)
