"""The address guard and the policy of a found URL's fetch (crawler.fetching.address_guard,
crawler.fetching.fetch with a FetchPolicy).

Classification is tested on address strings only. Every connection test aims at
servers these tests start on loopback, and asserts that a refused one never
reached them (their count of TCP connections stays 0); no test aims at any other
address, not even to see it refused. Names are resolved by resolvers the tests
inject (numeric parsing only, or a fixed answer), so no DNS query is sent."""

from __future__ import annotations

import pickle
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import trustme

from crawler.fetching import worker
from crawler.fetching.address_guard import AddressGuard, PrivateAddress, is_global_address
from crawler.fetching.fetch import fetch, make_transport
from crawler.model import Failure, FetchPolicy, Page
from crawler.settings import FetchSettings
from crawler.urls import host_key
from tests.certs import issued
from tests.server import TestServer

SETTINGS = FetchSettings(timeout=5.0, retries=0, max_redirects=3)

# (address as getaddrinfo gives it, may a connection go there)
ADDRESSES = [
    ("8.8.8.8", True),
    ("1.1.1.1", True),
    ("93.184.216.34", True),
    ("2606:4700:4700::1111", True),
    ("2001:4860:4860::8888", True),
    ("::ffff:8.8.8.8", True),  # IPv4-mapped: judged by the IPv4 address
    ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
    ("127.0.0.1", False),
    ("127.255.255.254", False),
    ("10.0.0.1", False),
    ("172.16.0.1", False),
    ("172.31.255.255", False),
    ("192.168.1.1", False),
    ("169.254.169.254", False),  # the cloud metadata service
    ("169.254.0.1", False),
    ("100.64.0.1", False),  # CGNAT (shared address space)
    ("100.127.255.254", False),
    ("0.0.0.0", False),
    ("0.1.2.3", False),
    ("224.0.0.1", False),  # multicast
    ("239.255.255.250", False),
    ("240.0.0.1", False),  # reserved
    ("255.255.255.255", False),
    ("192.0.2.1", False),  # documentation
    ("198.51.100.1", False),
    ("203.0.113.1", False),
    ("198.18.0.1", False),  # benchmarking
    ("::1", False),
    ("::", False),
    ("fe80::1", False),
    ("fe80::1%eth0", False),
    ("fc00::1", False),
    ("fd12:3456::1", False),
    ("fec0::1", False),  # site-local (deprecated)
    ("ff02::1", False),
    ("2001:db8::1", False),  # documentation
    ("::ffff:127.0.0.1", False),
    ("::ffff:10.0.0.1", False),
    ("::ffff:169.254.169.254", False),
    ("::127.0.0.1", False),  # IPv4-compatible
    ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
    ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
    ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
    ("2002:c0a8:101::1", False),  # 6to4 of 192.168.1.1
    ("", False),
    ("localhost", False),  # not an address: fail closed
    ("2130706433", False),  # a spelling, not an address: resolved first (see below)
]


@pytest.mark.parametrize(("address", "allowed"), ADDRESSES)
def test_which_addresses_are_global(address: str, allowed: bool) -> None:
    assert is_global_address(address) is allowed


def numeric(host: str, port: int) -> list:
    """A resolver that parses numbers and never asks DNS (as getaddrinfo parses
    them: `2130706433`, `0x7f.1`, `127.1` are all 127.0.0.1)."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
        ("::1", "::1"),
        ("2852039166", "169.254.169.254"),
    ],
)
def test_numeric_spellings_are_checked_as_what_they_resolve_to(host: str, address: str) -> None:
    with pytest.raises(PrivateAddress) as refused:
        AddressGuard(numeric).addresses(host, 80)
    assert refused.value.address == address


def test_one_private_address_in_an_answer_refuses_it_all() -> None:
    def answer(host: str, port: int) -> list:
        return numeric("8.8.8.8", port) + numeric("10.0.0.1", port)

    with pytest.raises(PrivateAddress) as refused:
        AddressGuard(answer).addresses("mixed.test", 80)
    assert refused.value.address == "10.0.0.1"


def test_the_policy_pickles() -> None:
    policy = FetchPolicy(OriginScope("http://127.0.0.1:1"), True, "http://127.0.0.1:1")
    assert pickle.loads(pickle.dumps(policy)) == policy
    assert FetchPolicy() == FetchPolicy(None, False, "")


class OriginScope:
    """A scope of one origin (what the frontier's scopes decide is theirs)."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def allows(self, url: str) -> bool:
        return host_key(url) == self.origin

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OriginScope) and other.origin == self.origin


@pytest.fixture
def worker_session() -> Iterator[None]:
    """The worker's own transport and settings, as the pool initializer sets them."""
    worker.init_worker(SETTINGS)
    yield
    worker._settings = None


def untouched(server: TestServer) -> bool:
    return server.connections == 0 and server.request_count() == 0


# -- the real worker's fetch, with the system resolver (addresses in URLs only) ---
def test_a_found_url_on_loopback_is_refused_without_a_connection(
    server: TestServer, worker_session: None
) -> None:
    url = server.url("/page/a")
    guarded = FetchPolicy(None, True, "")
    assert worker.fetch_url(url, 1, None, guarded) == Failure(
        url, "refused: private address (127.0.0.1)", 1
    )
    assert untouched(server)
    # The same URL listed (no policy), or found under its own origin, is fetched.
    assert isinstance(worker.fetch_url(url, 2), Page)
    assert isinstance(
        worker.fetch_url(url, 3, policy=guarded._replace(exempt_origin=server.base)), Page
    )
    assert server.count("/page/a") == 2


def test_an_ipv4_mapped_spelling_is_refused(server: TestServer, worker_session: None) -> None:
    url = f"http://[::ffff:127.0.0.1]:{server.port}/page/a"
    assert worker.fetch_url(url, policy=FetchPolicy(None, True, "")) == Failure(
        url, "refused: private address (::ffff:127.0.0.1)", 1
    )
    assert untouched(server)


def test_a_guarded_fetch_never_reuses_an_unchecked_connection(
    server: TestServer, worker_session: None
) -> None:
    url = server.url("/page/a")
    assert isinstance(worker.fetch_url(url), Page)  # listed: its connection stays open
    refused = worker.fetch_url(url, policy=FetchPolicy(None, True, ""))
    assert refused == Failure(url, "refused: private address (127.0.0.1)", 1)
    assert server.count("/page/a") == 1 and server.connections == 1


@pytest.mark.parametrize("spelling", ["2130706433", "0x7f.1", "127.1", "[::ffff:127.0.0.1]"])
def test_numeric_host_names_are_refused(server: TestServer, spelling: str) -> None:
    session = make_transport(SETTINGS, guard=AddressGuard(numeric))
    url = f"http://{spelling}:{server.port}/page/a"
    result = fetch(session, url, SETTINGS, FetchPolicy(None, True, ""))
    assert isinstance(result, Failure) and result.reason.startswith("refused: private address")
    assert untouched(server)


# -- redirects of a found URL ------------------------------------------------------
def test_a_redirect_to_another_loopback_port_is_refused(serve, worker_session: None) -> None:
    listed, other = serve(), serve()
    url = listed.url(f"/redirect-to?url={other.url('/page/b')}")
    policy = FetchPolicy(None, True, listed.base)  # found on the listed URL's origin
    assert worker.fetch_url(url, policy=policy) == Failure(
        url, "refused: private address (127.0.0.1)", 1
    )
    assert listed.count("/redirect-to") == 1
    assert untouched(other)


def test_a_redirect_to_localhost_is_refused(serve) -> None:
    listed, other = serve(), serve()

    def hosts_file(host: str, port: int) -> list:  # what /etc/hosts would say
        return numeric("127.0.0.1" if host == "localhost" else host, port)

    session = make_transport(SETTINGS, guard=AddressGuard(hosts_file))
    url = listed.url(f"/redirect-to?url=http://localhost:{other.port}/page/b")
    result = fetch(session, url, SETTINGS, FetchPolicy(None, True, listed.base))
    assert result == Failure(url, "refused: private address (127.0.0.1)", 1)
    assert untouched(other)


def test_a_redirect_off_scope_is_not_requested(serve, worker_session: None) -> None:
    listed, other = serve(), serve()
    url = listed.url(f"/redirect-to?url={other.url('/page/b')}")
    policy = FetchPolicy(OriginScope(listed.base), False, listed.base)
    assert worker.fetch_url(url, policy=policy) == Failure(
        url, f"redirected off scope to 127.0.0.1:{other.port}", 1
    )
    assert untouched(other)
    # Within the scope, redirects are followed as ever.
    inside = listed.url(f"/redirect-to?url={listed.url('/redirect/2')}")
    page = worker.fetch_url(inside, policy=policy)
    assert isinstance(page, Page) and page.final_url == listed.url("/redirect/0")


def test_without_a_policy_redirects_go_anywhere(serve, worker_session: None) -> None:
    listed, other = serve(), serve()
    url = listed.url(f"/redirect-to?url={other.url('/page/b')}")
    page = worker.fetch_url(url)
    assert isinstance(page, Page)
    assert page.redirects == (other.url("/page/b"),)
    assert other.count("/page/b") == 1


# -- a name whose answer changes (DNS rebinding) -----------------------------------
class Rebinding:
    """A resolver whose answer for every name changes after the first question:
    `first`, then `then` for ever. Counts the questions."""

    def __init__(self, first: tuple[str, int], then: tuple[str, int]) -> None:
        self.answers = [first, then]
        self.questions = 0

    def __call__(self, host: str, port: int) -> list:
        address, real_port = self.answers[min(self.questions, 1)]
        self.questions += 1
        return numeric(address, real_port)


def only(address: str):
    """A stand-in for "global": only `address` is (the tests' servers are all on
    loopback, which the real check refuses)."""
    return lambda candidate: candidate == address


def test_the_connection_goes_to_the_address_that_was_checked(serve) -> None:
    checked, rebound = serve(host="127.0.0.1"), serve(host="127.0.0.2")
    resolver = Rebinding(("127.0.0.1", checked.port), ("127.0.0.2", rebound.port))
    session = make_transport(SETTINGS, guard=AddressGuard(resolver, only("127.0.0.1")))
    url = f"http://rebind.test:{checked.port}/page/a"
    page = fetch(session, url, SETTINGS, FetchPolicy(None, True, ""))
    assert isinstance(page, Page)
    assert resolver.questions == 1  # resolved once, for the check and the connection
    assert checked.count("/page/a") == 1
    assert untouched(rebound)


def test_a_private_first_answer_is_refused_whatever_comes_next(serve) -> None:
    private, allowed = serve(host="127.0.0.2"), serve(host="127.0.0.1")
    resolver = Rebinding(("127.0.0.2", private.port), ("127.0.0.1", allowed.port))
    session = make_transport(SETTINGS, guard=AddressGuard(resolver, only("127.0.0.1")))
    url = f"http://rebind.test:{allowed.port}/page/a"
    assert fetch(session, url, SETTINGS, FetchPolicy(None, True, "")) == Failure(
        url, "refused: private address (127.0.0.2)", 1
    )
    assert untouched(private) and untouched(allowed)


# -- TLS over a checked address still verifies the host name -----------------------
@pytest.mark.parametrize(("certified", "ok"), [("site.test", True), ("other.test", False)])
def test_tls_verifies_the_name_not_the_address(
    serve, tmp_path: Path, certified: str, ok: bool
) -> None:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    server = serve(tls=issued(ca, certified))
    settings = replace(SETTINGS, ca_bundle=tmp_path / "ca.pem")
    guard = AddressGuard(lambda host, port: numeric("127.0.0.1", port), only("127.0.0.1"))
    url = f"https://site.test:{server.port}/page/a"
    result = fetch(
        make_transport(settings, guard=guard), url, settings, FetchPolicy(None, True, "")
    )
    if ok:
        assert isinstance(result, Page) and "页面 a" in result.text
    else:
        assert result == Failure(url, "TLS: hostname mismatch", 1)
        assert server.request_count() == 0
